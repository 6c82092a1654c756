"""The outbox: every outbound message is a row with a unique key, written in the same
transaction as the state change that caused it; a dispatcher delivers it.

Delivery is at-least-once towards the platform with an idempotent key on our
side: a message is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), sent,
and marked sent with the platform's message reference in one short
transaction per message, so a crash can at worst resend the one message that
was in flight, and two replicas never claim the same row.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import OutboxMessage, Person

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class Recipient:
    """Where a message goes: a person (DM on their platform) or a named channel."""

    person_id: int | None
    channel: str | None
    email: str | None = None
    display_name: str | None = None


class DeliveryError(Exception):
    """A delivery that failed; ``retry_after`` (seconds) when the platform asked us to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    """An outbound port implemented by each platform adapter."""

    platform: str

    def can_reach(self, recipient: Recipient) -> bool: ...

    def send(self, recipient: Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        """Deliver a new message; return the platform reference (e.g. channel and ts)."""

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        """Replace a delivered message in place."""


def enqueue(
    session: Session,
    *,
    key: str,
    now: dt.datetime,
    payload: dict[str, Any],
    person_id: int | None = None,
    channel: str | None = None,
    change_id: int | None = None,
    kind: str = "message",
    updates_id: int | None = None,
    due: dt.datetime | None = None,
) -> OutboxMessage | None:
    """Queue a message once: a second call with the same key is a no-op (returns None)."""
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) is not None:
        return None
    msg = OutboxMessage(
        key=key, kind=kind, person_id=person_id, channel=channel, change_id=change_id, updates_id=updates_id,
        payload=payload, status="pending", attempts=0, created_at=now, next_attempt_at=due or now,
    )
    try:
        with session.begin_nested():
            session.add(msg)
            session.flush()
    except IntegrityError:
        return None
    return msg


def enqueue_updates(session: Session, *, change_id: int, now: dt.datetime, version: int,
                    render: Any) -> int:
    """Queue an in-place update of every delivered message about a change.

    ``render(original_message) -> payload`` produces the new card for that
    recipient; ``version`` makes the keys unique per state change.
    """
    count = 0
    originals = session.scalars(
        select(OutboxMessage).where(OutboxMessage.change_id == change_id, OutboxMessage.kind == "message")
    ).all()
    for orig in originals:
        payload = render(orig)
        if payload is None:
            continue
        if enqueue(session, key=f"{orig.key}:update:v{version}", now=now, payload=payload, person_id=orig.person_id,
                   channel=orig.channel, change_id=change_id, kind="update", updates_id=orig.id) is not None:
            count += 1
    return count


def backoff(attempts: int, retry_after: float | None) -> dt.timedelta:
    if retry_after is not None:
        return dt.timedelta(seconds=max(retry_after, 0.5))
    base = min(2 ** attempts, 300)
    return dt.timedelta(seconds=base * (0.75 + random.random() / 2))  # noqa: S311 - jitter, not security


@dataclass
class DispatchResult:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    deferred: int = 0


class Dispatcher:
    """Delivers due outbox messages; keeps each channel under ``per_channel_interval`` seconds per message."""

    def __init__(self, factory: sessionmaker[Session], senders: Sequence[Sender], *,
                 per_channel_interval: float = 1.0) -> None:
        self.factory = factory
        self.senders = list(senders)
        self.per_channel_interval = per_channel_interval
        self._last_sent: dict[str, dt.datetime] = {}

    def run(self, *, now: dt.datetime, limit: int = 100) -> DispatchResult:
        result = DispatchResult()
        deferred: set[int] = set()
        for _ in range(limit):
            with self.factory() as session, session.begin():
                msg = self._claim_next(session, now, deferred)
                if msg is None:
                    break
                self._deliver(session, msg, now, result, deferred)
        return result

    def _claim_next(self, session: Session, now: dt.datetime, deferred: set[int]) -> OutboxMessage | None:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1)
        )
        if deferred:
            query = query.where(OutboxMessage.id.not_in(deferred))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return session.scalars(query).first()

    def _deliver(self, session: Session, msg: OutboxMessage, now: dt.datetime, result: DispatchResult,
                 deferred: set[int]) -> None:
        recipient = _recipient(session, msg)
        sender = next((s for s in self.senders if s.can_reach(recipient)), None)
        if sender is None:
            msg.attempts += 1
            msg.status = "undeliverable"
            msg.last_error = "no connected chat platform can reach this recipient"
            result.skipped += 1
            return
        lane = f"{sender.platform}:{msg.channel or f'person:{msg.person_id}'}"
        last = self._last_sent.get(lane)
        if last is not None and (now - last).total_seconds() < self.per_channel_interval:
            msg.next_attempt_at = last + dt.timedelta(seconds=self.per_channel_interval)
            deferred.add(msg.id)
            result.deferred += 1
            return
        msg.attempts += 1
        try:
            if msg.kind == "update":
                original = session.get(OutboxMessage, msg.updates_id) if msg.updates_id else None
                if original is None or original.status != "sent" or original.platform != sender.platform:
                    # The card was never delivered here: nothing to update, the original carries the news.
                    msg.status = "superseded"
                    return
                ref = sender.update(original.platform_ref, msg.payload)
            else:
                ref = sender.send(recipient, msg.payload)
        except DeliveryError as exc:
            msg.last_error = str(exc)
            if exc.permanent or msg.attempts >= MAX_ATTEMPTS:
                msg.status = "failed"
                result.failed += 1
            else:
                msg.next_attempt_at = now + backoff(msg.attempts, exc.retry_after)
                result.retried += 1
            return
        except Exception as exc:  # noqa: BLE001 - a broken sender must not stop the outbox
            log.exception("delivering outbox message %s failed", msg.key)
            msg.last_error = f"{type(exc).__name__}: {exc}"
            msg.next_attempt_at = now + backoff(msg.attempts, None)
            result.retried += 1
            return
        self._last_sent[lane] = now
        msg.status = "sent"
        msg.sent_at = now
        msg.platform = sender.platform
        msg.platform_ref = ref or {}
        result.sent += 1


def dispatch(factory: sessionmaker[Session], senders: Sequence[Sender], *, now: dt.datetime,
             limit: int = 100) -> DispatchResult:
    """Deliver due messages once (no pacing memory between calls)."""
    return Dispatcher(factory, senders, per_channel_interval=0).run(now=now, limit=limit)


def _recipient(session: Session, msg: OutboxMessage) -> Recipient:
    if msg.person_id is not None:
        person = session.get(Person, msg.person_id)
        if person is not None:
            return Recipient(person.id, None, person.email, person.display_name)
    return Recipient(None, msg.channel)


def pending_count(session: Session) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")) or 0
