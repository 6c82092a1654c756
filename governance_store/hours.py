"""Site business hours ("Mon-Fri 06:00-22:00", "Mo-Fr 06:00-22:00", "24x7") in the site's time zone."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

_DAYS = {
    "mon": 0, "mo": 0, "tue": 1, "tu": 1, "di": 1, "wed": 2, "we": 2, "mi": 2, "thu": 3, "th": 3, "do": 3,
    "fri": 4, "fr": 4, "sat": 5, "sa": 5, "sun": 6, "su": 6, "so": 6,
}
_SPEC = re.compile(r"^\s*(?P<d1>[A-Za-z]{2,3})\s*-\s*(?P<d2>[A-Za-z]{2,3})\s+(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*$")


@dataclass(frozen=True)
class BusinessHours:
    days: frozenset[int]
    start: dt.time
    end: dt.time
    always: bool = False

    def describe(self) -> str:
        if self.always:
            return "24x7"
        names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        ds = sorted(self.days)
        span = f"{names[ds[0]]}-{names[ds[-1]]}" if len(ds) > 1 else names[ds[0]]
        return f"{span} {self.start:%H:%M}-{self.end:%H:%M}"

    def is_open(self, local: dt.datetime) -> bool:
        if self.always:
            return True
        return local.weekday() in self.days and self.start <= local.time() < self.end


ALWAYS = BusinessHours(frozenset(range(7)), dt.time(0), dt.time(23, 59, 59), always=True)


@lru_cache(maxsize=256)
def parse_hours(spec: str | None) -> BusinessHours:
    """Parse a business-hours spec; ``24x7`` (or nothing) means always open.

    >>> parse_hours("Mo-Fr 06:00-22:00").describe()
    'Mon-Fri 06:00-22:00'
    """
    if not spec or spec.strip().lower() in ("24x7", "24/7", "always"):
        return ALWAYS
    m = _SPEC.match(spec)
    if not m:
        raise ValueError(f"cannot read business hours {spec!r}; expected e.g. 'Mon-Fri 06:00-22:00' or '24x7'")
    d1, d2 = _DAYS.get(m["d1"].lower()), _DAYS.get(m["d2"].lower())
    if d1 is None or d2 is None:
        raise ValueError(f"unknown weekday in business hours {spec!r}")
    days = frozenset(range(d1, d2 + 1)) if d1 <= d2 else frozenset(list(range(d1, 7)) + list(range(0, d2 + 1)))
    return BusinessHours(days, dt.time(int(m["h1"]), int(m["m1"])), dt.time(int(m["h2"]), int(m["m2"])))


def local_time(now: dt.datetime, timezone: str | None) -> dt.datetime:
    return now.astimezone(ZoneInfo(timezone or "UTC"))
