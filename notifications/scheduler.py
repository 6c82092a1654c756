"""APScheduler only wakes the work; the database decides what is due.

The in-memory job store is per process and never shared: every replica runs
its own sweep, and the row claims in the sweep and the outbox make that safe.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import OutboxMessage, Timer
from handlers.dashboard_pass import DashboardLinks
from notifications import digest, outbox, sweep
from notifications.health import WorkerHealth

log = logging.getLogger(__name__)


@dataclass
class Heartbeat:
    """When the work last ran, for /healthz and /metrics."""

    last_cycle: dt.datetime | None = None
    cycles: int = 0
    escalations_fired: int = 0
    messages_sent: int = 0
    errors: int = 0
    lateness: list[float] = field(default_factory=list)


class Worker:
    def __init__(self, factory: sessionmaker[Session], senders: Sequence[outbox.Sender], *,
                 clock: Callable[[], dt.datetime], interval: float = 15.0, per_channel_interval: float = 1.0,
                 lease: float = outbox.DEFAULT_LEASE_SECONDS) -> None:
        self.factory = factory
        self.dispatcher = outbox.Dispatcher(factory, senders, per_channel_interval=per_channel_interval, lease=lease)
        self.clock = clock
        self.interval = interval
        self.heartbeat = Heartbeat()
        # Working or riding out an outage, for /healthz (the cycle records it; see notifications.health).
        self.health = WorkerHealth(cap=max(interval, 1.0))
        self.scheduler: BackgroundScheduler | None = None
        self.extra_jobs: list[tuple[Callable[[], object], dict[str, object]]] = []
        self.digest_scopes: list[digest.DigestScope] | None = None  # None: derived from role assignments
        self.dashboard_links: DashboardLinks | None = None  # dashboard buttons in digests
        self.retention: dt.timedelta | None = None  # delivered messages older than this are deleted

    def cycle(self, *, with_digest: bool = True) -> tuple[sweep.SweepResult, outbox.DispatchResult]:
        """Sweep due timers, send due digests (``with_digest``) and deliver what is queued."""
        now = self.clock()
        try:
            swept = sweep.sweep(self.factory, now=now)
            if with_digest:
                self.digest()
            sent = self.dispatcher.run(now=self.clock(), limit=500)
        except Exception as exc:
            self.heartbeat.errors += 1
            if self.health.healthy:
                log.exception("sweep cycle failed")
            else:  # an outage: one traceback is enough
                log.warning("sweep cycle failed again (%d in a row): %s", self.health.failures + 1, exc)
            self.health.failed(exc)
            raise
        self.health.ok()
        hb = self.heartbeat
        hb.last_cycle, hb.cycles = now, hb.cycles + 1
        hb.escalations_fired += swept.fired
        hb.messages_sent += sent.sent
        hb.lateness = (hb.lateness + swept.lateness)[-1000:]
        return swept, sent

    def digest(self) -> None:
        """Send the weekly digests that are due; a failure is logged and retried, never raised."""
        try:
            digest.run_due(self.factory, self.digest_scopes, now=self.clock(), links=self.dashboard_links)
        except Exception:  # noqa: BLE001 - a digest that fails must not hold back escalations' delivery
            self.heartbeat.errors += 1
            log.exception("the weekly digest failed; retried next cycle, delivery goes on")

    def start(self, *, sweep: bool = True) -> BackgroundScheduler:
        """Schedule the work: the sweep cycle (unless ``sweep`` is false: the caller runs the cycles),
        the weekly digests, the outbox pruning and any extra jobs."""
        scheduler = BackgroundScheduler(timezone="UTC")
        if sweep:
            scheduler.add_job(self._safe_cycle, "interval", seconds=self.interval, id="sweep", max_instances=1,
                              coalesce=True, next_run_time=dt.datetime.now(dt.UTC))
        # The digest job (seconds to compute at many plants) runs in its own thread, so escalations are
        # swept and delivered on time while it runs; its messages go out with the next cycle.
        scheduler.add_job(self.digest, "interval", seconds=self.interval, id="digest", max_instances=1,
                          coalesce=True, next_run_time=dt.datetime.now(dt.UTC))
        if self.retention is not None:
            scheduler.add_job(self._safe_prune, "interval", hours=6, id="prune", max_instances=1, coalesce=True,
                              next_run_time=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
        for func, trigger in self.extra_jobs:
            scheduler.add_job(func, **trigger)  # type: ignore[arg-type]
        scheduler.start()
        self.scheduler = scheduler
        return scheduler

    def prune(self) -> int:
        """Delete old delivered messages (``retention``; ``None`` keeps them)."""
        if self.retention is None:
            return 0
        removed = outbox.prune(self.factory, now=self.clock(), older_than=self.retention)
        if removed:
            log.info("deleted %d delivered messages older than %s", removed, self.retention)
        return removed

    def _safe_prune(self) -> None:
        try:
            self.prune()
        except Exception:  # noqa: BLE001 - retried at the next run
            log.exception("pruning the outbox failed")

    def _safe_cycle(self) -> None:
        # Failures are logged in cycle(); the next tick retries.
        with contextlib.suppress(Exception):
            self.cycle(with_digest=False)

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None

    @property
    def alive(self) -> bool:
        return self.scheduler is not None and self.scheduler.running


# How far ahead a message due "in a moment" counts as part of the backlog (held back by channel pacing).
PACED = dt.timedelta(seconds=5)


@dataclass(frozen=True)
class Backlog:
    """What is left for the worker: due now, or waiting to be retried."""

    timers_due: int
    messages_due: int
    messages_retrying: int
    next_message: dt.datetime | None = None  # the earliest a message waiting for a retry or its pace is due

    @property
    def due(self) -> bool:
        return bool(self.timers_due or self.messages_due)

    @property
    def idle(self) -> bool:
        return not (self.due or self.messages_retrying)


def backlog(factory: sessionmaker[Session], *, now: dt.datetime) -> Backlog:
    """Due timers, due messages, and messages that failed or were interrupted and will be retried.

    Messages queued for a later time that were never tried do not count: they
    are the future, not a backlog.
    """
    with factory() as session:
        timers = session.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.state == "pending", Timer.due_at <= now))
        undelivered = OutboxMessage.status.in_(outbox.CLAIMABLE)
        due = session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(undelivered, OutboxMessage.next_attempt_at <= now))
        # Messages waiting for a person nobody can reach yet wait on that person, not on the worker.
        # A message held back a moment to pace its channel counts too: it was due, it will be sent shortly.
        retrying = session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
            undelivered, OutboxMessage.next_attempt_at > now, OutboxMessage.status != "waiting",
            sa.or_(OutboxMessage.attempts > 0, OutboxMessage.status == "sending",
                   OutboxMessage.next_attempt_at <= now + PACED),
        ))
    with factory() as session:
        soonest = session.scalar(sa.select(sa.func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status.in_(("pending", "sending")), OutboxMessage.next_attempt_at > now))
    return Backlog(timers or 0, due or 0, retrying or 0, soonest)
