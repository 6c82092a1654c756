"""Slack payloads in: slash commands, events and clicks to neutral values.

No I/O here.  The adapter (``bot.slack.app``) calls these helpers and hands what they return to the
turn pipeline (:mod:`bot.turn`), which resolves the Slack user to a person.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bot.slack import texts
from bot.turn import mention

# Action ids the adapter handles itself; every other click goes to the core.
SHARE_ACTION = "govbot.share"
CHOICE_ACTION = "govbot.choose"
# Slack wants action ids unique within a message; repeats get this suffix and a number.
_REPEAT = "~~"

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^>]*)>")
_CHANNEL_BARE = re.compile(r"<#([A-Z0-9]+)>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SlashText:
    text: str
    subcommand: str

    @property
    def known(self) -> bool:
        return self.subcommand in texts.SUBCOMMANDS


def parse_slash(text: str | None) -> SlashText:
    """``/govbot who PLC-1`` arrives as text ``who PLC-1``; the first word is the subcommand."""
    clean = _SPACES.sub(" ", text or "").strip()
    head = clean.split(" ", 1)[0].lower() if clean else ""
    return SlashText(text=clean, subcommand=head)


def mentioned_users(text: str) -> list[str]:
    return _USER_MENTION.findall(text or "")


def message_text(text: str | None, *, bot_user_id: str | None, names: dict[str, str] | None = None,
                 mention_as: Callable[[str], str] | None = None) -> str:
    """Plain words from a Slack message: the bot's own mention removed, markup unwrapped.

    ``names`` maps other mentioned users to a name the core understands
    (``owns <@U123>`` becomes ``owns Luis Ortega``); ``mention_as`` writes the others (the turn
    pipeline's mention marker); without it they stay as markup.
    """
    value = text or ""

    def user(match: re.Match[str]) -> str:
        uid = match.group(1)
        if bot_user_id and uid == bot_user_id:
            return " "
        if names and uid in names:
            return names[uid]
        return mention_as(uid) if mention_as is not None else match.group(0)

    value = _USER_MENTION.sub(user, value)
    value = _CHANNEL.sub(lambda m: f"#{m.group(1)}", value)
    value = _CHANNEL_BARE.sub(lambda m: f"#{m.group(1)}", value)
    value = _LINK.sub(lambda m: m.group(2) or m.group(1).removeprefix("mailto:"), value)
    value = _SPECIAL.sub(lambda m: f"@{m.group(1)}", value)
    return _SPACES.sub(" ", html.unescape(value)).strip()


def question_text(text: str | None, *, bot_user_id: str | None) -> str:
    """A message or mention as the turn pipeline reads it: other people's mentions become its markers, so
    it names them from the directory (``owns <@U123>`` is asked as ``owns Luis Ortega``)."""
    return message_text(text, bot_user_id=bot_user_id, mention_as=mention)


def is_question_message(event: dict[str, Any]) -> bool:
    """A direct message a person typed (not an edit, a join, a bot's post or our own reply)."""
    return (
        event.get("type") == "message"
        and event.get("channel_type") == "im"
        and not event.get("subtype")
        and not event.get("bot_id")
        and not event.get("bot_profile")
        and bool(event.get("user"))
        and bool((event.get("text") or "").strip())
    )


def is_question_mention(event: dict[str, Any]) -> bool:
    return not event.get("subtype") and not event.get("bot_id") and bool(event.get("user"))


def thread_of(event: dict[str, Any]) -> str:
    """Answers go in the thread: the parent's ts when the question is already a reply."""
    return str(event.get("thread_ts") or event.get("ts") or "")


# --------------------------------------------------------------------------- clicks


def encode_action_id(action_id: str, repeat: int) -> str:
    return action_id if repeat == 0 else f"{action_id}{_REPEAT}{repeat}"


def decode_action_id(action_id: str) -> str:
    base, sep, number = action_id.rpartition(_REPEAT)
    return base if sep and number.isdigit() else action_id


def block_action_inputs(body: dict[str, Any]) -> dict[str, str]:
    """Values of inputs on the same surface (``state.values``), flattened to ``action_id -> value``."""
    values = ((body.get("state") or {}).get("values")) or ((body.get("view") or {}).get("state") or {}).get("values")
    out: dict[str, str] = {}
    for block in (values or {}).values():
        for action_id, element in (block or {}).items():
            value = _element_value(element or {})
            if value is not None:
                out[action_id] = value
    return out


def _element_value(element: dict[str, Any]) -> str | None:
    if element.get("value") is not None:
        return str(element["value"])
    option = element.get("selected_option")
    if option:
        return str(option.get("value", ""))
    options = element.get("selected_options")
    if options:
        return ",".join(str(o.get("value", "")) for o in options)
    for key in ("selected_date", "selected_time", "selected_user", "selected_channel", "selected_conversation"):
        if element.get(key):
            return str(element[key])
    return None


@dataclass(frozen=True)
class ClickOrigin:
    """Where a clicked button lives, so the answer can replace it in place."""

    surface: str  # "message" or "view"
    channel_id: str | None
    message_ts: str | None
    thread_ts: str | None
    is_ephemeral: bool
    response_url: str | None
    view_type: str | None = None


def click_origin(body: dict[str, Any]) -> ClickOrigin:
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    return ClickOrigin(
        surface=str(container.get("type") or ("view" if body.get("view") else "message")),
        channel_id=channel,
        message_ts=container.get("message_ts") or message.get("ts"),
        thread_ts=message.get("thread_ts") or container.get("thread_ts"),
        is_ephemeral=bool(container.get("is_ephemeral")),
        response_url=body.get("response_url"),
        view_type=(body.get("view") or {}).get("type"),
    )


def first_action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return dict(actions[0])


# --------------------------------------------------------------------------- modal forms

# Slack's limit for a view's private_metadata.
METADATA_LIMIT = 3000


def view_inputs(view: dict[str, Any]) -> dict[str, str]:
    """Submitted modal values as ``field name -> value`` (blocks are named after the fields; empty is ``""``)."""
    out: dict[str, str] = {}
    for block_id, elements in (((view.get("state") or {}).get("values")) or {}).items():
        for element in (elements or {}).values():
            value = _element_value(element or {})
            out[block_id] = value if value is not None else ""
    return out


def form_metadata(action_id: str, value: str, origin: ClickOrigin | None) -> str:
    """What a modal must remember: the action its submit runs, and where the answer goes."""
    meta: dict[str, Any] = {"a": action_id, "v": value, "o": asdict(origin) if origin else None}
    text = json.dumps(meta, separators=(",", ":"))
    if len(text) > METADATA_LIMIT:
        meta["o"] = None
        text = json.dumps(meta, separators=(",", ":"))
    return text


def parse_form_metadata(text: str | None) -> tuple[str, str, ClickOrigin | None] | None:
    try:
        meta = json.loads(text or "")
        origin = ClickOrigin(**meta["o"]) if meta.get("o") else None
        return str(meta["a"]), str(meta["v"]), origin
    except (ValueError, KeyError, TypeError):
        return None
