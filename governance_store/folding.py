"""Folding names written in any Latin script to plain ASCII, for matching what people type.

People type names without the letters their keyboard lacks: "Lodz" for "Łódź", "Lucja" for "Łucja",
"Abfuellung" or "Abfullung" for "Abfüllung".  Two forms of a text are compared:

* the *German* form spells ``ä ö ü`` as ``ae oe ue`` (how German is written without umlauts);
* the *plain* form drops every diacritic (``ä`` -> ``a``, ``ł`` -> ``l``).

Every other character is transliterated by ``anyascii`` (``ł`` -> ``l``, ``ß`` -> ``ss``, ``ø`` -> ``o``,
``ı`` -> ``i``; other scripts by their common romanisation), so for text without ``ä ö ü`` both forms
are the same.  Two texts are taken to be the same name when either form agrees: "Abfuellung" meets
"Abfüllung" in the German form and "Abfullung" meets it in the plain form, while words of other
languages are never rewritten ("puebla" stays "puebla", "Michał" is "michal" and not "Michael").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_UMLAUTS = frozenset("äöü")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def ascii_keeping_umlauts(text: str) -> str:
    """Casefolded ASCII of ``text`` with ``ä ö ü`` kept (the caller decides how to spell them)."""
    t = unicodedata.normalize("NFC", text.casefold())
    if t.isascii():
        return t
    out = []
    for ch in t:
        if ch.isascii() or ch in _UMLAUTS:
            out.append(ch)
        else:
            out.append(anyascii(ch).casefold())
    return "".join(out)


@lru_cache(maxsize=65_536)
def forms(text: str) -> tuple[str, str]:
    """(German form, plain form) of ``text``: casefolded ASCII, punctuation kept.

    >>> forms("Łódź Abfüllung")
    ('lodz abfuellung', 'lodz abfullung')
    """
    t = ascii_keeping_umlauts(text)
    if not any(ch in _UMLAUTS for ch in t):
        return t, t
    return t.translate(_GERMAN), anyascii(t)


def plain(text: str) -> str:
    """The plain form: casefolded ASCII without diacritics ("Łódź" -> "lodz", "Müller" -> "muller")."""
    return forms(text)[1]


def german(text: str) -> str:
    """The German form: ``ä ö ü`` as ``ae oe ue``, otherwise as :func:`plain`."""
    return forms(text)[0]


def name_keys(text: str) -> tuple[str, ...]:
    """The keys a person's, team's or place's name is found under: both forms, words separated by one space.

    Two names are the same when they share a key."""
    g, p = forms(text)
    g = " ".join(_NON_ALNUM.split(g)).strip()
    p = " ".join(_NON_ALNUM.split(p)).strip()
    return (g,) if g == p else (g, p)


def same_name(a: str, b: str) -> bool:
    return bool(set(name_keys(a)) & set(name_keys(b)))
