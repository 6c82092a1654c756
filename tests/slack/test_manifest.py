"""The Slack app manifests match what the adapter serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.web import SLACK_EVENTS_PATH

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "slack"
SCOPES = {"commands", "chat:write", "chat:write.public", "app_mentions:read", "im:history", "im:write",
          "users:read", "users:read.email"}
EVENTS = {"app_mention", "message.im", "app_home_opened"}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["manifest.yaml", "manifest.socket-mode.yaml"])
def test_both_manifests_ask_for_the_same_features(name: str) -> None:
    manifest = load(name)
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == SCOPES
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == EVENTS
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/govbot" and len(command["description"]) <= 100


def test_http_manifest_points_everything_at_the_events_route() -> None:
    manifest = load("manifest.yaml")
    urls = {
        manifest["features"]["slash_commands"][0]["url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
    }
    assert urls == {f"https://YOUR-HOST{SLACK_EVENTS_PATH}"}
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_socket_mode_manifest_has_no_request_urls() -> None:
    manifest = load("manifest.socket-mode.yaml")
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "YOUR-HOST" not in (DEPLOY / "manifest.socket-mode.yaml").read_text(encoding="utf-8")
    assert "url" not in manifest["features"]["slash_commands"][0]
    assert "request_url" not in manifest["settings"]["event_subscriptions"]
    assert "request_url" not in manifest["settings"]["interactivity"]
