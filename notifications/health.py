"""How the notification worker is doing, for ``/healthz``: working, or riding out an outage.

The worker never exits because the database (or a chat platform) is away: a failed cycle is recorded
here and the next one waits :meth:`WorkerHealth.pause` — half a second, doubling up to a cap — so an
outage neither spins nor stops the worker.  ``/healthz`` (``govbot serve``, and ``govbot worker
--health-port``) reports :meth:`WorkerHealth.report`: ``ok``, or ``degraded`` with what failed, since when
and when the next try is.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

T = TypeVar("T")

FIRST_PAUSE_SECONDS = 0.5


def database_trouble(exc: BaseException) -> bool:
    """Is ``exc`` the database being unreachable (rather than a bug)?"""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@dataclass
class WorkerHealth:
    """The worker loop's state; thread-safe (the loop writes, ``/healthz`` reads)."""

    cap: float = 30.0  # the longest pause between failed cycles, seconds
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    failures: int = 0  # cycles failed in a row
    failing_since: dt.datetime | None = None
    last_ok: dt.datetime | None = None
    problem: str | None = None
    database_down: bool = False
    retry_at: dt.datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ok(self) -> None:
        with self._lock:
            self.failures = 0
            self.failing_since = self.problem = self.retry_at = None
            self.database_down = False
            self.last_ok = self.clock()

    def failed(self, exc: BaseException) -> float:
        """Record a failed cycle; returns how long to wait before the next one."""
        with self._lock:
            now = self.clock()
            self.failures += 1
            self.failing_since = self.failing_since or now
            self.database_down = database_trouble(exc)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.problem = f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__
            pause = self.pause()
            self.retry_at = now + dt.timedelta(seconds=pause)
            return pause

    def pause(self) -> float:
        if not self.failures:
            return 0.0
        return min(self.cap, FIRST_PAUSE_SECONDS * 2 ** min(self.failures - 1, 20))

    @property
    def healthy(self) -> bool:
        return self.failures == 0

    def report(self) -> dict[str, Any]:
        with self._lock:
            body: dict[str, Any] = {"state": "ok" if self.failures == 0 else "degraded",
                                    "last_ok_cycle": self.last_ok.isoformat() if self.last_ok else None}
            if self.failures:
                body.update({"failed_cycles": self.failures, "failing_since": self.failing_since.isoformat()
                             if self.failing_since else None, "problem": self.problem,
                             "database": "unreachable" if self.database_down else "ok",
                             "next_try": self.retry_at.isoformat() if self.retry_at else None})
            return body


def guarded(health: WorkerHealth, step: Callable[[], T]) -> tuple[T | None, float]:
    """Run ``step``; on any failure record it and return ``(None, pause)`` instead of raising."""
    try:
        result = step()
    except Exception as exc:  # noqa: BLE001 - an outage is waited out, never fatal
        return None, health.failed(exc)
    health.ok()
    return result, 0.0
