"""Teams test rig: a fake Bot Connector, the sample org in a real database and the real web host on 127.0.0.1:0.

Activities are the recorded Teams payloads in ``../shared/data/payloads/teams`` (read at test time, never
copied here); only ids, text and the ``serviceUrl`` (pointing at the fake connector) are replaced.
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
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


def seed_aad(factory: sessionmaker[Session]) -> None:
    with factory() as s, s.begin():
        for email, oid in AAD.items():
            person = s.scalars(sa.select(Person).where(Person.email == email)).one()
            person.aad_object_id = oid


def teams_settings(db_target: tuple[str, str | None], **extra: Any) -> Settings:
    url, schema = db_target
    values: dict[str, Any] = {"database_url": url, "database_schema": schema, "dev_mode": True,
                              "teams_allow_unauthenticated": True}
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


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

    async def post(self, activity: dict[str, Any], *, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
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
async def make_teams_host(connector: FakeConnector, teams_payload: Callable[[str], dict[str, Any]]
                          ) -> AsyncIterator[Callable[..., Any]]:
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(container: Container, *, core: Any = None, adapter: Any = None) -> TeamsHost:
        mount = TeamsMount(container, adapter=adapter, bot=GovbotTeamsBot(container, core=core))
        runner = web.AppRunner(create_app(container, slack=None, mounts=[mount]), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        http = aiohttp.ClientSession()
        sessions.append(http)
        port = runner.addresses[0][1]
        return TeamsHost(f"http://127.0.0.1:{port}", http, mount, connector, teams_payload, container)

    yield start
    for http in sessions:
        await http.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def teams_host(make_teams_host: Callable[..., Any], teams_container: Container) -> TeamsHost:
    return await make_teams_host(teams_container)
