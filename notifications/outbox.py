"""The outbox: every outbound message is a row with a unique key, written in the same
transaction as the state change that caused it; a dispatcher delivers it.

Delivery is exactly once as far as the platform lets us observe it:

1. *Claim* (one short committed transaction): due rows are taken with
   ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and marked, in one statement,
   ``sending`` and leased until ``now + lease`` (``attempts`` counts the try).  Two replicas never
   claim the same row, and the claim survives a crash.
2. *Send*, outside any transaction, carrying the row's key (Slack: message
   ``metadata``), so the platform remembers which row a message belongs to.
3. *Record* (second transaction): ``sent`` with the platform reference, or
   back to ``pending`` with backoff / Retry-After, or ``failed``, right after
   the send (before the next row is sent).

A process killed between 2 and 3 leaves the row ``sending``.  Once its lease
has run out, a dispatcher reclaims it and, if the sender can look messages up
by key (``find_sent``), asks the platform first — from the moment the
interrupted attempt began (``attempted_at``), page by page, so however busy
the conversation is the look-up finds the message: a message that arrived is
recorded as sent instead of being posted again.  A send whose outcome is
unknown (a timeout, a dropped connection, a 5xx) is treated the same way: the
row stays ``sending`` and the next attempt looks first.  A look-up that is
throttled or fails on the platform's side is asked again later (until the last
attempt), not answered by a second copy.  Only a sender that cannot look up
(e-mail; or a platform refusing the look-up) falls back to sending again.  A claimed message is sent only while at least one sender
timeout of its lease is left (``Sender.timeout``), so a slow batch can never
have its tail reclaimed by another dispatcher while it is still being sent.

Nobody is dropped: a message that no configured platform can deliver to its
recipient yet is ``waiting`` (:mod:`notifications.reach` says why and what
happens next: e-mail after a wait, a retry).  It is re-checked every
``recheck`` and woken at once (:func:`wake`) when the person becomes
reachable: the app was installed for them, they wrote to govbot, they chose a
platform, a channel became known.

Updates go to the platform the original went to.  An update of a card that is
still on its way replaces the original's payload instead (:func:`enqueue_updates`),
so a card delivered late is current and carries no stale buttons.

Durability of the record: step 3 is a short transaction of its own (on
PostgreSQL usually one statement committed on its own: one round trip), and
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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    Engine,
    Table,
    Update,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, object_session, sessionmaker

from governance_store.models import ChangeRequest, OutboxMessage, OutboxStatus, Person
from notifications import reach

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
DEFAULT_LEASE_SECONDS = 120.0
# A sender's HTTP timeout when it names none: a claimed message is sent only while this much lease is left.
DEFAULT_SEND_TIMEOUT = 30.0
# Rows claimed per transaction: each is still sent and recorded on its own.
CLAIM_BATCH = 20
# Rows a dispatcher may take: due ones, interrupted sends whose lease has run out, and waiting ones to re-check.
CLAIMABLE = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value, OutboxStatus.WAITING.value)
# How often a waiting message is re-checked when nothing woke it.
RECHECK = dt.timedelta(minutes=10)
# How long an update waits for its original, still in flight, before it is tried again.
ORIGINAL_IN_FLIGHT = dt.timedelta(seconds=5)

# ``on_reach(session, change_id, now, version)``: a message about the change started or stopped waiting for
# its recipient; the composition root refreshes the requester's card (who could not be reached yet).
ReachChanged = Callable[[Session, int, dt.datetime, str], None]


@dataclass(frozen=True)
class Recipient:
    """Where a message goes: a person (on the platform that reaches them) or a named channel."""

    person_id: int | None
    channel: str | None
    email: str | None = None
    display_name: str | None = None
    aad_object_id: str | None = None
    notify_via: str | None = None  # the person's own order of platforms
    seen_on: str | None = None  # the chat platform they last used govbot on
    timezone: str | None = None


class DeliveryError(Exception):
    """A delivery that failed; ``retry_after`` (seconds) when the platform asked us to wait.

    ``permanent``: retrying cannot help.  ``unreachable``: this platform cannot reach this recipient now
    (the next attempt chooses again, see :mod:`notifications.reach`).  ``ambiguous``: the message may have
    arrived (a timeout, a dropped connection, a server error): the next attempt looks it up first."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 unreachable: bool = False, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.unreachable = unreachable
        self.ambiguous = ambiguous


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
    ``key`` that reached ``recipient`` at ``since`` or later (the start of the
    interrupted attempt), ``None`` when there is none, and raises
    ``DeliveryError`` when the platform cannot tell.
    """

    def send_keyed(self, recipient: Recipient, payload: dict[str, Any], *, key: str) -> dict[str, Any]: ...

    def find_sent(self, recipient: Recipient, *, key: str, since: dt.datetime | None) -> dict[str, Any] | None: ...


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


class _Withdraw:
    """What ``render`` returns for a card that says nothing any more unless it was already delivered
    (a reminder of a decision that was made): an undelivered one is never sent."""


WITHDRAW = _Withdraw()
UNDELIVERED = (OutboxStatus.PENDING.value, OutboxStatus.WAITING.value)


def enqueue_updates(session: Session, *, change_id: int, now: dt.datetime, version: int | str,
                    render: Callable[[OutboxMessage], dict[str, Any] | _Withdraw | None],
                    only: Callable[[OutboxMessage], bool] | None = None) -> int:
    """Bring every message about a change up to date.

    ``render(original_message)`` produces the new card for that recipient (``None``: leave it alone,
    :data:`WITHDRAW`: not worth delivering any more); ``version`` makes the keys unique per state change;
    ``only`` picks the messages to look at.  A delivered message (or one being sent) gets an update
    queued; one still on its way (pending or waiting) gets the new card in its place, so it arrives
    current.  Returns how many messages changed.
    """
    count = 0
    originals = session.scalars(
        select(OutboxMessage).where(OutboxMessage.change_id == change_id, OutboxMessage.kind == "message")
        .order_by(OutboxMessage.id)
    ).all()
    for orig in originals:
        if only is not None and not only(orig):
            continue
        if orig.status not in (*UNDELIVERED, OutboxStatus.SENDING.value, OutboxStatus.SENT.value):
            continue
        payload = render(orig)
        if payload is None:
            continue
        if orig.status in UNDELIVERED and _replace_undelivered(session, orig, payload):
            count += 1
            continue
        if isinstance(payload, _Withdraw):
            continue  # delivered (or in flight) reminders keep what they said; their buttons are refused
        if enqueue(session, key=f"{orig.key}:update:v{version}", now=now, payload=payload, person_id=orig.person_id,
                   channel=orig.channel, change_id=change_id, kind="update", updates_id=orig.id) is not None:
            count += 1
    return count


def _replace_undelivered(session: Session, orig: OutboxMessage, payload: dict[str, Any] | _Withdraw) -> bool:
    """Put ``payload`` in place of a message nobody has claimed yet (or withdraw it); ``False`` when a
    dispatcher claimed it meanwhile (the caller queues an update instead).  The condition is checked by the
    database, after any claim's lock is released, so a card is never changed under a send."""
    values: dict[str, Any] = {"status": OutboxStatus.SUPERSEDED.value} if isinstance(payload, _Withdraw) \
        else {"payload": payload}
    if session.get_bind().dialect.name == "postgresql":
        # Never wait on a dispatcher that is claiming it right now (that wait could close a circle of locks):
        # a row locked by a claim is as good as claimed.
        free = session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.id == orig.id, OutboxMessage.status.in_(UNDELIVERED)).with_for_update(skip_locked=True))
        if free is None:
            return False
    done = session.execute(
        update(OutboxMessage).where(OutboxMessage.id == orig.id, OutboxMessage.status.in_(UNDELIVERED))
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if done:
        session.expire(orig)
    return bool(done)


def wake(session: Session, *, person_id: int | None = None, channel: str | None = None,
         now: dt.datetime) -> int:
    """Messages waiting for a person (or a channel) that just became reachable are due now."""
    query = update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.WAITING.value)
    if person_id is not None:
        query = query.where(OutboxMessage.person_id == person_id)
    elif channel:
        query = query.where(OutboxMessage.channel == channel)
    return int(session.execute(query.values(next_attempt_at=now).execution_options(
        synchronize_session=False)).rowcount or 0)  # type: ignore[attr-defined]


def wake_all(factory: sessionmaker[Session], *, now: dt.datetime) -> int:
    """Every waiting message is due now (a platform was configured or came back)."""
    with factory() as session, session.begin():
        return wake(session, now=now)


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
    skipped: int = 0  # waiting for a recipient no platform reaches yet
    deferred: int = 0
    recovered: int = 0  # interrupted sends found on the platform and recorded, not sent again
    released: int = 0  # claimed, but too little lease was left to send safely: left for the next round


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
    change_id: int | None = None
    waited: bool = False  # the message had been waiting for its recipient
    attempted_at: dt.datetime | None = None  # when the interrupted attempt began
    claimed: float = 0.0  # time.monotonic() of the claim
    updates_id: int | None = None


class Dispatcher:
    """Delivers due outbox messages; keeps each channel under ``per_channel_interval`` seconds per message.

    ``notify_order``: the organisation's order of platforms; ``fallback_after``: how long a message waits
    for a person with a chat account before e-mail takes over; ``on_reach``: see :data:`ReachChanged`."""

    def __init__(self, factory: sessionmaker[Session], senders: Sequence[Sender], *,
                 per_channel_interval: float = 1.0, lease: float = DEFAULT_LEASE_SECONDS,
                 claim_batch: int = CLAIM_BATCH, notify_order: Sequence[str] = reach.DEFAULT_ORDER,
                 fallback_after: dt.timedelta | None = dt.timedelta(minutes=30), recheck: dt.timedelta = RECHECK,
                 on_reach: ReachChanged | None = None) -> None:
        self.factory = factory
        self.senders = list(senders)
        self.per_channel_interval = per_channel_interval
        self.lease = dt.timedelta(seconds=lease)
        self.claim_batch = claim_batch
        self.notify_order = tuple(notify_order)
        self.fallback_after = fallback_after
        self.recheck = recheck
        self.on_reach = on_reach
        self._last_sent: dict[str, dt.datetime] = {}
        # Sends whose outcome could not be written down (the database went away after the platform took the
        # message): written first thing when the database answers again, before anything else is claimed.
        self._unrecorded: list[tuple[_Claim, dict[str, Any], bool, dt.datetime]] = []

    def run(self, *, now: dt.datetime, limit: int = 100) -> DispatchResult:
        result = DispatchResult()
        self._record_pending(result)
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
                original_ref = None
                if msg.kind == "update":
                    original = session.get(OutboxMessage, msg.updates_id) if msg.updates_id else None
                    in_flight = original is not None and any(c.id == original.id for c in claims)
                    outcome = self._update_target(msg, original, now, in_flight=in_flight)
                    if outcome is None:
                        settled += 1
                        continue
                    sender = outcome
                    assert original is not None
                    original_ref = dict(original.platform_ref or {})
                else:
                    choice = reach.choose(self.senders, recipient, queued_at=msg.created_at, now=now,
                                          default=self.notify_order, fallback_after=self.fallback_after)
                    if choice.sender is None:
                        self._wait(session, msg, choice, now)
                        result.skipped += 1
                        settled += 1
                        continue
                    sender = choice.sender
                lane = f"{sender.platform}:{msg.channel or f'person:{msg.person_id}'}"
                last = self._last_sent.get(lane)
                if last is not None and (now - last).total_seconds() < self.per_channel_interval:
                    if msg.status != OutboxStatus.SENDING.value:  # an interrupted send stays marked as such
                        msg.status = OutboxStatus.PENDING.value
                    msg.next_attempt_at = last + dt.timedelta(seconds=self.per_channel_interval)
                    deferred.add(msg.id)
                    result.deferred += 1
                    settled += 1
                    continue
                if self.per_channel_interval > 0:
                    self._last_sent[lane] = now  # the lane is taken for this round even if the send fails
                interrupted = msg.status == OutboxStatus.SENDING.value
                claims.append(_Claim(msg.id, msg.key, msg.kind, msg.attempts + 1, dict(msg.payload or {}),
                                     recipient, interrupted, lane, sender, original_ref, msg.change_id,
                                     bool(msg.reach), msg.attempted_at if interrupted else None, time.monotonic(),
                                     msg.updates_id))
            if claims:
                # The claimed rows, marked in one statement (they are locked: ``attempts`` is what was read).
                session.execute(_CLAIM, {"ids": [c.id for c in claims], "now": now, "leased_until": now + self.lease},
                                execution_options={"synchronize_session": False})
        return claims, settled

    def _update_target(self, msg: OutboxMessage, original: OutboxMessage | None, now: dt.datetime, *,
                       in_flight: bool = False) -> Sender | None:
        """The sender of the platform the original went to; ``None`` when the update was settled here
        (nothing to update, or the original is still on its way: tried again shortly).  ``in_flight``: the
        original was claimed in this very batch (the statement marking it comes at the end of the batch)."""
        if in_flight:
            msg.status = OutboxStatus.PENDING.value
            msg.next_attempt_at = now + ORIGINAL_IN_FLIGHT
            return None
        if original is not None and original.status == OutboxStatus.SENDING.value:
            msg.status = OutboxStatus.PENDING.value
            msg.next_attempt_at = max(now + ORIGINAL_IN_FLIGHT, original.next_attempt_at)
            return None
        if original is not None and original.status in UNDELIVERED:
            # The original went back to waiting for its delivery: it carries the new card instead.
            if not _replace_undelivered(self._session_of(msg), original, dict(msg.payload or {})):
                msg.status = OutboxStatus.PENDING.value
                msg.next_attempt_at = now + ORIGINAL_IN_FLIGHT
                return None
            msg.status = OutboxStatus.SUPERSEDED.value
            return None
        sender = next((s for s in self.senders if original is not None and s.platform == original.platform), None)
        if original is None or original.status != OutboxStatus.SENT.value or sender is None:
            # Never delivered (its payload was replaced instead), or its platform is no longer connected.
            msg.status = OutboxStatus.SUPERSEDED.value
            return None
        return sender

    @staticmethod
    def _session_of(msg: OutboxMessage) -> Session:
        session = object_session(msg)
        assert session is not None
        return session

    def _wait(self, session: Session, msg: OutboxMessage, choice: reach.Choice, now: dt.datetime) -> None:
        """Nothing reaches the recipient yet: the message waits (re-checked, or woken when they are reachable)."""
        started = not msg.reach
        since = (msg.reach or {}).get("since") or now.isoformat()
        msg.reach = {"reason": choice.reason, "fallback": choice.fallback, "since": since,
                     "fallback_at": choice.fallback_at.isoformat() if choice.fallback_at else None}
        msg.last_error = choice.reason
        msg.status = OutboxStatus.WAITING.value
        due = now + self.recheck
        if choice.fallback_at is not None and choice.fallback_at > now:
            due = min(due, choice.fallback_at)
        msg.next_attempt_at = due
        if started and msg.change_id is not None and self.on_reach is not None:
            session.flush()
            self.on_reach(session, msg.change_id, now, f"wait{msg.id}")

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
        timeout = float(getattr(sender, "timeout", DEFAULT_SEND_TIMEOUT))
        if time.monotonic() - claim.claimed + timeout > self.lease.total_seconds():
            # Too little of the lease is left: another dispatcher could take the row over while it is being
            # sent.  Hand it back untouched; it is claimed afresh in the next round.
            self._release(claim)
            result.released += 1
            return
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
                        ref = sender.find_sent(claim.recipient, key=claim.key,  # type: ignore[attr-defined]
                                               since=claim.attempted_at)
                    except DeliveryError as exc:
                        if (exc.ambiguous or exc.retry_after is not None) and claim.attempts < MAX_ATTEMPTS:
                            # Throttled or unavailable: the platform may well have it.  Ask again later (the
                            # row stays marked as sending) rather than risk a second copy.
                            raise DeliveryError(f"cannot tell yet whether it was delivered: {exc}",
                                                retry_after=exc.retry_after, ambiguous=True) from exc
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
            values = {"status": OutboxStatus.SENT.value, "sent_at": now, "platform": sender.platform,
                      "platform_ref": ref or {}, "last_error": None, "reach": {}}
        elif isinstance(error, DeliveryError) and error.unreachable and claim.kind != "update":
            # This platform cannot reach them after all: choose again right away (the sender remembers).
            values = {"status": OutboxStatus.PENDING.value, "last_error": str(error), "next_attempt_at": now}
        elif isinstance(error, DeliveryError) and (error.permanent or claim.attempts >= MAX_ATTEMPTS):
            values = {"status": OutboxStatus.FAILED.value, "last_error": str(error)}
        else:
            retry_after = error.retry_after if isinstance(error, DeliveryError) else None
            text = str(error) if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
            # The platform may have the message (a timeout, a dropped connection, a server error): the row stays
            # marked as sending, so the next attempt looks it up before it sends.
            unknown = claim.kind != "update" and not (isinstance(error, DeliveryError) and not error.ambiguous)
            values = {"status": OutboxStatus.SENDING.value if unknown else OutboxStatus.PENDING.value,
                      "last_error": text, "next_attempt_at": now + backoff(claim.attempts, retry_after)}
        try:
            self._record(claim, values, recovered, now, result)
        except Exception:
            # The platform has the message (or said no), the database is away: keep the outcome and write it as
            # soon as the database answers (the row stays ours meanwhile), instead of looking it up later.
            self._unrecorded.append((claim, values, recovered, now))
            raise

    def _record_pending(self, result: DispatchResult) -> None:
        while self._unrecorded:
            claim, values, recovered, at = self._unrecorded[0]
            self._record(claim, values, recovered, at, result)
            self._unrecorded.pop(0)

    def _record(self, claim: _Claim, values: dict[str, Any], recovered: bool, now: dt.datetime,
                result: DispatchResult) -> None:
        # Only our own claim is settled: if the lease ran out and another dispatcher took the row
        # over (status or attempts changed), its outcome stands.
        params = {"claim_id": claim.id, "claim_attempts": claim.attempts, **values}
        sent = values["status"] == OutboxStatus.SENT.value
        reached = sent and claim.waited and claim.change_id is not None and self.on_reach is not None
        original = sent and claim.kind == "update" and bool(claim.updates_id)
        engine = self.factory.kw.get("bind")
        # On PostgreSQL the statement itself turns off waiting for the disk (see "Durability of the record").
        postgres = isinstance(engine, Engine) and engine.dialect.name == "postgresql"
        statement = _settle_statement(tuple(values), asynchronous=postgres)
        if postgres and not (reached or original):
            # The common outcome is one statement committed on its own: one round trip per message.
            assert isinstance(engine, Engine)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                done = connection.execute(statement, params).rowcount
        else:
            with self.factory() as session, session.begin():
                done = session.connection().execute(statement, params).rowcount
                if done and reached:
                    assert self.on_reach is not None and claim.change_id is not None
                    self.on_reach(session, claim.change_id, now, f"reached{claim.id}")
                if done and original:
                    # What the platform answered is the original's reference from now on (e-mail: no second
                    # follow-up).
                    session.execute(update(OutboxMessage).where(OutboxMessage.id == claim.updates_id)
                                    .values(platform_ref=values["platform_ref"])
                                    .execution_options(synchronize_session=False))
        if not done:
            log.warning("outbox message %s was reclaimed while being sent", claim.key)
            return
        if values["status"] == OutboxStatus.SENT.value:
            self._last_sent[claim.lane] = now
            result.sent += 1
            result.recovered += recovered
        elif values["status"] == OutboxStatus.FAILED.value:
            result.failed += 1
        else:
            result.retried += 1

    def _release(self, claim: _Claim) -> None:
        with self.factory() as session, session.begin():
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == claim.id, OutboxMessage.status == OutboxStatus.SENDING.value,
                       OutboxMessage.attempts == claim.attempts)
                .values(status=OutboxStatus.SENDING.value if claim.interrupted else OutboxStatus.PENDING.value,
                        attempts=claim.attempts - 1, next_attempt_at=OutboxMessage.attempted_at)
                .execution_options(synchronize_session=False))


_TABLE: Table = OutboxMessage.__table__  # type: ignore[assignment]
# Claiming: ``sending`` until the lease runs out, one more attempt; an interrupted send keeps the time its
# first attempt began (the look-up for it starts there).
_CLAIM = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(bindparam("ids", expanding=True)))
    .values(status=OutboxStatus.SENDING.value, attempts=_TABLE.c.attempts + 1,
            next_attempt_at=bindparam("leased_until", type_=_TABLE.c.next_attempt_at.type),
            attempted_at=case((and_(_TABLE.c.status == OutboxStatus.SENDING.value, _TABLE.c.attempted_at.is_not(None)),
                               _TABLE.c.attempted_at),
                              else_=bindparam("now", type_=_TABLE.c.attempted_at.type)))
)


@functools.lru_cache(maxsize=64)
def _settle_statement(columns: tuple[str, ...], *, asynchronous: bool = False) -> Update:
    """``UPDATE outbox SET <columns> WHERE id = :claim_id AND status = 'sending' AND attempts = :claim_attempts``,
    built once per set of columns (a delivery settles hundreds of rows a second; building and caching a new
    statement for each costs more than the update itself).

    ``asynchronous`` (PostgreSQL): the statement also turns ``synchronous_commit`` off for its own
    transaction, so its commit does not wait for the disk (see "Durability of the record" above)."""
    statement = (update(_TABLE)
                 .where(_TABLE.c.id == bindparam("claim_id"), _TABLE.c.status == OutboxStatus.SENDING.value,
                        _TABLE.c.attempts == bindparam("claim_attempts"))
                 .values({name: bindparam(name, type_=_TABLE.c[name].type) for name in columns}))
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
            return Recipient(person.id, None, person.email, person.display_name, person.aad_object_id,
                             person.notify_via, person.seen_on, person.timezone)
    return Recipient(None, msg.channel)


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status.in_(CLAIMABLE))) or 0


# Messages in these states will never be sent (again).
FINISHED = (OutboxStatus.SENT.value, OutboxStatus.FAILED.value, OutboxStatus.UNDELIVERABLE.value,
            OutboxStatus.SUPERSEDED.value)
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
