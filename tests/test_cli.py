"""The command line end to end on a fresh SQLite file: upgrade, import, ask, lint, chat, systems show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.conftest import CORVANE


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'govbot.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["--database-url", url, "db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["--database-url", url, "import", str(CORVANE)])
    assert result.exit_code == 0, result.output
    return url


def run(url: str, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--database-url", url, *args], input=input)


def test_ask_json_contract(db_url: str) -> None:
    result = run(db_url, "ask", "who owns PLC-FIL-L3-07?", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"status", "intent", "system", "owner", "accountable", "responsible", "consulted",
                         "informed", "candidates", "warnings"}
    assert data["status"] == "answered" and data["intent"] == "who_owns"
    assert set(data["system"]) >= {"name", "site", "purdue_level", "criticality"}
    for person in data["accountable"] + data["responsible"] + data["consulted"] + data["informed"]:
        assert set(person) >= {"name", "email", "active"}


def test_ask_ambiguous_and_not_found_statuses(db_url: str) -> None:
    amb = json.loads(run(db_url, "ask", "who owns the historian", "--json").output)
    assert amb["status"] == "ambiguous" and all({"name", "site", "score"} <= set(c) for c in amb["candidates"])
    nf = json.loads(run(db_url, "ask", "who owns PLC-XYZ-L9-99", "--json").output)
    assert nf["status"] == "not_found"
    nu = json.loads(run(db_url, "ask", "make me a sandwich", "--json").output)
    assert nu["status"] == "not_understood"


def test_ask_readable_table(db_url: str) -> None:
    result = run(db_url, "ask", "who owns SIS-NH3-01")
    assert result.exit_code == 0
    assert "Gregory Maddox (left 2025-02-28)" in result.output
    assert "acting: Luis Ortega" in result.output


def test_chat_console_with_piped_input_and_numbered_choices(db_url: str) -> None:
    result = run(db_url, "chat", "--as", "luis.ortega@corvane.example",
                 input="who owns the historian\n2\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "you are Luis Ortega" in result.output
    assert "[1] Historian" in result.output
    # Pressing a number answers for that candidate.
    assert "is owned by" in result.output


def test_chat_refuses_unknown_person(db_url: str) -> None:
    result = run(db_url, "chat", "--as", "nobody@example.com", input="")
    assert result.exit_code == 2
    assert "no person with e-mail" in result.output


def test_lint_json_lists_planted_gaps(db_url: str) -> None:
    result = run(db_url, "lint", "--json")
    assert result.exit_code == 0
    codes = {f["code"] for f in json.loads(result.output)}
    assert {"NO_ACCOUNTABLE_OWNER", "DUPLICATE_SYSTEM", "NOT_IN_CMDB", "RETIRED_BUT_SEEN"} <= codes
    assert run(db_url, "lint", "--fail-on", "high").exit_code == 1


def test_systems_show(db_url: str) -> None:
    result = run(db_url, "systems", "show", "FW-CELL2-FDL-01")
    assert result.exit_code == 0, result.output
    assert "OT Firewall Cell 2" in result.output
    for source in ("servicenow", "nozomi", "netbox"):
        assert f"source {source}" in result.output
    missing = run(db_url, "systems", "show", "NO-SUCH-THING-42")
    assert missing.exit_code == 1


def test_corvane_copy_is_shipped() -> None:
    assert (Path(CORVANE) / "cmdb_ci.csv").is_file()


def test_change_dialogue_approval_and_audit_from_the_console(db_url: str) -> None:
    script = "\n".join([
        "change", "PLC-FIL-L3-07", "Firmware v33.011", "Fix CIP bug", "normal", "moderate",
        "2025-06-14T06:00/10:00", "restore v32", "no", "", "1",
        "/as luis.ortega@corvane.example", "/inbox", "1",
        "/as jessica.park@corvane.example", "/inbox", "/quit", "",
    ])
    result = run(db_url, "chat", "--as", "jessica.park@corvane.example", "--inbox", input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Approver — OT Engineering Lead : Luis Ortega" in out
    assert "you are now Luis Ortega — 1 new message(s)" in out
    assert "Your approval is requested: GCR000001" in out
    assert "You approved GCR000001; it is now approved." in out
    assert "✉ (updated) GCR000001 is approved" in out
    verify = run(db_url, "audit", "verify")
    assert verify.exit_code == 0 and "audit trail intact" in verify.output
    exported = json.loads(run(db_url, "audit", "export", "--format", "json").output)
    assert [e["action"] for e in exported if e["object_key"] == "GCR000001"][:2] == ["change.submitted", "change.approved"]


def test_blackout_windows_from_the_cli_are_flagged_on_changes(db_url: str) -> None:
    added = run(db_url, "blackout", "add", "--site", "US-FDL", "--from", "2025-07-01T00:00", "--to",
                "2025-07-08T00:00", "--reason", "summer peak production")
    assert added.exit_code == 0, added.output
    assert "summer peak production" in run(db_url, "blackout", "list").output
    result = run(db_url, "chat", "--as", "jessica.park@corvane.example",
                 input='change PLC-MIX-01 "Recipe" window=2025-07-02T06:00/07:00\n/quit\n')
    assert "blackout at US-FDL: summer peak production" in result.output
    bad = run(db_url, "blackout", "add", "--site", "NOPE", "--from", "2025-07-01T00:00", "--to", "2025-07-02T00:00",
              "--reason", "x")
    assert bad.exit_code == 2


@pytest.mark.parametrize("args", [["ask", "who owns PLC-FIL-L3-07"], ["lint"], ["worker", "--once"],
                                  ["digest", "scopes"], ["audit", "verify"]])
def test_an_empty_store_gets_directions_not_a_traceback(tmp_path: Path, args: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = run(url, *args)
    assert result.exit_code == 1, result.output
    assert "is empty: run `govbot db upgrade`, then `govbot import`" in result.output
    assert "Traceback" not in result.output


def test_a_store_behind_the_schema_is_told_to_upgrade(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'old.db'}"
    assert run(url, "db", "upgrade").exit_code == 0
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("update alembic_version set version_num = 'an_older_revision'"))
    engine.dispose()
    result = run(url, "ask", "who owns PLC-FIL-L3-07")
    assert result.exit_code == 1 and "has schema revision an_older_revision" in result.output
    assert "run `govbot db upgrade`" in result.output


def test_digest_scopes_are_derived_or_read_from_the_scopes_file(db_url: str, tmp_path: Path) -> None:
    derived = CliRunner().invoke(main, ["--database-url", db_url, "digest", "scopes"], env={"GOVBOT_DIGEST_SCOPES_FILE": ""})
    assert derived.exit_code == 0, derived.output
    assert "derived from the role assignments" in derived.stderr
    assert [line.split()[0] for line in derived.stdout.splitlines()] == ["site:DE-RGB", "site:US-FDL", "security", "ot"]
    path = tmp_path / "scopes.toml"
    path.write_text('[[scopes]]\nname = "site:US-FDL"\nrecipients = ["luis.ortega@corvane.example", "nobody@corvane.example"]\n'
                    'channel = "C0PLANTMGMT"\ntime = "07:00"\n\n[[scopes]]\nname = "site:XX-NOPE"\nchannel = "C0X"\n', encoding="utf-8")
    env = {"GOVBOT_DIGEST_SCOPES_FILE": str(path)}
    configured = CliRunner().invoke(main, ["--database-url", db_url, "digest", "scopes"], env=env)
    assert configured.exit_code == 0, configured.output
    assert f"from {path}" in configured.stderr
    us, nope = configured.stdout.splitlines()
    assert us.split()[:4] == ["site:US-FDL", "mon", "07:00", "America/New_York"]
    assert "luis.ortega@corvane.example, nobody@corvane.example (nobody with this address), channel C0PLANTMGMT" in us
    assert nope.startswith("site:XX-NOPE (no such site)")
    preview = CliRunner().invoke(main, ["--database-url", db_url, "digest", "preview", "--json"], env=env)
    assert preview.exit_code == 0, preview.output
    assert [json.loads(line)["scope"] for line in preview.stdout.splitlines()] == ["site:US-FDL", "site:XX-NOPE"]


@pytest.mark.parametrize("args", [["digest", "scopes"], ["digest", "preview"], ["worker", "--once"]])
def test_a_bad_digest_scopes_file_stops_with_the_file_and_entry_not_a_traceback(db_url: str, tmp_path: Path,
                                                                                  args: list[str]) -> None:
    path = tmp_path / "scopes.toml"
    path.write_text('[[scopes]]\nname = "ot"\nrecipients = ["luis.ortega@corvane.example"]\n\n'
                    '[[scopes]]\nname = "site:DE-RGB"\nrecipients = ["stefan.huber@corvane.example"]\ntime = "7.30"\n',
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["--database-url", db_url, *args], env={"GOVBOT_DIGEST_SCOPES_FILE": str(path)})
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"Error: GOVBOT_DIGEST_SCOPES_FILE {path}, scope 2 (site:DE-RGB): time: must be HH:MM" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_a_bad_digest_scopes_file_before_it_listens(db_url: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    path = tmp_path / "scopes.json"
    path.write_text('{"scopes": [{"name": "security", "recipients": ["daniel.okafor@corvane.example"], "weekday": "funday"}]}',
                    encoding="utf-8")
    env = {**os.environ, "GOVBOT_DIGEST_SCOPES_FILE": str(path), "GOVBOT_DATABASE_URL": db_url, "GOVBOT_PORT": "0"}
    proc = subprocess.run([sys.executable, "-c", "from bot.cli import main; main()", "serve", "--core-processes", "0"],
                          env=env, capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 1, proc.stderr
    assert f"Error: GOVBOT_DIGEST_SCOPES_FILE {path}, scope 1 (security): weekday: must be a weekday" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_bad_setting_is_named_without_a_traceback(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVBOT_SWEEP_INTERVAL_SECONDS", "fifteen")
    result = run(db_url, "lint")
    assert result.exit_code == 1 and "invalid settings: GOVBOT_SWEEP_INTERVAL_SECONDS" in result.output
    assert "Traceback" not in result.output
