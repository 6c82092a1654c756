"""Slack and Teams give the same outcomes for the same journeys.

Each journey runs end to end through one platform's real adapter (real HTTP into the web host, a fake
Slack / a fake Bot Connector on the other side) on the same sample organisation.  What is compared is
the outcome, not the markup: the core's status, the people named, the change's state, whether the shared
card was replaced, whether a ping was delivered with its acknowledge button.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr

from bot.bootstrap import Container
from governance_store.models import OutboxMessage, Person
from handlers.reply import Action, Actor, Command
from notifications import outbox
from notifications.sweep import sweep
from tests import core
from tests.drivers import Recorder, SlackDriver, TeamsDriver, button, change_state
from tests.slack import conftest as slack_rig
from tests.slack.conftest import FROZEN_NOW
from tests.teams import conftest as teams_rig
from tests.teams.conftest import JESSICA, LUIS, MIKE, seed_aad
from tests.teams.tokens import APP_ID, APP_PASSWORD

# Both test rigs' fixtures, used together here.
container = slack_rig.container
fake_slack = slack_rig.fake_slack
make_host = slack_rig.make_host
seeded_pg_schema = slack_rig.seeded_pg_schema
seeded_sqlite = slack_rig.seeded_sqlite
seeded_target = slack_rig.seeded_target
slack_payload = slack_rig.slack_payload
connector = teams_rig.connector
make_teams_host = teams_rig.make_teams_host
teams_payload = teams_rig.teams_payload

NAMES = ("Gregory Maddox", "Luis Ortega", "Jessica Park", "Elena Petrova", "Brian Caldwell", "Olivia Grant")
PLANT1, PLANT2 = "Historian (AVEVA PI) Plant 1", "Historian (AVEVA PI) Plant 2"


def named(text: str) -> list[str]:
    return sorted(n for n in NAMES if n in text)


async def journeys(driver: Any, recorder: Recorder, box: Container) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def status() -> str:
        return recorder.statuses[-1]

    # Ask.
    step = await driver.say(LUIS, "who owns PLC-FIL-L3-07")
    out["ask"] = {"status": status(), "names": named(step.text)}

    # Disambiguate, then choose.
    step = await driver.say(LUIS, "who owns the historian")
    labels = {c.value: c.label for c in recorder.replies[-1].choices}
    offered = {labels.get(b[2]) for b in step.buttons if b[1] == "govbot.choose"}
    out["ambiguous"] = {"status": status(), "offers_both": {PLANT1, PLANT2} <= offered,
                        "shows_both": PLANT1 in step.text and PLANT2 in step.text}
    choice = next(b for b in step.buttons if b[1] == "govbot.choose" and labels.get(b[2]) == PLANT2)
    step = await driver.click(LUIS, choice)
    out["choose"] = {"status": status(), "names": named(step.text), "replaced": step.replaced}

    # Open a change inline, preview, submit.
    step = await driver.say(JESSICA, 'change PLC-FIL-L3-07 "Firmware"')
    out["preview"] = {"status": status(), "names": named(step.text),
                      "buttons": sorted(b[1] for b in step.buttons)}
    submit = button(step, "cr.submit")
    cid = int(submit[2])
    step = await driver.click(JESSICA, submit)
    out["submit"] = {"status": status(), "state": change_state(box, cid), "names": named(step.text)}

    # A stranger's click is refused and the shared card stays; then the approver approves.
    approve = ("Approve", "cr.approve", str(cid))
    step = await driver.click(MIKE, approve)
    out["stranger"] = {"status": status(), "state": change_state(box, cid), "replaced": step.replaced,
                       "says_not_approver": "not an approver" in step.text}
    step = await driver.click(LUIS, approve)
    out["approve"] = {"status": status(), "state": change_state(box, cid), "replaced": step.replaced,
                      "names": named(step.text)}

    # Escalation: an unanswered change breaches its SLA; the level-2 ping reaches the acting holder.
    now = box.clock()
    with box.unit_of_work() as s:
        jessica = s.scalars(sa.select(Person).where(Person.email == JESSICA)).one()
        who = Actor(jessica.id, jessica.display_name, driver.platform, jessica.email)
        preview = core.handle_command(Command(f'change PLC-FIL-L3-07 "Escalate via {driver.platform}"', who),
                                          session=s, now=now)
        pending = int(next(b.value for b in preview.buttons if b.action_id == "cr.submit"))
        core.handle_action(Action("cr.submit", str(pending), who), session=s, now=now)
        luis_id = s.scalars(sa.select(Person.id).where(Person.email == LUIS)).one()
    sweep(box.session_factory, now=now + dt.timedelta(days=3))
    sender = driver.sender(box)
    try:
        await asyncio.to_thread(outbox.dispatch, box.session_factory, [sender], now=now + dt.timedelta(days=3),
                                limit=500)
    finally:
        close = getattr(sender, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
    with box.session_factory() as s:
        ping = s.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.key == f"cr:{pending}:escalate:L2:{luis_id}")).one_or_none()
        assert ping is not None, "the sweep queued the level-2 escalation"
        out["escalation"] = {"status": ping.status, "delivered_here": ping.platform == driver.platform,
                             "ack_button": [b["action_id"] for b in ping.payload["buttons"]] == ["esc.ack"]}
    return out


async def test_slack_and_teams_give_the_same_outcomes(make_host: Any, make_teams_host: Any,
                                                      container: Container) -> None:
    slack_core, teams_core = Recorder(), Recorder()
    slack_host = await make_host(core=slack_core)
    # The same database, with Teams configured as in production (an app id: every activity carries a token).
    teams_container = Container(settings=container.settings.model_copy(
        update={"teams_app_id": APP_ID, "teams_app_password": SecretStr(APP_PASSWORD)}), clock=lambda: FROZEN_NOW)
    try:
        seed_aad(teams_container.session_factory)
        teams_host = await make_teams_host(teams_container, core=teams_core)
        slack = await journeys(SlackDriver(slack_host), slack_core, container)
        teams = await journeys(TeamsDriver(teams_host), teams_core, teams_container)
    finally:
        teams_container.engine.dispose()

    expected = {
        "ask": {"status": "answered", "names": ["Gregory Maddox", "Jessica Park", "Luis Ortega"]},
        "ambiguous": {"status": "ambiguous", "offers_both": True, "shows_both": True},
        "choose": {"status": "answered", "names": ["Elena Petrova"], "replaced": True},
        "preview": {"status": "preview", "names": ["Brian Caldwell", "Luis Ortega", "Olivia Grant"],
                    "buttons": ["cr.discard", "cr.submit"]},
        "submit": {"status": "submitted", "state": "submitted", "names": ["Brian Caldwell", "Jessica Park", "Luis Ortega"]},
        "stranger": {"status": "refused", "state": "submitted", "replaced": False, "says_not_approver": True},
        "approve": {"status": "approved", "state": "approved", "replaced": True},
        "escalation": {"status": "sent", "delivered_here": True, "ack_button": True},
    }
    for journey, want in expected.items():
        assert {k: slack[journey][k] for k in want} == want, (journey, slack[journey])
        assert teams[journey] == slack[journey], (journey, slack[journey], teams[journey])
