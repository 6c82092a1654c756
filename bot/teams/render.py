"""Reply → Adaptive Card 1.5 (Teams).

* the reply text is a bold TextBlock, section titles medium TextBlocks, section text wrapped TextBlocks;
* fields become a FactSet, warnings attention-coloured TextBlocks;
* buttons and disambiguation choices are ``Action.Execute`` with ``verb`` = action id and
  ``data`` = ``{"value": ...}`` (``action_id`` is repeated in ``data`` for clients that fall back
  to ``Action.Submit``);
* a form becomes inputs whose ids are the field names, each error shown under its field, and an
  ``Action.Execute`` with the form's submit action id.

Teams refuses messages above about 28 KB, so content is split over several cards kept under
:data:`MAX_CARD_BYTES`, and single texts are clipped to :data:`MAX_TEXT`.  A form cannot be split: the values
it is prefilled with (what the user typed, shown again next to the errors) are shortened instead.
"""

from __future__ import annotations

import json
from typing import Any

from bot.teams import texts
from handlers.reply import Button, Choice, Form, FormField, Reply, Section

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_CARD_BYTES = 24_000
MAX_TEXT = 4_000
MAX_FACT_TITLE = 120
MAX_ACTIONS = 6  # Teams shows at most six top-level actions; the rest go into ActionSets.
DATA_ACTION_KEY = "action_id"
DATA_VALUE_KEY = "value"
STYLES = {"primary": "positive", "danger": "destructive"}

Card = dict[str, Any]


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": clip(text), "wrap": True, **style}


def action(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "Action.Execute",
        "title": clip(label, 80),
        "verb": action_id,
        "data": {DATA_VALUE_KEY: value, DATA_ACTION_KEY: action_id},
    }
    if style in STYLES:
        out["style"] = STYLES[style]
    return out


def _button(b: Button) -> dict[str, Any]:
    if b.is_link:
        return {"type": "Action.OpenUrl", "title": clip(b.label, 80), "url": b.value}
    return action(b.label, b.action_id, b.value, b.style)


def _choice(c: Choice) -> dict[str, Any]:
    label = f"{c.label} · {c.detail}" if c.detail else c.label
    return action(label, "govbot.choose", c.value)


def _section(s: Section) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if s.title:
        out.append(_text(s.title, size="Medium", weight="Bolder", separator=True, spacing="Medium"))
    if s.text:
        out.append(_text(s.text))
    if s.fields:
        out.append({"type": "FactSet", "facts": [
            {"title": clip(f.label, MAX_FACT_TITLE), "value": clip(f.value or "—")} for f in s.fields]})
    return out


def _input(f: FormField) -> list[dict[str, Any]]:
    common: dict[str, Any] = {"id": f.name, "label": f.label, "isRequired": f.required}
    if f.required:
        common["errorMessage"] = f"{f.label} is required"
    if f.kind == "select":
        element = {"type": "Input.ChoiceSet", "style": "compact", "value": f.initial or (f.options[0] if f.options else ""),
                   "choices": [{"title": o, "value": o} for o in f.options], **common}
    elif f.kind == "checkbox":
        on = f.initial.strip().lower() in ("1", "true", "yes", "on", "y", "x")
        element = {"type": "Input.Toggle", "title": f.label, "valueOn": "true", "valueOff": "false",
                   "value": "true" if on else "false", **common}
    else:
        element = {"type": "Input.Text", "value": f.initial, "isMultiline": f.kind == "textarea", **common}
        if f.hint:
            element["placeholder"] = clip(f.hint, 200)
    out = [element]
    if f.error:
        out.append(_text(f.error, color="Attention", size="Small", spacing="None"))
    elif f.hint and f.kind not in ("text", "textarea", "system", "datetime"):
        out.append(_text(f.hint, isSubtle=True, size="Small", spacing="None"))
    return out


def render_form(form: Form, *, intro: str | None = None) -> Card:
    body: list[dict[str, Any]] = [_text(form.title, size="Medium", weight="Bolder")]
    if intro and intro != form.title:
        body.append(_text(intro))
    for f in form.fields:
        body.extend(_input(f))
    return _fit_inputs(_card(body, [action(form.submit_label, form.submit_action_id, form.value, "primary")]))


def _fit_inputs(card: Card) -> Card:
    """Shorten the longest prefilled values until the form fits in one Teams message, and say so."""
    inputs = [e for e in card["body"] if e["type"] in ("Input.Text", "Input.ChoiceSet")]
    shortened = False
    while (excess := size(card) - MAX_CARD_BYTES) > 0:
        longest = max(inputs, key=lambda e: len(e["value"].encode()), default=None)
        if longest is None or not longest["value"]:
            break
        value = longest["value"]
        # Drops ``excess`` characters (as many bytes at least), at most half the value; then the next longest.
        longest["value"] = value[: max(len(value) - excess, len(value) // 2)]
        if not shortened:
            shortened = True
            card["body"].insert(1, _text(texts.SHORTENED, color="Attention"))
    return card


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> Card:
    card: Card = {"$schema": SCHEMA, "type": "AdaptiveCard", "version": VERSION, "body": body,
                  "msteams": {"width": "Full"}}
    head, rest = actions[:MAX_ACTIONS], actions[MAX_ACTIONS:]
    for start in range(0, len(rest), MAX_ACTIONS):
        body.append({"type": "ActionSet", "actions": rest[start:start + MAX_ACTIONS]})
    if head:
        card["actions"] = head
    return card


def size(card: Card) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode())


def render_reply(reply: Reply) -> list[Card]:
    """One card, or several when the content is too large for one Teams message."""
    if reply.form is not None:
        return [render_form(reply.form, intro=reply.text)]
    head = [_text(reply.text or " ", weight="Bolder")]
    head += [_text(f"⚠ {w}", color="Attention") for w in reply.warnings]
    blocks = [element for s in reply.sections for element in _section(s)]
    actions = [_choice(c) for c in reply.choices] + [_button(b) for b in reply.buttons]
    cards: list[Card] = []
    body = list(head)
    for element in blocks:
        if size(_card([*body, element], [])) > MAX_CARD_BYTES and len(body) > 0:
            cards.append(_card(body, []))
            body = [_text(texts.CONTINUED, isSubtle=True)]
        body.append(element)
    cards.append(_card(body, actions))
    return cards

