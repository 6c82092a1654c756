"""The outbox: keyed enqueue, retries with backoff, Retry-After, per-channel pacing, in-place updates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import OutboxMessage, Person
from notifications import outbox

T0 = dt.datetime(2025, 6, 4, 12, 0, tzinfo=dt.UTC)


class RecordingSender:
    """An outbound port that records deliveries and can be told to fail."""

    platform = "test"

    def __init__(self) -> None:
        self.sent: list[tuple[str | None, dict[str, Any]]] = []
        self.updated: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.fail_next: list[outbox.DeliveryError] = []

    def can_reach(self, recipient: outbox.Recipient) -> bool:
        return True

    def send(self, recipient: outbox.Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append((recipient.channel or recipient.email, payload))
        return {"ts": str(len(self.sent))}

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        self.updated.append((ref, payload))
        return ref


def _person(s: Session) -> int:
    p = Person(email="a@example.com", display_name="A")
    s.add(p)
    s.flush()
    return p.id


def test_same_key_is_queued_once(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        pid = _person(s)
        assert outbox.enqueue(s, key="k1", now=T0, person_id=pid, payload={"text": "x"}) is not None
        assert outbox.enqueue(s, key="k1", now=T0, person_id=pid, payload={"text": "y"}) is None
    with session_factory() as s:
        assert s.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 1


def test_retry_after_and_backoff_then_delivered_once(session_factory: sessionmaker[Session]) -> None:
    sender = RecordingSender()
    with session_factory() as s, s.begin():
        pid = _person(s)
        outbox.enqueue(s, key="k", now=T0, person_id=pid, payload={"text": "x"})
    sender.fail_next = [outbox.DeliveryError("ratelimited", retry_after=30), outbox.DeliveryError("500")]
    d = outbox.Dispatcher(session_factory, [sender])
    assert d.run(now=T0).retried == 1
    with session_factory() as s:
        msg = s.scalar(sa.select(OutboxMessage))
        assert msg.next_attempt_at == T0 + dt.timedelta(seconds=30), "Retry-After is honoured"
    assert d.run(now=T0 + dt.timedelta(seconds=29)).sent == 0
    assert d.run(now=T0 + dt.timedelta(seconds=30)).retried == 1
    assert d.run(now=T0 + dt.timedelta(minutes=10)).sent == 1
    assert d.run(now=T0 + dt.timedelta(minutes=20)).sent == 0
    assert len(sender.sent) == 1
    with session_factory() as s:
        msg = s.scalar(sa.select(OutboxMessage))
        assert (msg.status, msg.attempts, msg.platform_ref) == ("sent", 3, {"ts": "1"})


def test_permanent_failure_stops_retrying(session_factory: sessionmaker[Session]) -> None:
    sender = RecordingSender()
    with session_factory() as s, s.begin():
        outbox.enqueue(s, key="k", now=T0, channel="#x", payload={})
    sender.fail_next = [outbox.DeliveryError("channel_not_found", permanent=True)]
    assert outbox.dispatch(session_factory, [sender], now=T0).failed == 1
    assert outbox.dispatch(session_factory, [sender], now=T0 + dt.timedelta(hours=1)).sent == 0


def test_one_message_per_second_per_channel(session_factory: sessionmaker[Session]) -> None:
    sender = RecordingSender()
    with session_factory() as s, s.begin():
        for i in range(3):
            outbox.enqueue(s, key=f"c{i}", now=T0, channel="#ot", payload={"i": i})
        outbox.enqueue(s, key="other", now=T0, channel="#it", payload={})
    d = outbox.Dispatcher(session_factory, [sender], per_channel_interval=1.0)
    first = d.run(now=T0)
    assert first.sent == 2 and first.deferred >= 1  # one per channel
    assert d.run(now=T0 + dt.timedelta(milliseconds=500)).sent == 0
    assert d.run(now=T0 + dt.timedelta(seconds=1)).sent == 1
    assert d.run(now=T0 + dt.timedelta(seconds=2)).sent == 1
    assert [p["i"] for ch, p in sender.sent if ch == "#ot"] == [0, 1, 2], "order is kept"


def test_an_update_claimed_with_its_original_waits_for_it(session_factory: sessionmaker[Session]) -> None:
    """An original whose send failed goes back to the queue while an update of it waits too: when both fall
    due together, the original goes out as it is and the update follows it, instead of rewriting a message
    that is already on its way."""
    sender = RecordingSender()
    with session_factory() as s, s.begin():
        orig_id = outbox.enqueue(s, key="card", now=T0, channel="#x", payload={"v": 1}).id
        outbox.enqueue(s, key="card:update:v2", now=T0, channel="#x", payload={"v": 2}, kind="update",
                       updates_id=orig_id)
    d = outbox.Dispatcher(session_factory, [sender], per_channel_interval=0)
    assert d.run(now=T0).sent == 1
    assert sender.sent == [("#x", {"v": 1})] and sender.updated == []
    assert d.run(now=T0 + outbox.ORIGINAL_IN_FLIGHT).sent == 1
    assert sender.updated == [({"ts": "1"}, {"v": 2})], "the card shows what the update says"
    with session_factory() as s:
        assert dict(s.execute(sa.select(OutboxMessage.key, OutboxMessage.status)).all()) == {
            "card": "sent", "card:update:v2": "sent"}


def test_update_replaces_the_delivered_message(session_factory: sessionmaker[Session]) -> None:
    sender = RecordingSender()
    with session_factory() as s, s.begin():
        orig = outbox.enqueue(s, key="card", now=T0, channel="#x", payload={"v": 1})
        orig_id = orig.id
    outbox.dispatch(session_factory, [sender], now=T0)
    with session_factory() as s, s.begin():
        outbox.enqueue(s, key="card:update:v2", now=T0, channel="#x", payload={"v": 2}, kind="update", updates_id=orig_id)
    outbox.dispatch(session_factory, [sender], now=T0)
    assert sender.updated == [({"ts": "1"}, {"v": 2})]
