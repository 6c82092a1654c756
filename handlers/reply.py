"""Platform-neutral values that flow between adapters and use cases.

Adapters translate a platform payload into a :class:`Command` (or an
:class:`Action` for a button click) and render a :class:`Reply` back into Block
Kit, an Adaptive Card or console text.  Nothing here knows about a platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ButtonStyle = Literal["primary", "danger"] | None


@dataclass(frozen=True)
class Actor:
    """Who is asking: a person in the directory (``person_id``) or an unknown chat user."""

    person_id: int | None
    display_name: str
    platform: str = "console"
    email: str | None = None


@dataclass(frozen=True)
class Command:
    """Free text or command-grammar text typed by a user."""

    text: str
    actor: Actor
    # Set when the text came from a slash command (``/govbot who X``) rather than chat.
    slash: bool = False


@dataclass(frozen=True)
class Action:
    """A button click: a stable ``action_id`` and the opaque ``value`` the button carried."""

    action_id: str
    value: str
    actor: Actor
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str
    style: ButtonStyle = None


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
class Reply:
    text: str
    sections: tuple[Section, ...] = ()
    buttons: tuple[Button, ...] = ()
    choices: tuple[Choice, ...] = ()
    warnings: tuple[str, ...] = ()
    ephemeral: bool = True
    # The machine-readable answer (``govbot ask --json`` prints it).
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.data.get("status", "answered"))
