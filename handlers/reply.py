"""Platform-neutral values that flow between adapters and use cases.

Adapters translate a platform payload into a :class:`Command` (or an
:class:`Action` for a button click) and render a :class:`Reply` back into Block
Kit, an Adaptive Card or console text.  Nothing here knows about a platform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Literal

ButtonStyle = Literal["primary", "danger"] | None

# Replies about the asker rather than an answer (an error, "you are not in the directory", a refusal,
# usage help, their personal dashboard link): every surface shows them to the asker only, never shares
# them and never lets them replace a card others can see.
PRIVATE_STATUSES = frozenset({"error", "unknown_person", "usage", "refused", "invalid", "link"})


@dataclass(frozen=True)
class Actor:
    """Who is asking: a person in the directory (``person_id``) or an unknown chat user."""

    person_id: int | None
    display_name: str
    platform: str = "console"
    email: str | None = None
    # The language the chat client reports for this user (Slack user locale, Teams activity locale), as a
    # BCP 47 tag such as ``de-DE``; ``None`` when the surface does not say.
    locale: str | None = None


@dataclass(frozen=True)
class Command:
    """Free text or command-grammar text typed by a user."""

    text: str
    actor: Actor
    # Set when the text came from a slash command (``/govbot who X``) rather than chat.
    slash: bool = False
    # Set when everyone in the conversation will see the answer (a Teams channel or group chat), so
    # nothing personal (a sign-in link) may be in it.
    public: bool = False


@dataclass(frozen=True)
class Action:
    """A button click: a stable ``action_id`` and the opaque ``value`` the button carried."""

    action_id: str
    value: str
    actor: Actor
    inputs: dict[str, str] = field(default_factory=dict)


LINK = "link"  # a button with this action id opens ``value``, a URL, instead of calling govbot


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str
    style: ButtonStyle = None

    @property
    def is_link(self) -> bool:
        return self.action_id == LINK


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class Section:
    title: str | None = None
    text: str | None = None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class Choice:
    """One candidate of a disambiguation: rendered as a button that re-asks with ``value``."""

    label: str
    detail: str
    value: str
    score: float = 0.0


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: Literal["text", "textarea", "select", "datetime", "checkbox", "system"] = "text"
    required: bool = False
    options: tuple[str, ...] = ()
    initial: str = ""
    hint: str = ""
    error: str = ""


@dataclass(frozen=True)
class Form:
    """Input to collect (a Slack modal, an Adaptive Card with inputs, a console dialogue).

    Submitting it is an :class:`Action` with ``submit_action_id``, ``value`` and the
    field values in ``inputs``.
    """

    title: str
    submit_action_id: str
    value: str
    fields: tuple[FormField, ...]
    submit_label: str = "Submit"


@dataclass(frozen=True)
class Reply:
    text: str
    sections: tuple[Section, ...] = ()
    buttons: tuple[Button, ...] = ()
    choices: tuple[Choice, ...] = ()
    warnings: tuple[str, ...] = ()
    ephemeral: bool = True
    form: Form | None = None
    # The machine-readable answer (``govbot ask --json`` prints it).
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.data.get("status", "answered"))

    @property
    def private(self) -> bool:
        """About the asker, not an answer: see :data:`PRIVATE_STATUSES`."""
        return self.status in PRIVATE_STATUSES


_ROW_ID = re.compile(r"[0-9]{1,10}")
MAX_ROW_ID = 2**31 - 1  # the id columns are 32-bit integers


ECHO_LIMIT = 80


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """What someone typed, quoted back in a reply: on one line and at most ``limit`` characters (a pasted log
    or a whole e-mail is not repeated in full)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def row_id(text: str) -> int | None:
    """A database id from a button value, or ``None`` for anything else (signs, spaces, non-ASCII digits,
    numbers too large for an id column)."""
    if not _ROW_ID.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ROW_ID else None


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` for these types, without its generic deep copy (sweeps build thousands of cards)."""
    names = _FIELDS.get(type(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, tuple | list):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls)) for cls in (Reply, Section, Field, Button, Choice, Form, FormField)
}


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """A JSON-safe copy of a reply (the outbox stores cards this way)."""
    return _plain(reply)


def reply_from_dict(data: dict[str, Any]) -> Reply:
    form = data.get("form")
    return Reply(
        text=data.get("text", ""),
        sections=tuple(
            Section(s.get("title"), s.get("text"), tuple(Field(**f) for f in s.get("fields", ())))
            for s in data.get("sections", ())
        ),
        buttons=tuple(Button(**b) for b in data.get("buttons", ())),
        choices=tuple(Choice(**c) for c in data.get("choices", ())),
        warnings=tuple(data.get("warnings", ())),
        ephemeral=bool(data.get("ephemeral", True)),
        form=Form(
            title=form["title"], submit_action_id=form["submit_action_id"], value=form["value"],
            fields=tuple(FormField(**{**f, "options": tuple(f.get("options", ()))}) for f in form["fields"]),
            submit_label=form.get("submit_label", "Submit"),
        ) if form else None,
        data=dict(data.get("data", {})),
    )
