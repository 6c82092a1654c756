"""Teams activities → what the core needs: the question text, a clicked action, where to store references."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from botbuilder.schema import Activity, ConversationReference

from bot.teams.render import DATA_ACTION_KEY, DATA_VALUE_KEY

ADAPTIVE_CARD_ACTION = "adaptiveCard/action"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Click:
    action_id: str
    value: str
    inputs: dict[str, str] = field(default_factory=dict)


def _bot_mentions(activity: Activity) -> list[str]:
    """The markup of every mention of this bot (``<at>govbot</at>``), from the activity's mention entities."""
    me = activity.recipient.id if activity.recipient is not None else None
    found = []
    for entity in activity.entities or []:
        props = getattr(entity, "additional_properties", None) or {}
        mentioned = props.get("mentioned")
        text = props.get("text")
        if (str(getattr(entity, "type", "") or "").lower() == "mention" and isinstance(mentioned, dict)
                and me and mentioned.get("id") == me and isinstance(text, str) and text):
            found.append(text)
    return found


def _unwrap_mentions(text: str, *, drop_leading: bool) -> str:
    """``<at>Luis Ortega</at>`` → ``Luis Ortega``; with ``drop_leading`` a mention that opens the text (the
    bot's, in a channel whose activity names no mention entity for it) is dropped.

    A single forward scan: markup with thousands of unclosed ``<at>`` tags costs no more than its length."""
    lower = text.lower()
    out: list[str] = []
    pos = 0
    while True:
        start = lower.find("<at", pos)
        if start < 0:
            break
        gt = lower.find(">", start)
        end = lower.find("</at>", gt) if gt >= 0 else -1
        if end < 0:
            break
        leading = drop_leading and not out and not text[:start].strip()
        out += [text[pos:start], " ", "" if leading else text[gt + 1:end], " "]
        pos = end + len("</at>")
    out.append(text[pos:])
    return "".join(out)


def _strip_tags(text: str) -> str:
    """Other markup (``<p>``, ``<b>``) → spaces, in one forward scan."""
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("<", pos)
        if start < 0:
            break
        gt = text.find(">", start + 1)
        if gt < 0:
            break
        if gt == start + 1:  # "<>" is text, not a tag
            out.append(text[pos:gt + 1])
        else:
            out += [text[pos:start], " "]
        pos = gt + 1
    out.append(text[pos:])
    return "".join(out)


def message_text(activity: Activity) -> str:
    """The typed text without the bot's mention; other people's mentions keep their names, markup goes."""
    text = activity.text or ""
    mentions = _bot_mentions(activity)
    for mention in mentions:
        text = text.replace(mention, " ")
    text = _unwrap_mentions(text, drop_leading=not mentions)
    text = html.unescape(_strip_tags(text)).replace("\xa0", " ")
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


TEAM_KEY = "teamsTeam"  # beside the reference's own fields; botbuilder ignores it when it reads the reference


def team(activity: Activity) -> dict[str, str] | None:
    """The team a channel conversation belongs to: its Teams id and, where Teams sends it, the Microsoft 365
    group id (``aadGroupId``) Microsoft Graph knows the team by."""
    data = _dict(_dict(activity.channel_data).get("team"))
    found = {name: value for name in ("id", "aadGroupId") if (value := _str(data.get(name)))}
    return found or None


def stored_reference(reference: ConversationReference, *, kind: str,
                     team: dict[str, str] | None = None) -> dict[str, Any]:
    """The reference as JSON, for new posts: no activity to reply to, and for a channel the channel
    itself rather than the thread (a proactive post starts a new thread) and the team it is in (under
    :data:`TEAM_KEY`, for looking an interrupted post up)."""
    data = reference.serialize()
    data.pop("activityId", None)
    if kind == "channel":
        data["conversation"]["id"] = base_conversation_id(data["conversation"]["id"])
        if team:
            data[TEAM_KEY] = dict(team)
    return data
