"""One chat step in Slack or in Teams, as the user sees it, through the real adapters over HTTP.

The drivers sit on the test rigs (``tests/slack/conftest.py``: signed requests into the web host and a
fake Slack Web API; ``tests/teams/conftest.py``: activities posted to ``/api/messages`` with valid Bot
Framework tokens and a fake Bot Connector) and turn what the fake recorded into a :class:`Step`.  People are named by e-mail and mapped
to the platform's account ids the way the rigs' seeds and the directory import do.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.bootstrap import Container
from bot.slack.outbox import SlackOutboxSender
from governance_store.models import ChangeRequest
from handlers.reply import Action, Actor, Command, Reply
from handlers.router import Router
from tests import core
from tests.slack import seed
from tests.slack.conftest import BOT_TOKEN, submission
from tests.slack.fake_slack import Call
from tests.teams.conftest import JESSICA, LUIS, MIKE
from tests.teams.tokens import authenticated_sender

# Slack ids of the sample people (examples/corvane/slack_users.csv).
SLACK_IDS = {LUIS: seed.LUIS, JESSICA: seed.JESSICA, MIKE: "U0B00359A23"}
INPUT_TYPES = ("Input.Text", "Input.ChoiceSet", "Input.Toggle", "Input.Date", "Input.Time", "Input.Number")


@dataclass
class Recorder:
    """The real router (``Container.use_router``), remembering the status of every reply it gave."""

    router: Router = field(default_factory=lambda: core.DEFAULT)
    replies: list[Reply] = field(default_factory=list)

    @property
    def statuses(self) -> list[str]:
        return [r.status for r in self.replies]

    def command(self, command: Command, **kw: Any) -> Reply:
        reply = self.router.command(command, **kw)
        self.replies.append(reply)
        return reply

    def action(self, action: Action, **kw: Any) -> Reply:
        reply = self.router.action(action, **kw)
        self.replies.append(reply)
        return reply

    def home(self, actor: Actor, **kw: Any) -> Reply:
        return self.router.home(actor, **kw)

    def refuse_unknown(self, request: Command | Action, **kw: Any) -> Reply:
        reply = self.router.refuse_unknown(request, **kw)
        self.replies.append(reply)
        return reply


@dataclass
class Step:
    """What one chat step delivered: visible text, offered buttons (label, action id, value), whether the
    clicked card was replaced, whether the answer was shown to the asker only, and a form if one was opened."""

    text: str
    buttons: list[tuple[str, str, str]]
    replaced: bool
    private: bool = False
    form: Any = None


def button(step: Step, action_id: str, label: str | None = None) -> tuple[str, str, str]:
    return next(b for b in step.buttons if b[1] == action_id and (label is None or label in b[0]))


def change_state(box: Container, cid: int) -> str:
    with box.session_factory() as s:
        return s.get(ChangeRequest, cid).state


class SlackDriver:
    platform = "slack"
    # What answers a step: a message in front of the user, or a modal opened for them.
    _ANSWERS = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.update", "response_url", "views.publish",
                          "views.open"})

    def __init__(self, host: Any, ids: Mapping[str, str] = SLACK_IDS) -> None:
        self.host = host
        self.ids = ids

    def _answers(self) -> list[Call]:
        return [c for c in self.host.fake.calls() if c.method in self._ANSWERS]

    async def _new_calls(self, act: Callable[[], Any]) -> list[Call]:
        before = len(self._answers())
        await act()
        deadline = asyncio.get_running_loop().time() + 15  # a loaded machine answers late, not never
        while len(self._answers()) == before and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        await self.host.fake.settle(quiet=0.3)
        return self._answers()[before:]

    @staticmethod
    def _private(call: Call) -> bool:
        if call.method == "chat.postEphemeral":
            return True
        if call.method == "chat.postMessage":  # to a user id or a DM: the app's direct messages
            return str(call.body.get("channel") or "").startswith(("U", "W", "D"))
        return (call.method == "response_url" and call.body.get("response_type") == "ephemeral"
                and not call.body.get("replace_original"))

    @classmethod
    def _step(cls, calls: list[Call]) -> Step:
        from bot.slack.translate import decode_action_id

        shown = [c for c in calls if c.method != "views.open"]
        buttons = [(str((b.get("text") or {}).get("text", "")), decode_action_id(b["action_id"]), str(b.get("value", "")))
                   for c in shown for b in c.buttons()]
        form = next((c for c in calls if c.method == "views.open"), None)
        return Step("\n".join(c.all_text() for c in shown), buttons, any(c.method == "chat.update" for c in shown),
                    private=bool(shown) and all(cls._private(c) for c in shown), form=form)

    async def say(self, email: str, text: str) -> Step:
        payload = self.host.direct_message(text, user=self.ids[email])
        return self._step(await self._new_calls(lambda: self.host.event(payload)))

    async def slash(self, email: str, text: str) -> Step:
        return self._step(await self._new_calls(lambda: self.host.slash(text, user=self.ids[email])))

    async def click(self, email: str, pressed: tuple[str, str, str]) -> Step:
        _, action_id, value = pressed
        payload = self.host.button_click(action_id=action_id, value=value, user=self.ids[email])
        return self._step(await self._new_calls(lambda: self.host.click(payload)))

    async def submit(self, email: str, form: Any, values: dict[str, str]) -> Step:
        """Fill in and submit the modal a step opened (``Step.form``)."""
        payload = submission(self.host, form, values, user=self.ids[email])
        return self._step(await self._new_calls(lambda: self.host.click(payload)))

    async def submit_unasked(self, email: str, action_id: str, value: str, values: dict[str, str]) -> Step:
        """Submit a form govbot never opened for this user: the modal it opens for others, sent anyway."""
        from bot.slack import translate
        from bot.slack.render import render_modal
        from handlers.reply import Form, FormField

        form = Form(title="Form", submit_action_id=action_id, value=value,
                    fields=tuple(FormField(name, name, "textarea", True) for name in values))
        view = render_modal(form, metadata=translate.form_metadata(action_id, value, None))
        return await self.submit(email, Call("views.open", "", {"view": view}, {}), values)

    def sender(self, box: Container) -> Any:
        return SlackOutboxSender.from_settings(box.session_factory, token=BOT_TOKEN,
                                               base_url=self.host.fake.api_url)


class TeamsDriver:
    """``aad`` maps an e-mail to the Entra object id the activity carries (default: the rig's test ids).
    The host signs every activity as the Bot Connector does (``TeamsHost.post``)."""

    platform = "teams"

    def __init__(self, host: Any, *, aad: Mapping[str, str] | None = None) -> None:
        self.host = host
        self.aad = aad or {}

    @staticmethod
    def _buttons(cards: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("type") == "Action.Execute":
                    out.append((node["title"], node["verb"], node["data"]["value"]))
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(cards)
        return out

    @staticmethod
    def _is_form(card: dict[str, Any]) -> bool:
        return any(isinstance(e, dict) and e.get("type") in INPUT_TYPES for e in card.get("body") or [])

    async def say(self, email: str, text: str) -> Step:
        before = len(self.host.fake.posted())
        activity = self.host.personal(text, email=email, aad=self.aad.get(email))
        status, body = await self.host.post(activity)
        assert status in (200, 201), (status, body)
        calls = self.host.fake.posted()[before:]
        cards = [card for c in calls for card in c.cards()]
        # A 1:1 chat is private to the asker.
        return Step("\n".join(c.all_text() for c in calls), self._buttons(cards), False, private=True,
                    form=next((card for card in cards if self._is_form(card)), None))

    async def click(self, email: str, pressed: tuple[str, str, str], *, inputs: dict[str, str] | None = None) -> Step:
        _, action_id, value = pressed
        activity = self.host.invoke(action_id, value, email=email, inputs=inputs, aad=self.aad.get(email))
        status, body = await self.host.post(activity)
        assert status == 200, body
        if body["type"] == "application/vnd.microsoft.card.adaptive":
            card = body["value"]
            return Step(json.dumps(card, ensure_ascii=False), self._buttons([card]), True,
                        form=card if self._is_form(card) else None)
        # A message for the clicker only; the card stays as it was.
        return Step(str(body["value"]), [], False, private=True)

    async def submit(self, email: str, form: dict[str, Any], values: dict[str, str]) -> Step:
        """Fill in a form card and press its submit action, as Teams sends it (the inputs beside the data)."""
        [submit] = self._buttons([{"actions": form.get("actions") or []}])
        return await self.click(email, submit, inputs=values)

    async def submit_unasked(self, email: str, action_id: str, value: str, values: dict[str, str]) -> Step:
        return await self.click(email, ("", action_id, value), inputs=values)

    def sender(self, box: Container) -> Any:
        return authenticated_sender(box)
