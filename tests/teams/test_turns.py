"""Turn logic of the Teams bot class with botbuilder's TestAdapter (no HTTP)."""

from __future__ import annotations

import sqlalchemy as sa
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
)

from bot.bootstrap import Container
from bot.teams.app import GovbotTeamsBot
from governance_store.models import ConversationReference as ReferenceRow
from tests.teams.conftest import AAD, BOT_ID, LUIS


def _adapter(bot: GovbotTeamsBot, *, aad: str | None) -> TestAdapter:
    """A TestAdapter whose turns come from a Teams user (the adapter stamps these on every activity)."""
    return TestAdapter(bot.on_turn, Activity(
        channel_id="msteams", service_url="https://smba.trafficmanager.net/amer/",
        from_property=ChannelAccount(id="29:test-luis", name="Luis Ortega", aad_object_id=aad),
        recipient=ChannelAccount(id=BOT_ID, name="govbot"),
        conversation=ConversationAccount(id="a:testadapter-luis", conversation_type="personal"),
    ))


def _message(text: str) -> Activity:
    return Activity(
        type=ActivityTypes.message, text=text, channel_id="msteams",
        entities=[{"type": "mention", "text": "<at>govbot</at>", "mentioned": {"id": BOT_ID, "name": "govbot"}}],
    )


async def test_message_turn_answers_with_an_adaptive_card_and_remembers_the_conversation(
        teams_container: Container) -> None:
    bot = GovbotTeamsBot(teams_container)
    adapter = _adapter(bot, aad=AAD[LUIS])
    await adapter.process_activity(_message("<at>govbot</at> who owns PLC-FIL-L3-07"), bot.on_turn)
    [reply] = list(adapter.activity_buffer)
    [attachment] = reply.attachments
    assert attachment.content_type == "application/vnd.microsoft.card.adaptive"
    assert "Gregory Maddox" in str(attachment.content)
    with teams_container.session_factory() as s:
        row = s.scalars(sa.select(ReferenceRow)).one()
    assert row.conversation_id == "a:testadapter-luis" and row.person_id is not None


async def test_unknown_account_gets_the_directory_message_not_an_answer(teams_container: Container) -> None:
    bot = GovbotTeamsBot(teams_container)
    adapter = _adapter(bot, aad=None)
    await adapter.process_activity(_message("who owns PLC-FIL-L3-07"), bot.on_turn)
    [reply] = list(adapter.activity_buffer)
    text = str(reply.attachments[0].content)
    assert "not in govbot's directory" in text and "Gregory Maddox" not in text
