"""From an empty store, syncing the four live sources gives the same governance answers and lint
findings on the sample organisation as importing its CSV exports.

The live store is built the way a plant would: the places (sites, ISA-95 hierarchy, zones), then
``govbot sync all`` (Entra ID, ServiceNow, Slack, NetBox: NetBox is a real server), then the governance
spreadsheets and the OT inventory, which no API holds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.sources import runner
from bot.sources.registry import configured_sources
from governance_store import db
from governance_store.importers import import_paths
from governance_store.lint import run_lint
from governance_store.models import Person, SourceRecord, System
from governance_store.sources.sync import SyncStatus
from handlers.reply import Actor, Command, reply_to_dict
from tests.conftest import CORVANE
from tests.core import handle_command
from tests.sources.conftest import NOW, Fakes, LiveNetBox, governance_files, place_files

ME = Actor(person_id=None, display_name="test", platform="test")
QUESTIONS = ("who", "raci", "call", "sla", "deps", "steward")
_IDS = re.compile(r"#\d+\b")


def _normal(value: Any) -> Any:
    """A reply without the store's own row ids (they differ between two stores)."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if k not in ("id", "system_id", "person_id")}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, str):
        return _IDS.sub("#", value)
    return value


def _diff(got: Any, want: Any) -> str:
    import difflib
    import json

    a = json.dumps(got, indent=1, default=str, sort_keys=True).splitlines()
    b = json.dumps(want, indent=1, default=str, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(b, a, "csv import", "live sync", lineterm="", n=1))


def answers(session: Session) -> dict[str, Any]:
    out: dict[str, Any] = {}
    systems = sorted(session.scalars(sa.select(System.name)).all())
    people = sorted(session.scalars(sa.select(Person.display_name)).all())
    for name in systems:
        for verb in QUESTIONS:
            reply = handle_command(Command(text=f"{verb} {name}", actor=ME), session=session, now=NOW)
            out[f"{verb} {name}"] = _normal(reply_to_dict(reply))
    for name in people:
        reply = handle_command(Command(text=f"owns {name}", actor=ME), session=session, now=NOW)
        out[f"owns {name}"] = _normal(reply_to_dict(reply))
    return out


def findings(session: Session) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return sorted((f.code, f.severity, f.subject, f.evidence) for f in run_lint(session=session, now=NOW).findings)


def csv_store(sqlite_template: Path, tmp_path: Path) -> sa.Engine:
    path = tmp_path / "csv.db"
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    with db.unit_of_work(db.make_session_factory(engine)) as session:
        import_paths([CORVANE], session=session)
    return engine


def test_sync_of_all_sources_answers_like_the_csv_import(make_rig, fakes: Fakes, netbox: LiveNetBox,  # type: ignore[no-untyped-def]
                                                          sqlite_template: Path, tmp_path: Path) -> None:
    rig = make_rig(fakes, netbox)
    container = rig.container
    with container.unit_of_work() as session:
        import_paths(place_files(), session=session)
    sources = configured_sources(container.settings, sleep=rig.slept.append)
    assert [s.connector.name for s in sources] == ["entra", "servicenow", "slack", "netbox"]
    reports = runner.run_all(container, sources, owner="parity")
    assert [r.status for r in reports] == [SyncStatus.SYNCED] * 4, [r.error for r in reports]
    with container.unit_of_work() as session:
        import_paths(governance_files(), session=session)

    expected_engine = csv_store(sqlite_template, tmp_path)
    with Session(expected_engine) as expected, container.session_factory() as live:
        assert findings(live) == findings(expected)
        got, want = answers(live), answers(expected)
        assert got.keys() == want.keys()
        different = [q for q in want if got[q] != want[q]]
        assert not different, (different[:5], _diff(got[different[0]], want[different[0]]))
        assert live.scalar(sa.select(sa.func.count(SourceRecord.id))) > 100
    expected_engine.dispose()

    # A second run of every source finds nothing new and changes nothing.
    again = runner.run_all(container, sources, owner="parity")
    assert [r.status for r in again] == [SyncStatus.UNCHANGED] * 4, [(r.status, r.records, r.error) for r in again]
