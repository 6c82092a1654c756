"""Times as people read them: one zone per reader, always labelled.

Everything is stored in UTC.  What a person sees is shown in *their* zone — their own
(``Person.timezone``, from the directory or their chat profile) where it is known, else the zone of
the site the message is about, else UTC — and every time carries the zone's abbreviation, so a card or
page never shows "15:05 EDT" beside "15:05 UTC".  Callers pick the zone once per card or page with
:func:`zone_for` and format every time on it with :func:`stamp` or :func:`clock`.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from governance_store.models import Person

UTC = ZoneInfo("UTC")


def zone(name: str | ZoneInfo | None) -> ZoneInfo | None:
    """The zone called ``name``, or ``None`` when it is empty or not a known IANA zone."""
    if isinstance(name, ZoneInfo):
        return name
    if not name or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_for(person: Person | None, *, site: str | ZoneInfo | None = None) -> ZoneInfo:
    """The zone a reader sees times in: their own where known, else ``site``'s, else UTC."""
    return zone(person.timezone if person is not None else None) or zone(site) or UTC


def label(tz: ZoneInfo, at: dt.datetime) -> str:
    """The zone's abbreviation at ``at`` (``EDT``, ``CEST``); ``UTC+04`` where the zone has no letters."""
    name = at.astimezone(tz).tzname() or ""
    if name.isalpha():
        return name
    offset = at.astimezone(tz).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}" + (f":{rest:02d}" if rest else "")


def stamp(at: dt.datetime | None, tz: ZoneInfo, *, empty: str = "—") -> str:
    """``2025-06-04 10:15 EDT``."""
    if at is None:
        return empty
    return f"{at.astimezone(tz):%Y-%m-%d %H:%M} {label(tz, at)}"


def clock(at: dt.datetime | None, tz: ZoneInfo, *, empty: str = "—") -> str:
    """``10:15 EDT`` (the date is left out: for times on the day being talked about)."""
    if at is None:
        return empty
    return f"{at.astimezone(tz):%H:%M} {label(tz, at)}"


def describe(tz: ZoneInfo, at: dt.datetime) -> str:
    """How a page names its zone: ``America/New_York (EDT)``, ``UTC``."""
    short = label(tz, at)
    return tz.key if tz.key == short else f"{tz.key} ({short})"
