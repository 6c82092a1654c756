"""Secrets never reach the logs, even at DEBUG, through a full Slack flow and outbox delivery."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import ValidationError

from bot.settings import Settings
from bot.slack.outbox import SlackOutboxSender
from notifications import outbox
from tests.slack import seed
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, SlackHost


async def test_full_flow_logs_no_secret(host: SlackHost, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    status, _, _ = await host.slash(f"who {seed.PLC}")
    assert status == 200
    await host.fake.wait_for("response_url")
    await host.click(host.button_click(action_id="govbot.run", value=f"sla {seed.PLC}"))
    await host.fake.settle()
    container = host.adapter.container
    with container.unit_of_work() as session:
        outbox.enqueue(session, key="secret-test", now=container.clock(), channel="#ot-fdl-oncall",
                       payload={"text": "hello", "sections": [], "buttons": [], "choices": [], "warnings": [],
                                "ephemeral": False, "form": None, "data": {}})
    sender = SlackOutboxSender.from_settings(container.session_factory, token=BOT_TOKEN,
                                             base_url=container.settings.slack_api_url)
    result = await asyncio.to_thread(outbox.dispatch, container.session_factory, [sender], now=container.clock())
    assert result.sent == 1
    assert caplog.records, "the flow logged something at DEBUG"
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert BOT_TOKEN not in logged
    assert SIGNING_SECRET not in logged
    assert repr(container.settings).count(BOT_TOKEN) == 0


@pytest.mark.parametrize("name", ["GOVBOT_SLACK_BOT_TOKEN", "GOVBOT_SLACK_SIGNING_SECRET", "GOVBOT_DASHBOARD_TOKEN"])
@pytest.mark.parametrize("value", ["changeme", "xoxb-your-token", " TODO "])
def test_placeholder_secrets_are_refused_outside_dev_mode(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("GOVBOT_DEV_MODE", "true")
    assert Settings(_env_file=None).dev_mode  # type: ignore[call-arg]


def test_secrets_can_come_from_files(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "govbot_slack_bot_token").write_text("xoxb-from-a-file")
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None, _secrets_dir=str(tmp_path))  # type: ignore[call-arg]
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-a-file"
    assert "xoxb-from-a-file" not in repr(settings) and "xoxb-from-a-file" not in str(settings.model_dump())
