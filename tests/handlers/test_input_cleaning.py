"""What people type and what buttons carry reaches the store clean, whatever the platform sent."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import ChangeRequest, Person
from handlers.reply import Action, Actor, Command, row_id
from handlers.router import clean
from tests.core import handle_action, handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1), ("42", 42), ("2147483647", 2147483647), ("0", None), ("2147483648", None), ("99999999999999999999", None),
    ("\u00b2", None), ("\u0661", None), ("-1", None), (" 1", None), ("1 ", None), ("1.0", None), ("", None),
    ("9" * 5000, None),
])
def test_row_id_reads_only_plain_ids_that_fit_the_column(text: str, expected: int | None) -> None:
    assert row_id(text) == expected


def test_clean_drops_control_characters_but_keeps_line_breaks() -> None:
    assert clean("a\x00b\x07c\x1bd\x7fe") == "abcde"
    assert clean("line one\nline two\ttab\r\n") == "line one\nline two\ttab\r\n"
    assert clean("Ölpumpe Kühlung ²") == "Ölpumpe Kühlung ²"


def test_a_nul_in_a_title_is_dropped_before_the_store(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        p = s.scalar(sa.select(Person).where(Person.email == "jessica.park@corvane.example"))
        actor = Actor(p.id, p.display_name, "test", p.email)
        preview = handle_command(Command(text='change PLC-FIL-L3-07 "Firm\x00ware\x07 update"', actor=actor),
                                 session=s, now=NOW)
        assert preview.status != "error", preview.text
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        reply = handle_action(Action("cr.submit", cid + "\x00", actor), session=s, now=NOW)
        assert reply.status != "error", reply.text
    with org() as s:
        assert s.get(ChangeRequest, int(cid)).title == "Firmware update"


@pytest.mark.parametrize("value", ["\u00b2", "99999999999999999999", "9" * 5000, "1:\u00b2", "\u00b2:1"])
def test_misread_ids_are_refused_not_errors(org: sessionmaker[Session], value: str) -> None:
    with org() as s, s.begin():
        p = s.scalar(sa.select(Person).where(Person.email == "luis.ortega@corvane.example"))
        actor = Actor(p.id, p.display_name, "test", p.email)
        for action_id in ("cr.approve", "esc.ack", "govbot.run"):
            v = value if action_id != "govbot.run" else f"raci #{value} | ACT-01"
            reply = handle_action(Action(action_id, v, actor), session=s, now=NOW)
            assert reply.status != "error", (action_id, reply.text)


def test_echo_keeps_what_someone_typed_short_and_on_one_line() -> None:
    from handlers.reply import ECHO_LIMIT, echo

    assert echo("PLC-FIL-L3-07") == "PLC-FIL-L3-07"
    assert echo("  the   historian\nin Regensburg ") == "the historian in Regensburg"
    long = echo("A" * 5000)
    assert len(long) == ECHO_LIMIT and long.endswith("…")


@pytest.mark.parametrize("text", [
    "who owns " + "A" * 5000,                      # no system, nothing close
    "who owns PLC-FIL-L3-07 " + "x" * 3000,        # near a system
    "owns " + "Maddox " * 400,                     # a person or team
    "raci PLC-FIL-L3-07 " + "unknown step " * 300,  # an activity
    "blorp " + "zz " * 2000,                       # not understood
])
def test_a_pasted_wall_of_text_is_not_repeated_back(org: sessionmaker[Session], text: str) -> None:
    with org() as s, s.begin():
        p = s.scalar(sa.select(Person).where(Person.email == "jessica.park@corvane.example"))
        reply = handle_command(Command(text=text, actor=Actor(p.id, p.display_name, "test", p.email)),
                               session=s, now=NOW)
    assert reply.status != "error", reply.text
    first_line = reply.text.splitlines()[0]
    assert len(first_line) < 400, first_line[:500]
    assert "…" in first_line
