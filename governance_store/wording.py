"""Texts the store words for people (gaps, RACI and escalation warnings) that an answer can say in the
asker's language.

A :class:`Wording` is an ordinary string — the English text, so logs, the lint report, the audit trail and
every comparison see what they always saw — that also remembers its message and values.  An answer
translates it with its translator (:meth:`handlers.i18n.Translator.say`): the message through the gettext
catalogues, dates in the locale's format, nested wordings in the same language.  The messages are
extracted into the catalogues like the handlers' own (``make messages``, keyword ``Wording``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translated later"
    """Marks a message for the catalogues where it is defined; a :class:`Wording` carries it later."""
    return message


def english(value: Any) -> str:
    """A value as an English text shows it: dates as ISO dates."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class Wording(str):
    """``Wording("Owner {person} left the company on {date}", person=..., date=...)``: the English text,
    with the message and its values kept for translation."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> Wording:
        made = super().__new__(cls, msgid.format(**{k: english(v) for k, v in values.items()}) if values else msgid)
        made.msgid = msgid
        made.values = values
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (self.msgid, self.values)


def _rebuild(msgid: str, values: dict[str, Any]) -> Wording:
    return Wording(msgid, **values)


def joined(first: str, second: str) -> Wording:
    """Two wordings as one text, each translated on its own."""
    return Wording("{first}; {second}", first=first, second=second)


__all__ = ["N_", "Wording", "english", "joined"]
