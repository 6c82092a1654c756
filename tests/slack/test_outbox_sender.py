"""The Slack outbox sender against the fake Slack: DMs, channels, updates, rate limits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from bot.bootstrap import Container
from bot.slack.outbox import SlackOutboxSender
from governance_store.models import ChatIdentity, Person
from handlers.reply import Button, Reply, reply_to_dict
from notifications.outbox import DeliveryError, Recipient
from tests.slack import seed
from tests.slack.conftest import BOT_TOKEN
from tests.slack.fake_slack import FakeSlack

CARD = reply_to_dict(Reply(text="CHG0031201 waits for your approval",
                           buttons=(Button("Approve", "cr.approve", "1", "primary"),)))


def _person(container: Container, email: str) -> Recipient:
    with container.unit_of_work() as session:
        p = session.scalars(select(Person).where(Person.email == email)).one()
        return Recipient(p.id, None, p.email, p.display_name)


@pytest.fixture
def outbox_sender(container: Container, fake_slack: FakeSlack) -> SlackOutboxSender:
    return SlackOutboxSender.from_settings(container.session_factory, token=BOT_TOKEN, base_url=fake_slack.api_url)


async def test_a_person_is_reached_in_their_dm_and_the_card_is_updated(
    outbox_sender: SlackOutboxSender, container: Container, fake_slack: FakeSlack
) -> None:
    luis = _person(container, "luis.ortega@corvane.example")
    assert await asyncio.to_thread(outbox_sender.can_reach, luis)
    ref = await asyncio.to_thread(outbox_sender.send, luis, CARD)
    [post] = fake_slack.calls("chat.postMessage")
    assert post.body["channel"] == seed.LUIS and ref == {"channel": seed.LUIS, "ts": ref["ts"]}
    assert [b["action_id"] for b in post.buttons()] == ["cr.approve"]
    await asyncio.to_thread(outbox_sender.update, ref, reply_to_dict(Reply(text="Approved by Luis Ortega")))
    [update] = fake_slack.calls("chat.update")
    assert (update.body["channel"], update.body["ts"]) == (ref["channel"], ref["ts"])
    assert "Approved by Luis Ortega" in update.all_text()


async def test_channels_are_reachable_by_name(outbox_sender: SlackOutboxSender, fake_slack: FakeSlack) -> None:
    ref = await asyncio.to_thread(outbox_sender.send, Recipient(None, "#ot-oncall-fdl"), CARD)
    assert ref["channel"] == "#ot-oncall-fdl"


async def test_someone_without_slack_account_is_found_once_by_email_or_not_at_all(
    outbox_sender: SlackOutboxSender, container: Container, fake_slack: FakeSlack, slack_payload: Any
) -> None:
    ray = _person(container, seed.NEWCOMER_EMAIL)
    with container.unit_of_work() as session:
        assert session.scalars(select(ChatIdentity).where(ChatIdentity.person_id == ray.person_id)).first() is None
    assert await asyncio.to_thread(outbox_sender.can_reach, ray)
    assert len(fake_slack.calls("users.lookupByEmail")) == 1
    assert await asyncio.to_thread(outbox_sender.can_reach, ray)  # now from the stored link
    assert len(fake_slack.calls("users.lookupByEmail")) == 1
    nobody = Recipient(ray.person_id, None, "nobody@corvane.example", "Nobody")
    fake_slack.users.pop(seed.NEWCOMER)
    with container.unit_of_work() as session:
        for row in session.scalars(select(ChatIdentity).where(ChatIdentity.person_id == ray.person_id)):
            session.delete(row)
    assert not await asyncio.to_thread(outbox_sender.can_reach, nobody)
    assert not await asyncio.to_thread(outbox_sender.can_reach, nobody)
    assert len(fake_slack.calls("users.lookupByEmail")) == 2  # the miss is remembered


async def test_rate_limits_and_permanent_errors_become_delivery_errors(
    outbox_sender: SlackOutboxSender, fake_slack: FakeSlack, slack_payload: Any
) -> None:
    fake_slack.fail_next(1, payload=slack_payload("web_api_ratelimited_429.json"), retry_after=None)
    with pytest.raises(DeliveryError) as err:
        await asyncio.to_thread(outbox_sender.send, Recipient(None, "C111"), CARD)
    assert err.value.retry_after == 30.0 and not err.value.permanent
    fake_slack.not_in_channel.add("C222")
    with pytest.raises(DeliveryError) as err:
        await asyncio.to_thread(outbox_sender.send, Recipient(None, "C222"), CARD)
    assert err.value.permanent


async def test_an_interrupted_send_is_found_however_busy_the_conversation_is(
    outbox_sender: SlackOutboxSender, container: Container, fake_slack: FakeSlack
) -> None:
    """The look-up reads from the moment of the attempt on, every page: 450 later messages do not hide it
    (the newest 200 alone would have missed it and the message would have been posted twice)."""
    import datetime as dt

    luis = _person(container, "luis.ortega@corvane.example")
    for i in range(30):  # older traffic, before the attempt: not read at all
        await asyncio.to_thread(outbox_sender.send_keyed, luis, CARD, key=f"older:{i}")
    await asyncio.sleep(0.05)
    attempt = dt.datetime.now(dt.UTC)
    await asyncio.to_thread(outbox_sender.send_keyed, luis, CARD, key="cr:7:approver:3")
    for i in range(450):  # a busy DM after the interrupted send
        await asyncio.to_thread(outbox_sender.send_keyed, luis, CARD, key=f"busy:{i}")
    before = fake_slack.history_pages
    found = await asyncio.to_thread(outbox_sender.find_sent, luis, key="cr:7:approver:3", since=attempt)
    assert found is not None and found["channel"] == seed.LUIS
    [posted] = [m for m in fake_slack.history[seed.LUIS]
                if (m.get("metadata") or {}).get("event_payload", {}).get("key") == "cr:7:approver:3"]
    assert found["ts"] == posted["ts"], "the reference of that very message"
    pages = fake_slack.calls("conversations.history")[-(fake_slack.history_pages - before):]
    assert len(pages) == 3, "451 messages since the attempt: three pages of 200"
    assert all(float(p.body["oldest"]) <= attempt.timestamp() - 299 for p in pages), "from the attempt, less a margin"
    assert all(str(p.body.get("include_all_metadata")).lower() in ("1", "true") for p in pages)
    assert [bool(p.body.get("cursor")) for p in pages] == [False, True, True]
    # A key that never reached Slack: every page since the attempt is read, then "not there".
    assert await asyncio.to_thread(outbox_sender.find_sent, luis, key="never:sent", since=attempt) is None


async def test_a_throttled_look_up_after_a_crash_waits_instead_of_posting_twice(
    outbox_sender: SlackOutboxSender, container: Container, fake_slack: FakeSlack
) -> None:
    """Slack took the card, the worker died before recording it; the next look-up is rate limited: the row
    stays marked as possibly delivered and is looked up again after Retry-After, never posted a second time."""
    import datetime as dt

    from notifications import outbox

    class Crash(BaseException):
        pass

    class Dying:
        platform = "slack"
        timeout = outbox_sender.timeout

        def __getattr__(self, name: str) -> Any:
            return getattr(outbox_sender, name)

        def send_keyed(self, recipient: Recipient, payload: dict[str, Any], *, key: str) -> dict[str, Any]:
            outbox_sender.send_keyed(recipient, payload, key=key)
            raise Crash()

    now = dt.datetime.now(dt.UTC)
    luis = _person(container, "luis.ortega@corvane.example")
    with container.unit_of_work() as session:
        outbox.enqueue(session, key="cr:8:approver:3", now=now, person_id=luis.person_id, payload=CARD)
    with pytest.raises(Crash):
        await asyncio.to_thread(outbox.Dispatcher(container.session_factory, [Dying()],  # type: ignore[list-item]
                                                  per_channel_interval=0, lease=60).run, now=now)
    later = now + dt.timedelta(seconds=61)
    fake_slack.fail_next(1, retry_after="20", method="conversations.history")
    d = outbox.Dispatcher(container.session_factory, [outbox_sender], per_channel_interval=0)
    assert (await asyncio.to_thread(d.run, now=later)).sent == 0
    with container.session_factory() as session:
        from governance_store.models import OutboxMessage

        msg = session.scalars(select(OutboxMessage).where(OutboxMessage.key == "cr:8:approver:3")).one()
        assert (msg.status, msg.next_attempt_at) == ("sending", later + dt.timedelta(seconds=20))
    result = await asyncio.to_thread(d.run, now=later + dt.timedelta(seconds=20))
    assert result.sent == 1 and result.recovered == 1
    posts = [c for c in fake_slack.calls("chat.postMessage") if c.body["channel"] == seed.LUIS]
    assert len(posts) == 1, "exactly once"
