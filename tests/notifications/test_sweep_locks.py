"""A sweep and a chat turn touching the same timers never deadlock (PostgreSQL).

A turn locks the audit log first (it records what it does) and then stops the
change's clocks; a sweep that waited in the database for the audit log while it
held timers would wait for the turn while the turn waits for it, until
PostgreSQL aborts one of them.  Replicas sweep side by side and ask for the
audit log without waiting; a batch that cannot have it gives its timers back
and is swept again after taking the audit log first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store import audit, db
from governance_store.models import OutboxMessage, Timer
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


def test_a_turn_waiting_for_timers_a_sweep_holds_gets_them_without_a_deadlock(
        pg_schema: str, pg_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep has claimed the timers and is about to append its audit entries when a turn locks the audit
    log and stops those timers: the sweep gives its batch back, the turn goes through, nothing is aborted."""
    timers = make_due_timers(pg_factory, 3, start_at="escalate:L2")
    now = at_edt(14, 16)
    holding = threading.Event()
    turn_done = threading.Event()
    real = sweep._audit_soon
    asked: list[bool] = []

    def audit_soon(session: Session, patience: float) -> bool:
        holding.set()  # the batch's timers are claimed and advanced, not yet committed
        turn_done.wait(0.5)
        asked.append(real(session, patience))
        return asked[-1]

    monkeypatch.setattr(sweep, "_audit_soon", audit_soon)
    sweeper = db.make_engine(PG_URL, schema=pg_schema)
    failures: list[BaseException] = []
    swept: list[sweep.SweepResult] = []

    def run_sweep() -> None:
        try:
            swept.append(sweep.sweep(db.make_session_factory(sweeper), now=now))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    sweeping = threading.Thread(target=run_sweep)
    try:
        sweeping.start()
        assert holding.wait(10), "the sweep claimed its batch"
        started = time.monotonic()
        with pg_factory() as turn, turn.begin():
            audit.record(turn, at=now, action="change.withdrawn", object_type="change", object_key="CHG-TEST")
            turn.execute(sa.update(Timer).where(Timer.id.in_(timers)).values(state="stopped"))
        waited = time.monotonic() - started
        turn_done.set()
        sweeping.join(30)
    finally:
        turn_done.set()
        sweeper.dispose()
    assert not failures, failures
    assert asked and asked[0] is False, "the sweep did not get the audit log while the turn held it"
    assert waited < sweep.AUDIT_PATIENCE_SECONDS + 2, f"the turn waited {waited:.1f} s for the sweep's timers"
    [result] = swept
    assert result.fired == 0, "the stopped timers were not escalated"
    with pg_factory() as s:
        assert set(s.scalars(sa.select(Timer.state).where(Timer.id.in_(timers)))) == {"stopped"}
        assert not s.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
            OutboxMessage.key.like("%:escalate:L2:%"))), "no escalation was queued for a stopped timer"
