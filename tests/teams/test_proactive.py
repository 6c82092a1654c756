"""A Teams-only organisation: govbot reaches people who never opened it, as Microsoft documents it.

The real ``TeamsOutboxSender`` with Microsoft Graph configured writes to a fake Bot Connector and a fake
Graph (and its token endpoint) on 127.0.0.1: it installs its app for the person (``201``; ``409`` when it
already was), creates the 1:1 conversation with their Entra object id and the tenant, keeps the
reference and posts the card.  Throttling waits the ``Retry-After`` Graph asked for; a refused
installation makes the message wait (the requester's card says so) until the person is reachable; an
interrupted send is found again through Graph instead of being posted twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container
from bot.teams.sender import TeamsOutboxSender, graph_from_settings
from governance_store.models import ConversationReference, OutboxMessage, Person, Timer
from handlers import changes
from handlers.reply import Action, Actor, Command
from notifications import outbox, sla
from notifications.sweep import sweep
from tests.core import handle_action, handle_command
from tests.teams.conftest import JESSICA, LUIS, NOW, TENANT, TeamsHost, teams_settings
from tests.teams.fake_connector import FakeConnector
from tests.teams.fake_graph import CATALOG_APP_ID, FakeGraph
from tests.teams.tokens import APP_ID, APP_PASSWORD, authenticated_adapter


@pytest.fixture
async def graph(connector: FakeConnector) -> AsyncIterator[FakeGraph]:
    fake = await FakeGraph(connector, client_id=APP_ID, client_secret=APP_PASSWORD, tenant=TENANT).start()
    yield fake
    await fake.stop()


@pytest.fixture
def container(org: Any, db_target: tuple[str, str | None], graph: FakeGraph) -> Iterator[Container]:
    from tests.teams.conftest import seed_aad

    seed_aad(org)
    settings = teams_settings(db_target, teams_tenant_id=TENANT, teams_catalog_app_id=CATALOG_APP_ID,
                              teams_graph_url=graph.graph_url, teams_login_url=graph.login_url,
                              teams_service_url=graph.connector.url)
    box = Container(settings=settings, clock=lambda: NOW)
    with box.session_factory() as s:
        graph.users |= {oid for oid in s.scalars(sa.select(Person.aad_object_id)) if oid}
    yield box
    box.engine.dispose()


@pytest.fixture
def sender(container: Container) -> Iterator[TeamsOutboxSender]:
    settings = container.settings
    made = TeamsOutboxSender(container.session_factory, adapter_factory=lambda: authenticated_adapter(settings),
                             app_id=settings.teams_app_id, clock=container.clock, graph=graph_from_settings(container),
                             tenant_id=TENANT, service_url=settings.teams_service_url)
    yield made
    made.close()


def _actor(s: Any, email: str) -> Actor:
    p = s.scalars(sa.select(Person).where(Person.email == email)).one()
    return Actor(p.id, p.display_name, "teams", p.email)


def _submit(container: Container) -> int:
    with container.unit_of_work() as s:
        jessica = _actor(s, JESSICA)
        preview = handle_command(Command('change PLC-FIL-L3-07 "Firmware v33"', jessica), session=s, now=NOW)
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        assert handle_action(Action("cr.submit", cid, jessica), session=s, now=NOW).status == "submitted"
    return int(cid)


def _dispatcher(container: Container, sender: TeamsOutboxSender) -> outbox.Dispatcher:
    return outbox.Dispatcher(container.session_factory, [sender], per_channel_interval=0,
                             on_reach=changes.on_reach_changed)


async def _run(d: outbox.Dispatcher, at: dt.datetime) -> outbox.DispatchResult:
    return await asyncio.to_thread(d.run, now=at)


def _rows(container: Container, cid: int) -> list[OutboxMessage]:
    with container.session_factory() as s:
        return list(s.scalars(sa.select(OutboxMessage).where(OutboxMessage.change_id == cid,
                                                             OutboxMessage.kind == "message")))


def _person(container: Container, email: str) -> Person:
    with container.session_factory() as s:
        return s.scalars(sa.select(Person).where(Person.email == email)).one()


async def test_a_change_reaches_approvers_who_never_opened_govbot(
        container: Container, sender: TeamsOutboxSender, graph: FakeGraph) -> None:
    luis = _person(container, LUIS)
    graph.installed.add(str(_person(container, JESSICA).aad_object_id))  # Jessica's app was installed before
    cid = _submit(container)
    result = await _run(_dispatcher(container, sender), NOW)
    rows = _rows(container, cid)
    assert {m.status for m in rows} == {"sent"}, [(m.key, m.status, m.last_error) for m in rows]
    assert result.sent == len(rows) and len(rows) >= 3
    # Luis was reached although he never wrote to govbot: installed for him, then a 1:1 chat by his Entra id.
    installs = [c for c in graph.of("/teamwork/installedApps") if c.method == "POST"]
    assert any(c.path.endswith(f"/users/{luis.aad_object_id}/teamwork/installedApps") and c.status == 201
               for c in installs)
    assert all(c.body == {"teamsApp@odata.bind": f"{graph.graph_url}/appCatalogs/teamsApps/{CATALOG_APP_ID}"}
               for c in installs)
    assert any(c.status == 409 for c in installs), "an app already installed is not an error"
    create = next(c for c in graph.connector.calls("create") if c.body["members"][0]["id"] == luis.aad_object_id)
    # The Bot Connector reads its JSON without regard to case; botbuilder writes the tenant as ``tenantID``.
    fields = {k.lower(): v for k, v in create.body.items()}
    assert fields["tenantid"] == TENANT and create.body["channelData"] == {"tenant": {"id": TENANT}}
    assert create.body["isGroup"] is False
    conversation = graph.connector.conversation_of[str(luis.aad_object_id)]
    [card] = [c for c in graph.connector.calls("send") if c.conversation_id == conversation]
    assert "Your approval is requested" in card.all_text() and "cr.approve" in card.verbs()
    with container.session_factory() as s:
        ref = s.scalars(sa.select(ConversationReference).where(ConversationReference.person_id == luis.id)).one()
        assert (ref.conversation_id, ref.conversation_type, ref.tenant_id) == (conversation, "personal", TENANT)
    # The next card goes into the same chat: no second installation, no second conversation.
    installs_before, creates_before = len(installs), len(graph.connector.calls("create"))
    with container.unit_of_work() as s:
        outbox.enqueue(s, key="test:second", now=NOW, person_id=luis.id, payload=rows[0].payload)
    assert (await _run(_dispatcher(container, sender), NOW)).sent == 1
    assert len([c for c in graph.of("/teamwork/installedApps") if c.method == "POST"]) == installs_before
    assert len(graph.connector.calls("create")) == creates_before


async def test_throttled_installation_waits_for_retry_after(
        container: Container, sender: TeamsOutboxSender, graph: FakeGraph) -> None:
    luis = _person(container, LUIS)
    with container.unit_of_work() as s:
        outbox.enqueue(s, key="test:throttled", now=NOW, person_id=luis.id, payload={"text": "hello", "ephemeral": False})
    graph.throttle("/teamwork/installedApps", retry_after=7)
    d = _dispatcher(container, sender)
    assert (await _run(d, NOW)).retried == 1
    with container.session_factory() as s:
        msg = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == "test:throttled")).one()
        assert (msg.status, msg.next_attempt_at) == ("pending", NOW + dt.timedelta(seconds=7))
    assert (await _run(d, NOW + dt.timedelta(seconds=6))).sent == 0
    assert (await _run(d, NOW + dt.timedelta(seconds=7))).sent == 1


async def test_refused_installation_waits_and_the_requester_is_told_then_it_arrives_on_first_message(
        container: Container, sender: TeamsOutboxSender, graph: FakeGraph, make_teams_host: Any) -> None:
    luis = _person(container, LUIS)
    graph.forbidden.add(str(luis.aad_object_id))  # the admin has not granted the Graph permission for him
    cid = _submit(container)
    d = _dispatcher(container, sender)
    await _run(d, NOW)
    approver_card = next(m for m in _rows(container, cid) if m.key == f"cr:{cid}:approver:{luis.id}")
    assert approver_card.status == "waiting", approver_card.last_error
    assert "could not be installed" in approver_card.reach["reason"]
    await _run(d, NOW)  # the requester's card is updated with who was not reached
    jessica = _person(container, JESSICA)
    conversation = graph.connector.conversation_of[str(jessica.aad_object_id)]
    updates = [c for c in graph.connector.calls("update") if c.conversation_id == conversation]
    assert updates and "Not reached yet" in updates[-1].all_text()
    text = updates[-1].all_text()
    assert "Luis Ortega" in text and "could not be installed" in text and "escalation run on" in text
    # Escalation goes on meanwhile: the breach and the first level fire although Luis was not reached.
    with container.session_factory() as s:
        timer = s.scalars(sa.select(Timer).where(Timer.change_id == cid, Timer.kind == sla.APPROVAL)).one()
        from governance_store.models import ChangeRequest

        levels = [e for e in sla.events(timer, s.get(ChangeRequest, cid), session=s) if e.kind == "level"]
    later = levels[0].at + dt.timedelta(minutes=1)
    sweep(container.session_factory, now=later)
    with container.session_factory() as s:
        assert s.get(Timer, timer.id).level >= 1
    # Luis opens govbot in Teams and writes: his waiting card goes out at once.
    container.clock = lambda: later  # type: ignore[method-assign]
    host: TeamsHost = await make_teams_host(container)
    await host.post(host.personal("help", email=LUIS))
    graph.forbidden.discard(str(luis.aad_object_id))
    await _run(d, later)
    approver_card = next(m for m in _rows(container, cid) if m.key == f"cr:{cid}:approver:{luis.id}")
    assert approver_card.status == "sent" and approver_card.reach == {}


class Crash(BaseException):
    """The process dies: nothing after this point runs (``kill -9`` between send and record)."""


@dataclasses.dataclass
class Dying:
    """The Teams sender, except that the process dies right after (or right before) a send."""

    inner: TeamsOutboxSender
    before: bool = False
    platform: str = "teams"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def send_keyed(self, recipient: Any, payload: dict[str, Any], *, key: str) -> dict[str, Any]:
        if self.before:
            raise Crash()
        self.inner.send_keyed(recipient, payload, key=key)
        raise Crash()


@pytest.mark.parametrize("before", [False, True], ids=["after-teams-took-it", "before-teams-had-it"])
async def test_an_interrupted_send_is_found_in_the_chat_not_posted_twice(
        container: Container, sender: TeamsOutboxSender, graph: FakeGraph, before: bool) -> None:
    luis = _person(container, LUIS)
    with container.unit_of_work() as s:
        outbox.enqueue(s, key="test:crash", now=NOW, person_id=luis.id,
                       payload={"text": "Your approval is requested", "ephemeral": False})
    graph.installed.add(str(luis.aad_object_id))
    # A busy chat: many cards before the interrupted one, so the look-up has to page.
    with container.unit_of_work() as s:
        for i in range(60):
            outbox.enqueue(s, key=f"test:busy:{i}", now=NOW - dt.timedelta(minutes=1), person_id=luis.id,
                           payload={"text": f"earlier {i}", "ephemeral": False})
    assert (await _run(_dispatcher(container, sender), NOW - dt.timedelta(seconds=30))).sent == 60
    with pytest.raises(Crash):
        await asyncio.to_thread(outbox.Dispatcher(container.session_factory, [Dying(sender, before)],
                                                  per_channel_interval=0, lease=60).run, now=NOW)
    with container.session_factory() as s:
        msg = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == "test:crash")).one()
        assert msg.status == "sending" and msg.attempted_at == NOW
    later = NOW + dt.timedelta(seconds=61)  # the lease ran out: another dispatcher takes over
    result = await _run(_dispatcher(container, sender), later)
    assert result.sent == 1 and result.recovered == (0 if before else 1)
    conversation = graph.connector.conversation_of[str(luis.aad_object_id)]
    posted = [c for c in graph.connector.calls("send") if c.conversation_id == conversation
              and "Your approval is requested" in c.all_text()]
    assert len(posted) == 1, "exactly once"
    pages = [c for c in graph.of("/messages")]
    assert pages and all("lastModifiedDateTime gt" in c.query.get("$filter", "") for c in pages)
    with container.session_factory() as s:
        msg = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == "test:crash")).one()
        assert msg.status == "sent" and msg.platform_ref["activity_id"] == posted[0].answer_id


GROUP = "9c4f1e2a-7b3d-4c58-a1e6-3f0d2b8c5a71"  # the team's Microsoft 365 group id, as Graph knows it


async def _channel(container: Container, graph: FakeGraph, make_teams_host: Any, *, group_in_activity: bool) -> str:
    """govbot is in a team's channel (someone mentioned it there): the channel's stored reference and id."""
    host: TeamsHost = await make_teams_host(container)
    activity = host.channel("help", email=JESSICA)
    activity["channelData"]["channel"]["name"] = "ot-changes"
    team = activity["channelData"]["team"]
    if group_in_activity:  # Teams sends the group id with some channel activities (install, members added)
        team["aadGroupId"] = GROUP
    status, _ = await host.post(activity)
    assert status in (200, 201)
    channel = str(activity["channelData"]["channel"]["id"])
    graph.teams[GROUP] = {channel}
    graph.connector.teams[str(team["id"])] = {"id": team["id"], "name": "Filling plant", "aadGroupId": GROUP}
    return channel


@pytest.mark.parametrize("group_in_activity", [True, False], ids=["group-id-from-teams", "group-id-asked-of-connector"])
async def test_an_interrupted_channel_post_is_found_in_the_channel_not_posted_twice(
        container: Container, sender: TeamsOutboxSender, graph: FakeGraph, make_teams_host: Any,
        group_in_activity: bool) -> None:
    channel = await _channel(container, graph, make_teams_host, group_in_activity=group_in_activity)
    # A busy channel: many cards since the interrupted one began, so the look-up has to page.
    with container.unit_of_work() as s:
        outbox.enqueue(s, key="test:channel-crash", now=NOW, channel="ot-changes",
                       payload={"text": "CHG0031999 was approved", "ephemeral": False})
        for i in range(60):
            outbox.enqueue(s, key=f"test:busy:{i}", now=NOW, channel="ot-changes",
                           payload={"text": f"later {i}", "ephemeral": False})
    crashed = outbox.Dispatcher(container.session_factory, [Dying(sender)], per_channel_interval=0, lease=60)
    with container.session_factory() as s:  # the crash hits the first card; the busy ones are sent after it
        for msg in s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like("test:busy:%"))):
            msg.next_attempt_at = NOW + dt.timedelta(seconds=1)
        s.commit()
    with pytest.raises(Crash):
        await asyncio.to_thread(crashed.run, now=NOW)
    assert (await _run(_dispatcher(container, sender), NOW + dt.timedelta(seconds=1))).sent == 60
    later = NOW + dt.timedelta(seconds=61)  # the lease ran out: another dispatcher takes over
    result = await _run(_dispatcher(container, sender), later)
    assert result.sent == 1 and result.recovered == 1
    posted = [c for c in graph.connector.calls("send") if c.conversation_id == channel
              and "CHG0031999 was approved" in c.all_text()]
    assert len(posted) == 1, "exactly once"
    reads = graph.of("/messages/delta")
    assert len(reads) >= 2, "the look-up read every page of the window"
    assert all(c.path == f"/v1.0/teams/{GROUP}/channels/{channel}/messages/delta" for c in reads)
    assert all(c.query.get("$filter", "").startswith("lastModifiedDateTime gt ") for c in reads)
    asked = [c for c in graph.connector.records if c.path.startswith("/v3/teams/")]
    assert len(asked) == (0 if group_in_activity else 1)
    with container.session_factory() as s:
        msg = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == "test:channel-crash")).one()
        assert msg.status == "sent" and msg.platform_ref["activity_id"] == posted[0].answer_id
        ref = s.scalars(sa.select(ConversationReference).where(ConversationReference.conversation_id == channel)).one()
        assert ref.reference["teamsTeam"]["aadGroupId"] == GROUP  # remembered: not asked again


async def _post_and_crash(container: Container, sender: TeamsOutboxSender, key: str, text: str, *,
                          before: bool = False) -> None:
    """A card for the channel, and the worker dies right after (or right before) Teams takes it."""
    with container.unit_of_work() as s:
        outbox.enqueue(s, key=key, now=NOW, channel="ot-changes", payload={"text": text, "ephemeral": False})
    with pytest.raises(Crash):
        await asyncio.to_thread(outbox.Dispatcher(container.session_factory, [Dying(sender, before)],
                                                  per_channel_interval=0, lease=60).run, now=NOW)


async def test_a_channel_post_that_never_reached_teams_is_posted_once_after_the_crash(
        container: Container, sender: TeamsOutboxSender, graph: FakeGraph, make_teams_host: Any) -> None:
    channel = await _channel(container, graph, make_teams_host, group_in_activity=False)
    await _post_and_crash(container, sender, "test:channel-lost", "CHG0031998 needs a decision", before=True)
    result = await _run(_dispatcher(container, sender), NOW + dt.timedelta(seconds=61))
    assert result.sent == 1 and result.recovered == 0
    posted = [c for c in graph.connector.calls("send") if c.conversation_id == channel
              and "CHG0031998 needs a decision" in c.all_text()]
    assert len(posted) == 1, "looked up, not found, posted once"


async def test_a_throttled_look_up_is_asked_again_later_not_answered_with_a_second_copy(
        container: Container, sender: TeamsOutboxSender, graph: FakeGraph, make_teams_host: Any) -> None:
    channel = await _channel(container, graph, make_teams_host, group_in_activity=True)
    await _post_and_crash(container, sender, "test:channel-throttled", "CHG0031997 was rejected")
    graph.throttle("/messages/delta", retry_after=30)
    later = NOW + dt.timedelta(seconds=61)
    d = _dispatcher(container, sender)
    result = await _run(d, later)
    assert result.sent == 0
    with container.session_factory() as s:
        msg = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == "test:channel-throttled")).one()
        assert msg.status == "sending", "still marked as possibly delivered: looked up again, not re-sent"
        assert msg.next_attempt_at == later + dt.timedelta(seconds=30) and msg.attempted_at == NOW
    result = await _run(d, later + dt.timedelta(seconds=30))
    assert result.sent == 1 and result.recovered == 1
    posted = [c for c in graph.connector.calls("send") if c.conversation_id == channel
              and "CHG0031997 was rejected" in c.all_text()]
    assert len(posted) == 1, "exactly once"
