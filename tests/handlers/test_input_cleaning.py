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
