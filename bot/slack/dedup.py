"""Skipping deliveries Slack sends twice, without dropping ones we never handled.

Slack re-delivers an Events API event when it did not see our acknowledgement
in time (HTTP: ``X-Slack-Retry-Num``; Socket Mode: ``retry_attempt``), and a
Socket Mode envelope may arrive again after a reconnect.  We keep a bounded,
time-limited set of ids we *handled* (acknowledged and scheduled):

* a repeat of a handled Socket Mode ``envelope_id`` is acknowledged and skipped;
* an event whose ``event_id`` we handled is skipped when it comes back as a retry;
* a first delivery is always handled, and an id is forgotten again when handling
  it failed, so a genuine retry of something we never processed goes through.

The set lives in one process.  With several replicas a retry may land on a
replica that never saw the first delivery; there the database-level idempotency
of the core (unique outbox keys, state-machine checks on approvals) is what
keeps side effects from happening twice.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class RecentIds:
    """A set that forgets entries after ``ttl`` seconds and never holds more than ``max_items``."""

    def __init__(self, *, ttl: float = 15 * 60, max_items: int = 50_000, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_items = max_items
        self._clock = clock
        self._items: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._items:
            key, added = next(iter(self._items.items()))
            if now - added < self.ttl and len(self._items) <= self.max_items:
                break
            self._items.popitem(last=False)

    def add(self, key: str) -> bool:
        """Remember ``key``; ``False`` when it was already there (and still fresh)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if key in self._items:
                return False
            self._items[key] = now
            self._expire(now)
            return True

    def discard(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            self._expire(self._clock())
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._items)


class DeliveryLog:
    """What this process already handled, keyed by Socket Mode envelope id and Events API event id."""

    def __init__(self, seen: RecentIds | None = None) -> None:
        self.seen = seen or RecentIds()

    def should_handle_event(self, event_id: str | None, *, retry_num: int) -> bool:
        """``False`` only for a retry of an event this process already handled."""
        if not event_id:
            return True
        fresh = self.seen.add(f"event:{event_id}")
        return fresh or retry_num == 0

    def start_envelope(self, envelope_id: str | None) -> bool:
        """``False`` when this envelope was already handled (acknowledge it again, do nothing)."""
        return not envelope_id or self.seen.add(f"envelope:{envelope_id}")

    def envelope_failed(self, envelope_id: str | None) -> None:
        """Forget an envelope we could not handle, so Slack's re-delivery is processed."""
        if envelope_id:
            self.seen.discard(f"envelope:{envelope_id}")


def retry_num(headers: dict[str, Any]) -> int:
    """``X-Slack-Retry-Num`` (HTTP) or the mirrored ``retry_attempt`` (Socket Mode); 0 for a first delivery."""
    raw = headers.get("x-slack-retry-num") or ["0"]
    value = raw[0] if isinstance(raw, list | tuple) else raw
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
