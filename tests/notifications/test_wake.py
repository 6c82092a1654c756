"""The worker sleeps until the next due instant and wakes when a timer or message becomes due sooner.

PostgreSQL: triggers NOTIFY, a LISTEN connection per worker rings its alarm, and
survives the database going away.  SQLite: a hook on the engine of this process.
The safety interval in these tests is long (60 s), so an escalation that comes
in seconds can only have come from the worker's own schedule or a wake-up.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store import db
from governance_store.models import OutboxMessage, Person, Timer
from notifications import outbox, wake
from notifications.scheduler import Worker
from tests.conftest import CORVANE, PG_URL
from tests.notifications.due_timers import fall_due, make_due_timers
from tests.tcp_proxy import TcpProxy

SAFETY = 60.0
START = dt.datetime(2025, 6, 4, 19, 0, tzinfo=dt.UTC)


def running_clock(start: dt.datetime = START) -> Callable[[], dt.datetime]:
    """A clock that starts at ``start`` and runs in real time (as GOVBOT_FAKE_NOW does)."""
    origin = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - origin)


class HandOver:
    """A sender recording, on the worker's clock, when each message was handed to it."""

    platform = "test"

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        self.clock = clock
        self.handed: dict[str, dt.datetime] = {}

    def can_reach(self, recipient: outbox.Recipient) -> bool:
        return True

    def send(self, recipient: outbox.Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        return {}

    def send_keyed(self, recipient: outbox.Recipient, payload: dict[str, Any], *, key: str) -> dict[str, Any]:
        self.handed[key] = self.clock()
        return {}

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        return ref

    def escalation(self, change_id: int) -> dt.datetime | None:
        return next((at for key, at in self.handed.items() if key.startswith(f"cr:{change_id}:escalate:L2:")), None)


def until(condition: Callable[[], object], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def parked_timer(factory: sessionmaker[Session], clock: Callable[[], dt.datetime]) -> tuple[int, int]:
    """One change waiting for its level-2 escalation an hour from now: (timer id, change id)."""
    [timer] = make_due_timers(factory, 1, start_at="escalate:L2")
    with factory() as s, s.begin():
        s.execute(sa.update(OutboxMessage).values(status="sent"))  # the submission's own messages
    [change] = fall_due(factory, [timer], [clock() + dt.timedelta(hours=1)])
    return timer, change


def listening(worker: Worker) -> bool:
    return worker.heartbeat.cycles >= 1 and all(
        s.connected.is_set() for s in worker.sources if isinstance(s, wake.PgListener))


def test_notices_are_read_to_the_microsecond_and_anything_else_is_ignored() -> None:
    at = wake.parse_notice("timer 1749063600.250001")
    assert at == ("timer", dt.datetime(2025, 6, 4, 19, 0, 0, 250001, tzinfo=dt.UTC))
    assert wake.parse_notice("outbox 1749063600") == ("outbox", dt.datetime(2025, 6, 4, 19, 0, tzinfo=dt.UTC))
    for junk in ("", "timer", "timer soon", "timer 12.x", "timer 1e9"):
        assert wake.parse_notice(junk) is None
    assert len(wake.channel_for("x" * 63)) <= 63 and wake.channel_for("a") != wake.channel_for("b")


def test_a_sleeping_worker_wakes_for_a_timer_moved_sooner_and_for_a_queued_message(
        org: sessionmaker[Session]) -> None:
    clock = running_clock()
    _timer, change = parked_timer(org, clock)
    timer_id = _timer
    sender = HandOver(clock)
    worker = Worker(org, [sender], clock=clock, interval=SAFETY, per_channel_interval=0)
    worker.digest_scopes = []  # no weekly digest: the test watches the loop alone
    worker.start()
    try:
        assert until(lambda: listening(worker)), "the loop runs and listens"
        idle_from = worker.heartbeat.cycles
        time.sleep(1.0)
        assert worker.heartbeat.cycles - idle_from <= 2, "asleep: nothing is due for an hour"

        due = fall_due(org, [timer_id], [clock() + dt.timedelta(seconds=0.5)])[change]
        assert until(lambda: sender.escalation(change), 10), "woken by the move, long before the safety interval"
        handed = sender.escalation(change)
        assert handed is not None and handed >= due, "never before it is due"

        with org() as s, s.begin():
            person = s.scalars(sa.select(Person.id)).first()
            outbox.enqueue(s, key="wake:queued", now=clock(), person_id=person, payload={"text": "queued"})
        assert until(lambda: "wake:queued" in sender.handed, 10), "a queued message wakes the worker too"
    finally:
        worker.stop()
    assert not worker.alive


def test_the_worker_sleeps_until_the_next_due_instant(org: sessionmaker[Session]) -> None:
    clock = running_clock()
    timer_id, change = parked_timer(org, clock)
    due = fall_due(org, [timer_id], [clock() + dt.timedelta(seconds=1.5)])[change]
    sender = HandOver(clock)
    worker = Worker(org, [sender], clock=clock, interval=SAFETY, per_channel_interval=0)
    worker.digest_scopes = []
    worker.start()
    try:
        assert until(lambda: sender.escalation(change), 15)
        handed = sender.escalation(change)
        assert handed is not None and handed >= due
        assert worker.heartbeat.cycles <= 4, f"slept until it was due ({worker.heartbeat.cycles} cycles)"
    finally:
        worker.stop()


def test_on_sqlite_a_timer_moved_by_another_process_wakes_the_worker(sqlite_template: Path, tmp_path: Path) -> None:
    from governance_store.importers import import_paths

    path = tmp_path / "govbot.db"
    shutil.copy(sqlite_template, path)
    other = db.make_engine(f"sqlite:///{path}")  # its own engine and connections: as another process
    theirs = db.make_session_factory(other)
    with theirs() as s, s.begin():
        import_paths([CORVANE], session=s)
    clock = running_clock()
    timer_id, change = parked_timer(theirs, clock)
    ours = db.make_engine(f"sqlite:///{path}")
    sender = HandOver(clock)
    worker = Worker(db.make_session_factory(ours), [sender], clock=clock, interval=SAFETY, per_channel_interval=0)
    worker.digest_scopes = []
    worker.start()
    try:
        assert until(lambda: worker.heartbeat.cycles >= 1)
        time.sleep(0.5)
        due = fall_due(theirs, [timer_id], [clock() + dt.timedelta(seconds=0.5)])[change]
        assert until(lambda: sender.escalation(change), 10), "the other process's commit woke the worker"
        handed = sender.escalation(change)
        assert handed is not None and handed >= due
    finally:
        worker.stop()
        ours.dispose()
        other.dispose()


def test_writes_of_this_process_ring_the_alarm_once_committed(session_factory: sessionmaker[Session]) -> None:
    alarm = wake.Alarm(running_clock())
    hook = wake.CommitHook(session_factory.kw["bind"], alarm)
    hook.start()
    try:
        with session_factory() as s, s.begin():
            s.add(Person(email="p@example.com", display_name="P"))
        assert alarm.rings == 0, "other tables do not concern the worker"
        with session_factory() as s:
            s.add(Timer(kind="t", subject_key="t:1", state="pending", due_at=START, started_at=START))
            s.flush()
            assert alarm.rings == 0, "not before the commit"
            s.rollback()
        assert alarm.rings == 0, "a rolled-back write is forgotten"
        with session_factory() as s, s.begin():
            outbox.enqueue(s, key="k", now=START, payload={"text": "x"})
        assert alarm.rings == 1
    finally:
        hook.stop()


# -- PostgreSQL: triggers, the LISTEN connection and outages


@pytest.fixture
def pg_factory(pg_schema: str) -> Iterator[sessionmaker[Session]]:
    """The test session's PostgreSQL schema, emptied, with the sample organisation."""
    from governance_store.importers import import_paths
    from tests.conftest import _truncate_pg

    engine = db.make_engine(PG_URL, schema=pg_schema)
    _truncate_pg(engine)
    factory = db.make_session_factory(engine)
    with factory() as s, s.begin():
        import_paths([CORVANE], session=s)
    yield factory
    engine.dispose()


def _notices(conn: psycopg.Connection[Any]) -> list[tuple[str, dt.datetime] | None]:
    return [wake.parse_notice(n.payload) for n in conn.notifies(timeout=0.5)]


def test_postgresql_notifies_when_a_row_can_fall_due_and_only_then(pg_schema: str,
                                                                   pg_factory: sessionmaker[Session]) -> None:
    t1, t2, t3 = (START + dt.timedelta(minutes=m) for m in (30, 10, 20))
    with pg_factory() as s, s.begin():
        timers = [Timer(kind="t", subject_key=f"t:{i}", state="paused", due_at=START, started_at=START)
                  for i in range(4)]
        s.add_all(timers)
        s.flush()
        ids = [t.id for t in timers]
    listener = psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    try:
        listener.execute(f'LISTEN "{wake.channel_for(pg_schema)}"')
        with pg_factory() as s, s.begin():
            s.execute(sa.update(Timer).where(Timer.id.in_(ids[:2])).values(
                state="pending", due_at=sa.case((Timer.id == ids[0], t1), else_=t2)))
            s.execute(sa.update(Timer).where(Timer.id == ids[2]).values(state="pending", due_at=t2))
        assert sorted(_notices(listener)) == [("timer", t2), ("timer", t1)], "one notice per instant"
        with pg_factory() as s, s.begin():
            s.execute(sa.update(Timer).where(Timer.id == ids[3]).values(due_at=t3))  # still paused
            s.execute(sa.update(Timer).where(Timer.id == ids[0]).values(state="stopped"))
            s.execute(sa.update(Timer).where(Timer.id == ids[1]).values(token=Timer.token + 1))
        assert _notices(listener) == [], "only timers that can fall due, when their due instant or state is written"
        with pg_factory() as s, s.begin():
            outbox.enqueue(s, key="k", now=START, payload={"text": "x"}, due=t3)
        assert _notices(listener) == [("outbox", t3)]
        with pg_factory() as s, s.begin():
            s.execute(sa.update(OutboxMessage).values(status="sent"))
        assert _notices(listener) == [], "a delivered message is nobody's business"
    finally:
        listener.close()


def test_the_listener_reconnects_when_its_connection_is_killed(pg_factory: sessionmaker[Session]) -> None:
    alarm = wake.Alarm(running_clock())
    listener = wake.PgListener(pg_factory.kw["bind"], alarm)
    listener.start()
    try:
        assert listener.connected.wait(10)
        with pg_factory() as s:
            s.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": listener.backend_pid})
        assert until(lambda: listener.connections == 2 and listener.connected.is_set(), 15)
        alarm.take()
        moved = START + dt.timedelta(hours=2)
        with pg_factory() as s, s.begin():
            s.add(Timer(kind="t", subject_key=f"t:{uuid.uuid4()}", state="pending", due_at=moved, started_at=START))
        with alarm._cond:
            assert alarm._cond.wait_for(lambda: alarm._noticed == moved, 10), "notices arrive again"
    finally:
        listener.stop()


def test_the_worker_rides_out_a_database_outage_and_listens_again(pg_schema: str,
                                                                  pg_factory: sessionmaker[Session]) -> None:
    clock = running_clock()
    timer_id, change = parked_timer(pg_factory, clock)
    proxy = TcpProxy("127.0.0.1", sa.make_url(PG_URL).port or 5432).start()
    url = sa.make_url(PG_URL).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = db.make_engine(url, schema=pg_schema)
    sender = HandOver(clock)
    worker = Worker(db.make_session_factory(engine), [sender], clock=clock, interval=SAFETY, per_channel_interval=0)
    worker.digest_scopes = []
    worker.start()
    try:
        assert until(lambda: listening(worker))
        [listener] = worker.sources
        assert isinstance(listener, wake.PgListener)

        proxy.cut()  # the database goes away: connections drop, new ones are refused
        assert until(lambda: worker.failures >= 2, 15), "the worker noticed and retries"
        assert worker.alive, "and it is still running"

        proxy.restore()
        assert until(lambda: worker.failures == 0 and listener.connections >= 2 and listener.connected.is_set(), 30)
        time.sleep(0.5)  # asleep again, for up to the safety interval

        due = fall_due(pg_factory, [timer_id], [clock() + dt.timedelta(seconds=0.5)])[change]
        assert until(lambda: sender.escalation(change), 10), "woken through the new LISTEN connection"
        handed = sender.escalation(change)
        assert handed is not None and handed >= due
    finally:
        worker.stop()
        proxy.stop()
        engine.dispose()


def test_a_worker_started_during_an_outage_waits_for_the_database(pg_schema: str,
                                                                  pg_factory: sessionmaker[Session]) -> None:
    proxy = TcpProxy("127.0.0.1", sa.make_url(PG_URL).port or 5432).start()
    proxy.cut()
    url = sa.make_url(PG_URL).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = db.make_engine(url, schema=pg_schema)
    clock = running_clock()
    worker = Worker(db.make_session_factory(engine), [HandOver(clock)], clock=clock, interval=SAFETY,
                    per_channel_interval=0)
    stop = threading.Event()
    loop = threading.Thread(target=lambda: worker.run(stop=stop), daemon=True)
    loop.start()
    try:
        assert until(lambda: worker.failures >= 2, 15)
        assert loop.is_alive()
        proxy.restore()
        assert until(lambda: worker.failures == 0 and worker.heartbeat.cycles >= 1, 30)
        [listener] = worker.sources
        assert isinstance(listener, wake.PgListener) and until(listener.connected.is_set, 30)
    finally:
        stop.set()
        worker.alarm.ring()
        loop.join(30)
        proxy.stop()
        engine.dispose()
    assert not loop.is_alive()
