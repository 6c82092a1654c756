"""Who is reached where, and nobody dropped: the outbox's choice of platform, waiting, waking, e-mail after a
wait, updates on the original's platform, and sends whose outcome is unknown."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import OutboxMessage, Person
from notifications import outbox, reach
from notifications.scheduler import backlog

T0 = dt.datetime(2025, 6, 4, 12, 0, tzinfo=dt.UTC)


class Platform:
    """An outbound port that reaches the people it is told to, and records what it delivered."""

    def __init__(self, name: str, *, reaches: set[int] | None = None, accounts: set[int] | None = None,
                 fallback: bool = False, lookup: bool = False) -> None:
        self.platform = name
        self.reaches = reaches if reaches is not None else set()
        self.accounts = accounts if accounts is not None else set(self.reaches)
        self.fallback = fallback
        self.sent: list[tuple[int | None, dict[str, Any], str | None]] = []
        self.updated: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.fail_next: list[Exception] = []
        self.looked_up: list[tuple[str, dt.datetime | None]] = []
        self.delivered_keys: set[str] = set()
        self.timeout = 1.0
        if lookup:
            self.find_sent = self._find_sent  # type: ignore[method-assign]

    def can_reach(self, recipient: outbox.Recipient) -> bool:
        return recipient.person_id in self.reaches or (recipient.channel is not None and not self.fallback)

    def has_account(self, recipient: outbox.Recipient) -> bool:
        return recipient.person_id in self.accounts

    def why_not(self, recipient: outbox.Recipient) -> str:
        return f"{self.platform} cannot reach {recipient.display_name}"

    def send_keyed(self, recipient: outbox.Recipient, payload: dict[str, Any], *, key: str) -> dict[str, Any]:
        self.delivered_keys.add(key)
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append((recipient.person_id, payload, key))
        return {"n": len(self.sent), "on": self.platform}

    def send(self, recipient: outbox.Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("send_keyed is used")

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        self.updated.append((ref, payload))
        return ref

    def _find_sent(self, recipient: outbox.Recipient, *, key: str, since: dt.datetime | None) -> dict[str, Any] | None:
        self.looked_up.append((key, since))
        return {"found": key} if key in self.delivered_keys else None


def _people(s: Session, n: int = 2) -> list[int]:
    people = [Person(email=f"p{i}@example.com", display_name=f"P{i}", timezone="Europe/Berlin") for i in range(n)]
    s.add_all(people)
    s.flush()
    return [p.id for p in people]


def _msg(factory: sessionmaker[Session], key: str) -> OutboxMessage:
    with factory() as s:
        return s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == key)).one()


def test_choice_follows_the_persons_order_then_where_they_were_then_the_organisation() -> None:
    slack, teams, email = Platform("slack", reaches={1, 2, 3}), Platform("teams", reaches={1, 2, 3}), \
        Platform("email", reaches={1, 2, 3, 4}, fallback=True)
    senders = [slack, teams, email]

    def who(**kw: Any) -> str | None:
        choice = reach.choose(senders, outbox.Recipient(kw.pop("pid", 1), None, "x@example.com", **kw),
                              queued_at=T0, now=T0)
        return choice.sender.platform if choice.sender else None

    assert who() == "slack"  # the organisation's order
    assert who(seen_on="teams") == "teams"  # a change opened from Teams does not send them to Slack
    assert who(notify_via="email,teams") == "email"  # their own choice, e-mail included
    assert who(notify_via="teams", seen_on="slack") == "teams"
    assert who(pid=4) == "email", "no chat account at all: e-mail at once"
    assert reach.order_for(outbox.Recipient(1, None, notify_via="teams then email")) == ("teams", "email", "slack")


def test_email_takes_over_only_after_the_wait_for_someone_with_a_chat_account() -> None:
    teams = Platform("teams", reaches=set(), accounts={1})
    email = Platform("email", reaches={1}, fallback=True)
    recipient = outbox.Recipient(1, None, "p@example.com", "P")
    early = reach.choose([teams, email], recipient, queued_at=T0, now=T0 + dt.timedelta(minutes=29),
                         fallback_after=dt.timedelta(minutes=30))
    assert early.sender is None and early.fallback == "email" and early.fallback_at == T0 + dt.timedelta(minutes=30)
    assert "teams cannot reach P" in early.reason
    late = reach.choose([teams, email], recipient, queued_at=T0, now=T0 + dt.timedelta(minutes=30),
                        fallback_after=dt.timedelta(minutes=30))
    assert late.sender is email


def test_an_unreachable_person_waits_is_rechecked_and_woken_never_dropped(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        a, b = _people(s)
        outbox.enqueue(s, key="k:a", now=T0, person_id=a, payload={"text": "to a"}, change_id=None)
    slack = Platform("slack", reaches=set())
    d = outbox.Dispatcher(session_factory, [slack], per_channel_interval=0, recheck=dt.timedelta(minutes=10))
    result = d.run(now=T0)
    assert result.skipped == 1 and slack.sent == []
    msg = _msg(session_factory, "k:a")
    assert msg.status == "waiting" and msg.reach["reason"] == "slack cannot reach P0"
    assert msg.next_attempt_at == T0 + dt.timedelta(minutes=10)
    assert backlog(session_factory, now=T0).idle, "waiting for a person is not work for the worker"
    assert d.run(now=T0 + dt.timedelta(minutes=5)).skipped == 0  # not due before its re-check
    slack.reaches.add(a)  # they joined Slack; the next re-check (or a wake) delivers
    with session_factory() as s, s.begin():
        assert outbox.wake(s, person_id=a, now=T0 + dt.timedelta(minutes=5)) == 1
    assert d.run(now=T0 + dt.timedelta(minutes=5)).sent == 1
    msg = _msg(session_factory, "k:a")
    assert (msg.status, msg.reach, msg.platform) == ("sent", {}, "slack")


def test_reach_changes_are_reported_for_the_requesters_card(session_factory: sessionmaker[Session]) -> None:
    from governance_store.models import ChangeRequest

    seen: list[tuple[int, str]] = []
    with session_factory() as s, s.begin():
        [a] = _people(s, 1)
        cr = ChangeRequest(number="GCR000099", title="t", created_at=T0, state="submitted")
        s.add(cr)
        s.flush()
        outbox.enqueue(s, key=f"cr:{cr.id}:approver:{a}", now=T0, person_id=a, payload={"text": "x"}, change_id=cr.id)
        change_id = cr.id
    slack = Platform("slack", reaches=set())
    d = outbox.Dispatcher(session_factory, [slack], per_channel_interval=0,
                          on_reach=lambda _s, cid, _now, version: seen.append((cid, version)))
    d.run(now=T0)
    d.run(now=T0 + dt.timedelta(hours=1))  # still waiting: reported once
    slack.reaches.add(a)
    d.run(now=T0 + dt.timedelta(hours=2))
    assert [v.rstrip("0123456789") for _, v in seen] == ["wait", "reached"] and {c for c, _ in seen} == {change_id}


def test_updates_go_where_the_original_went_and_undelivered_cards_are_replaced(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        a, b = _people(s)
        outbox.enqueue(s, key="c:a", now=T0, person_id=a, payload={"text": "v1"})
        outbox.enqueue(s, key="c:b", now=T0, person_id=b, payload={"text": "v1"})
    slack, teams = Platform("slack", reaches={a}), Platform("teams", reaches=set())
    d = outbox.Dispatcher(session_factory, [slack, teams], per_channel_interval=0)
    d.run(now=T0)  # a: sent on Slack; b: waits
    teams.reaches |= {a, b}
    with session_factory() as s, s.begin():
        originals = {m.key: m for m in s.scalars(sa.select(OutboxMessage))}
        for key in ("c:a", "c:b"):
            orig = originals[key]
            if orig.status == "sent":
                outbox.enqueue(s, key=f"{key}:update:v2", now=T0, person_id=orig.person_id, kind="update",
                               updates_id=orig.id, payload={"text": "v2"})
        changed = outbox._replace_undelivered(s, originals["c:b"], {"text": "v2"})
        assert changed, "a card still on its way carries the new content"
    with session_factory() as s, s.begin():
        outbox.wake(s, person_id=b, now=T0)
    d.run(now=T0)
    assert [p["text"] for _, p in slack.updated] == ["v2"], "the update went to Slack, where the card is"
    assert [(pid, p["text"]) for pid, p, _ in teams.sent] == [(b, "v2")], "b got the current card, once"


def test_a_send_with_unknown_outcome_is_looked_up_before_it_is_sent_again(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        [a] = _people(s, 1)
        outbox.enqueue(s, key="k:timeout", now=T0, person_id=a, payload={"text": "x"})
    slack = Platform("slack", reaches={a}, lookup=True)
    slack.fail_next = [TimeoutError("read timed out")]  # the platform took it, the answer was lost
    d = outbox.Dispatcher(session_factory, [slack], per_channel_interval=0)
    d.run(now=T0)
    msg = _msg(session_factory, "k:timeout")
    assert msg.status == "sending" and msg.attempted_at == T0, "marked so the next attempt looks first"
    result = d.run(now=msg.next_attempt_at)
    assert result.recovered == 1 and slack.sent == []
    assert slack.looked_up == [("k:timeout", T0)], "looked up from the moment of the attempt"
    assert _msg(session_factory, "k:timeout").platform_ref == {"found": "k:timeout"}


def test_a_claim_is_sent_only_while_its_lease_lasts(session_factory: sessionmaker[Session]) -> None:
    """A batch whose sends take longer than the lease hands the rest back instead of racing a second dispatcher."""
    import time as clock

    with session_factory() as s, s.begin():
        ids = _people(s, 3)
        for pid in ids:
            outbox.enqueue(s, key=f"k:{pid}", now=T0, person_id=pid, payload={"text": "x"})

    class Slow(Platform):
        def send_keyed(self, recipient: outbox.Recipient, payload: dict[str, Any], *, key: str) -> dict[str, Any]:
            clock.sleep(0.3)
            return super().send_keyed(recipient, payload, key=key)

    slow = Slow("slack", reaches=set(ids))
    slow.timeout = 0.5
    d = outbox.Dispatcher(session_factory, [slow], per_channel_interval=0, lease=1.0)
    result = d.run(now=T0, limit=3)
    assert result.sent == 2 and result.released == 1
    with session_factory() as s:
        states = sorted(m.status for m in s.scalars(sa.select(OutboxMessage)))
    assert states == ["pending", "sent", "sent"]
    assert d.run(now=T0).sent == 1 and len(slow.sent) == 3
