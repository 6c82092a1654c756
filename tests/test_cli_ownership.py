"""``govbot attest``, ``govbot gaps`` and what ``govbot import`` says about facts confirmed in govbot."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import main
from governance_store import db
from governance_store.models import Attestation, Person, System
from handlers.reply import Action, Actor
from tests.conftest import CORVANE
from tests.core import handle_action

NOW = "2025-06-04T14:00:00+00:00"


def _env(db_target: tuple[str, str | None], **extra: str) -> dict[str, str]:
    url, schema = db_target
    return {"GOVBOT_DATABASE_URL": url, "GOVBOT_DATABASE_SCHEMA": schema or "", "GOVBOT_DEV_MODE": "true",
            "GOVBOT_FAKE_NOW": NOW, **extra}


def test_attest_and_gaps_from_the_command_line(db_target: tuple[str, str | None], tmp_path: Path) -> None:
    runner = CliRunner()
    env = _env(db_target)
    imported = runner.invoke(main, ["import", str(CORVANE)], env=env)
    assert imported.exit_code == 0, imported.output
    synced = runner.invoke(main, ["gaps", "sync"], env=env)
    assert synced.exit_code == 0 and "gaps synced; 17 card(s) queued" in synced.output, synced.output
    listed = runner.invoke(main, ["gaps", "list"], env=env)
    assert "NOT_IN_CMDB: 10.42.11.250 -> Lukas Brandl (OT Security Lead of DE-RGB)" in listed.output
    dry = runner.invoke(main, ["attest", "start", "--dry-run", "--site", "DE-RGB"], env=env)
    assert dry.exit_code == 0 and "would ask 6 people about 15 system(s)" in dry.output, dry.output
    started = runner.invoke(main, ["attest", "start", "--name", "Q2 ownership review"], env=env)
    assert started.exit_code == 0 and "campaign 1 asks 10 people about 45 system(s)" in started.output, started.output
    assert "not asked, no owner (1; each is a governance gap): Edge Gateway Line 1 Findlay" in started.output
    again = runner.invoke(main, ["attest", "start"], env=env)
    assert "nothing is due" in again.output

    # Luis answers for what Gregory Maddox owned; a re-import of the same files would take it back.
    url, schema = db_target
    engine = db.make_engine(url, schema=schema)
    with db.unit_of_work(db.make_session_factory(engine)) as s:
        luis = s.scalars(sa.select(Person).where(Person.email == "luis.ortega@corvane.example")).one()
        att = s.scalars(sa.select(Attestation).join(System).where(System.name == "SIS-NH3-01")).one()
        import datetime as dt

        handle_action(Action("att.mine", str(att.id), Actor(luis.id, luis.display_name, "test")), session=s,
                      now=dt.datetime.fromisoformat(NOW))
    engine.dispose()
    status = runner.invoke(main, ["attest", "status", "--json"], env=env)
    data = json.loads(status.output)
    assert data["campaigns"][0]["answered"] == 1 and data["campaigns"][0]["asked"] == 45
    assert {r["site"]: r["attested"] for r in data["coverage"]}["US-FDL"] == 1
    dry_import = runner.invoke(main, ["import", "--dry-run", str(CORVANE)], env=env)
    assert dry_import.exit_code == 0, dry_import.output
    assert "govbot would keep them" in dry_import.output
    assert "held: SIS-NH3-01 owner: the import says Gregory Maddox; govbot keeps Luis Ortega" in dry_import.output
    closed = runner.invoke(main, ["attest", "close", "1"], env=env)
    assert closed.exit_code == 0 and "campaign 1 closed" in closed.output
    missing = runner.invoke(main, ["attest", "close", "7"], env=env)
    assert missing.exit_code == 1 and "There is no campaign 7" in missing.output


def test_a_bad_policy_file_is_named_with_its_entry(db_target: tuple[str, str | None], tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[[rule]]\nevery_days = 0\n', encoding="utf-8")
    runner = CliRunner()
    env = _env(db_target, GOVBOT_ATTESTATION_POLICY_FILE=str(policy))
    runner.invoke(main, ["db", "upgrade"], env=env)
    result = runner.invoke(main, ["attest", "status"], env=env)
    assert result.exit_code != 0
    assert f"{policy}: rule 1.every_days: expected whole numbers from 1 to 3660" in result.output, result.output
    policy.write_text('[[rule]]\ncriticality = [1]\nevery_days = 30\n[attestation]\nrespond_hours = 4\n', encoding="utf-8")
    result = runner.invoke(main, ["attest", "status"], env=env)
    assert result.exit_code == 0 and "no attestation campaign yet" in result.output
