"""The languages govbot understands, read from ``handlers/languages/<code>.toml`` (one file per language).

A language file holds the phrases people ask questions with (``[questions]``), words for places and
machines grouped under an English word (``[words]``: "línea" and "linia" are "line", "horno" and "piec"
are "oven") and the small words that are never part of a system's name (``filler_words``).  The file
format is described at the top of ``en.toml``; nothing here knows any language.

Phrase syntax: ``{system}``, ``{person}``, ``{activity}`` are what the question is about; ``(a|b)`` is one
of the alternatives, ``[a|b]`` one of them or nothing; letters match with or without their accents, and
German ``ä ö ü`` also as ``ae oe ue``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from anyascii import anyascii

from governance_store.lookup import Vocabulary

LANGUAGE_DIR = Path(__file__).resolve().parent / "languages"
# Which RACI letter a question about one role asks for.
LETTERS = {"accountable": "A", "responsible": "R", "consulted": "C", "informed": "I", "approves": "A"}
INTENTS = ("help", "who_owns", "accountable", "responsible", "consulted", "informed", "approves", "call",
           "steward", "sla", "depends_on_me", "my_dependencies", "owns")
PLACEHOLDERS = {"system": "x", "person": "x", "activity": "a"}

_SEP = r"(?:\s+|(?<=['’]))"  # words are separated by spaces, or glued after an apostrophe ("de l'usine")
_GERMAN = {"ä": "(?:a|ae)", "ö": "(?:o|oe)", "ü": "(?:u|ue)", "ß": "(?:ß|ss)"}
_ITEM = re.compile(r"\{(\w+)\}|\(([^()]*)\)|\[([^\[\]]*)\]|([^\s()\[\]{}]+)")


def fold_char(ch: str) -> str:
    """One character without its accents, when that is one character ("ł" -> "l"); else itself ("ß")."""
    if ch.isascii():
        return ch
    plain = anyascii(ch)
    return plain if len(plain) == 1 else ch


def fold_text(text: str) -> str:
    """``text`` without accents, character for character (so positions in it are positions in ``text``)."""
    return text if text.isascii() else "".join(fold_char(c) for c in text)


def _literal(word: str) -> str:
    out = []
    for ch in word.casefold():
        if ch in _GERMAN:
            out.append(_GERMAN[ch])
        elif ch in "'’":
            out.append("['’]")
        else:
            out.append(re.escape(fold_char(ch).casefold()))
    return "".join(out)


def _words(text: str) -> str:
    return r"\s+".join(_literal(w) for w in text.split())


def compile_phrase(phrase: str) -> tuple[re.Pattern[str], frozenset[str]]:
    """The regular expression of one phrase, and the placeholders it has."""
    pieces: list[tuple[str, bool]] = []
    names: set[str] = set()
    pos = 0
    for m in _ITEM.finditer(phrase):
        if phrase[pos:m.start()].strip():
            raise ValueError(f"cannot read {phrase!r} at {phrase[pos:m.start()]!r}")
        pos = m.end()
        placeholder, required, optional, word = m.groups()
        if placeholder is not None:
            if placeholder not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {{{placeholder}}} in {phrase!r} "
                                 f"(known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
            group = PLACEHOLDERS[placeholder]
            if group in names:
                raise ValueError(f"{phrase!r} names the {placeholder} twice")
            names.add(group)
            pieces.append((f"(?P<{group}>.+?)", False))
        elif required is not None or optional is not None:
            choices = [c.strip() for c in (required if required is not None else optional).split("|")]
            if not all(choices):
                raise ValueError(f"empty alternative in {phrase!r}")
            pieces.append(("(?:" + "|".join(sorted((_words(c) for c in choices), key=len, reverse=True)) + ")",
                           optional is not None))
        else:
            pieces.append((_literal(word), False))
    if phrase[pos:].strip():
        raise ValueError(f"cannot read {phrase!r} at {phrase[pos:]!r}")
    if not pieces:
        raise ValueError("empty phrase")
    regex, started = "", False
    for piece, optional in pieces:
        if not started:
            # Until the first required piece, an absent optional piece takes its separator with it.
            regex += f"(?:{piece}{_SEP})?" if optional else piece
            started = not optional
        else:
            regex += f"(?:{_SEP}{piece})?" if optional else f"{_SEP}{piece}"
    return re.compile(f"^{regex}$", re.IGNORECASE), frozenset(names)


@dataclass(frozen=True)
class Phrase:
    intent: str
    text: str
    pattern: re.Pattern[str]
    has_activity: bool


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    filler_words: frozenset[str]
    words: dict[str, tuple[str, ...]]
    phrases: tuple[Phrase, ...]


def read_language(path: Path) -> Language:
    """One language file; a ValueError names the file and what is wrong in it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        head = data.get("language", {})
        code = str(head.get("code") or path.stem)
        phrases: list[Phrase] = []
        for intent, texts in data.get("questions", {}).items():
            if intent not in INTENTS:
                raise ValueError(f"unknown question kind {intent!r} (known: {', '.join(INTENTS)})")
            for text in ([texts] if isinstance(texts, str) else texts):
                pattern, names = compile_phrase(str(text))
                if intent == "help" and names:
                    raise ValueError(f"help phrase {text!r} cannot have a placeholder")
                if intent != "help" and "x" not in names:
                    raise ValueError(f"{intent} phrase {text!r} needs {{system}} or {{person}}")
                phrases.append(Phrase(intent, str(text), pattern, "a" in names))
        words = {str(k).casefold(): tuple(str(w) for w in v) for k, v in data.get("words", {}).items()}
        fillers = head.get("filler_words", data.get("filler_words", ()))
        return Language(code, str(head.get("name") or code), frozenset(fold_text(str(w)).casefold() for w in fillers),
                        words, tuple(phrases))
    except (tomllib.TOMLDecodeError, ValueError, re.error) as exc:
        raise ValueError(f"{path}: {exc}") from None


@lru_cache(maxsize=4)
def languages(directory: Path = LANGUAGE_DIR) -> dict[str, Language]:
    """Every language file, English first, then by code."""
    found = {lang.code: lang for lang in map(read_language, sorted(directory.glob("*.toml")))}
    return dict(sorted(found.items(), key=lambda item: (item[0] != "en", item[0])))


@lru_cache(maxsize=4)
def vocabulary(directory: Path = LANGUAGE_DIR) -> Vocabulary:
    """The words of every language for the system index: line words, groups of one meaning, filler words."""
    langs = languages(directory).values()
    groups: dict[str, set[str]] = {}
    for lang in langs:
        for concept, words in lang.words.items():
            groups.setdefault(concept, {concept}).update(w for w in words if " " not in w.strip())
    line_words = groups.get("line", {"line"})
    return Vocabulary(
        line_words=line_words,
        groups=[g for concept, g in groups.items() if concept != "line" and len(g) > 1],
        stop_words={w for lang in langs for w in lang.filler_words},
    )
