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
