"""Teams activities → what the core needs: the question text, a clicked action, where to store references."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ConversationReference

from bot.teams.render import DATA_ACTION_KEY, DATA_VALUE_KEY

ADAPTIVE_CARD_ACTION = "adaptiveCard/action"
_AT = re.compile(r"<at[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Click:
    action_id: str
    value: str
    inputs: dict[str, str] = field(default_factory=dict)


def message_text(activity: Activity) -> str:
    """The typed text without the bot's ``<at>…</at>`` mention (and any other markup)."""
    text = activity.text or ""
    if activity.recipient is not None and activity.recipient.id and activity.entities:
        # Removes exactly the mention of this bot, as Teams wrote it; any other <at> tag goes below.
        try:
            text = TurnContext.remove_recipient_mention(activity) or ""
        except (AttributeError, KeyError, TypeError, re.error):
            text = activity.text or ""
    text = _AT.sub(" ", text)
    text = html.unescape(_TAGS.sub(" ", text)).replace("\xa0", " ")
    return " ".join(text.split())


def _inputs(data: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        if key in (DATA_VALUE_KEY, DATA_ACTION_KEY, "msteams", "verb"):
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif value is not None and not isinstance(value, dict | list):
            out[key] = str(value)
    return out


def invoke_click(activity: Activity) -> Click | None:
    """An ``adaptiveCard/action`` invoke (``Action.Execute``): verb and ``value.action.data``."""
    act = _dict(_dict(activity.value).get("action"))
    data = _dict(act.get("data"))
    verb = act.get("verb") or data.get(DATA_ACTION_KEY)
    if not verb:
        return None
    return Click(str(verb), str(data.get(DATA_VALUE_KEY) or ""), _inputs(data))


def submit_click(activity: Activity) -> Click | None:
    """A message carrying ``value`` (``Action.Submit`` / ``messageBack``) from one of govbot's cards."""
    data = activity.value if isinstance(activity.value, dict) else None
    if not data:
        return None
    action_id = data.get(DATA_ACTION_KEY) or data.get("verb")
    if not action_id:
        return None
    return Click(str(action_id), str(data.get(DATA_VALUE_KEY) or ""), _inputs(data))


def conversation_kind(activity: Activity) -> str:
    conv = activity.conversation
    kind = (conv.conversation_type if conv is not None else None) or ""
    if kind:
        return kind
    return "groupChat" if conv is not None and conv.is_group else "personal"


def base_conversation_id(conversation_id: str) -> str:
    """A channel thread id (``19:…@thread.tacv2;messageid=…``) without the thread part."""
    return conversation_id.split(";messageid=", 1)[0]


def channel_name(activity: Activity) -> str | None:
    channel = _dict(_dict(activity.channel_data).get("channel"))
    conv = activity.conversation
    return _str(channel.get("name")) or (conv.name if conv is not None else None) or None


def tenant_id(activity: Activity) -> str | None:
    tenant = _dict(_dict(activity.channel_data).get("tenant"))
    conv = activity.conversation
    return _str(tenant.get("id")) or (conv.tenant_id if conv is not None else None) or None


def stored_reference(reference: ConversationReference, *, kind: str) -> dict[str, Any]:
    """The reference as JSON, for new posts: no activity to reply to, and for a channel the channel
    itself rather than the thread (a proactive post starts a new thread)."""
    data = reference.serialize()
    data.pop("activityId", None)
    if kind == "channel":
        data["conversation"]["id"] = base_conversation_id(data["conversation"]["id"])
    return data
