"""``govbot demo``: the accelerated clock, the self-loading store and the command's registration."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import main
from bot.commands.demo_cmd import accelerated_clock, prepare_store


def test_accelerated_clock_runs_speed_times_faster() -> None:
    start = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
    clock = accelerated_clock(start, 60)
    first = clock()
    assert dt.timedelta(0) <= first - start < dt.timedelta(seconds=30)
    time.sleep(0.2)
    elapsed = clock() - first
    assert dt.timedelta(seconds=10) <= elapsed < dt.timedelta(seconds=120)


def test_prepare_store_imports_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert prepare_store(url) is True
    assert prepare_store(url) is False
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from systems where name = 'SIS-NH3-01'")).scalar() == 1
        # The year of change history comes with it: the metrics have their baseline.
        assert conn.execute(sa.text("select count(*) from change_requests where decided_at is not null")).scalar() > 400
    engine.dispose()


def test_demo_command_is_registered() -> None:
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0
    assert "--speed" in result.output and "--port" in result.output
