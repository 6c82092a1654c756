"""A campaign on the demo's clock: owners attest, transfer and retire systems from the web chat, Slack and
Teams, through the real adapters, and "who owns X" follows at once.

The demo is built as ``govbot demo`` builds it (:func:`bot.bootstrap.build_demo`: the web chat with its
inbox and the notification worker), on a clock the test moves forward instead of the accelerated one.
Slack runs over signed HTTP against the fake Slack Web API, Teams with Bot Framework tokens against the
fake Bot Connector, the web chat over HTTP with the dashboard token.  Cards people were sent arrive by the
outbox on their platform; the buttons pressed are those of the delivered cards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web

from bot.bootstrap import Container, build_demo
from bot.commands.demo_cmd import accelerated_clock
from bot.web import create_app
from governance_store.models import Attestation, OutboxMessage, Person
from governance_store.ownership_policy import DEFAULT_POLICY
from notifications import outbox
from notifications.ownership import start_campaign
from tests.dashboard.conftest import FakeClock
from tests.drivers import SlackDriver, TeamsDriver
from tests.security import test_matrix as rig

fake_slack = rig.fake_slack
make_host = rig.make_host
seeded_pg_schema = rig.seeded_pg_schema
seeded_sqlite = rig.seeded_sqlite
seeded_target = rig.seeded_target
slack_payload = rig.slack_payload
connector = rig.connector
make_teams_host = rig.make_teams_host
teams_payload = rig.teams_payload
clock = rig.clock
container = rig.container
box = rig.box

STEFAN, MATTHIAS = "stefan.huber@corvane.example", "matthias.gruber@corvane.example"
MARCUS, TOM = "marcus.lee@corvane.example", "tom.brennan@corvane.example"
LUIS, BRIAN, JESSICA = "luis.ortega@corvane.example", "brian.caldwell@corvane.example", "jessica.park@corvane.example"
JOHANNA, HANNAH = "johanna.weber@corvane.example", "hannah.kowalski@corvane.example"
SLACK = {STEFAN: "U077738A598", MATTHIAS: "U0C9A73E553"}


def pressed(buttons: list[tuple[str, str, str]], label: str) -> tuple[str, str, str]:
    return next(b for b in buttons if b[0] == label or b[0].startswith(label))


class WebChat:
    """The demo's web chat over HTTP, as the browser page uses it."""

    def __init__(self, url: str, http: aiohttp.ClientSession, people: dict[str, int]) -> None:
        self.url, self.http, self.people = url, http, people

    async def say(self, email: str, text: str) -> dict[str, Any]:
        async with self.http.post(f"{self.url}/chat/api/say", json={"person_id": self.people[email], "text": text}) as r:
            assert r.status == 200, await r.text()
            return dict((await r.json())["reply"])

    async def click(self, email: str, button: dict[str, Any], inputs: dict[str, str] | None = None) -> dict[str, Any]:
        body = {"person_id": self.people[email], "action_id": button["action_id"], "value": button["value"],
                "inputs": inputs or {}}
        async with self.http.post(f"{self.url}/chat/api/click", json=body) as r:
            assert r.status == 200, await r.text()
            return dict((await r.json())["reply"])

    async def inbox(self, email: str) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.url}/chat/api/inbox", params={"person_id": str(self.people[email])}) as r:
            assert r.status == 200, await r.text()
            return [m["reply"] for m in (await r.json())["messages"]]


def button(reply: dict[str, Any], label: str) -> dict[str, Any]:
    return next(b for b in reply["buttons"] if b["label"].startswith(label))


async def test_a_campaign_attests_transfers_and_retires_from_the_web_chat_slack_and_teams(
        box: Container, clock: FakeClock, make_host: Any, make_teams_host: Any) -> None:
    # The demo's clock is accelerated real time; here the test moves it (no sleeping through an SLA).
    demo_clock = accelerated_clock(clock(), 3600.0)
    assert demo_clock() >= clock()
    demo = build_demo(box, host="127.0.0.1")
    runner = web.AppRunner(create_app(box, mounts=demo.mounts), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {rig.DASHBOARD_TOKEN}"})
    try:
        with box.session_factory() as s:
            people = {p.email: p.id for p in s.scalars(sa.select(Person))}
            aad = {p.email: p.aad_object_id for p in s.scalars(sa.select(Person)) if p.aad_object_id}
        chat = WebChat(f"http://127.0.0.1:{runner.addresses[0][1]}", http, people)
        slack = SlackDriver(await make_host(), SLACK)
        teams = TeamsDriver(await make_teams_host(box), aad=aad)

        # govbot attest start: every owner gets one card; those linked to Slack get it there.
        with box.unit_of_work() as s:
            campaign, plan = start_campaign(session=s, now=clock(), policy=DEFAULT_POLICY, started_by="demo")
            assert campaign is not None and plan.systems == 45
            cid = campaign.id
        sender = slack.sender(box)
        try:
            await asyncio.to_thread(outbox.dispatch, box.session_factory, [sender], now=clock(), limit=500)
        finally:
            close = getattr(sender, "close", None)
            if close is not None:
                await asyncio.to_thread(close)

        # --- Slack: Stefan Huber answers on the card delivered to his direct messages.
        card_key = f"att:{cid}:{people[STEFAN]}:card"
        [dm] = [c for c in slack.host.fake.calls("chat.postMessage")
                if (c.body.get("metadata") or {}).get("event_payload", {}).get("key") == card_key]
        from bot.slack.translate import decode_action_id

        buttons = [(str(b["text"]["text"]), decode_action_id(b["action_id"]), str(b["value"])) for b in dm.buttons()]
        step = await slack.click(STEFAN, pressed(buttons, "F-SPS-KAE-01: retired"))
        assert step.replaced and "F-SPS-KAE-01 is retired" in step.text
        step = await slack.click(STEFAN, pressed(step.buttons, "SCADA-RGB-01: still mine"))
        assert "you own SCADA-RGB-01" in step.text
        # A transfer asked with the slash command; Matthias accepts in Slack; Johanna (the Accountable for
        # Regensburg's level 0-2, whom Slack cannot reach) approves in the web chat.
        step = await slack.slash(STEFAN, "transfer SPS-SIR-01 to Matthias Gruber")
        assert "Matthias Gruber is asked to accept SPS-SIR-01" in step.text
        step = await slack.slash(MATTHIAS, "attest")
        step = await slack.click(MATTHIAS, pressed(step.buttons, "Accept"))
        assert "Johanna Weber is asked to approve" in step.text, [(c.method, c.all_text()[:200]) for c in slack.host.fake.calls()[-4:]]
        approval = await chat.say(JOHANNA, "attest")
        done = await chat.click(JOHANNA, button(approval, "Approve"))
        assert done["text"] == "Matthias Gruber now owns SPS-SIR-01."

        # --- Teams: Marcus Lee hands FS-FDL-01 over from his card; Tom Brennan accepts in Teams.
        step = await teams.say(MARCUS, "attest")
        form = await teams.click(MARCUS, pressed(step.buttons, "FS-FDL-01: transfer to…"))
        assert form.form is not None
        step = await teams.submit(MARCUS, form.form, {"to": "Tom Brennan", "reason": "runs the file servers"})
        assert "Tom Brennan is asked to accept FS-FDL-01" in step.text
        step = await teams.say(TOM, "attest")
        step = await teams.click(TOM, pressed(step.buttons, "Accept"))
        assert "Tom Brennan now owns FS-FDL-01" in step.text
        step = await teams.say(MARCUS, "attest")
        step = await teams.click(MARCUS, pressed(step.buttons, "All 4 still mine"))
        assert "you confirmed 4 system(s)" in step.text

        # --- Web chat: Luis takes over what Gregory Maddox owned; Brian retires one and hands one over.
        card = await chat.say(LUIS, "attest")
        done = await chat.click(LUIS, button(card, "All 5 still mine"))
        assert "you confirmed 5 system(s)" in done["text"]
        card = await chat.say(BRIAN, "attest")
        done = await chat.click(BRIAN, button(card, "HMI-FIL-L1-04: retired"))
        form = await chat.click(BRIAN, button(done, "PLC-FIL-L1-02: transfer to…"))
        assert form["form"]["submit_action_id"] == "att.transfer"
        asked = await chat.click(BRIAN, {"action_id": "att.transfer", "value": form["form"]["value"]}, {"to": JESSICA})
        assert "Jessica Park is asked to accept PLC-FIL-L1-02" in asked["text"]
        # The demo's worker delivers the new owner's card to her web-chat inbox.
        demo.worker.cycle(with_digest=False)
        [accept] = [m for m in await chat.inbox(JESSICA) if m.get("data", {}).get("status") == "ownership_request"]
        await chat.click(JESSICA, button(accept, "Accept"))
        [approve] = [m for m in await chat.inbox(LUIS) if m.get("data", {}).get("viewer") == "approver"] or [None]
        if approve is None:
            demo.worker.cycle(with_digest=False)
            [approve] = [m for m in await chat.inbox(LUIS) if m.get("data", {}).get("viewer") == "approver"]
        assert (await chat.click(LUIS, button(approve, "Approve")))["text"] == "Jessica Park now owns PLC-FIL-L1-02."

        # "Who owns" answers with the new owners at once, on every surface.
        assert (await chat.say(JESSICA, "who owns PLC-FIL-L1-02"))["text"] == "PLC-FIL-L1-02 is owned by Jessica Park."
        answer = (await slack.slash(STEFAN, "who SPS-SIR-01")).text  # in Stefan's language
        assert "SPS-SIR-01 gehört Matthias Gruber." in answer or "SPS-SIR-01 is owned by Matthias Gruber." in answer
        assert "FS-FDL-01 is owned by Tom Brennan." in (await teams.say(TOM, "who owns FS-FDL-01")).text

        # Half the SLA later on the demo clock, whoever has not answered is reminded in the web chat.
        with box.session_factory() as s:
            from governance_store.models import Timer

            timer = s.scalars(sa.select(Timer).where(Timer.subject_key == f"att:{cid}:{people[HANNAH]}")).one()
            half = dt.datetime.fromisoformat(timer.data["events"][0]["at"])
        clock.now = half + dt.timedelta(minutes=5)
        demo.worker.cycle(with_digest=False)
        reminders = [m for m in await chat.inbox(HANNAH) if m["text"].startswith("Reminder: ")]
        assert reminders and reminders[0]["buttons"][0]["label"].startswith("All 8 still mine")

        with box.session_factory() as s:
            states = dict(s.execute(sa.select(Attestation.state, sa.func.count(Attestation.id))
                                    .where(Attestation.campaign_id == cid).group_by(Attestation.state)).tuples().all())
            assert states["retired"] == 2 and states["transferred"] == 2 and states["confirmed"] == 10
            delivered = {m.platform for m in s.scalars(sa.select(OutboxMessage).where(OutboxMessage.status == "sent"))}
            assert {"slack", "web"} <= delivered
        async with http.get(f"{chat.url}/attestation") as r:
            page = await r.text()
            assert r.status == 200 and "Ownership: attestation, coverage and gaps" in page and "Stefan Huber" in page and "Marcus Lee" not in page
    finally:
        await http.close()
        await runner.cleanup()
