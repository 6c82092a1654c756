"""Who may do what, enforced once: every actor class × every state-changing action × every surface.

The surfaces are the real ones, end to end: Slack (signed requests into the web host, a fake Slack Web API
records what govbot answers), Teams (activities with Bot Framework tokens botbuilder's own validation
accepts, a fake Bot Connector), the console (``govbot chat``'s console, acting as ``--as EMAIL`` or, without
it, as the local operator) and the web chat (its JSON API over HTTP, with the dashboard token).

The scenario (the same on every surface): Jessica Park opens one change to the Line 3 filler PLC per case,
routed to Luis Ortega (OT Engineering Lead) and escalated up the Findlay OT chain until level 3 (the
Plant Manager, Brian Caldwell) has fired and level 4 (the CISO, Daniel Okafor) has not; Luis has named
Rachel Nguyen his delegate.  The changes Gregory Maddox tries to decide were also routed to him before he
left (an approver who leaves after routing), and everybody also tries to approve CHG0031188, imported from
ServiceNow.  Each actor then tries each action on a change of their own, so no case depends on another.
What must hold, on every surface alike:

* the outcome in :data:`ALLOWED` (done, or refused with nothing changed),
* exactly one audit entry: the action done, or ``<action>.refused`` naming who tried (their person, or
  nobody for someone outside the directory), the change it was about and why (``inactive`` for someone
  who left, ``not in the directory`` for a stranger),
* on Slack and Teams, a refusal is shown to the one who tried only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from bot.bootstrap import Container
from bot.console.chat import Console, user_for
from bot.dashboard import ChatMount, WebInbox
from bot.turn import Ask, Click
from bot.web import create_app
from governance_store.models import Approval, AuditEntry, ChangeRequest, Delegation, Person, Timer
from handlers.reply import Action, Actor, Command
from notifications import sla
from notifications.sweep import sweep
from tests.dashboard.conftest import FakeClock
from tests.drivers import SlackDriver, TeamsDriver
from tests.slack import conftest as slack_rig
from tests.slack import seed
from tests.slack.conftest import make_settings
from tests.teams import conftest as teams_rig
from tests.teams.conftest import STRANGER_AAD
from tests.teams.tokens import APP_ID, APP_PASSWORD

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
JESSICA = "jessica.park@corvane.example"

# Actor class -> who plays it (``None``: a chat user nobody imported).
ACTORS: dict[str, str | None] = {
    "requester": JESSICA,
    "approver": "luis.ortega@corvane.example",  # routed: OT Engineering Lead
    "other approver": "olivia.grant@corvane.example",  # approves high-risk changes, not this one
    "non-approver": "kevin.tran@corvane.example",
    "departed": "gregory.maddox@corvane.example",  # left on 2025-02-28
    "unknown": None,
    "delegate": "rachel.nguyen@corvane.example",  # Luis Ortega's delegate, named after routing
    "fired target": "brian.caldwell@corvane.example",  # level 3 (Plant Manager), fired
    "unfired target": "daniel.okafor@corvane.example",  # level 4 (CISO), not fired yet
}
SLACK_IDS = {JESSICA: seed.JESSICA, "luis.ortega@corvane.example": seed.LUIS,
             "olivia.grant@corvane.example": "U05F999814C", "kevin.tran@corvane.example": "U05DE1605E7",
             "gregory.maddox@corvane.example": "U0E2A50A780", "rachel.nguyen@corvane.example": "U03B1526A11",
             "brian.caldwell@corvane.example": "U02A8BF6062", "daniel.okafor@corvane.example": "U0874A6631C"}
UNKNOWN_EMAIL = "pat.stranger@elsewhere.example"
ACTIONS = ("request", "submit", "approve", "reject", "approve imported", "acknowledge", "withdraw", "dashboard",
           "delegate", "notify")
KNOWN_ACTIVE = {"requester", "approver", "other approver", "non-approver", "delegate", "fired target",
                "unfired target"}
ALLOWED: dict[str, set[str]] = {
    "request": KNOWN_ACTIVE,
    "submit": {"requester"},
    "approve": {"approver", "delegate"},
    "reject": {"approver", "delegate"},
    "approve imported": set(),  # CHG0031188 came from ServiceNow: decided there, by nobody here
    "acknowledge": {"fired target"},
    "withdraw": {"requester"},
    "dashboard": KNOWN_ACTIVE,
    "delegate": KNOWN_ACTIVE,
    "notify": KNOWN_ACTIVE,
}
DONE = {"request": None, "submit": "change.submitted", "approve": "change.approved", "reject": "change.rejected",
        "approve imported": "change.approved",
        "acknowledge": "change.escalation_acknowledged", "withdraw": "change.state", "dashboard": "dashboard.link_issued",
        "delegate": "delegation.set", "notify": "notify.set"}
REFUSED = {"request": "change.request.refused", "submit": "change.submit.refused", "approve": "change.approve.refused",
           "reject": "change.reject.refused", "approve imported": "change.approve.refused",
           "acknowledge": "escalation.ack.refused",
           "withdraw": "change.withdraw.refused", "dashboard": "dashboard.view.refused", "delegate": "delegation.refused",
           "notify": "notify.refused"}
WHY = {"departed": "inactive", "unknown": "not in the directory"}
SURFACES = ("slack", "teams", "console", "webchat")


@dataclasses.dataclass
class Seen:
    text: str
    private: bool | None = None  # Slack and Teams: shown to the one who acted only


Act = Callable[[str | None, Ask | Click], Awaitable[Seen]]


# --------------------------------------------------------------------------- the scenario


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # Wednesday 2025-06-04 10:00 in Findlay


@pytest.fixture
def container(seeded_target: tuple[str, str | None], fake_slack: Any, clock: FakeClock) -> Iterator[Container]:
    settings = make_settings(seeded_target, fake_slack, dashboard_token=DASHBOARD_TOKEN, public_url=PUBLIC_URL,
                             teams_app_id=APP_ID, teams_app_password=APP_PASSWORD)
    box = Container(settings=settings, clock=clock)
    yield box
    box.engine.dispose()


@pytest.fixture
def box(container: Container) -> Container:
    return container


@dataclasses.dataclass
class Scenario:
    changes: dict[tuple[str, str], int]  # (action, actor class) -> the change it acts on
    timers: dict[int, int]  # change -> its SLA timer


def _as(s: Any, email: str) -> Actor:
    p = s.scalars(sa.select(Person).where(Person.email == email)).one()
    return Actor(p.id, p.display_name, "test", p.email)


def _scenario(box: Container, clock: FakeClock) -> Scenario:
    router = box.router
    changes: dict[tuple[str, str], int] = {}
    with box.unit_of_work() as s:
        jessica = _as(s, JESSICA)
        for action in ACTIONS:
            if action == "approve imported":
                continue
            for who in ACTORS:
                preview = router.command(Command(f'change PLC-FIL-L3-07 "{action} by {who}"', jessica), session=s,
                                         now=clock())
                cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
                if action != "submit":
                    assert router.action(Action("cr.submit", cid, jessica), session=s, now=clock()).status == "submitted"
                changes[(action, who)] = int(cid)
        # Routed to Gregory Maddox too, before he left: an approver who leaves after routing.
        gregory = s.scalars(sa.select(Person).where(Person.email == ACTORS["departed"])).one()
        for action in ("approve", "reject"):
            s.add(Approval(change_id=changes[(action, "departed")], kind="approver", person_id=gregory.id,
                           role_name="OT Engineering Lead", state="requested", requested_at=clock()))
        imported = s.scalars(sa.select(ChangeRequest.id).where(ChangeRequest.number == "CHG0031188")).one()
        for who in ACTORS:
            changes[("approve imported", who)] = imported
        luis = _as(s, "luis.ortega@corvane.example")
        named = router.command(Command("delegate Rachel Nguyen until 2025-06-30", luis), session=s, now=clock())
        assert named.status == "answered", named.text
    # Escalate until level 3 has fired and level 4 has not (every change was submitted at the same moment).
    first = changes[("approve", "approver")]
    own = [cid for (action, _), cid in changes.items() if action != "approve imported"]
    with box.session_factory() as s:
        timer = s.scalars(sa.select(Timer).where(Timer.change_id == first, Timer.kind == sla.APPROVAL)).one()
        at = {e.level: e.at for e in sla.events(timer, s.get(ChangeRequest, first), session=s) if e.kind == "level"}
    clock.now = at[3] + dt.timedelta(minutes=1)
    assert at[4] > clock.now
    sweep(box.session_factory, now=clock())
    with box.session_factory() as s:
        timers = {t.change_id: t.id for t in s.scalars(sa.select(Timer).where(Timer.kind == sla.APPROVAL))}
        assert {t.level for t in s.scalars(sa.select(Timer).where(Timer.kind == sla.APPROVAL,
                                                                  Timer.change_id.in_(own)))} == {3}
    return Scenario(changes, timers)


def _request(action: str, who: str, scenario: Scenario) -> Ask | Click:
    cid = scenario.changes[(action, who)]
    if action == "request":
        return Ask(f'change PLC-FIL-L3-07 "Opened by the {who}"')
    if action == "dashboard":
        return Ask("dashboard")
    if action == "delegate":
        return Ask("delegate Mike Sullivan until 2025-06-20")
    if action == "notify":
        return Ask("notify me on teams then email")
    if action == "acknowledge":
        return Click("esc.ack", f"{scenario.timers[cid]}:{4 if who == 'unfired target' else 3}")
    if action == "reject":
        return Click("cr.reject", str(cid), (("reason", "The rollback plan is missing"),))
    return Click({"submit": "cr.submit", "approve": "cr.approve", "approve imported": "cr.approve",
                  "withdraw": "cr.withdraw"}[action], str(cid))


# --------------------------------------------------------------------------- the surfaces


def _people(box: Container) -> dict[str, Person]:
    with box.session_factory() as s:
        return {p.email: p for p in s.scalars(sa.select(Person))}


@pytest.fixture
async def surfaces(box: Container, make_host: Any,
                   make_teams_host: Any) -> AsyncIterator[dict[str, Callable[[], Awaitable[Act]]]]:
    people = _people(box)
    cleanup: list[Callable[[], Awaitable[Any]]] = []

    async def slack() -> Act:
        driver = SlackDriver(await make_host(), {**SLACK_IDS, UNKNOWN_EMAIL: seed.STRANGER})

        async def act(email: str | None, request: Ask | Click) -> Seen:
            who = email or UNKNOWN_EMAIL
            if isinstance(request, Ask):
                step = await driver.slash(who, request.text)
            elif request.inputs:
                step = await driver.submit_unasked(who, request.action_id, request.value, dict(request.inputs))
            else:
                step = await driver.click(who, ("", request.action_id, request.value))
            return Seen(step.text, step.private)

        return act

    async def teams() -> Act:
        host = await make_teams_host(box)
        aad = {e: p.aad_object_id for e, p in people.items() if p.aad_object_id}
        driver = TeamsDriver(host, aad={**aad, UNKNOWN_EMAIL: STRANGER_AAD})

        async def act(email: str | None, request: Ask | Click) -> Seen:
            who = email or UNKNOWN_EMAIL
            if isinstance(request, Ask):
                step = await driver.say(who, request.text)
            else:
                step = await driver.click(who, ("", request.action_id, request.value), inputs=dict(request.inputs))
            return Seen(step.text, step.private)

        return act

    async def console() -> Act:
        out: list[str] = []
        shell = Console(box, lines=[], out=out.append, inbox=False)

        async def act(email: str | None, request: Ask | Click) -> Seen:
            user, _ = user_for(box, email)  # no --as: the local operator, who is nobody in the directory
            return Seen(shell.turn(user, request).text)

        return act

    async def webchat() -> Act:
        runner = web.AppRunner(create_app(box, mounts=[ChatMount(box, WebInbox())]), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        cleanup.append(runner.cleanup)
        http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"})
        cleanup.append(http.close)
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/chat/api"

        async def act(email: str | None, request: Ask | Click) -> Seen:
            person_id = people[email].id if email else 987_654  # an id that names nobody
            if isinstance(request, Ask):
                body: dict[str, Any] = {"person_id": person_id, "text": request.text}
                path = "/say"
            else:
                body = {"person_id": person_id, "action_id": request.action_id, "value": request.value,
                        "inputs": dict(request.inputs)}
                path = "/click"
            async with http.post(url + path, json=body) as resp:
                assert resp.status == 200, await resp.text()
                return Seen((await resp.json())["reply"]["text"])

        return act

    yield {"slack": slack, "teams": teams, "console": console, "webchat": webchat}
    for close in reversed(cleanup):
        await close()


# --------------------------------------------------------------------------- the matrix


def _subject(action: str, who: str, scenario: Scenario, numbers: dict[int, str]) -> str | None:
    """The object key the audit entry names: the change, or (for person-wide actions) nothing to compare."""
    if action in ("dashboard", "delegate", "notify"):
        return ACTORS[who] if ACTORS[who] else None
    if action == "request":
        return "new"
    return numbers[scenario.changes[(action, who)]]


def _effect(box: Container, action: str, who: str, scenario: Scenario, before: dict[str, Any]) -> bool:
    """Did the action take effect in the database?"""
    cid = scenario.changes[(action, who)]
    with box.session_factory() as s:
        cr = s.get(ChangeRequest, cid)
        email = ACTORS[who]
        person = s.scalars(sa.select(Person).where(Person.email == email)).one_or_none() if email else None
        if action == "request":
            drafts = s.scalar(sa.select(sa.func.count(ChangeRequest.id)).where(ChangeRequest.state == "draft"))
            return bool(drafts and drafts > before["drafts"])
        if action == "submit":
            return cr.state == "submitted"
        if action in ("approve", "reject", "withdraw", "approve imported"):
            return cr.state == {"approve": "approved", "reject": "rejected", "withdraw": "withdrawn",
                                "approve imported": "approved"}[action]
        if action == "acknowledge":
            return s.get(Timer, scenario.timers[cid]).state == "acknowledged"
        if action == "delegate":
            return person is not None and s.scalar(sa.select(sa.func.count(Delegation.id)).where(
                Delegation.person_id == person.id)) > before["delegations"].get(person.id, 0)
        if action == "notify":
            return person is not None and person.notify_via == "teams,email"
        return False  # dashboard: seen in the reply


@pytest.mark.parametrize("surface", SURFACES)
async def test_every_actor_every_action_on_every_surface(surface: str, box: Container, clock: FakeClock,
                                                         surfaces: dict[str, Callable[[], Awaitable[Act]]]) -> None:
    scenario = _scenario(box, clock)
    act = await surfaces[surface]()
    with box.session_factory() as s:
        numbers = {c.id: c.number for c in s.scalars(sa.select(ChangeRequest))}
        ids = {p.email: p.id for p in s.scalars(sa.select(Person))}
    problems: list[str] = []
    for action in ACTIONS:
        for who, email in ACTORS.items():
            case = f"{surface}: {who} {action}"
            with box.session_factory() as s:
                last = s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0
                before = {"drafts": s.scalar(sa.select(sa.func.count(ChangeRequest.id)).where(
                    ChangeRequest.state == "draft")),
                          "delegations": dict(s.execute(sa.select(Delegation.person_id, sa.func.count(Delegation.id))
                                                        .group_by(Delegation.person_id)).tuples().all())}
            seen = await act(email, _request(action, who, scenario))
            with box.session_factory() as s:
                entries = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id)))
            allowed = who in ALLOWED[action]
            done = _effect(box, action, who, scenario, before) or (action == "dashboard" and "?pass=" in seen.text)
            refused = [e for e in entries if e.action.endswith(".refused")]
            if done != allowed:
                problems.append(f"{case}: expected {'done' if allowed else 'refused'}, saw “{seen.text[:160]}”")
                continue
            if allowed:
                if refused or (DONE[action] and DONE[action] not in [e.action for e in entries]):
                    problems.append(f"{case}: audit {[e.action for e in entries]}")
                continue
            # Refused: one audit entry, the same on every surface.
            if [e.action for e in entries] != [REFUSED[action]]:
                problems.append(f"{case}: audit {[e.action for e in entries]} instead of one {REFUSED[action]}")
                continue
            [entry] = entries
            expected_actor = ids[email] if email else None
            if entry.actor_id != expected_actor:
                problems.append(f"{case}: audited as actor {entry.actor_id}, not {expected_actor}")
            subject = _subject(action, who, scenario, numbers)
            if subject is not None and entry.object_key != subject:
                problems.append(f"{case}: audited about {entry.object_key!r}, not {subject!r}")
            if who in WHY and entry.data.get("reason") != WHY[who]:
                problems.append(f"{case}: audited reason {entry.data.get('reason')!r}, not {WHY[who]!r}")
            if "?pass=" in seen.text or "went wrong" in seen.text or not seen.text.strip():
                problems.append(f"{case}: told “{seen.text[:160]}”")
            if seen.private is False:
                problems.append(f"{case}: a refusal was shown to others")
    assert problems == [], "\n".join(problems)


def test_the_matrix_covers_every_state_changing_route(box: Container) -> None:
    """A new button or command that changes something must be added to the matrix (or this fails)."""
    from handlers.routes import RouteKind

    covered_actions = {"cr.submit", "cr.approve", "cr.reject", "cr.withdraw", "esc.ack"}
    covered_commands = {"change", "dashboard", "delegate", "notify"}
    changing_actions = {k for k, r in box.router.routes(RouteKind.ACTION).items() if r.changes_state}
    changing_commands = {k for k, r in box.router.routes(RouteKind.COMMAND).items() if r.changes_state}
    # The other steps share the rule and its code path with the ones above (tests/handlers/test_changes.py
    # covers each lifecycle step's own rule).
    shared = {"cr.preview", "cr.discard", "cr.consult_ok", "cr.consult_concern", "cr.ask", "cr.answer",
              "cr.schedule", "cr.implement", "cr.close", "cr.cancel"}
    from tests.security import test_matrix_ownership as ownership

    assert changing_actions == (covered_actions | shared | ownership.COVERED_ACTIONS | ownership.SHARED_ACTIONS)
    assert changing_commands == covered_commands | ownership.COVERED_COMMANDS
    assert json.dumps(sorted(ALLOWED)) == json.dumps(sorted(ACTIONS))
