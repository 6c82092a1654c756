"""Understanding what was asked: free text in the languages of ``handlers/languages/`` and the command
grammar, to one Intent.

Command grammar (the slash command uses it; the same in every language): ``who X``, ``raci X [activity]``,
``sla X``, ``deps X``, ``owns PERSON``, ``call X``, ``steward X``, ``help``.
Free text: the phrases of each language file ("who owns X", "wem gehört X", "¿quién es el dueño de X?",
"kto jest właścicielem X", "qui est le propriétaire de X" ...).  The intent remembers which language
the question was asked in (``language``, empty when the words belong to no language in particular).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers import phrasebook

INTENTS = (
    "help", "who_owns", "accountable", "responsible", "approves", "call", "raci", "steward", "sla",
    "depends_on_me", "my_dependencies", "owns", "not_understood",
)


@dataclass(frozen=True)
class Intent:
    name: str
    subject: str = ""
    activity: str = ""
    letter: str = ""  # R, A, C or I when the question asks for one RACI role
    explicit_activity: bool = False
    # The language the question was asked in when only one language has its words (``es``); else "".
    language: str = ""
    # The language to answer in (a locale such as ``pl-PL``), decided by the router; "" until then.
    locale: str = ""
    # "who must be consulted for X on Y": X and Y together, in case X is not an activity after all.
    whole: str = ""


_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>|<at>[^<]*</at>")
_TRAILING = re.compile(r"[\s?!.¿¡]+$")
_LEADING = re.compile(r"^[\s¿¡]+")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "«": '"', "»": '"'})


def clean(text: str) -> str:
    text = _MENTION.sub(" ", text.translate(_QUOTES))
    text = re.sub(r"^\s*@?govbot[:,]?\s+", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+", " ", text).strip()
    return _LEADING.sub("", _TRAILING.sub("", text))


_COMMAND_ARTICLES = ("the", "a", "an", "our", "my", "der", "die", "das", "den", "dem", "des", "unsere", "unseren",
                     "unserem", "unserer", "unsers", "meine", "meinen", "meinem", "meiner", "meins")


def _strip_article(subject: str, words: frozenset[str] | tuple[str, ...] = _COMMAND_ARTICLES) -> str:
    """The subject without quotes and without the small words in front of it ("the", "la", "del")."""
    subject = subject.strip().strip('"').strip("'").strip()
    parts = subject.split()
    while len(parts) > 1 and phrasebook.fold_text(parts[0]).casefold() in words:
        parts.pop(0)
    return " ".join(parts)


def _free_text(t: str) -> Intent | None:
    """The first phrase of any language that the whole text is; English first."""
    folded = phrasebook.fold_text(t)
    found: list[tuple[str, phrasebook.Phrase, re.Match[str]]] = []
    for code, lang in phrasebook.languages().items():
        for phrase in lang.phrases:
            m = phrase.pattern.match(folded)
            if m:
                found.append((code, phrase, m))
                break
    if not found:
        return None
    code, phrase, m = found[0]
    spoken = {c for c, _, _ in found}
    language = code if len(spoken) == 1 else ""
    if phrase.intent == "help":
        return Intent("help", language=language)
    lang = phrasebook.languages()[code]
    articles = lang.filler_words | set(_COMMAND_ARTICLES)
    subject = _strip_article(t[m.start("x"):m.end("x")], articles)
    letter = phrasebook.LETTERS.get(phrase.intent, "")
    if phrase.has_activity:
        activity = _strip_article(t[m.start("a"):m.end("a")], articles)
        whole = t[m.start("a"):m.end("x")]
        return Intent("raci", subject=subject, activity=activity, letter=letter, explicit_activity=True,
                      language=language, whole=whole)
    if phrase.intent in ("consulted", "informed"):
        return Intent("raci", subject=subject, letter=letter, language=language)
    return Intent(phrase.intent, subject=subject, letter=letter, language=language)


_COMMANDS = {
    "who": "who_owns", "owner": "who_owns", "owns": "owns", "raci": "raci", "sla": "sla", "deps": "deps",
    "call": "call", "oncall": "call", "steward": "steward", "help": "help", "hilfe": "help",
}


def parse(text: str) -> Intent:
    t = clean(text)
    if not t or t.lower() in ("help", "?", "hilfe", "usage", "commands"):
        return Intent("help")
    head, _, rest = t.partition(" ")
    cmd = _COMMANDS.get(head.lower())
    rest = rest.strip()
    free = _free_text(t)
    if free is not None and (cmd is None or head.lower() == "who" or free.language or cmd == "help"):
        return free
    if cmd is not None:
        if cmd == "help":
            return Intent("help")
        rest = re.sub(r"^(?:of|for|on|about|to)\s+", "", rest, flags=re.I)
        if not rest:
            return Intent("help", subject=head.lower())
        if cmd == "raci":
            subject, activity = _split_raci(rest)
            return Intent("raci", subject=_strip_article(subject), activity=activity, explicit_activity=bool(activity))
        return Intent(cmd, subject=_strip_article(rest))
    if free is not None:
        return free
    return Intent("not_understood", subject=t)


def _split_raci(rest: str) -> tuple[str, str]:
    """``raci X [activity]``: quoted X, ``X for ACTIVITY``, ``X | ACTIVITY`` or ``X ACTIVITY``.

    Without a separator the whole text is returned as X; the handler then tries
    the longest prefix that names a system and treats the rest as the activity.
    """
    m = re.match(r'^"(?P<x>[^"]+)"\s*(?P<a>.*)$', rest)
    if m:
        return m.group("x"), m.group("a").strip()
    if "|" in rest:
        x, _, a = rest.partition("|")
        return x.strip(), a.strip()
    m = re.match(r"^(?P<x>.+?)\s+(?:for|activity)\s+(?P<a>.+)$", rest, re.I)
    if m:
        return m.group("x"), m.group("a").strip()
    return rest, ""
