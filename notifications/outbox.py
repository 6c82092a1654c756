"""The outbox: every outbound message is a row with a unique key, written in the same
transaction as the state change that caused it; a dispatcher delivers it.

Delivery is exactly once as far as the platform lets us observe it:

1. *Claim* (one short committed transaction): a due row is taken with
   ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, marked ``sending`` and leased
   until ``now + lease`` (``attempts`` counts the try).  Two replicas never
   claim the same row, and the claim survives a crash.
2. *Send*, outside any transaction, carrying the row's key (Slack: message
   ``metadata``), so the platform remembers which row a message belongs to.
3. *Record* (second transaction): ``sent`` with the platform reference, or
   back to ``pending`` with backoff / Retry-After, or ``failed``.

A process killed between 2 and 3 leaves the row ``sending``.  Once its lease
has run out, a dispatcher reclaims it and, if the sender can look messages up
by key (``find_sent``), asks the platform first: a message that arrived is
recorded as sent instead of being posted again.  Only a sender that cannot
look up (or a platform refusing the look-up) falls back to sending again, so
the duplicate window is then at most the one message in flight per process.
The lease must exceed the sender's HTTP timeout, or a slow send could be
reclaimed while still in flight.

Durability of the record: step 3 is one statement committed on its own, and
on PostgreSQL it commits without waiting for its WAL to reach the disk
(``synchronous_commit`` off for that transaction only), which makes delivery
several times faster while the disk is busy.  A
database crash can then forget a record made in the last moments; the row is
left ``sending``, exactly as if the dispatcher had died between 2 and 3, and
the lease and ``find_sent`` above take care of it.  Steps 1 and the sweep stay
synchronous: a claim is never forgotten once its message may have been sent,
and any later synchronous commit makes the records before it durable too.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Engine, Table, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from governance_store.models import ChangeRequest, OutboxMessage, Person

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
DEFAULT_LEASE_SECONDS = 120.0
# Rows claimed per transaction: each is still sent and recorded on its own.
CLAIM_BATCH = 20
# Rows a dispatcher may take: due ones, and interrupted sends whose lease has run out.
CLAIMABLE = ("pending", "sending")


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


class KeyedSender(Sender, Protocol):
    """A sender that tags each message with the outbox key and can find it again.

    ``send_keyed`` delivers like ``send`` but records ``key`` with the message
    on the platform; ``find_sent`` returns the reference of a message carrying
    ``key`` that reached ``recipient``, ``None`` when there is none, and raises
    ``DeliveryError`` when the platform cannot tell.
    """

    def send_keyed(self, recipient: Recipient, payload: dict[str, Any], *, key: str) -> dict[str, Any]: ...

    def find_sent(self, recipient: Recipient, *, key: str) -> dict[str, Any] | None: ...


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
    recovered: int = 0  # interrupted sends found on the platform and recorded, not sent again


@dataclass
class _Claim:
    """What a claimed row needs for delivery, read inside the claim transaction."""

    id: int
    key: str
    kind: str
    attempts: int
    payload: dict[str, Any]
    recipient: Recipient
    interrupted: bool
    lane: str
    sender: Sender
    original_ref: dict[str, Any] | None = None


class Dispatcher:
    """Delivers due outbox messages; keeps each channel under ``per_channel_interval`` seconds per message."""

    def __init__(self, factory: sessionmaker[Session], senders: Sequence[Sender], *,
                 per_channel_interval: float = 1.0, lease: float = DEFAULT_LEASE_SECONDS,
                 claim_batch: int = CLAIM_BATCH) -> None:
        self.factory = factory
        self.senders = list(senders)
        self.per_channel_interval = per_channel_interval
        self.lease = dt.timedelta(seconds=lease)
        self.claim_batch = claim_batch
        self._last_sent: dict[str, dt.datetime] = {}

    def run(self, *, now: dt.datetime, limit: int = 100) -> DispatchResult:
        result = DispatchResult()
        deferred: set[int] = set()
        handled = 0
        while handled < limit:
            claims, settled = self._claim(now, deferred, result, min(self.claim_batch, limit - handled))
            if not claims and not settled:
                break
            handled += settled + len(claims)
            for claim in claims:
                self._deliver(claim.sender, claim, now, result)
        return result

    # -- step 1: claim (committed before anything is sent)

    def _claim(self, now: dt.datetime, deferred: set[int], result: DispatchResult,
               batch: int) -> tuple[list[_Claim], int]:
        """Up to ``batch`` due rows, marked ``sending``; and how many rows were settled without sending."""
        claims: list[_Claim] = []
        settled = 0
        with self.factory() as session, session.begin():
            rows = self._claim_next(session, now, deferred, batch)
            wanted = {m.person_id for m in rows if m.person_id is not None}
            people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(wanted)))} if wanted else {}
            for msg in rows:
                recipient = _recipient(session, msg, people)
                sender = next((s for s in self.senders if s.can_reach(recipient)), None)
                if sender is None:
                    msg.attempts += 1
                    msg.status = "undeliverable"
                    msg.last_error = "no connected chat platform can reach this recipient"
                    result.skipped += 1
                    settled += 1
                    continue
                lane = f"{sender.platform}:{msg.channel or f'person:{msg.person_id}'}"
                last = self._last_sent.get(lane)
                if last is not None and (now - last).total_seconds() < self.per_channel_interval:
                    msg.status = "pending"
                    msg.next_attempt_at = last + dt.timedelta(seconds=self.per_channel_interval)
                    deferred.add(msg.id)
                    result.deferred += 1
                    settled += 1
                    continue
                original_ref = None
                if msg.kind == "update":
                    original = session.get(OutboxMessage, msg.updates_id) if msg.updates_id else None
                    if original is None or original.status != "sent" or original.platform != sender.platform:
                        # The card was never delivered here: nothing to update, the original carries the news.
                        msg.status = "superseded"
                        settled += 1
                        continue
                    original_ref = dict(original.platform_ref or {})
                if self.per_channel_interval > 0:
                    self._last_sent[lane] = now  # the lane is taken for this round even if the send fails
                claims.append(_Claim(msg.id, msg.key, msg.kind, msg.attempts + 1, dict(msg.payload or {}),
                                     recipient, msg.status == "sending", lane, sender, original_ref))
            if claims:
                # One statement for the claimed rows (they are locked: ``attempts`` is what was read).
                session.execute(_CLAIM, {"ids": [c.id for c in claims], "leased_until": now + self.lease},
                                execution_options={"synchronize_session": False})
        return claims, settled

    def _claim_next(self, session: Session, now: dt.datetime, deferred: set[int], batch: int) -> list[OutboxMessage]:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.status.in_(CLAIMABLE), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch)
        )
        if deferred:
            query = query.where(OutboxMessage.id.not_in(deferred))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(session.scalars(query).all())

    # -- step 2: send (no transaction open), step 3: record

    def _deliver(self, sender: Sender, claim: _Claim, now: dt.datetime, result: DispatchResult) -> None:
        ref: dict[str, Any] | None = None
        error: Exception | None = None
        recovered = False
        try:
            if claim.kind == "update":
                # Replacing a message in place is idempotent: an interrupted update is simply repeated.
                ref = sender.update(claim.original_ref or {}, claim.payload)
            else:
                if claim.interrupted and hasattr(sender, "find_sent"):
                    try:
                        ref = sender.find_sent(claim.recipient, key=claim.key)  # type: ignore[attr-defined]
                    except DeliveryError as exc:
                        log.warning("cannot tell whether %s was delivered (%s): sending it again", claim.key, exc)
                    recovered = ref is not None
                if ref is None:
                    if hasattr(sender, "send_keyed"):
                        ref = sender.send_keyed(claim.recipient, claim.payload, key=claim.key)  # type: ignore[attr-defined]
                    else:
                        ref = sender.send(claim.recipient, claim.payload)
        except Exception as exc:  # noqa: BLE001 - a broken sender must not stop the outbox
            error = exc
            if not isinstance(exc, DeliveryError):
                log.exception("delivering outbox message %s failed", claim.key)
        values: dict[str, Any]
        if error is None:
            values = {"status": "sent", "sent_at": now, "platform": sender.platform, "platform_ref": ref or {},
                      "last_error": None}
        elif isinstance(error, DeliveryError) and (error.permanent or claim.attempts >= MAX_ATTEMPTS):
            values = {"status": "failed", "last_error": str(error)}
        else:
            retry_after = error.retry_after if isinstance(error, DeliveryError) else None
            text = str(error) if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
            values = {"status": "pending", "last_error": text,
                      "next_attempt_at": now + backoff(claim.attempts, retry_after)}
        # Only our own claim is settled: if the lease ran out and another dispatcher took the row over
        # (status or attempts changed), its outcome stands.
        done = self._record(values, {**values, "claimed_id": claim.id, "claimed_attempts": claim.attempts})
        if not done:
            log.warning("outbox message %s was reclaimed while being sent", claim.key)
            return
        if values["status"] == "sent":
            self._last_sent[claim.lane] = now
            result.sent += 1
            result.recovered += recovered
        elif values["status"] == "failed":
            result.failed += 1
        else:
            result.retried += 1

    def _record(self, values: dict[str, Any], params: dict[str, Any]) -> int:
        """Step 3 as one statement committed on its own (one round trip: this runs once per message);
        how many rows it changed (0: the claim was lost)."""
        engine = self.factory.kw.get("bind")
        if not isinstance(engine, Engine):
            with self.factory() as session, session.begin():
                return int(session.connection().execute(_record_statement(tuple(values), False), params).rowcount)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            statement = _record_statement(tuple(values), conn.dialect.name == "postgresql")
            return int(conn.execute(statement, params).rowcount)


_CLAIM = (
    update(OutboxMessage)
    .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
    .values(status="sending", attempts=OutboxMessage.attempts + 1, next_attempt_at=bindparam("leased_until"))
)


@functools.cache
def _record_statement(columns: tuple[str, ...], asynchronous: bool) -> Any:
    """``UPDATE outbox SET <columns> WHERE id = :claimed_id AND status = 'sending' AND attempts = :claimed_attempts``.

    ``asynchronous`` (PostgreSQL): the statement also sets ``synchronous_commit`` off for its own
    transaction, so its commit does not wait for the disk (see "Durability of the record" above)."""
    table = cast(Table, OutboxMessage.__table__)
    statement = (update(table)
                 .where(table.c.id == bindparam("claimed_id"), table.c.status == "sending",
                        table.c.attempts == bindparam("claimed_attempts"))
                 .values({name: bindparam(name, type_=table.c[name].type) for name in columns}))
    if asynchronous:
        statement = statement.where(func.set_config("synchronous_commit", "off", True) == "off")
    return statement


def dispatch(factory: sessionmaker[Session], senders: Sequence[Sender], *, now: dt.datetime,
             limit: int = 100) -> DispatchResult:
    """Deliver due messages once (no pacing memory between calls)."""
    return Dispatcher(factory, senders, per_channel_interval=0).run(now=now, limit=limit)


def _recipient(session: Session, msg: OutboxMessage, people: dict[int, Person] | None = None) -> Recipient:
    if msg.person_id is not None:
        person = (people or {}).get(msg.person_id) or session.get(Person, msg.person_id)
        if person is not None:
            return Recipient(person.id, None, person.email, person.display_name)
    return Recipient(None, msg.channel)


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status.in_(CLAIMABLE))) or 0


# Messages in these states will never be sent (again).
FINISHED = ("sent", "failed", "undeliverable", "superseded")
# Changes in these states never change again, so their cards are never updated again.
SETTLED_CHANGE_STATES = ("closed", "rejected", "withdrawn", "cancelled")


def prune(factory: sessionmaker[Session], *, now: dt.datetime, older_than: dt.timedelta, batch: int = 5_000) -> int:
    """Delete delivered (or given-up) messages older than ``older_than`` that nothing will update again.

    A message about a change is kept while the change can still move (its card may be updated in place)
    and while an update of it waits to be delivered.  The audit trail, not the outbox, is the record of
    what happened.  Returns how many rows were deleted; safe to run on several replicas at once.
    """
    cutoff = now - older_than
    update_row = aliased(OutboxMessage)
    settled = select(ChangeRequest.id).where(ChangeRequest.state.in_(SETTLED_CHANGE_STATES))
    waiting_update = exists().where(update_row.updates_id == OutboxMessage.id, update_row.status.in_(CLAIMABLE))
    done = 0
    while True:
        with factory() as session, session.begin():
            ids = session.scalars(select(OutboxMessage.id).where(
                OutboxMessage.status.in_(FINISHED), OutboxMessage.created_at < cutoff,
                or_(OutboxMessage.change_id.is_(None), OutboxMessage.change_id.in_(settled)), ~waiting_update,
            ).order_by(OutboxMessage.id).limit(batch)).all()
            if ids:
                # Updates point at their original: remove those first, then the originals.
                session.execute(update(OutboxMessage).where(OutboxMessage.updates_id.in_(ids))
                                .values(updates_id=None))
                session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
        done += len(ids)
        if len(ids) < batch:
            return done
