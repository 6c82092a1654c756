"""Worker upkeep: delivered messages are deleted after the retention period once nothing will update them
again, and a failing or slow digest does not hold back sweeping or delivery."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import ChangeRequest, OutboxMessage, Person
from handlers.reply import Action, Actor, Command
from notifications import outbox
from notifications.scheduler import Worker
from tests.core import handle_action, handle_command
from tests.notifications.test_outbox import RecordingSender

T0 = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
KEEP = dt.timedelta(days=90)


def _open_change(org: sessionmaker[Session], title: str) -> int:
    with org() as s, s.begin():
        p = s.scalar(sa.select(Person).where(Person.email == "jessica.park@corvane.example"))
        me = Actor(p.id, p.display_name, "test", p.email)
        preview = handle_command(Command(text=f'change PLC-FIL-L3-07 "{title}"', actor=me), session=s, now=T0)
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        handle_action(Action("cr.submit", cid, me), session=s, now=T0)
        return int(cid)


def _keys(org: sessionmaker[Session], change_id: int | None = None) -> set[str]:
    with org() as s:
        q = sa.select(OutboxMessage.key)
        if change_id is not None:
            q = q.where(OutboxMessage.change_id == change_id)
        return set(s.scalars(q).all())


def test_settled_changes_and_old_notices_go_open_changes_and_undelivered_stay(org: sessionmaker[Session]) -> None:
    still_open = _open_change(org, "Firmware 4.2")
    withdrawn = _open_change(org, "Firmware 4.1")
    with org() as s, s.begin():
        p = s.scalar(sa.select(Person).where(Person.email == "jessica.park@corvane.example"))
        handle_action(Action("cr.withdraw", str(withdrawn), Actor(p.id, p.display_name, "test", p.email)),
                      session=s, now=T0)
        assert s.get(ChangeRequest, withdrawn).state == "withdrawn"
        outbox.enqueue(s, key="digest:site:US-FDL:2025-W23:1", now=T0, person_id=p.id, payload={"text": "digest"})
    outbox.dispatch(org, [RecordingSender()], now=T0, limit=1000)
    with org() as s, s.begin():
        p = s.scalar(sa.select(Person).where(Person.email == "jessica.park@corvane.example"))
        # Queued long ago but never delivered (the platform was unreachable): kept, it is still work.
        outbox.enqueue(s, key="stuck", now=T0, person_id=p.id, payload={"text": "x"}, due=T0 + dt.timedelta(days=365))
    open_keys = _keys(org, still_open)
    gone_keys = {k for k in _keys(org) if k.startswith(f"cr:{withdrawn}:")}  # its cards and its notices
    assert open_keys and gone_keys
    with org() as s:
        assert set(s.scalars(sa.select(OutboxMessage.status).where(OutboxMessage.key.in_(gone_keys)))) <= set(outbox.FINISHED)

    assert outbox.prune(org, now=T0 + dt.timedelta(days=89), older_than=KEEP) == 0  # not old enough yet
    before = _keys(org)
    removed = outbox.prune(org, now=T0 + dt.timedelta(days=91), older_than=KEEP, batch=3)  # several batches
    left = _keys(org)
    assert removed == len(gone_keys) + 1 == len(before - left)
    assert gone_keys.isdisjoint(left) and "digest:site:US-FDL:2025-W23:1" not in left
    assert open_keys <= left and "stuck" in left  # the open change's cards may still be updated


def test_an_update_waiting_to_be_delivered_keeps_its_original(org: sessionmaker[Session]) -> None:
    cid = _open_change(org, "Firmware 4.3")
    outbox.dispatch(org, [RecordingSender()], now=T0, limit=1000)
    with org() as s, s.begin():
        cr = s.get(ChangeRequest, cid)
        cr.state = "cancelled"
        original = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.change_id == cid)).first()
        outbox.enqueue(s, key="late-update", now=T0, kind="update", updates_id=original.id, change_id=cid,
                       payload={"text": "cancelled"}, due=T0 + dt.timedelta(days=365))
        original_key = original.key
    outbox.prune(org, now=T0 + dt.timedelta(days=91), older_than=KEEP)
    assert {original_key, "late-update"} <= _keys(org)


def test_the_worker_prunes_with_its_retention_and_keeps_all_without(org: sessionmaker[Session]) -> None:
    cid = _open_change(org, "Firmware 4.4")
    outbox.dispatch(org, [RecordingSender()], now=T0, limit=1000)
    with org() as s, s.begin():
        s.get(ChangeRequest, cid).state = "closed"
    later = T0 + dt.timedelta(days=120)
    worker = Worker(org, [RecordingSender()], clock=lambda: later)
    assert worker.prune() == 0 and _keys(org, cid)  # no retention configured: nothing is deleted
    worker.retention = KEEP
    assert worker.prune() > 0 and not _keys(org, cid)


def test_a_failing_digest_does_not_hold_back_delivery(org: sessionmaker[Session],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from notifications import digest

    def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("digest scope misconfigured")

    _open_change(org, "Firmware 4.5")
    monkeypatch.setattr(digest, "run_due", broken)
    sender = RecordingSender()
    worker = Worker(org, [sender], clock=lambda: T0, per_channel_interval=0)
    _swept, sent = worker.cycle()
    assert sent.sent > 0 and sender.sent  # the change's approval requests went out all the same
    assert worker.heartbeat.errors == 1


def _until(condition: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_slow_digest_does_not_hold_up_the_sweep_or_delivery(org: sessionmaker[Session],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """At many plants the weekly digest takes seconds; escalations must go out on time meanwhile."""
    from notifications import digest

    computing, release = threading.Event(), threading.Event()

    def slow(*args: object, **kwargs: object) -> list[object]:
        computing.set()
        release.wait(30)
        return []

    monkeypatch.setattr(digest, "run_due", slow)
    _open_change(org, "Firmware 4.6")
    sender = RecordingSender()
    worker = Worker(org, [sender], clock=lambda: T0, interval=0.05, per_channel_interval=0)
    worker.start()
    try:
        assert computing.wait(15), "the digest job runs under the scheduler"
        cycles = worker.heartbeat.cycles
        assert _until(lambda: worker.heartbeat.cycles >= cycles + 3), "the sweep goes on while the digest computes"
        assert sender.sent, "and the change's messages are delivered"
        assert not release.is_set()
    finally:
        release.set()
        worker.stop()


def test_the_standalone_worker_computes_digests_beside_its_cycles(org: sessionmaker[Session],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.commands import worker_cmd
    from notifications import digest

    computing, release, stop = threading.Event(), threading.Event(), threading.Event()
    digest_threads: list[str] = []

    def slow(*args: object, **kwargs: object) -> list[object]:
        digest_threads.append(threading.current_thread().name)
        computing.set()
        release.wait(30)
        return []

    monkeypatch.setattr(digest, "run_due", slow)
    worker = Worker(org, [RecordingSender()], clock=lambda: T0, interval=0.05, per_channel_interval=0)
    monkeypatch.setattr("bot.bootstrap.build_worker", lambda container: worker)
    container = SimpleNamespace(session_factory=org, clock=lambda: T0)
    cycles: list[int] = []
    worker.retention = KEEP
    loop = threading.Thread(target=lambda: cycles.append(worker_cmd.run_worker(container, stop=stop)),
                            name="worker-loop")
    loop.start()
    try:
        assert computing.wait(15)
        assert _until(lambda: worker.heartbeat.cycles >= 3), "cycles go on while the digest computes"
        scheduler = worker.scheduler
        assert scheduler is not None and scheduler.get_job("prune") is not None, "it prunes the outbox too"
        assert scheduler.get_job("sweep") is None, "the loop runs the cycles, not the scheduler"
    finally:
        release.set()
        stop.set()
        loop.join(30)
    assert not loop.is_alive() and cycles and cycles[0] >= 3
    assert digest_threads and all(name != loop.name for name in digest_threads)
    assert worker.scheduler is None, "the scheduler stops with the loop"
