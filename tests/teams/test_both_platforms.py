"""A Slack + Teams organisation: each person is reached where they are, whatever platform the change came from.

Luis and Jessica use govbot in Teams; the others have never used it, and the organisation's order puts
Slack first.  Jessica opens a change from Teams: her card and Luis's approval request go to Teams, the
people who never used govbot get theirs in Slack, and nobody gets the same card twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container, configure_delivery
from bot.slack.outbox import SlackOutboxSender
from governance_store.models import OutboxMessage, Person
from notifications import outbox
from tests.drivers import TeamsDriver, button
from tests.slack import conftest as slack_rig
from tests.slack import seed
from tests.slack.conftest import BOT_TOKEN, make_settings
from tests.teams.conftest import AAD, JESSICA, LUIS, NOW, personal_conversation
from tests.teams.tokens import APP_ID, APP_PASSWORD, authenticated_sender

fake_slack = slack_rig.fake_slack
slack_payload = slack_rig.slack_payload
seeded_sqlite = slack_rig.seeded_sqlite
seeded_pg_schema = slack_rig.seeded_pg_schema
seeded_target = slack_rig.seeded_target


@pytest.fixture
def container(seeded_target: tuple[str, str | None], fake_slack: Any) -> Iterator[Container]:
    box = Container(settings=make_settings(seeded_target, fake_slack, teams_app_id=APP_ID,
                                           teams_app_password=APP_PASSWORD), clock=lambda: NOW)
    with box.session_factory() as s, s.begin():
        for email, oid in AAD.items():
            s.scalars(sa.select(Person).where(Person.email == email)).one().aad_object_id = oid
    yield box
    box.engine.dispose()


async def test_a_change_from_teams_reaches_each_person_where_they_are(container: Container, fake_slack: Any,
                                                                     make_teams_host: Any) -> None:
    host = await make_teams_host(container)
    teams = TeamsDriver(host)
    await teams.say(LUIS, "help")  # Luis uses govbot in Teams
    preview = await teams.say(JESSICA, 'change PLC-FIL-L3-07 "Firmware v33"')
    await teams.click(JESSICA, button(preview, "cr.submit"))
    sender = authenticated_sender(container)
    try:
        slack = SlackOutboxSender.from_settings(container.session_factory, token=BOT_TOKEN, base_url=fake_slack.api_url)
        d = outbox.Dispatcher(container.session_factory, [slack, sender], per_channel_interval=0)
        configure_delivery(d, container.settings)
        await asyncio.to_thread(d.run, now=NOW, limit=500)
    finally:
        sender.close()
    with container.session_factory() as s:
        people = {p.id: p.email for p in s.scalars(sa.select(Person))}
        rows = list(s.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "message")))
    where = {people[m.person_id]: m.platform for m in rows if m.person_id is not None}
    assert {m.status for m in rows} == {"sent"}
    assert where[LUIS] == "teams" and where[JESSICA] == "teams", where
    assert "slack" in where.values(), "people who never used govbot are reached in the organisation's order"
    slack_dms = {str(c.body.get("channel")) for c in fake_slack.calls("chat.postMessage")}
    assert seed.LUIS not in slack_dms and seed.JESSICA not in slack_dms, "no Slack DM for people who are in Teams"
    luis_cards = [c for c in host.fake.calls("send") if c.conversation_id == personal_conversation(LUIS)
                  and "Your approval is requested" in c.all_text()]
    assert len(luis_cards) == 1
