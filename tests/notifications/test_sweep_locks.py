"""A sweep and a chat turn touching the same timers never deadlock (PostgreSQL).

A turn locks the audit log first (it records what it does) and then stops the
change's clocks; the sweep must take the audit log's lock before it locks any
timer, or each would wait for the other until PostgreSQL aborts one of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store import audit, db
from governance_store.models import Timer
from notifications import sweep
from tests.conftest import CORVANE, PG_URL
from tests.notifications.due_timers import at_edt, make_due_timers


@pytest.fixture
def pg_factory(pg_schema: str) -> Iterator[sessionmaker[Session]]:
    from governance_store.importers import import_paths
    from tests.conftest import _truncate_pg

    engine = db.make_engine(PG_URL, schema=pg_schema)
    _truncate_pg(engine)
    factory = db.make_session_factory(engine)
    with factory() as s, s.begin():
        import_paths([CORVANE], session=s)
    yield factory
    engine.dispose()


def test_a_turn_that_audits_and_then_stops_clocks_does_not_deadlock_with_a_sweep(
        pg_schema: str, pg_factory: sessionmaker[Session]) -> None:
    timers = make_due_timers(pg_factory, 3, start_at="escalate:L2")
    now = at_edt(14, 16)
    sweeper = db.make_engine(PG_URL, schema=pg_schema, connect_args={"application_name": "govbot-test-sweep"})
    failures: list[BaseException] = []

    def run_sweep() -> None:
        try:
            sweep.sweep(db.make_session_factory(sweeper), now=now)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    def sweep_waits() -> bool:
        with pg_factory() as s:
            return bool(s.scalar(sa.text(
                "select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid "
                "where not l.granted and a.application_name = 'govbot-test-sweep'")))

    try:
        with pg_factory() as turn, turn.begin():
            audit.record(turn, at=now, action="change.withdrawn", object_type="change", object_key="CHG-TEST")
            sweeping = threading.Thread(target=run_sweep)
            sweeping.start()
            deadline = time.monotonic() + 10
            while not sweep_waits() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert sweep_waits(), "the sweep waits for the turn's audit entry"
            turn.execute(sa.update(Timer).where(Timer.id.in_(timers)).values(state="stopped"))
        sweeping.join(30)
    finally:
        sweeper.dispose()
    assert not failures, failures
    with pg_factory() as s:
        assert set(s.scalars(sa.select(Timer.state).where(Timer.id.in_(timers)))) == {"stopped"}


def test_a_sweep_waiting_for_the_audit_log_delivers_messages_meanwhile(pg_factory: sessionmaker[Session]) -> None:
    from notifications import outbox
    from notifications.scheduler import Worker
    from tests.notifications.test_outbox import RecordingSender

    timers = make_due_timers(pg_factory, 2, start_at="escalate:L2")  # their submissions' messages are sent
    now = at_edt(14, 16)
    with pg_factory() as s, s.begin():
        change = s.scalars(sa.select(Timer.change_id)).first()
        for i in range(30):
            outbox.enqueue(s, key=f"waiting:{i}", now=now, change_id=change, payload={"text": f"m{i}"},
                           channel="C0WAIT")
    sender = RecordingSender()
    worker = Worker(pg_factory, [sender], clock=lambda: now, per_channel_interval=0)
    cycled: list[object] = []
    with pg_factory() as other, other.begin():  # another replica's batch, or a chat turn, holds the audit log
        audit.lock(other)
        cycle = threading.Thread(target=lambda: cycled.append(worker.cycle(with_digest=False)))
        cycle.start()
        deadline = time.monotonic() + 15
        while len(sender.sent) < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(sender.sent) == 30, "the waiting messages went out while the sweep waited"
        assert not cycled, "the sweep is still waiting for the audit log"
    cycle.join(30)
    [(swept, sent)] = cycled  # type: ignore[misc]
    assert swept.timers == len(timers) and sent.sent >= 30
