"""A link button (the digest's "Open changes") opens its URL on every surface instead of calling govbot."""

from __future__ import annotations

import json

from bot.console.render import button_for, clickables, render
from bot.dashboard.app import render_reply as web_reply
from bot.slack.render import render_reply as slack_reply
from bot.teams.render import render_reply as teams_reply
from handlers.reply import LINK, Button, Reply

URL = "https://govbot.plant.example/changes?pass=abc.def"
REPLY = Reply(text="Weekly governance digest", ephemeral=False,
              buttons=(Button("Approve", "cr.approve", "7", "primary"), Button("Open changes", LINK, URL)))


def test_slack_renders_a_url_button() -> None:
    [message] = slack_reply(REPLY)
    elements = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    link = next(e for e in elements if e["text"]["text"] == "Open changes")
    assert link["url"] == URL and "value" not in link
    approve = next(e for e in elements if e["text"]["text"] == "Approve")
    assert approve["value"] == "7" and "url" not in approve


def test_teams_renders_open_url() -> None:
    [card] = teams_reply(REPLY)
    actions = json.dumps(card)
    assert '"type": "Action.OpenUrl"' in actions and URL in actions
    opened = [a for a in card.get("actions", []) if a["type"] == "Action.OpenUrl"]
    assert opened == [{"type": "Action.OpenUrl", "title": "Open changes", "url": URL}]


def test_console_prints_the_url_and_does_not_number_it() -> None:
    text = render(REPLY)
    assert f"Open changes: {URL}" in text and "[1] Approve" in text and "[2]" not in text
    assert [c[1] for c in clickables(REPLY)] == ["cr.approve"] and button_for(REPLY, 2) is None


def test_web_chat_renders_an_anchor() -> None:
    html = web_reply(REPLY)
    assert f'<a class="act link" href="{URL}" target="_blank" rel="noopener">Open changes</a>' in html.replace("&amp;", "&")
    assert 'data-action-id="cr.approve"' in html and 'data-action-id="link"' not in html
