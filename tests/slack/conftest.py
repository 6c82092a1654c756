"""Slack test rig: a fake Slack, a seeded database and the real web host on 127.0.0.1:0.

Requests are built from the recorded payloads in ``../shared/data/payloads/slack``
(read at test time, never copied here), re-signed with the test's signing secret
and the current time; only user ids and the ``response_url`` are replaced.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from bot.bootstrap import Container
from bot.settings import Settings
from bot.slack.app import SlackAdapter
from bot.web import create_app
from governance_store import db
from governance_store.models import Base
from tests.conftest import CORVANE, PG_URL
from tests.slack import seed
from tests.slack.fake_slack import Call, FakeSlack

FROZEN_NOW = dt.datetime(2025, 6, 2, 14, 0, tzinfo=dt.UTC)
SIGNING_SECRET = "5e2b9a0f41c87d36be09d1f4a7c3e8b2"
BOT_TOKEN = "xoxb-4242-1234-govbottest"
APP_TOKEN = "xapp-1-A111-4242-govbottest"


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature, computed here independently of the code under test."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@pytest.fixture
def slack_payload(shared_payloads: Path) -> Callable[[str], Any]:
    def load(name: str) -> Any:
        path = shared_payloads / "slack" / name
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix == ".json" else text

    return load


@pytest.fixture
async def fake_slack(slack_payload: Callable[[str], Any]) -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    template = slack_payload("web_api_users_lookupByEmail_ok.json")["user"]
    fake.add_user(seed.STRANGER, email="pat.stranger@elsewhere.example", real_name="Pat Stranger", template=template)
    fake.add_user(seed.NEWCOMER, email=seed.NEWCOMER_EMAIL.upper(), real_name="Ray Dawson", template=template)
    fake.add_user(seed.JOHANNA, email="jo.weber@corvane.example", real_name="Johanna Weber", template=template)
    yield fake
    await fake.stop()


def make_settings(db_target: tuple[str, str | None], fake: FakeSlack, **extra: Any) -> Settings:
    url, schema = db_target
    values: dict[str, Any] = {
        "database_url": url,
        "database_schema": schema,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": fake.api_url,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def seeded_sqlite(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample organisation imported once per test session into a SQLite file."""
    path = tmp_path_factory.mktemp("slack-seed") / "seeded.db"
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    with db.unit_of_work(db.make_session_factory(engine)) as session:
        seed.seed_org(session, CORVANE)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def seeded_pg_schema(pg_schema: str) -> Iterator[str]:
    """The sample organisation imported once per test session into a PostgreSQL schema of its own."""
    schema = f"govbot_slackseed_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    db.upgrade(PG_URL, schema=schema)
    engine = db.make_engine(PG_URL, schema=schema)
    with db.unit_of_work(db.make_session_factory(engine)) as session:
        seed.seed_org(session, CORVANE)
    engine.dispose()
    yield schema
    with admin.begin() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture
def seeded_target(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(url, schema) of a database holding the sample organisation, private to this test."""
    if backend == "sqlite":
        path = tmp_path / "govbot.db"
        shutil.copy(request.getfixturevalue("seeded_sqlite"), path)
        return f"sqlite:///{path}", None
    url, schema = request.getfixturevalue("db_target")  # migrated and emptied
    source = request.getfixturevalue("seeded_pg_schema")
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            conn.execute(sa.text(f'insert into "{schema}"."{table.name}" select * from "{source}"."{table.name}"'))
            if "id" in table.c:
                conn.execute(sa.text(
                    f"select setval(pg_get_serial_sequence('\"{schema}\".\"{table.name}\"', 'id'), "
                    f'coalesce((select max(id) from "{schema}"."{table.name}"), 0) + 1, false)'
                ))
    engine.dispose()
    return url, schema


@pytest.fixture
def container(seeded_target: tuple[str, str | None], fake_slack: FakeSlack) -> Iterator[Container]:
    box = Container(settings=make_settings(seeded_target, fake_slack), clock=lambda: FROZEN_NOW)
    yield box
    box.engine.dispose()


@dataclass
class SlackHost:
    """The running web host and ways to send it what Slack sends."""

    url: str
    http: aiohttp.ClientSession
    adapter: SlackAdapter
    fake: FakeSlack
    payload: Callable[[str], Any]

    async def post(self, body: str, *, content_type: str, signed: bool = True, secret: str = SIGNING_SECRET,
                   timestamp: int | None = None, headers: dict[str, str] | None = None,
                   path: str = "/slack/events") -> tuple[int, str]:
        all_headers = {"Content-Type": content_type}
        if signed:
            all_headers.update(sign(body, secret=secret, timestamp=timestamp))
        all_headers.update(headers or {})
        async with self.http.post(self.url + path, data=body.encode(), headers=all_headers) as resp:
            return resp.status, await resp.text()

    def slash_body(self, text: str, *, user: str = seed.LUIS, command: str = "/govbot",
                   response_url: str | None = None) -> tuple[str, str]:
        fields = dict(parse_qsl(self.payload("slash_command.txt"), keep_blank_values=True))
        url = response_url or self.fake.hook_url("commands")
        fields.update({"user_id": user, "team_id": seed.TEAM, "command": command, "text": text, "response_url": url})
        return urlencode(fields), url

    async def slash(self, text: str, **kwargs: Any) -> tuple[int, str, str]:
        signed = kwargs.pop("signed", True)
        timestamp = kwargs.pop("timestamp", None)
        body, url = self.slash_body(text, **kwargs)
        status, answer = await self.post(body, content_type="application/x-www-form-urlencoded", signed=signed,
                                         timestamp=timestamp)
        return status, answer, url

    async def event(self, payload: dict[str, Any], **kwargs: Any) -> tuple[int, str]:
        return await self.post(json.dumps(payload), content_type="application/json", **kwargs)

    async def click(self, payload: dict[str, Any], **kwargs: Any) -> tuple[int, str]:
        body = "payload=" + quote(json.dumps(payload))
        return await self.post(body, content_type="application/x-www-form-urlencoded", **kwargs)

    def mention(self, text: str, *, user: str = seed.LUIS, thread_ts: str | None = None) -> dict[str, Any]:
        payload = self.payload("events_api_app_mention.json")
        event = payload["event"]
        bot = self.fake.bot_user_id
        event.update({"user": user, "text": f"<@{bot}> {text}"})
        event["blocks"][0]["elements"][0]["elements"] = [
            {"type": "user", "user_id": bot}, {"type": "text", "text": f" {text}"}]
        if thread_ts:
            event["thread_ts"] = thread_ts
        payload["authorizations"][0]["user_id"] = bot
        return payload

    def direct_message(self, text: str, *, user: str = seed.LUIS) -> dict[str, Any]:
        payload = self.payload("events_api_message_im.json")
        payload["event"].update({"user": user, "text": text})
        return payload

    def button_click(self, *, action_id: str, value: str, user: str = seed.LUIS, ephemeral: bool = False,
                     response_url: str | None = None) -> dict[str, Any]:
        payload = self.payload("block_actions_message_button.json")
        payload["user"]["id"] = user
        payload["team"]["id"] = seed.TEAM
        payload["container"]["is_ephemeral"] = ephemeral
        payload["response_url"] = response_url or self.fake.hook_url("actions")
        payload["actions"][0].update({"action_id": action_id, "value": value})
        return payload


def submission(host: SlackHost, opened: Call, values: dict[str, Any], *, user: str = seed.LUIS) -> dict[str, Any]:
    """Slack's view_submission payload for the modal govbot opened, filled in with ``values``."""
    payload = copy.deepcopy(host.payload("view_submission.json"))
    view = opened.view()
    payload["user"]["id"] = user
    payload["view"].update({"callback_id": view["callback_id"], "private_metadata": view["private_metadata"],
                            "blocks": view["blocks"]})
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        name, element = block["block_id"], block["element"]
        value = values.get(name)
        if element["type"] == "static_select":
            entry = {"type": "static_select",
                     "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value} if value else None}
        elif element["type"] == "checkboxes":
            entry = {"type": "checkboxes", "selected_options": [{"value": "yes"}] if value else []}
        else:
            entry = {"type": "plain_text_input", "value": value}
        state[name] = {element["action_id"]: entry}
    payload["view"]["state"] = {"values": state}
    return payload


HostFactory = Callable[..., Awaitable[SlackHost]]


@pytest.fixture
async def make_host(container: Container, fake_slack: FakeSlack,
                    slack_payload: Callable[[str], Any]) -> AsyncIterator[HostFactory]:
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(*, core: Any = None, **adapter_kwargs: Any) -> SlackHost:
        if core is not None:
            container.use_router(core)
        adapter = SlackAdapter(container, **adapter_kwargs)
        runner = web.AppRunner(create_app(container, slack=adapter), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        http = aiohttp.ClientSession()
        sessions.append(http)
        port = runner.addresses[0][1]
        return SlackHost(f"http://127.0.0.1:{port}", http, adapter, fake_slack, slack_payload)

    yield start
    for http in sessions:
        await http.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def host(make_host: HostFactory) -> SlackHost:
    return await make_host()
