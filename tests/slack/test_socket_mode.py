"""Socket Mode: the same app over a (fake) Slack websocket; acks, re-deliveries, reconnects."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.bootstrap import Container
from bot.slack.app import SlackAdapter
from bot.slack.socket_mode import GovbotSocketModeHandler
from tests.slack import seed
from tests.slack.conftest import APP_TOKEN
from tests.slack.fake_slack import FakeSlack, FakeSocketMode
from tests.slack.stub_core import StubCore


@dataclass
class Rig:
    ws: FakeSocketMode
    fake: FakeSlack
    stub: StubCore
    payload: Callable[[str], Any]

    def slash(self, text: str, envelope_id: str) -> dict[str, Any]:
        env = copy.deepcopy(self.payload("socket_mode_slash_commands_envelope.json"))
        env["envelope_id"] = envelope_id
        env["payload"].update({"user_id": seed.LUIS, "team_id": seed.TEAM, "command": "/govbot", "text": text,
                               "response_url": self.fake.hook_url("commands")})
        return env

    def mention(self, text: str, *, envelope_id: str, event_id: str, retry_attempt: int = 0) -> dict[str, Any]:
        env = copy.deepcopy(self.payload("socket_mode_events_api_envelope.json"))
        env.update({"envelope_id": envelope_id, "retry_attempt": retry_attempt,
                    "retry_reason": "timeout" if retry_attempt else ""})
        env["payload"]["event_id"] = event_id
        env["payload"]["event"].update({"user": seed.LUIS, "text": f"<@{self.fake.bot_user_id}> {text}"})
        return env


@pytest.fixture
async def rig(container: Container, fake_slack: FakeSlack, slack_payload: Callable[[str], Any]) -> AsyncIterator[Rig]:
    ws = await FakeSocketMode(hello=slack_payload("socket_mode_hello.json")).start()
    fake_slack.socket_url = ws.url
    stub = StubCore()
    container.use_router(stub)
    adapter = SlackAdapter(container)
    await adapter.start()
    handler = GovbotSocketModeHandler(adapter, APP_TOKEN)
    await handler.connect_async()
    await ws.wait_connected()
    yield Rig(ws, fake_slack, stub, slack_payload)
    await handler.close_async()
    await adapter.close()
    await ws.stop()


async def test_the_websocket_url_comes_from_apps_connections_open_with_the_app_token(rig: Rig) -> None:
    [opened] = rig.fake.calls("apps.connections.open")
    assert opened.token == APP_TOKEN
    assert rig.ws.connections == 1


async def test_slash_command_is_acked_then_answered(rig: Rig) -> None:
    env = rig.slash("who PLC-7", "env-slash-1")
    await rig.ws.send(env)
    [ack] = await rig.ws.wait_for_ack("env-slash-1")
    assert not ack.get("payload")
    [answer] = await rig.fake.wait_for("response_url")
    assert "who PLC-7" in answer.all_text() and answer.body["response_type"] == "ephemeral"


async def test_unknown_subcommand_usage_travels_in_the_ack(rig: Rig) -> None:
    await rig.ws.send(rig.slash("", "env-usage"))
    [ack] = await rig.ws.wait_for_ack("env-usage")
    assert "/govbot who" in str(ack["payload"]["blocks"])
    await rig.fake.settle()
    assert rig.fake.posted() == []


async def test_a_redelivered_envelope_is_acked_again_but_handled_once(rig: Rig) -> None:
    env = rig.slash("who PLC-7", "env-twice")
    await rig.ws.send(env)
    await rig.fake.wait_for("response_url")
    await rig.ws.send(env)
    acks = await rig.ws.wait_for_ack("env-twice", count=2)
    assert len(acks) == 2
    await rig.fake.settle()
    assert len(rig.fake.calls("response_url")) == 1
    assert len(rig.stub.commands) == 1


async def test_event_retries_are_skipped_only_when_the_first_delivery_was_handled(rig: Rig) -> None:
    await rig.ws.send(rig.mention("who PLC-7", envelope_id="env-ev-1", event_id="Ev0001"))
    [post] = await rig.fake.wait_for("chat.postMessage")
    assert post.body["thread_ts"] == "1610241741.000200"
    # Slack retries the same event in a new envelope: acknowledged, not answered again.
    await rig.ws.send(rig.mention("who PLC-7", envelope_id="env-ev-1-retry", event_id="Ev0001", retry_attempt=1))
    await rig.ws.wait_for_ack("env-ev-1-retry")
    # A retry of an event this process never handled is answered.
    await rig.ws.send(rig.mention("who PLC-8", envelope_id="env-ev-2-retry", event_id="Ev0002", retry_attempt=2))
    await rig.fake.wait_for("chat.postMessage", count=2)
    await rig.fake.settle()
    assert [c.text for c in rig.stub.commands] == ["who PLC-7", "who PLC-8"]


async def test_interactive_envelope_updates_the_card(rig: Rig) -> None:
    env = copy.deepcopy(rig.payload("socket_mode_interactive_envelope.json"))
    env["payload"]["user"]["id"] = seed.LUIS
    env["payload"]["response_url"] = rig.fake.hook_url("actions")
    await rig.ws.send(env)
    await rig.ws.wait_for_ack(env["envelope_id"])
    [update] = await rig.fake.wait_for("chat.update")
    assert (update.body["channel"], update.body["ts"]) == ("C111", "1605853634.000400")
    assert rig.stub.actions[0].value == "underlying"


async def test_disconnect_makes_the_client_reconnect_on_a_fresh_url(rig: Rig) -> None:
    await rig.ws.send(rig.payload("socket_mode_disconnect.json"))
    await rig.ws.wait_connected(count=2, timeout=10)
    assert len(rig.fake.calls("apps.connections.open")) == 2
    await rig.ws.send(rig.slash("who PLC-9", "env-after-reconnect"))
    await rig.fake.wait_for("response_url")
