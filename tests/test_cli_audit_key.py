"""Without an audit key (production), a command that writes stops with the message saying how to set one,
before anything is written and never with a traceback; the demo's set-up needs no secret at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import main
from tests.conftest import CORVANE, HISTORY, ROOT

# Production: no key in the environment or a secrets directory, no development mode.
NO_KEY = {"GOVBOT_AUDIT_KEY": None, "GOVBOT_DEV_MODE": None, "GOVBOT_SECRETS_DIR": None}
MESSAGE = "GOVBOT_AUDIT_KEY is not set"


def _count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"select count(*) from {table}")).scalar_one())
    finally:
        engine.dispose()


def _cli(url: str, *args: str, env: dict[str, str | None] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--database-url", url, *args], env=env)


def test_import_without_an_audit_key_stops_before_writing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'govbot.db'}"
    assert _cli(url, "db", "upgrade", env=NO_KEY).exit_code == 0  # the schema needs no key

    refused = _cli(url, "import", str(CORVANE), str(HISTORY), env=NO_KEY)
    assert refused.exit_code == 1
    assert MESSAGE in refused.output and "openssl rand -hex 32" in refused.output
    assert "Traceback" not in refused.output and isinstance(refused.exception, SystemExit)
    assert _count(url, "systems") == 0 and _count(url, "import_runs") == 0 and _count(url, "audit_log") == 0

    # Checking the files writes nothing, so it needs no key.
    dry = _cli(url, "import", "--dry-run", str(CORVANE), str(HISTORY), env=NO_KEY)
    assert dry.exit_code == 0, dry.output
    assert "Dry run" in dry.output and _count(url, "systems") == 0

    # With the key the same import goes through, re-routing what waits on people who left (audited).
    done = _cli(url, "import", str(CORVANE), str(HISTORY))
    assert done.exit_code == 0, done.output
    assert _count(url, "systems") > 0 and _count(url, "import_runs") == 1
    assert _cli(url, "audit", "verify").exit_code == 0


def test_a_command_that_needs_the_key_midway_ends_with_the_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'govbot.db'}"
    assert _cli(url, "db", "upgrade").exit_code == 0
    assert _cli(url, "import", str(CORVANE)).exit_code == 0
    before = _count(url, "audit_log")

    result = _cli(url, "attest", "start", "--all", env=NO_KEY)
    assert result.exit_code == 1
    assert MESSAGE in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert _count(url, "attestation_campaigns") == 0 and _count(url, "audit_log") == before


def test_demo_data_sets_itself_up_without_any_secret(tmp_path: Path) -> None:
    """``make demo`` on a fresh machine: the sample and its history imported, nothing set beforehand."""
    demo_db = tmp_path / "demo" / "govbot-demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBOT_")}
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run(["make", "-s", "demo-data", f"DEMO_DB={demo_db}", f"BIN={bin_dir}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    url = f"sqlite:///{demo_db}"
    assert _count(url, "systems") > 0 and _count(url, "change_requests") > 0
    # The demo store is signed with the development key, and its chain holds.
    verify = _cli(url, "audit", "verify", env={**NO_KEY, "GOVBOT_DEV_MODE": "true"})
    assert verify.exit_code == 0, verify.output
