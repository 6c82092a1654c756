"""Teams test rig: a fake Bot Connector, the sample org in a real database and the real web host on 127.0.0.1:0.

Activities are the recorded Teams payloads in ``../shared/data/payloads/teams`` (read at test time, never
copied here); only ids, text and the ``serviceUrl`` (pointing at the fake connector) are replaced.

The bot runs in its production configuration: an app id and password (:func:`teams_settings`), the adapter
:func:`bot.teams.app.build_adapter` makes of them with only the outbound credentials replaced
(:func:`tests.teams.tokens.authenticated_adapter`), and botbuilder's real token validation.
:meth:`TeamsHost.post` sends every activity the way the Bot Connector does, with a Bot Framework token it
signed for this bot and the activity's ``serviceUrl``; :meth:`TeamsHost.post_unauthenticated` sends one
without (or with a bad one), for the tests that check it is refused.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from bot.bootstrap import Container
from bot.settings import Settings
from bot.teams.app import GovbotTeamsBot, TeamsMount
from bot.web import create_app
from governance_store.models import Person
from tests.teams.fake_connector import FakeConnector
from tests.teams.tokens import APP_ID, APP_PASSWORD, OUTBOUND_TOKEN, ConnectorKeys, authenticated_adapter

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
BOT_ID = "28:0b6fe6d1-fece-44f7-9a48-56465e2d5ab8"
BOT_NAME = "govbot"
TENANT = "50612dbb-0237-4969-b378-8d42590f9c00"

LUIS = "luis.ortega@corvane.example"
JESSICA = "jessica.park@corvane.example"
MIKE = "mike.sullivan@corvane.example"
# Entra object ids the tests give the sample people (the directory import may carry others).
AAD = {
    LUIS: "0a1b2c3d-0000-4000-8000-00000000a001",
    JESSICA: "0a1b2c3d-0000-4000-8000-00000000a002",
    MIKE: "0a1b2c3d-0000-4000-8000-00000000a003",
}
STRANGER_AAD = "0a1b2c3d-0000-4000-8000-0000000000ff"


def teams_user_id(email: str) -> str:
    return f"29:test-{email.split('@')[0]}"


def personal_conversation(email: str) -> str:
    return f"a:personal-{email.split('@')[0]}"


@pytest.fixture
def teams_payload(shared_payloads: Path) -> Callable[[str], dict[str, Any]]:
    def load(name: str) -> dict[str, Any]:
        return json.loads((shared_payloads / "teams" / name).read_text(encoding="utf-8"))

    return load


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector(token=OUTBOUND_TOKEN).start()
    yield fake
    await fake.stop()
    assert not fake.refused, f"the bot wrote to the connector without its token: {fake.refused}"


def seed_aad(factory: sessionmaker[Session]) -> None:
    with factory() as s, s.begin():
        for email, oid in AAD.items():
            person = s.scalars(sa.select(Person).where(Person.email == email)).one()
            person.aad_object_id = oid


def teams_settings(db_target: tuple[str, str | None], **extra: Any) -> Settings:
    """Production settings for Teams: an app id and password, so every request needs a valid token."""
    url, schema = db_target
    values: dict[str, Any] = {"database_url": url, "database_schema": schema, "teams_app_id": APP_ID,
                              "teams_app_password": APP_PASSWORD}
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def unauthenticated_dev_settings(db_target: tuple[str, str | None], **extra: Any) -> Settings:
    """The Bot Framework Emulator's development mode: no app id, requests accepted without a token.

    Only for the tests of that mode itself; the rig refuses to serve Teams this way.
    """
    return teams_settings(db_target, **{"teams_app_id": None, "teams_app_password": None, "dev_mode": True,
                                        "teams_allow_unauthenticated": True, **extra})


@pytest.fixture
def teams_container(org: sessionmaker[Session], db_target: tuple[str, str | None]) -> Iterator[Container]:
    seed_aad(org)
    box = Container(settings=teams_settings(db_target), clock=lambda: NOW)
    yield box
    box.engine.dispose()


@dataclass
class TeamsHost:
    url: str
    http: aiohttp.ClientSession
    mount: TeamsMount
    fake: FakeConnector
    payload: Callable[[str], dict[str, Any]]
    container: Container
    tokens: ConnectorKeys

    def bot_connector_headers(self, activity: dict[str, Any]) -> dict[str, str]:
        """What the Bot Connector sends with ``activity``: a token it signed for this bot and the activity's
        ``serviceUrl`` (the connector's own address when a test took it out of the activity)."""
        service_url = activity.get("serviceUrl")
        if not isinstance(service_url, str):
            service_url = self.fake.url
        return {"Authorization": f"Bearer {self.tokens.token(service_url=service_url)}"}

    async def post(self, activity: dict[str, Any], *, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """Post ``activity`` as the Bot Connector does, with a valid Bot Framework token.

        A 401 is a failure of the rig (its token no longer validates), never an answer a test may accept.
        """
        extra = dict(headers or {})
        if any(name.lower() == "authorization" for name in extra):
            raise ValueError("post() signs the request itself; use post_unauthenticated() to send another token")
        status, body = await self._send(activity, {**self.bot_connector_headers(activity), **extra})
        assert status != 401, f"the bot refused the rig's Bot Framework token: {body}"
        return status, body

    async def post_unauthenticated(self, activity: dict[str, Any], *,
                                   authorization: str | None = None) -> tuple[int, Any]:
        """Post ``activity`` without the Bot Connector's token: no ``Authorization`` header at all, or exactly
        ``authorization`` (a forged, expired or malformed one).  For the tests that check it is refused."""
        return await self._send(activity, {} if authorization is None else {"Authorization": authorization})

    async def _send(self, activity: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        all_headers = {"Content-Type": "application/json", **headers}
        async with self.http.post(self.url + "/api/messages", data=json.dumps(activity), headers=all_headers) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text) if text else None
            except ValueError:
                return resp.status, text

    def _base(self, name: str, *, email: str | None, aad: str | None = None) -> dict[str, Any]:
        activity = copy.deepcopy(self.payload(name))
        activity["serviceUrl"] = self.fake.url
        activity["id"] = f"f:{uuid.uuid4().hex[:12]}"
        activity["recipient"] = {"id": BOT_ID, "name": BOT_NAME}
        if email is not None or aad is not None:
            who = email or "stranger@elsewhere.example"
            activity["from"] = {"id": teams_user_id(who), "name": who.split("@")[0].replace(".", " ").title(),
                                "aadObjectId": aad or AAD.get(who, STRANGER_AAD)}
        return activity

    def personal(self, text: str, *, email: str = LUIS, aad: str | None = None) -> dict[str, Any]:
        activity = self._base("message_personal.json", email=email, aad=aad)
        activity["text"] = text
        activity["conversation"]["id"] = personal_conversation(email)
        activity["conversation"]["tenantId"] = TENANT
        return activity

    def channel(self, text: str, *, email: str = LUIS, aad: str | None = None) -> dict[str, Any]:
        activity = self._base("message_channel_mention.json", email=email, aad=aad)
        activity["text"] = f"<at>{BOT_NAME}</at> {text}"
        mention = activity["entities"][0]
        mention["mentioned"] = {"id": BOT_ID, "name": BOT_NAME}
        mention["text"] = f"<at>{BOT_NAME}</at>"
        return activity

    def invoke(self, verb: str, value: str, *, email: str = LUIS, inputs: dict[str, str] | None = None,
               conversation: str | None = None, aad: str | None = None) -> dict[str, Any]:
        activity = self._base("invoke_adaptive_card_action_with_verb_ADAPTED.json", email=email, aad=aad)
        activity["conversation"]["id"] = conversation or personal_conversation(email)
        activity["value"]["action"].update({"verb": verb, "data": {"value": value, "action_id": verb, **(inputs or {})}})
        return activity

    def submit(self, action_id: str, value: str, *, email: str = LUIS, **inputs: str) -> dict[str, Any]:
        activity = self._base("message_action_submit_plain_ADAPTED.json", email=email)
        activity["value"] = {"action_id": action_id, "value": value, **inputs}
        return activity


@pytest.fixture
async def make_teams_host(connector: FakeConnector, teams_payload: Callable[[str], dict[str, Any]],
                          bot_framework_tokens: ConnectorKeys) -> AsyncIterator[Callable[..., Any]]:
    """Starts the web host for a container with an app id: requests need a valid token (``TeamsHost.post``
    signs them).  ``adapter`` defaults to :func:`tests.teams.tokens.authenticated_adapter`."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(container: Container, *, core: Any = None, adapter: Any = None) -> TeamsHost:
        if not container.settings.teams_app_id:
            raise ValueError("the Teams rig runs authenticated: give the container an app id (teams_settings)")
        adapter = adapter or authenticated_adapter(container.settings)
        if core is not None:
            container.use_router(core)
        mount = TeamsMount(container, adapter=adapter, bot=GovbotTeamsBot(container))
        assert mount.authenticated
        runner = web.AppRunner(create_app(container, slack=None, mounts=[mount]), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        http = aiohttp.ClientSession()
        sessions.append(http)
        port = runner.addresses[0][1]
        return TeamsHost(f"http://127.0.0.1:{port}", http, mount, connector, teams_payload, container,
                         bot_framework_tokens)

    yield start
    for http in sessions:
        await http.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def teams_host(make_teams_host: Callable[..., Any], teams_container: Container) -> TeamsHost:
    return await make_teams_host(teams_container)
