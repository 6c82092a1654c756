"""``govbot worker`` and the development clock, in process on SQLite."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import sqlalchemy as sa

from bot.bootstrap import build, settings_clock
from bot.commands.worker_cmd import run_worker
from bot.settings import Settings
from governance_store.models import OutboxMessage, Timer
from tests.notifications.due_timers import at_edt, make_due_timers

FAKE = dt.datetime(2025, 6, 4, 18, 16, tzinfo=dt.UTC)


def test_fake_now_is_honoured_only_in_dev_mode() -> None:
    assert settings_clock(Settings(_env_file=None, fake_now=FAKE)) is None  # type: ignore[call-arg]
    clock = settings_clock(Settings(_env_file=None, fake_now=FAKE, dev_mode=True))  # type: ignore[call-arg]
    assert clock is not None and FAKE <= clock() < FAKE + dt.timedelta(seconds=5), "starts there, then runs"
    shifted = build(Settings(_env_file=None, clock_offset_seconds=-3600, dev_mode=True)).clock()  # type: ignore[call-arg]
    assert abs((dt.datetime.now(dt.UTC) - dt.timedelta(hours=1) - shifted).total_seconds()) < 5


def test_until_idle_sweeps_everything_due_and_stops(sqlite_template: Path, tmp_path: Path) -> None:
    from governance_store.importers import import_paths
    from tests.conftest import CORVANE

    path = tmp_path / "govbot.db"
    shutil.copy(sqlite_template, path)
    container = build(Settings(_env_file=None, database_url=f"sqlite:///{path}", dev_mode=True,  # type: ignore[call-arg]
                               fake_now=at_edt(14, 16), sweep_interval_seconds=0.05))
    with container.unit_of_work() as s:
        import_paths([CORVANE], session=s)
    make_due_timers(container.session_factory, 30, start_at="escalate:L2")
    cycles = run_worker(container, until_idle=True, max_seconds=60)
    assert 1 <= cycles < 10
    with container.session_factory() as s:
        assert s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.step == 0)) == 0
        queued = s.scalars(sa.select(OutboxMessage.key).where(OutboxMessage.key.like("%:escalate:L2:%"))).all()
    assert len(queued) == 30, "no chat platform configured: the pings wait in the outbox, once each"
    container.engine.dispose()


def test_the_worker_sends_the_digest_scopes_of_the_file(sqlite_template: Path, tmp_path: Path) -> None:
    """GOVBOT_DIGEST_SCOPES_FILE replaces the scopes derived from the role assignments."""
    from governance_store.importers import import_paths
    from governance_store.models import DigestRun, Person
    from tests.conftest import CORVANE

    path = tmp_path / "govbot.db"
    shutil.copy(sqlite_template, path)
    scopes = tmp_path / "digest-scopes.toml"
    scopes.write_text('[[scopes]]\nname = "all"\nrecipients = ["luis.ortega@corvane.example"]\nchannel = "C0ALL"\n'
                      'time = "09:30"\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    monday = dt.datetime(2025, 6, 9, 7, 31, tzinfo=dt.UTC)  # 09:31 CEST
    container = build(Settings(_env_file=None, database_url=f"sqlite:///{path}", dev_mode=True,  # type: ignore[call-arg]
                               fake_now=monday, digest_scopes_file=scopes))
    with container.unit_of_work() as s:
        import_paths([CORVANE], session=s)
    run_worker(container, once=True)
    with container.session_factory() as s:
        assert [(r.scope, r.iso_week) for r in s.scalars(sa.select(DigestRun))] == [("all", "2025-W24")]
        luis = s.scalar(sa.select(Person.id).where(Person.email == "luis.ortega@corvane.example"))
        keys = set(s.scalars(sa.select(OutboxMessage.key).where(OutboxMessage.key.like("digest:%"))))
    assert keys == {f"digest:all:2025-W24:{luis}", "digest:all:2025-W24:ch:C0ALL"}
    container.engine.dispose()
