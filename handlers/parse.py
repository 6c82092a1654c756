"""Understanding what was asked: free text and the command grammar, to one Intent.

Command grammar (the slash command uses it): ``who X``, ``raci X [activity]``,
``sla X``, ``deps X``, ``owns PERSON``, ``call X``, ``steward X``, ``help``.
Free text: "who owns X", "owner of X", "who is accountable for X", "who approves
changes to X", "who do I call about X", "who must be consulted for ACTIVITY on
X", "who is the data steward of X", "what SLA applies to X", "what depends on
X", "what does X depend on", "what does PERSON own"; and the same in German ("wem gehört X",
"wer ist zuständig für X", "wer genehmigt Änderungen an X", "wen rufe ich bei X an", "welche SLA gilt
für X", "was hängt von X ab", "was gehört PERSON").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>|<at>[^<]*</at>")
_TRAILING = re.compile(r"[\s?!.]+$")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


def clean(text: str) -> str:
    text = _MENTION.sub(" ", text.translate(_QUOTES))
    text = re.sub(r"^\s*@?govbot[:,]?\s+", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+", " ", text).strip()
    return _TRAILING.sub("", text)


def _strip_article(subject: str) -> str:
    subject = subject.strip().strip('"').strip("'").strip()
    return re.sub(r"^(?:the|a|an|our|my|der|die|das|den|dem|des|unsere[nmrs]?|meine[nmrs]?)\s+", "", subject,
                  flags=re.IGNORECASE).strip()


_FREE_TEXT: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^(?:who\s+(?:is\s+)?(?:the\s+)?data\s+steward\s+(?:of|for)|data\s+steward\s+(?:of|for))\s+(?P<x>.+)$", re.I), "steward", ""),
    (re.compile(r"^who\s+(?:can|may|must|should|does|will|would)?\s*approves?\s+(?:a\s+|the\s+)?(?:changes?|change\s+requests?)\s+(?:to|on|for|of)\s+(?P<x>.+)$", re.I), "approves", "A"),
    (re.compile(r"^who\s+(?:do|should|can|shall)\s+(?:i|we)\s+(?:call|contact|ring|page|ask)\s+(?:about|for|regarding|on|if)?\s*(?P<x>.+)$", re.I), "call", ""),
    (re.compile(r"^(?:who\s+(?:is\s+)?on[\s-]?call\s+for|on[\s-]?call\s+for|who\s+supports|support\s+for)\s+(?P<x>.+)$", re.I), "call", ""),
    (re.compile(r"^who\s+(?:is|are)\s+(?P<l>accountable|responsible)\s+(?:for|of)\s+(?P<x>.+)$", re.I), "raci_letter", ""),
    (
        re.compile(
            r"^who\s+(?:must|should|needs?\s+to|has\s+to|have\s+to|is\s+to|are\s+to|is|are|gets?)?\s*(?:be\s+)?"
            r"(?P<l>consulted|informed|responsible|accountable|told)\s+(?:for|about|on|when|if|of)\s+(?P<x>.+)$",
            re.I,
        ),
        "raci_letter_activity",
        "",
    ),
    (re.compile(r"^(?:what|which)\s+(?:sla|slas|service\s+levels?)\s+(?:applies|apply|is|are)?\s*(?:to|for|on)\s+(?P<x>.+)$", re.I), "sla", ""),
    (re.compile(r"^(?:sla|slas)\s+(?:of|for|on)\s+(?P<x>.+)$", re.I), "sla", ""),
    (re.compile(r"^(?:what|which\s+systems?|who)\s+(?:depends|relies)\s+on\s+(?P<x>.+)$", re.I), "depends_on_me", ""),
    (re.compile(r"^what\s+(?:else\s+)?(?:breaks|is\s+affected)\s+if\s+(?P<x>.+?)\s+(?:goes\s+down|fails|is\s+down|stops)$", re.I), "depends_on_me", ""),
    (re.compile(r"^what\s+does\s+(?P<x>.+?)\s+(?:depend|rely)\s+on$", re.I), "my_dependencies", ""),
    (re.compile(r"^(?:what|which\s+systems?)\s+(?:does|do)\s+(?P<x>.+?)\s+own$", re.I), "owns", ""),
    (re.compile(r"^(?:what|which\s+systems?)\s+(?:is|are)\s+owned\s+by\s+(?P<x>.+)$", re.I), "owns", ""),
    (re.compile(r"^(?:who\s+(?:owns|is\s+responsible\s+for\s+owning)|who'?s\s+the\s+owner\s+of|who\s+is\s+the\s+owner\s+of|owner\s+of|whose\s+is|who\s+runs|who\s+manages)\s+(?P<x>.+)$", re.I), "who_owns", ""),
]

# German, as asked at the German plants ("für" also typed "fuer" or "fur"; articles dropped from the subject).
_FUER = r"(?:f(?:ü|ue|u)r|von|bei|an|beim|zum|zur)"
_FREE_TEXT += [
    (re.compile(r"^wem\s+geh(?:ö|oe|o)rt\s+(?P<x>.+)$", re.I), "who_owns", ""),
    (re.compile(r"^wer\s+(?:ist|sind)\s+(?:der\s+|die\s+)?(?:eigent(?:ü|ue|u)mer(?:in)?|besitzer(?:in)?|owner|"
                r"verantwortliche[rn]?|systemverantwortliche[rn]?|anlagenverantwortliche[rn]?|ansprechpartner(?:in)?)\s+"
                r"(?:" + _FUER + r"|des|der|vom)\s+(?P<x>.+)$", re.I), "who_owns", ""),
    (re.compile(r"^wer\s+(?:ist|sind)\s+(?:verantwortlich|zust(?:ä|ae|a)ndig)\s+" + _FUER + r"\s+(?P<x>.+)$", re.I),
     "who_owns", ""),
    (re.compile(r"^wer\s+(?:betreut|verwaltet|besitzt)\s+(?P<x>.+)$", re.I), "who_owns", ""),
    (re.compile(r"^(?:eigent(?:ü|ue|u)mer|besitzer|verantwortliche[rn]?|ansprechpartner)\s+(?:" + _FUER + r"|des|der|vom)\s+"
                r"(?P<x>.+)$", re.I), "who_owns", ""),
    (re.compile(r"^wer\s+(?:genehmigt|gibt|darf)\s+(?:(?:(?:ä|ae|a)nderungen|changes?)\s+)?(?:an|am|auf|f(?:ü|ue|u)r)\s+"
                r"(?P<x>.+?)(?:\s+frei|\s+genehmigen|\s+freigeben)?$", re.I), "approves", "A"),
    (re.compile(r"^wen\s+(?:rufe\s+ich|rufen\s+wir|soll\s+ich|kann\s+ich|muss\s+ich)\s+(?:an\s+|anrufen\s+|fragen\s+|"
                r"kontaktieren\s+)?(?:bei|wegen|f(?:ü|ue|u)r|zu)\s+(?P<x>.+?)(?:\s+an|\s+anrufen|\s+fragen)?$", re.I),
     "call", ""),
    (re.compile(r"^(?:wer\s+hat\s+)?(?:ruf)?bereitschaft\s+" + _FUER + r"\s+(?P<x>.+)$", re.I), "call", ""),
    (re.compile(r"^(?:welche[sr]?\s+)?(?:sla|slas)\s+(?:gilt|gelten)?\s*" + _FUER + r"\s+(?P<x>.+)$", re.I), "sla", ""),
    (re.compile(r"^was\s+h(?:ä|ae|a)ngt\s+(?:alles\s+)?(?:von|vom|an|am)\s+(?P<x>.+?)\s+ab$", re.I), "depends_on_me", ""),
    (re.compile(r"^wovon\s+h(?:ä|ae|a)ngt\s+(?P<x>.+?)\s+ab$", re.I), "my_dependencies", ""),
    (re.compile(r"^(?:was|welche\s+systeme)\s+geh(?:ö|oe|o)r(?:t|en)\s+(?P<x>.+)$", re.I), "owns", ""),
]

_COMMANDS = {
    "who": "who_owns", "owner": "who_owns", "owns": "owns", "raci": "raci", "sla": "sla", "deps": "deps",
    "call": "call", "oncall": "call", "steward": "steward", "help": "help", "hilfe": "help",
}


_FREE_VERB = re.compile(
    r"^(?:owns|is|are|do|does|must|should|can|may|approves?|supports|runs|manages|needs?|has|have|gets?|'s)\b", re.I
)


def _split_activity_subject(rest: str) -> tuple[str, str]:
    """'firmware update on PLC-FIL-L3-07' -> ('firmware update', 'PLC-FIL-L3-07')."""
    for sep in (" on ", " for ", " to ", " of ", " at ", " in "):
        idx = rest.lower().rfind(sep)
        if idx > 0:
            return rest[:idx].strip(), rest[idx + len(sep):].strip()
    return "", rest


def parse(text: str) -> Intent:
    t = clean(text)
    if not t or t.lower() in ("help", "?", "hilfe", "usage", "commands"):
        return Intent("help")
    head, _, rest = t.partition(" ")
    cmd = _COMMANDS.get(head.lower())
    rest = rest.strip()
    if cmd is not None and not (head.lower() == "who" and _FREE_VERB.match(rest)):
        if cmd == "help":
            return Intent("help")
        rest = re.sub(r"^(?:of|for|on|about|to)\s+", "", rest, flags=re.I)
        if not rest:
            return Intent("help", subject=head.lower())
        if cmd == "raci":
            subject, activity = _split_raci(rest)
            return Intent("raci", subject=_strip_article(subject), activity=activity, explicit_activity=bool(activity))
        return Intent(cmd, subject=_strip_article(rest))
    for pattern, name, letter in _FREE_TEXT:
        m = pattern.match(t)
        if not m:
            continue
        subject = m.group("x")
        if name == "raci_letter":
            letter = "A" if m.group("l").lower() == "accountable" else "R"
            return Intent("accountable" if letter == "A" else "responsible", subject=_strip_article(subject), letter=letter)
        if name == "raci_letter_activity":
            word = m.group("l").lower()
            letter = {"consulted": "C", "informed": "I", "told": "I", "responsible": "R", "accountable": "A"}[word]
            activity, subject = _split_activity_subject(subject)
            if not activity:
                return Intent("accountable" if letter == "A" else "raci", subject=_strip_article(subject), letter=letter)
            return Intent("raci", subject=_strip_article(subject), activity=activity, letter=letter, explicit_activity=True)
        return Intent(name, subject=_strip_article(subject), letter=letter)
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
