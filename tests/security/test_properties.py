"""Property-based and fuzz tests: bad input never becomes a traceback, a 500 or a lost row."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from governance_store.importers import ImportFailed, import_paths
from governance_store.models import AuditEntry, Person, System
from handlers.parse import INTENTS, parse
from handlers.reply import Action, Actor, Command
from tests.conftest import CORVANE
from tests.core import handle_action, handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
STATUSES = {"answered", "ambiguous", "not_found", "not_understood", "help", "usage", "form", "preview", "invalid",
            "refused"}
words = st.sampled_from(["who", "owns", "raci", "sla", "deps", "change", "approvals", "PLC-FIL-L3-07", "the",
                         "historian", "in", "Regensburg", "for", "firmware", '"', "|", "#", "risk=high", "window=x",
                         "10.41.13.7", "Füller", "ß", "\u200b", "<@U123>", "<at>govbot</at>", "?", "owner of", "help"])
texts = st.one_of(st.text(max_size=200), st.lists(words, max_size=12).map(" ".join))


@given(texts)
@settings(max_examples=400, deadline=None)
def test_parser_always_returns_a_known_intent(text: str) -> None:
    intent = parse(text)
    assert intent.name in INTENTS or intent.name == "deps"


@given(texts)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_question_or_slash_text_gets_an_answer_not_an_error(corvane_factory: sessionmaker[Session], text: str) -> None:
    with corvane_factory() as s:
        person = s.scalar(sa.select(Person).where(Person.email == "jessica.park@corvane.example"))
        reply = handle_command(Command(text=text, actor=Actor(person.id, person.display_name, "test"), slash=True),
                               session=s, now=NOW)
        s.rollback()
    assert reply.data.get("status") in STATUSES, (text, reply.text)
    assert "Traceback" not in reply.text


@given(action_id=st.sampled_from(["cr.approve", "cr.reject", "cr.withdraw", "cr.submit", "esc.ack", "govbot.run",
                                  "cr.schedule", "nope", ""]),
       value=st.one_of(st.text(max_size=30), st.integers(-5, 10**9).map(str), st.just("1:2")))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_tampered_action_values_are_refused_never_errors(corvane_factory: sessionmaker[Session], action_id: str,
                                                         value: str) -> None:
    with corvane_factory() as s:
        person = s.scalar(sa.select(Person).where(Person.email == "mike.sullivan@corvane.example"))
        reply = handle_action(Action(action_id, value, Actor(person.id, person.display_name, "test")), session=s, now=NOW)
        s.rollback()
    assert reply.data.get("status") != "error", (action_id, value, reply.text)


def test_approving_another_requests_id_is_refused_and_audited(org: sessionmaker[Session]) -> None:
    """A click whose value was edited to point at a request the clicker may not decide."""
    with org() as s, s.begin():
        jessica = s.scalar(sa.select(Person).where(Person.email == "jessica.park@corvane.example"))
        mike = s.scalar(sa.select(Person).where(Person.email == "mike.sullivan@corvane.example"))
        preview = handle_command(Command(text='change PLC-FIL-L3-07 "x"', actor=Actor(jessica.id, "J", "slack")),
                                 session=s, now=NOW)
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        handle_action(Action("cr.submit", cid, Actor(jessica.id, "J", "slack")), session=s, now=NOW)
    with org() as s, s.begin():
        reply = handle_action(Action("cr.approve", cid, Actor(mike.id, "M", "slack")), session=s, now=NOW)
    assert reply.data["status"] == "refused"
    with org() as s:
        refused = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "change.approve.refused")).all()
        assert [e.platform for e in refused] == ["slack"] and refused[0].actor_id == mike.id


SYSTEM_HEADER = (CORVANE / "cmdb_ci.csv").read_text(encoding="utf-8").splitlines()[0]
cells = st.one_of(st.text(max_size=20), st.sampled_from(["1 - most critical", "7 - bogus", "Installed", "", "x" * 300,
                                                        "Gregory Maddox", "Nobody Known", "10.0.0.1", "0", "3.5"]))


@given(rows=st.lists(st.lists(cells, min_size=0, max_size=30), min_size=1, max_size=5))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_cmdb_rows_fail_cleanly_with_file_and_line_and_write_nothing(
    corvane_factory: sessionmaker[Session], tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "cmdb_ci.csv"
    buf = io.StringIO()
    buf.write(SYSTEM_HEADER + "\n")
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL)
    for row in rows:
        writer.writerow(row)
    path.write_text(buf.getvalue(), encoding="utf-8")
    with corvane_factory() as s:
        before = s.scalar(sa.select(sa.func.count(System.id)))
        try:
            import_paths([path], session=s, dry_run=True)
        except ImportFailed as exc:
            assert exc.errors
            for err in exc.errors:
                assert str(err).startswith(f"{path.name}:") or str(err).startswith(f"{path}:"), str(err)
                assert err.line >= 1
        s.rollback()
        assert s.scalar(sa.select(sa.func.count(System.id))) == before


@given(blob=st.binary(max_size=400))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_arbitrary_bytes_never_crash_the_importer(corvane_factory: sessionmaker[Session],
                                                  tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    path: Path = tmp_path_factory.mktemp("bytes") / "upload.csv"
    path.write_bytes(blob)
    with corvane_factory() as s:
        try:
            import_paths([path], session=s, dry_run=True)
        except ImportFailed as exc:
            assert all(":" in str(e) for e in exc.errors)
        s.rollback()
