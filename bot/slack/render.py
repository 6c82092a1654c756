"""A neutral :class:`~handlers.reply.Reply` out as Block Kit messages and Home tab views.

Slack's limits are respected by construction: at most 50 blocks per message
(100 in a Home tab), 3,000 characters per section text, 2,000 per field and
button value, 75 per button label, 255 per action id and 25 buttons per actions
block.  A long answer becomes several blocks and, when needed, several
messages, always cut at a line break or between words.  Every block is built
with ``slack_sdk.models.blocks``, whose validators reject anything over a limit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack import texts
from bot.slack.translate import CHOICE_ACTION, SHARE_ACTION, encode_action_id
from handlers.reply import Button, Form, FormField, Reply, Section

log = logging.getLogger(__name__)

MAX_BLOCKS = 50
MAX_HOME_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS_PER_SECTION = 10
BUTTONS_PER_BLOCK = 25
CONTEXT_ELEMENTS = 10
ACTION_ID = 255
BUTTON_VALUE = 2000
BUTTON_LABEL = 75
HEADER_TEXT = 150
# Conservative budget of visible text per message, well under Slack's message size limits.
MESSAGE_TEXT = 12_000
FALLBACK_TEXT = 3000
MODAL_TITLE = 24
MODAL_BLOCKS = 100
INPUT_LABEL = 2000
INPUT_INITIAL = 3000
OPTION_TEXT = 75
OPTION_VALUE = 150
FORM_CALLBACK = "govbot.form"
CHECKED = "yes"


@dataclass(frozen=True)
class SlackMessage:
    """One chat message: ``text`` is the notification / accessibility fallback."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks} if self.blocks else {"text": self.text}


# --------------------------------------------------------------------------- text helpers


def escape(text: str) -> str:
    """Slack's three control characters; everything else is left to mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters.

    Prefers line breaks, then spaces; a single word longer than ``limit`` (a
    URL, a hash) is the only thing ever cut inside, and never inside an
    ``&amp;``-style escape.
    """
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = window.rfind("\n")
        if cut < limit // 3:
            space = max(window.rfind(" "), window.rfind("\t"))
            cut = space if space > 0 else cut
        if cut <= 0:
            cut = limit
            amp = rest.rfind("&", max(0, limit - 5), limit)
            if amp > 0 and ";" not in rest[amp:limit]:
                cut = amp
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def clip_label(text: str, limit: int) -> str:
    """A short label (button, header) at most ``limit`` long, cut between words."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip() + "…"


def _mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def _sections(mrkdwn: str) -> Iterator[SectionBlock]:
    for piece in split_text(mrkdwn, SECTION_TEXT):
        yield SectionBlock(text=_mrkdwn(piece))


# --------------------------------------------------------------------------- reply -> blocks


def reply_blocks(reply: Reply, *, share_command: str | None = None, footer: str | None = None) -> list[Block]:
    blocks: list[Block] = list(_sections(escape(reply.text)))
    for section in reply.sections:
        blocks.extend(_section_blocks(section))
    blocks.extend(_choice_blocks(reply))
    blocks.extend(_button_blocks(reply.buttons))
    blocks.extend(_warning_blocks(reply.warnings))
    if share_command and len(share_command) <= BUTTON_VALUE:
        blocks.append(
            ActionsBlock(
                elements=[ButtonElement(text=texts.SHARE_LABEL, action_id=SHARE_ACTION, value=share_command)]
            )
        )
    if footer:
        blocks.append(ContextBlock(elements=[_mrkdwn(footer)]))
    return blocks


def _section_blocks(section: Section) -> Iterator[Block]:
    head = f"*{escape(section.title)}*" if section.title else ""
    body = escape(section.text) if section.text else ""
    text = "\n".join(x for x in (head, body) if x)
    if text:
        yield from _sections(text)
    fields: list[str] = []
    for f in section.fields:
        value = f"*{escape(f.label)}*\n{escape(f.value) or '—'}"
        if len(value) <= FIELD_TEXT:
            fields.append(value)
        else:
            yield from _field_group(fields)
            fields = []
            yield from _sections(value)
    yield from _field_group(fields)


def _field_group(fields: list[str]) -> Iterator[Block]:
    for start in range(0, len(fields), FIELDS_PER_SECTION):
        yield SectionBlock(fields=[_mrkdwn(v) for v in fields[start : start + FIELDS_PER_SECTION]])


def _choice_blocks(reply: Reply) -> Iterator[Block]:
    shown = 0
    for choice in reply.choices:
        if len(choice.value) > BUTTON_VALUE:
            log.warning("choice %r skipped: its value is longer than Slack allows", choice.label)
            continue
        text = f"*{escape(choice.label)}*" + (f"\n{escape(choice.detail)}" if choice.detail else "")
        first, *rest = split_text(text, SECTION_TEXT) or [escape(choice.label)]
        button = ButtonElement(
            text=texts.CHOOSE_LABEL, action_id=encode_action_id(CHOICE_ACTION, shown), value=choice.value
        )
        yield SectionBlock(text=_mrkdwn(first), accessory=button)
        for piece in rest:
            yield SectionBlock(text=_mrkdwn(piece))
        shown += 1


def _button_blocks(buttons: Iterable[Button]) -> Iterator[Block]:
    elements: list[ButtonElement] = []
    seen: dict[str, int] = {}
    for b in buttons:
        repeat = seen.get(b.action_id, 0)
        action_id = encode_action_id(b.action_id, repeat)
        if len(action_id) > ACTION_ID or len(b.value) > BUTTON_VALUE:
            log.warning("button %r skipped: action id or value longer than Slack allows", b.label)
            continue
        seen[b.action_id] = repeat + 1
        if b.is_link:  # opens the URL in the browser; Slack still reports the click, which is ignored
            elements.append(ButtonElement(text=clip_label(b.label, BUTTON_LABEL), action_id=action_id, url=b.value,
                                          style=b.style))
            continue
        elements.append(
            ButtonElement(text=clip_label(b.label, BUTTON_LABEL), action_id=action_id, value=b.value, style=b.style)
        )
    for start in range(0, len(elements), BUTTONS_PER_BLOCK):
        yield ActionsBlock(elements=elements[start : start + BUTTONS_PER_BLOCK])


def _warning_blocks(warnings: Iterable[str]) -> Iterator[Block]:
    pieces = [p for w in warnings for p in split_text(f"⚠️ {escape(w)}", SECTION_TEXT)]
    for start in range(0, len(pieces), CONTEXT_ELEMENTS):
        yield ContextBlock(elements=[_mrkdwn(p) for p in pieces[start : start + CONTEXT_ELEMENTS]])


def _block_text_size(block: dict[str, Any]) -> int:
    size = len((block.get("text") or {}).get("text", ""))
    size += sum(len(f.get("text", "")) for f in block.get("fields") or [])
    size += sum(len(e.get("text", "")) for e in block.get("elements") or [] if isinstance(e.get("text"), str))
    return size


def fallback_text(reply: Reply) -> str:
    pieces = split_text(escape(reply.text), FALLBACK_TEXT)
    return pieces[0] if pieces else "govbot"


def render_reply(reply: Reply, *, share_command: str | None = None, footer: str | None = None) -> list[SlackMessage]:
    """The reply as one or more messages (more only when it would break a per-message limit)."""
    dicts = [b.to_dict() for b in reply_blocks(reply, share_command=share_command, footer=footer)]
    fallback = fallback_text(reply)
    messages: list[SlackMessage] = []
    current: list[dict[str, Any]] = []
    size = 0
    for block in dicts:
        weight = _block_text_size(block)
        if current and (len(current) >= MAX_BLOCKS or size + weight > MESSAGE_TEXT):
            messages.append(SlackMessage(text=_continued(fallback, len(messages)), blocks=current))
            current, size = [], 0
        current.append(block)
        size += weight
    if current or not messages:
        messages.append(SlackMessage(text=_continued(fallback, len(messages)), blocks=current))
    return messages


def _continued(fallback: str, index: int) -> str:
    if index == 0:
        return fallback
    return f"{clip_label(fallback, 200)} {texts.CONTINUED}"


# --------------------------------------------------------------------------- Home tab


def render_home(reply: Reply) -> dict[str, Any]:
    """A Home tab view: one header per section, its text below, a divider between."""
    blocks: list[Block] = list(_sections(escape(reply.text)))
    for section in reply.sections:
        blocks.append(DividerBlock())
        if section.title:
            blocks.append(HeaderBlock(text=clip_label(section.title, HEADER_TEXT)))
        blocks.extend(_section_blocks(Section(text=section.text, fields=section.fields)))
    blocks.extend(_button_blocks(reply.buttons))
    blocks.extend(_warning_blocks(reply.warnings))
    dicts = [b.to_dict() for b in blocks]
    if len(dicts) > MAX_HOME_BLOCKS:
        dicts = dicts[: MAX_HOME_BLOCKS - 1]
        dicts.append(ContextBlock(elements=[_mrkdwn("…more than fits here; ask `/govbot help`")]).to_dict())
    return {"type": "home", "blocks": dicts}


# --------------------------------------------------------------------------- forms as modals


def render_modal(form: Form, *, metadata: str, intro: str | None = None) -> dict[str, Any]:
    """A modal collecting ``form``; each input's ``block_id`` and ``action_id`` are the field name."""
    blocks: list[Block] = list(_sections(escape(intro))) if intro else []
    blocks.extend(_input_block(f) for f in form.fields)
    view = View(
        type="modal",
        callback_id=FORM_CALLBACK,
        title=clip_label(form.title, MODAL_TITLE),
        submit=clip_label(form.submit_label, MODAL_TITLE),
        close="Cancel",
        private_metadata=metadata,
        blocks=blocks[:MODAL_BLOCKS],
    )
    return view.to_dict()


def _input_block(f: FormField) -> InputBlock:
    hint = f"⚠️ {f.error}" if f.error else f.hint
    return InputBlock(
        block_id=f.name,
        label=clip_label(f.label, INPUT_LABEL),
        element=_input_element(f),
        optional=not f.required,
        hint=clip_label(hint, INPUT_LABEL) if hint else None,
    )


def _option(value: str, label: str | None = None) -> Option:
    return Option(value=value[:OPTION_VALUE], label=clip_label(label or value, OPTION_TEXT))


def _input_element(f: FormField) -> Any:
    if f.kind == "select" and f.options:
        options = [_option(o) for o in f.options]
        initial = next((o for o in options if o.value == f.initial), None)
        return StaticSelectElement(action_id=f.name, options=options, initial_option=initial)
    if f.kind == "checkbox":
        box = _option(CHECKED, f.label)
        checked = f.initial.strip().lower() in ("yes", "true", "1", "on", "y")
        return CheckboxesElement(action_id=f.name, options=[box], initial_options=[box] if checked else None)
    return PlainTextInputElement(
        action_id=f.name,
        multiline=f.kind == "textarea",
        initial_value=f.initial[:INPUT_INITIAL] or None,
    )
