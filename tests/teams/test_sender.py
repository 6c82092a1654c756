"""Proactive delivery: outbox rows to Teams through stored conversation references and a fake Bot Connector."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container
from bot.teams.sender import TeamsOutboxSender, teams_sender_from_settings
from governance_store.models import ConversationReference, OutboxMessage, Person
from handlers.reply import Button, Field, Reply, Section, reply_to_dict
from notifications import outbox
from tests.teams.conftest import (
    JESSICA,
    LUIS,
    NOW,
    TeamsHost,
    personal_conversation,
    teams_settings,
    unauthenticated_dev_settings,
)
from tests.teams.tokens import OUTBOUND_TOKEN, authenticated_sender


@pytest.fixture
def sender(teams_container: Container) -> Iterator[TeamsOutboxSender]:
    made = authenticated_sender(teams_container)
    yield made
    made.close()


def _card(text: str) -> dict:
    return reply_to_dict(Reply(text=text, sections=(Section("CHG", fields=(Field("State", "submitted"),)),),
                               buttons=(Button("Approve", "cr.approve", "1", "primary"),), ephemeral=False))


def _person(container: Container, email: str) -> int:
    with container.session_factory() as s:
        return s.scalars(sa.select(Person.id).where(Person.email == email)).one()


async def test_outbox_message_reaches_a_person_with_a_stored_reference_then_updates(
        teams_host: TeamsHost, sender: TeamsOutboxSender) -> None:
    container = teams_host.container
    await teams_host.post(teams_host.personal("help"))  # Luis writes once: his 1:1 reference is stored
    before = len(teams_host.fake.posted())
    luis = _person(container, LUIS)
    with container.unit_of_work() as s:
        msg = outbox.enqueue(s, key="test:ping:1", now=NOW, person_id=luis, payload=_card("Your approval is requested"))
        assert msg is not None
    result = await asyncio.to_thread(outbox.dispatch, container.session_factory, [sender], now=NOW)
    assert result.sent == 1, result
    [call] = teams_host.fake.posted()[before:]
    assert call.kind == "send" and call.conversation_id == personal_conversation(LUIS)
    assert "Your approval is requested" in call.all_text()
    assert call.verbs() == ["cr.approve"]
    with container.session_factory() as s:
        sent = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == "test:ping:1")).one()
        assert sent.status == "sent" and sent.platform == "teams"
        assert sent.platform_ref["conversation_id"] == personal_conversation(LUIS)
        assert sent.platform_ref["service_url"] == teams_host.fake.url
        activity_id, original_id = sent.platform_ref["activity_id"], sent.id
    with container.unit_of_work() as s:
        outbox.enqueue(s, key="test:ping:1:update:v2", now=NOW, person_id=luis, kind="update", updates_id=original_id,
                       payload=_card("Approved by Luis Ortega"))
    result = await asyncio.to_thread(outbox.dispatch, container.session_factory, [sender], now=NOW)
    assert result.sent == 1, result
    [put] = teams_host.fake.calls("update")
    assert put.conversation_id == personal_conversation(LUIS) and put.activity_id == activity_id
    assert "Approved by Luis Ortega" in put.all_text()
    # The answer to Luis's message and both proactive writes went out with the bot's own token.
    assert {c.authorization for c in teams_host.fake.records} == {f"Bearer {OUTBOUND_TOKEN}"}


async def test_person_seen_only_in_a_channel_gets_a_new_personal_conversation(
        teams_host: TeamsHost, sender: TeamsOutboxSender) -> None:
    container = teams_host.container
    await teams_host.post(teams_host.channel("help", email=JESSICA))
    jessica = _person(container, JESSICA)
    with container.unit_of_work() as s:
        outbox.enqueue(s, key="test:ping:2", now=NOW, person_id=jessica, payload=_card("You are consulted"))
    result = await asyncio.to_thread(outbox.dispatch, container.session_factory, [sender], now=NOW)
    assert result.sent == 1, result
    [create] = teams_host.fake.calls("create")
    assert create.body["members"][0]["id"] == teams_host.personal("x", email=JESSICA)["from"]["id"]
    [card] = [c for c in teams_host.fake.calls("send") if c.conversation_id.startswith("a:created-")]
    assert "You are consulted" in card.all_text()
    with container.session_factory() as s:
        rows = s.scalars(sa.select(ConversationReference).where(ConversationReference.person_id == jessica)).all()
    assert {r.conversation_type for r in rows} == {"channel", "personal"}


async def test_unreachable_people_are_left_to_other_platforms(teams_host: TeamsHost, sender: TeamsOutboxSender) -> None:
    from notifications.outbox import Recipient

    assert not sender.can_reach(Recipient(_person(teams_host.container, LUIS), None))
    assert not sender.can_reach(Recipient(None, "#ot-findlay"))


def test_sender_from_settings_only_when_configured(db_target: tuple[str, str | None]) -> None:
    no_app_id = unauthenticated_dev_settings(db_target, dev_mode=False)
    assert teams_sender_from_settings(Container(settings=no_app_id)) is None
    for settings in (teams_settings(db_target), unauthenticated_dev_settings(db_target)):
        made = teams_sender_from_settings(Container(settings=settings))
        assert made is not None
        assert made.app_id == settings.teams_app_id
        made.close()
