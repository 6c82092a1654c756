"""The worker's loop: look when something falls due, not on a fixed interval.

After every cycle the worker reads the earliest instant at which a timer or a
message becomes due and sleeps until then; a timer created or moved, or a
message queued, by any process wakes it sooner (``notifications.wake``:
PostgreSQL ``LISTEN``/``NOTIFY``, on SQLite a hook in this process).  The
safety interval (``interval``, ``GOVBOT_SWEEP_INTERVAL_SECONDS``) caps every
sleep, so a lost notice costs at most that.  The database decides what is due:
every replica runs its own loop, and the row claims in the sweep and the
outbox make that safe.  A database that cannot be reached makes a cycle fail;
the loop retries with backoff (up to the safety interval) and never exits for
it.

APScheduler runs the weekly digests and the outbox pruning, in threads of their
own; its in-memory job store is per process and never shared.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import OutboxMessage, Timer
from handlers.dashboard_pass import DashboardLinks
from notifications import digest, outbox, sweep, wake
from notifications.health import WorkerHealth

log = logging.getLogger(__name__)

# After a failed cycle the loop waits this long, doubling up to the safety interval.
RETRY_FIRST_SECONDS = 0.5
# How long stop() waits for the cycle in progress to finish.
STOP_TIMEOUT_SECONDS = 30.0


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
        self.interval = interval  # the safety interval: the longest the loop sleeps
        self.heartbeat = Heartbeat()
        self.alarm = wake.Alarm(clock)
        # Working or riding out an outage, for /healthz (the cycle records it; see notifications.health).
        self.health = WorkerHealth(cap=max(interval, 1.0))
        self.scheduler: BackgroundScheduler | None = None
        self.extra_jobs: list[tuple[Callable[[], object], dict[str, object]]] = []
        self.digest_scopes: list[digest.DigestScope] | None = None  # None: derived from role assignments
        self.dashboard_links: DashboardLinks | None = None  # dashboard buttons in digests
        self.retention: dt.timedelta | None = None  # delivered messages older than this are deleted
        self.failures = 0  # cycles failed in a row
        self.sources: list[wake.WakeSource] = []  # what wakes the running loop (notifications.wake)
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None

    def cycle(self, *, with_digest: bool = True) -> tuple[sweep.SweepResult, outbox.DispatchResult]:
        """Sweep due timers, send due digests (``with_digest``) and deliver what is queued."""
        now = self.clock()
        sent = outbox.DispatchResult()

        def deliver(limit: int) -> bool:
            done = self.dispatcher.run(now=self.clock(), limit=limit)
            for name, value in vars(done).items():
                setattr(sent, name, getattr(sent, name) + value)
            return any(vars(done).values())

        try:
            # While another replica's sweep holds the audit log, this one delivers instead of waiting.
            swept = sweep.sweep(self.factory, now=now, meanwhile=lambda: deliver(outbox.CLAIM_BATCH))
            if with_digest:
                self.digest()
            deliver(500)
        except Exception as exc:
            self.heartbeat.errors += 1
            self.failures += 1
            self.health.failed(exc)
            if self.failures == 1:
                log.exception("sweep cycle failed")
            else:  # an outage: one traceback is enough
                log.warning("sweep cycle failed again (%d in a row): %s", self.failures,
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise
        self.health.ok()
        if self.failures:
            log.info("sweep cycle works again after %d failed", self.failures)
            self.failures = 0
        hb = self.heartbeat
        hb.last_cycle, hb.cycles = now, hb.cycles + 1
        hb.escalations_fired += swept.fired
        hb.messages_sent += sent.sent
        hb.lateness = (hb.lateness + swept.lateness)[-1000:]
        return swept, sent

    def run(self, *, stop: threading.Event | None = None, once: bool = False, until_idle: bool = False,
            max_seconds: float | None = None,
            on_cycle: Callable[[int, sweep.SweepResult, outbox.DispatchResult], None] | None = None) -> int:
        """Run cycles until ``stop`` is set; return how many ran.

        Between cycles the loop sleeps until the earliest due instant, a notice
        of an earlier one, or the safety interval, whichever comes first.
        ``once``: one cycle.  ``until_idle``: stop when nothing is due and no
        message waits for a retry.  Both send the due digests within the cycle;
        otherwise the scheduler sends them (``start``).  ``max_seconds``: stop
        after that long at the latest.  ``on_cycle(number, swept, sent)`` sees
        every cycle that succeeded.
        """
        stop = stop or self._stop
        started = time.monotonic()
        cycles = 0
        self.alarm.owner = threading.get_ident()
        with contextlib.ExitStack() as stack:
            if not once:
                self.sources = stack.enter_context(wake.listening(self.factory, self.alarm))
            while not stop.is_set():
                self.alarm.take()  # from here on, what changes is noticed or read below
                with contextlib.suppress(Exception):  # logged in cycle(); retried below
                    swept, sent = self.cycle(with_digest=once or until_idle)
                    if on_cycle is not None:
                        on_cycle(cycles + 1, swept, sent)
                cycles += 1
                if once:
                    break
                left = None if max_seconds is None else max_seconds - (time.monotonic() - started)
                if left is not None and left <= 0:
                    log.info("stopping after %.0f s", max_seconds)
                    break
                due: dt.datetime | None = None
                if not self.failures:
                    try:
                        if until_idle and backlog(self.factory, now=self.clock()).idle:
                            log.info("idle after %d cycles", cycles)
                            break
                        due = wake.next_due(self.factory)
                    except Exception as exc:  # noqa: BLE001 - the database went away: retry with backoff
                        self.failures += 1
                        log.warning("cannot read what is due next: %s",
                                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                pause = self.interval
                if self.failures:
                    pause = min(pause, RETRY_FIRST_SECONDS * 2 ** min(self.failures - 1, 16))
                if left is not None:
                    pause = min(pause, left)
                self.alarm.sleep(due, cap=pause, stop=stop)
        return cycles

    def digest(self) -> None:
        """Send the weekly digests that are due; a failure is logged and retried, never raised."""
        try:
            digest.run_due(self.factory, self.digest_scopes, now=self.clock(), links=self.dashboard_links)
        except Exception:  # noqa: BLE001 - a digest that fails must not hold back escalations' delivery
            self.heartbeat.errors += 1
            log.exception("the weekly digest failed; retried next cycle, delivery goes on")

    def start(self, *, sweep: bool = True) -> BackgroundScheduler:
        """Start the work in the background: the loop of cycles in a thread of its own (unless ``sweep``
        is false: the caller runs ``run()``), and on the scheduler the weekly digests every safety
        interval, the outbox pruning and any extra jobs."""
        scheduler = BackgroundScheduler(timezone="UTC")
        # The digest job (seconds to compute at many plants) runs in its own thread, so escalations are
        # swept and delivered on time while it runs; its messages wake the loop when they are queued.
        scheduler.add_job(self.digest, "interval", seconds=self.interval, id="digest", max_instances=1,
                          coalesce=True, next_run_time=dt.datetime.now(dt.UTC))
        if self.retention is not None:
            scheduler.add_job(self._safe_prune, "interval", hours=6, id="prune", max_instances=1, coalesce=True,
                              next_run_time=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
        for func, trigger in self.extra_jobs:
            scheduler.add_job(func, **trigger)  # type: ignore[arg-type]
        scheduler.start()
        self.scheduler = scheduler
        if sweep:
            self._stop.clear()
            self._loop = threading.Thread(target=self.run, name="govbot-sweep", daemon=True)
            self._loop.start()
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

    def stop(self) -> None:
        """Stop the loop (after the cycle in progress) and the scheduler."""
        self._stop.set()
        self.alarm.ring()
        if self._loop is not None:
            self._loop.join(STOP_TIMEOUT_SECONDS)
            self._loop = None
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None

    @property
    def alive(self) -> bool:
        looping = self._loop is None or self._loop.is_alive()
        return self.scheduler is not None and self.scheduler.running and looping


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
