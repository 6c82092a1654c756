"""Site business hours as plants write them, in the site's time zone.

A spec is ``24x7`` (also ``24/7``, ``always``, or nothing) or one or more groups of days with one or more
time ranges each::

    Mon-Fri 06:00-22:00                       Mo-Fr 06:00-22:00
    Lun-Vie 08:00-17:00                       Pn-Pt 07:00-15:00
    Mo-Fr 06:00-14:00, 14:00-22:00; Sa 06:00-12:00
    Mon,Wed,Fri 8-12                          lun.-ven. 8h-17h30
    Mon-Fri 22:00-06:00                       (a night shift: runs past midnight)
    Mon-Sun 00:00-24:00                       Po-Pá 6:00-14:00

Day names and abbreviations come from CLDR (through Babel) for English, German, Spanish, French, Italian,
Portuguese, Dutch, Polish and Czech: the wide, abbreviated and short names, any unambiguous beginning of a
wide name ("Mitt" for Mittwoch), and the first letter followed by later letters of the name as plants
abbreviate ("Pn" for poniedziałek, "Pt" for piątek).  Letters are compared without diacritics ("Sr" is
"Śr").  Some abbreviations mean different days in different languages ("So" is Sunday in German and
Saturday in Polish and Czech; "Do" is Thursday in German and Sunday in Spanish), so the whole spec is read
in one language: the site's own first (``languages``), then the others in the order of ``LANGUAGES``.

A window belongs to the day it starts on: "Mon-Fri 22:00-06:00" is open from Monday 22:00 to Tuesday 06:00,
and a public holiday on Tuesday does not cut Monday's night shift short.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from anyascii import anyascii

LANGUAGES = ("en", "de", "es", "fr", "it", "pt", "nl", "pl", "cs")
DAY = 24 * 60

_ALWAYS_WORDS = {"24x7", "24/7", "24 x 7", "always", "24x7x365", "24/7/365"}
_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "~": "-"})
_CLOCK = r"(\d{1,2})(?:\s*[:.h]\s*(\d{2}))?\s*h?"
_RANGE = re.compile(r"(?<![\w:.])" + _CLOCK + r"\s*-\s*" + _CLOCK + r"(?![\w:.])|(?<!\w)24\s*h(?!\w)", re.IGNORECASE)
_DAY_ITEM = re.compile(r"^(?P<a>[^\W\d_]+\.?)(?:\s*-\s*(?P<b>[^\W\d_]+\.?))?$")
_JOIN_WORDS = frozenset({"and", "und", "y", "e", "et", "i", "en"})
_JOINERS = re.compile(r"^(?:[,;/+&|]|and|und|y|e|et|i|en)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Window:
    """One weekly opening: ``day`` (0 Monday) from ``start`` to ``end`` minutes after that day's midnight;
    ``end`` beyond 1440 runs into the next day."""

    day: int
    start: int
    end: int


@dataclass(frozen=True)
class BusinessHours:
    windows: tuple[Window, ...]
    always: bool = False

    @property
    def days(self) -> frozenset[int]:
        """The weekdays a window starts on."""
        return frozenset(w.day for w in self.windows)

    @property
    def start(self) -> dt.time:
        """The earliest opening time of any day (for a single daily window: that window's start)."""
        return _clock(min((w.start for w in self.windows), default=0))

    @property
    def end(self) -> dt.time:
        """The latest closing time of any day on its own date (a window past midnight: 23:59)."""
        return _clock(max((min(w.end, DAY - 1) for w in self.windows), default=DAY - 1))

    def windows_on(self, weekday: int) -> list[tuple[int, int]]:
        """(start, end) minutes of the windows starting on ``weekday``, in order."""
        return sorted((w.start, w.end) for w in self.windows if w.day == weekday)

    def is_open(self, local: dt.datetime) -> bool:
        """Open at this local wall-clock time (holidays are the calendar's business)."""
        if self.always:
            return True
        minute = local.hour * 60 + local.minute
        today, yesterday = local.weekday(), (local.weekday() - 1) % 7
        for w in self.windows:
            if w.day == today and w.start <= minute < w.end:
                return True
            if w.day == yesterday and w.end > DAY and minute < w.end - DAY:
                return True
        return False

    def describe(self, locale: str | None = None) -> str:
        """``Mon-Fri 06:00-22:00``, with day names in ``locale`` (English by default)."""
        if self.always:
            return "24x7"
        names = _short_day_names(_language(locale) if locale else "en")
        groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
        for day in range(7):
            ranges = tuple(self.windows_on(day))
            if ranges:
                groups.setdefault(ranges, []).append(day)
        parts = []
        for ranges, days in sorted(groups.items(), key=lambda item: item[1][0]):
            spans = []
            run = [days[0]]
            for day in days[1:]:
                if day == run[-1] + 1:
                    run.append(day)
                else:
                    spans.append(run)
                    run = [day]
            spans.append(run)
            day_text = ",".join(names[r[0]] if len(r) == 1 else f"{names[r[0]]}-{names[r[-1]]}" for r in spans)
            times = ", ".join(f"{_hhmm(a)}-{_hhmm(b % DAY if b > DAY else b)}" for a, b in ranges)
            parts.append(f"{day_text} {times}")
        return "; ".join(parts)


def _clock(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60) if minutes < DAY else dt.time(23, 59)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


ALWAYS = BusinessHours(tuple(Window(d, 0, DAY) for d in range(7)), always=True)


# --------------------------------------------------------------------------- day names from CLDR


def _fold(word: str) -> str:
    return anyascii(word).casefold().strip(".").replace(" ", "")


def _language(locale: str) -> str:
    return locale.replace("-", "_").split("_", 1)[0].lower()


@lru_cache(maxsize=32)
def _short_day_names(language: str) -> tuple[str, ...]:
    from babel.core import UnknownLocaleError
    from babel.dates import get_day_names

    try:
        names = get_day_names("abbreviated", "format", language)
    except (UnknownLocaleError, ValueError):
        names = get_day_names("abbreviated", "format", "en")
    return tuple(str(names[d]).rstrip(".") for d in range(7))


@lru_cache(maxsize=16)
def _day_table(language: str) -> tuple[dict[str, int], tuple[tuple[str, int], ...]]:
    """(exact names and abbreviations -> weekday, (folded wide name, weekday) pairs) of one language."""
    from babel.dates import get_day_names

    exact: dict[str, int] = {}
    wide: list[tuple[str, int]] = []
    for context in ("format", "stand-alone"):
        for width in ("wide", "abbreviated", "short"):
            for day, name in get_day_names(width, context, language).items():
                exact.setdefault(_fold(str(name)), int(day))
                if width == "wide":
                    wide.append((_fold(str(name)), int(day)))
    return exact, tuple(dict.fromkeys(wide))


def _is_subsequence(short: str, long_: str) -> bool:
    rest = iter(long_)
    return all(c in rest for c in short)


def weekday(token: str, language: str) -> int | None:
    """The weekday (0 Monday) ``token`` names in ``language``, or None when it names none or several."""
    word = _fold(token)
    if len(word) < 2 or not word.isalpha():
        return None
    exact, wide = _day_table(language)
    if word in exact:
        return exact[word]
    for rule in (lambda name: name.startswith(word), lambda name: name[0] == word[0] and _is_subsequence(word, name)):
        found = {day for name, day in wide if rule(name)}
        if len(found) == 1:
            return found.pop()
        if found:
            return None
    return None


# --------------------------------------------------------------------------- parsing


def _minutes(hour: str, minute: str | None, *, end: bool) -> int:
    h, m = int(hour), int(minute or 0)
    if m > 59 or h > 24 or (h == 24 and m) or (h == 24 and not end):
        raise ValueError(f"{hour}:{minute or '00'} is not a time of day")
    return h * 60 + m


def _day_items(text: str) -> list[tuple[str, str | None]]:
    """``"Mo-Fr, Sa"`` -> [("Mo", "Fr"), ("Sa", None)]; raises ValueError for anything else."""
    items = []
    for part in re.split(r"[,;/+&|\s]+", re.sub(r"\s*-\s*", "-", text.strip())):
        if not part or part.casefold() in _JOIN_WORDS:
            continue
        m = _DAY_ITEM.match(part)
        if not m:
            raise ValueError(f"cannot read the days {text.strip()!r}")
        items.append((m["a"], m["b"]))
    if not items:
        raise ValueError(f"cannot read the days {text.strip()!r}")
    return items


def _read_days(items: list[tuple[str, str | None]], language: str) -> frozenset[int] | None:
    days: set[int] = set()
    for a, b in items:
        first = weekday(a, language)
        last = weekday(b, language) if b else first
        if first is None or last is None:
            return None
        days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
    return frozenset(days)


@lru_cache(maxsize=512)
def parse_hours(spec: str | None, languages: tuple[str, ...] = ()) -> BusinessHours:
    """Parse a business-hours spec; ``24x7`` (or nothing) means always open.

    ``languages`` are tried first for the day names (the site's language); raises ValueError with a
    reason a person can act on.

    >>> parse_hours("Mo-Fr 06:00-22:00").describe()
    'Mon-Fri 06:00-22:00'
    >>> parse_hours("Pn-Pt 07:00-15:00", ("pl",)).describe()
    'Mon-Fri 07:00-15:00'
    """
    if not spec or spec.strip().lower() in _ALWAYS_WORDS:
        return ALWAYS
    text = spec.translate(_DASHES).strip()
    groups: list[tuple[str, list[tuple[int, int]]]] = []
    pos = 0
    for m in _RANGE.finditer(text):
        before = text[pos:m.start()]
        if m.group(0).lower().replace(" ", "") == "24h":
            span = (0, DAY)
        else:
            try:
                span = (_minutes(m[1], m[2], end=False), _minutes(m[3], m[4], end=True))
            except ValueError as exc:
                raise ValueError(f"cannot read business hours {spec!r}: {exc}") from None
        if span[0] == span[1]:
            raise ValueError(f"cannot read business hours {spec!r}: {m.group(0).strip()} is an empty range")
        if _JOINERS.match(before.strip()) and groups:
            groups[-1][1].append(span)
        elif not before.strip(" ,;|"):
            raise ValueError(f"cannot read business hours {spec!r}: {m.group(0).strip()} has no days before it "
                             "(expected e.g. 'Mon-Fri 06:00-22:00' or '24x7')")
        else:
            groups.append((before, [span]))
        pos = m.end()
    if not groups:
        raise ValueError(f"cannot read business hours {spec!r}; expected e.g. 'Mon-Fri 06:00-22:00' or '24x7'")
    if text[pos:].strip(" ,;.|"):
        raise ValueError(f"cannot read business hours {spec!r}: {text[pos:].strip()!r} has no times after it")
    try:
        items = [_day_items(before) for before, _ in groups]
    except ValueError as exc:
        raise ValueError(f"cannot read business hours {spec!r}: {exc}") from None
    order = tuple(dict.fromkeys((*(_language(lang) for lang in languages if lang), *LANGUAGES)))
    for language in order:
        read = [_read_days(group, language) for group in items]
        if all(days is not None for days in read):
            break
    else:
        unknown = next((tok for group in items for a, b in group for tok in (a, b)
                        if tok and all(weekday(tok, lang) is None for lang in order)), None)
        raise ValueError(f"unknown weekday {unknown!r} in business hours {spec!r}") if unknown else ValueError(
            f"cannot read business hours {spec!r}: the day names mix languages")
    windows: set[Window] = set()
    for days, (_before, spans) in zip(read, groups, strict=True):
        assert days is not None
        for day in days:
            for start, end in spans:
                windows.add(Window(day, start, end if end > start else end + DAY))
    return BusinessHours(tuple(sorted(windows, key=lambda w: (w.day, w.start, w.end))))


def site_languages(language: str | None) -> tuple[str, ...]:
    """The languages to read a site's business hours in: its own first."""
    return (_language(language),) if language else ()


def local_time(now: dt.datetime, timezone: str | None) -> dt.datetime:
    return now.astimezone(ZoneInfo(timezone or "UTC"))
