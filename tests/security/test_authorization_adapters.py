"""Who may and who may not, through both chat adapters over real HTTP.

The same matrix as ``tests/handlers/test_authorization_matrix.py`` (which checks the core), plus viewing
the dashboard, sent the way the platforms send it: signed Slack slash commands, button clicks and modal
submissions into the web host (a fake Slack Web API records what govbot answers), and Teams activities
with valid Bot Framework tokens posted to ``/api/messages`` of a production (app id) configuration (a
fake Bot Connector records the answers).  Each case checks what the user saw (refused or done), what
the database holds afterwards and the audit trail; a personal dashboard link is followed to the
dashboard, which must open for the people allowed and stay shut for everyone else.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from bot.bootstrap import Container
from bot.dashboard import DashboardMount
from bot.web import create_app
from governance_store.models import Approval, AuditEntry, Person, Timer
from handlers import dashboard_pass
from handlers.reply import Action, Actor, Command
from notifications.sweep import sweep
from tests import core
from tests.dashboard.conftest import FakeClock
from tests.drivers import SLACK_IDS, SlackDriver, Step, TeamsDriver, change_state
from tests.slack import conftest as slack_rig
from tests.slack import seed
from tests.slack.conftest import make_settings
from tests.teams import conftest as teams_rig
from tests.teams.conftest import JESSICA, LUIS, MIKE, STRANGER_AAD
from tests.teams.tokens import APP_ID, APP_PASSWORD

# Both test rigs' fixtures, used together here (``container`` is this module's own, below).
fake_slack = slack_rig.fake_slack
make_host = slack_rig.make_host
seeded_pg_schema = slack_rig.seeded_pg_schema
seeded_sqlite = slack_rig.seeded_sqlite
seeded_target = slack_rig.seeded_target
slack_payload = slack_rig.slack_payload
connector = teams_rig.connector
make_teams_host = teams_rig.make_teams_host
teams_payload = teams_rig.teams_payload

DASHBOARD_TOKEN = "a-dashboard-token-nobody-in-chat-knows"
PUBLIC_URL = "https://govbot.plant.example"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/\?pass=([A-Za-z0-9_.-]+)")
KEVIN = "kevin.tran@corvane.example"
GREGORY = "gregory.maddox@corvane.example"  # left on 2025-02-28: inactive in the directory
UNKNOWN = "pat.stranger@elsewhere.example"  # a chat account nobody imported and whose e-mail is not in it
PEOPLE = {"requester": JESSICA, "approver": LUIS, "consulted": MIKE, "stranger": KEVIN, "departed": GREGORY,
          "unknown": UNKNOWN}
SLACK_USERS = {**SLACK_IDS, KEVIN: "U05DE1605E7", GREGORY: "U0E2A50A780", UNKNOWN: seed.STRANGER}

# (action, who) -> allowed?  "dashboard" is viewing the dashboard (through the personal link chat gives).
MATRIX = {
    ("approve", "requester"): False, ("approve", "approver"): True, ("approve", "consulted"): False,
    ("approve", "stranger"): False, ("approve", "unknown"): False,
    ("reject", "requester"): False, ("reject", "approver"): True, ("reject", "consulted"): False,
    ("reject", "stranger"): False, ("reject", "unknown"): False,
    ("acknowledge", "approver"): True, ("acknowledge", "requester"): False, ("acknowledge", "consulted"): False,
    ("acknowledge", "stranger"): False, ("acknowledge", "unknown"): False,
    ("withdraw", "requester"): True, ("withdraw", "approver"): False, ("withdraw", "consulted"): False,
    ("withdraw", "stranger"): False, ("withdraw", "unknown"): False,
    ("dashboard", "requester"): True, ("dashboard", "approver"): True,
    ("dashboard", "consulted"): True, ("dashboard", "stranger"): True,
    ("dashboard", "departed"): False, ("dashboard", "unknown"): False,
}
BUTTONS = {"approve": ("Approve", "cr.approve"), "reject": ("Reject", "cr.reject"),
           "acknowledge": ("I'm on it", "esc.ack"), "withdraw": ("Withdraw", "cr.withdraw")}
# What the audit trail says for a refusal, and for the thing done.
REFUSED = {"approve": "change.approve.refused", "reject": "change.reject.refused",
           "acknowledge": "escalation.ack.refused", "withdraw": "change.withdraw.refused",
           "dashboard": "dashboard.view.refused"}
DONE = {"approve": "change.approved", "reject": "change.rejected", "acknowledge": "change.escalation_acknowledged",
        "withdraw": "change.state", "dashboard": "dashboard.link_issued"}
# The state a change is in afterwards (acknowledging and viewing the dashboard leave it as it was).
STATE_AFTER = {"approve": "approved", "reject": "rejected", "withdraw": "withdrawn"}
# What the user is told, allowed or refused.
TOLD_DONE = {"approve": "You approved", "reject": "You rejected", "acknowledge": "Thanks, Luis Ortega: the escalation of",
             "withdraw": "is now withdrawn", "dashboard": "Your personal link to the govbot dashboard"}
TOLD_UNKNOWN = {"slack": "Sorry, I don't know who you are yet", "teams": "Sorry, you are not in govbot's directory"}


def told_refused(action: str, who: str) -> str:
    if action in ("approve", "reject"):
        return "you cannot approve or reject your own change" if who == "requester" else "You are not an approver of"
    if action == "acknowledge":
        return "only the people its escalation reaches" if who == "requester" else "is not addressed to you"
    return {"withdraw": "Only the requester can withdraw",
            "dashboard": "directory is inactive (you left on 2025-02-28)"}[action]


CASES = [(platform, action, who) for platform in ("slack", "teams") for action, who in MATRIX]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # Wednesday 2025-06-04 10:00 in Findlay


@pytest.fixture
def container(seeded_target: tuple[str, str | None], fake_slack: Any, clock: FakeClock) -> Iterator[Container]:
    """The sample organisation, Slack (HTTP mode) and Teams (an app id: tokens required), and a dashboard that
    needs authentication, reached at ``PUBLIC_URL``."""
    settings = make_settings(seeded_target, fake_slack, dashboard_token=DASHBOARD_TOKEN, public_url=PUBLIC_URL,
                             teams_app_id=APP_ID, teams_app_password=APP_PASSWORD)
    box = Container(settings=settings, clock=clock)
    yield box
    box.engine.dispose()


def _person(box: Container, email: str) -> Person | None:
    with box.session_factory() as s:
        return s.scalars(sa.select(Person).where(Person.email == email)).one_or_none()


def _submitted_change(box: Container) -> int:
    """Jessica Park's change to the Line 3 filler PLC, submitted: Luis Ortega approves, Mike Sullivan is consulted."""
    with box.unit_of_work() as s:
        jessica = s.scalars(sa.select(Person).where(Person.email == JESSICA)).one()
        requester = Actor(jessica.id, jessica.display_name, "test", jessica.email)
        preview = core.handle_command(Command('change PLC-FIL-L3-07 "Firmware v33"', requester), session=s,
                                          now=box.clock())
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        reply = core.handle_action(Action("cr.submit", cid, requester), session=s, now=box.clock())
        assert reply.status == "submitted", reply.text
        roles = {(a.person.email, a.kind) for a in s.scalars(sa.select(Approval).where(Approval.change_id == int(cid)))
                 if a.person is not None}
    assert (LUIS, "approver") in roles and (MIKE, "consulted") in roles, roles
    assert not {(JESSICA, "approver"), (KEVIN, "approver"), (KEVIN, "consulted"), (MIKE, "approver")} & roles
    return int(cid)


def _escalated(box: Container, clock: FakeClock, cid: int) -> str:
    """A day later nobody has decided: the SLA breached and the Findlay OT chain is at level 2, which
    reaches Luis Ortega (acting for Gregory Maddox).  The value of the "I'm on it" button."""
    clock.advance(days=1)
    sweep(box.session_factory, now=clock())
    with box.session_factory() as s:
        timer = s.scalars(sa.select(Timer).where(Timer.change_id == cid, Timer.kind == "approval_sla")).one()
        assert timer.level >= 2 and timer.acknowledged_level is None
        return f"{timer.id}:2"


async def _driver(platform: str, box: Container, make_host: Any, make_teams_host: Any) -> SlackDriver | TeamsDriver:
    if platform == "slack":
        return SlackDriver(await make_host(), SLACK_USERS)
    host = await make_teams_host(box)  # the production adapter; every activity carries a valid token
    aad = {email: p.aad_object_id for email in PEOPLE.values() if (p := _person(box, email)) and p.aad_object_id}
    assert set(aad) == set(PEOPLE.values()) - {UNKNOWN}
    return TeamsDriver(host, aad={**aad, UNKNOWN: STRANGER_AAD})


async def _act(driver: SlackDriver | TeamsDriver, action: str, email: str, ref: str) -> list[Step]:
    """What the user does: ``/govbot dashboard`` (Slack) or "dashboard" in a 1:1 chat (Teams), or a button.
    Reject asks for a reason in a form; a user who was not offered one submits it anyway."""
    if action == "dashboard":
        if isinstance(driver, SlackDriver):
            return [await driver.slash(email, "dashboard")]
        return [await driver.say(email, "dashboard")]
    label, action_id = BUTTONS[action]
    step = await driver.click(email, (label, action_id, ref))
    if action != "reject":
        return [step]
    values = {"reason": "The rollback plan is missing"}
    if step.form is not None:
        return [step, await driver.submit(email, step.form, values)]
    return [step, await driver.submit_unasked(email, action_id, ref, values)]


@contextlib.asynccontextmanager
async def _browser_on_dashboard(box: Container) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """A fresh browser (its own cookie jar) and the dashboard's address; the dashboard needs authentication."""
    runner = web.AppRunner(create_app(box, slack=None, mounts=[DashboardMount(box, host="0.0.0.0")]), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    # PUBLIC_URL is https: its cookies are Secure, and the browser, which reaches the host through the TLS
    # proxy there, sends them back.
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[url])
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            yield browser, url
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(("platform", "action", "who"), CASES)
async def test_who_may_through_both_adapters(platform: str, action: str, who: str, container: Container,
                                             clock: FakeClock, make_host: Any, make_teams_host: Any) -> None:
    box = container
    allowed = MATRIX[(action, who)]
    email = PEOPLE[who]
    person = _person(box, email)
    assert (person is None) == (who == "unknown") and (person is None or person.active == (who != "departed"))
    cid = _submitted_change(box)
    ref = _escalated(box, clock, cid) if action == "acknowledge" else str(cid)
    driver = await _driver(platform, box, make_host, make_teams_host)
    with box.session_factory() as s:
        before = s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0

    steps = await _act(driver, action, email, ref)

    # What the user saw.
    last = steps[-1]
    seen = "\n".join(step.text for step in steps)
    if allowed:
        assert TOLD_DONE[action] in last.text, last.text
        if action == "dashboard":
            assert last.private, "a personal link is shown to its owner only"
        else:
            assert last.replaced and not last.private, "the card is updated in place"
    else:
        expected = TOLD_UNKNOWN[platform] if who == "unknown" else told_refused(action, who)
        for step in steps:
            assert expected in step.text, step.text
            assert step.private and not step.replaced, "a refusal goes to the clicker only; the card stays"
        assert TOLD_DONE[action] not in seen

    # What the database holds.
    state = change_state(box, cid)
    assert state == (STATE_AFTER[action] if allowed and action in STATE_AFTER else "submitted")
    with box.session_factory() as s:
        timer = s.scalars(sa.select(Timer).where(Timer.change_id == cid, Timer.kind == "approval_sla")).one()
        assert timer.acknowledged_level == (2 if allowed and action == "acknowledge" else None)
        entries = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.id > before).order_by(AuditEntry.id)))

    # What the audit trail says.
    actions = [e.action for e in entries]
    if allowed:
        assert not [a for a in actions if a.endswith(".refused")], actions
        done = [e for e in entries if e.action == DONE[action]]
        assert done and all(e.actor_id == person.id and e.platform == platform for e in done), actions
        if action == "withdraw":
            assert done[-1].data["to"] == "withdrawn"
    else:
        assert actions == [REFUSED[action]] * len(steps), "every refusal is audited, nothing else happens"
        assert all(e.actor_id == (person.id if person else None) and e.platform == platform for e in entries)

    # The dashboard: a link opens it for the people allowed; nobody else got one, and it is shut to them.
    if action == "dashboard":
        links = set(LINK.findall(seen))
        if allowed:
            [value] = links  # (Slack shows it twice: as the notification text and in the message)
            issued = dashboard_pass.verify(value, key=dashboard_pass.derive_key(DASHBOARD_TOKEN), now=clock())
            assert issued.person_id == person.id
            assert value not in json.dumps([e.data for e in entries]), "the pass never goes into the audit trail"
        else:
            assert not links and "pass=" not in seen and PUBLIC_URL not in seen
        async with _browser_on_dashboard(box) as (browser, dashboard):
            async with browser.get(dashboard + "/") as bare:
                assert bare.status == 401, "without the link the dashboard is shut"
            if allowed:
                async with browser.get(f"{dashboard}/?pass={value}") as page:  # where PUBLIC_URL leads
                    text = await page.text()
                    assert page.status == 200 and "Governance overview" in text, text[:300]
                    assert "pass=" not in str(page.url), "redirected to the page without the pass"


async def test_a_forged_or_expired_link_does_not_open_the_dashboard(container: Container, clock: FakeClock) -> None:
    """The other side of the dashboard cases above: only govbot's own, unexpired passes open it."""
    luis = _person(container, LUIS)
    assert luis is not None
    forged = dashboard_pass.issue(luis.id, key=dashboard_pass.derive_key("a-guessed-token"),
                                  expires_at=clock() + dt.timedelta(hours=1))
    expired = dashboard_pass.issue(luis.id, key=dashboard_pass.derive_key(DASHBOARD_TOKEN), expires_at=clock())
    async with _browser_on_dashboard(container) as (browser, dashboard):
        for value in (forged, expired, DASHBOARD_TOKEN):
            async with browser.get(f"{dashboard}/?pass={value}") as page:
                assert page.status == 401 and "Governance overview" not in await page.text()
            async with browser.get(dashboard + "/") as bare:
                assert bare.status == 401


@pytest.mark.parametrize("platform", ["slack", "teams"])
async def test_a_dashboard_link_is_never_posted_where_others_can_read_it(
        platform: str, container: Container, make_host: Any, make_teams_host: Any) -> None:
    """Asked in a channel: Slack answers the asker alone; Teams, which cannot, issues no link there."""
    driver = await _driver(platform, container, make_host, make_teams_host)
    with container.session_factory() as s:
        before = s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0
    if isinstance(driver, SlackDriver):
        host = driver.host
        await host.event(host.mention("dashboard", user=SLACK_USERS[LUIS]))
        [answer] = await host.fake.wait_for("chat.postEphemeral")
        await host.fake.settle(quiet=0.3)
        assert answer.body["user"] == SLACK_USERS[LUIS] and LINK.search(answer.all_text())
        assert not [c for c in host.fake.calls() if c.method != "chat.postEphemeral" and "pass=" in json.dumps(c.body)]
        issued = ["dashboard.link_issued"]
    else:
        host = driver.host
        activity = host.channel("dashboard", email=LUIS, aad=driver.aad[LUIS])
        status, _ = await host.post(activity)
        assert status == 201
        [answer] = host.fake.posted()
        assert "only send it privately" in answer.all_text() and "pass=" not in json.dumps(answer.body)
        issued = []
    with container.session_factory() as s:
        assert [e.action for e in s.scalars(sa.select(AuditEntry).where(AuditEntry.id > before))] == issued
