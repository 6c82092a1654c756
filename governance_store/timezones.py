"""Time zones named in exports: an IANA name, ``UTC``/``GMT``/``Z``, or an offset such as ``UTC-06:00``."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_OFFSET_ZONE = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def zone_named(text: str) -> dt.tzinfo | None:
    """The time zone ``text`` names: an IANA name (``America/Mexico_City``), ``UTC``/``GMT``/``Z``, or an
    offset (``UTC-06:00``, ``+01:00``); None for anything else."""
    t = text.strip()
    if t.upper() in ("UTC", "GMT", "Z"):
        return dt.UTC
    m = _OFFSET_ZONE.match(t)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        if minutes > 14 * 60:
            return None
        return dt.timezone(dt.timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
    if "/" in t and " " not in t:
        try:
            return ZoneInfo(t)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return None
