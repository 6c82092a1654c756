"""Site calendars: business hours in the site's time zone, minus its public holidays and plant shutdowns.

Intervals are built from local wall-clock times and converted with ``zoneinfo``, so a business day that
contains a DST change has its true length (and a country that abolished DST, such as Mexico in 2022,
simply has none).  Public holidays come from the ``holidays`` package for the site's country and, when the
package knows it, its subdivision; :meth:`SiteCalendar.holiday_note` says which calendar was used.  Plant
shutdown days are imported per site (``site_shutdowns``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store.hours import ALWAYS, DAY, BusinessHours, parse_hours, site_languages
from governance_store.models import Site, SiteShutdown, System

log = logging.getLogger(__name__)

MAX_DAYS = 3660
DEFAULT_HOURS = "Mon-Fri 08:00-18:00"
MAX_SHUTDOWN_DAYS = 366


@lru_cache(maxsize=64)
def _holiday_calendar(country: str | None, subdivision: str | None) -> holidays_lib.HolidayBase | None:
    if not country:
        return None
    try:
        return holidays_lib.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        return None
    except (KeyError, ValueError):
        try:
            return holidays_lib.country_holidays(country)
        except NotImplementedError:
            return None


def holiday_support(country: str | None, subdivision: str | None) -> tuple[bool, bool]:
    """(the package has a calendar for the country, ... and for the subdivision)."""
    if not country:
        return False, False
    try:
        cls = type(holidays_lib.country_holidays(country))
    except NotImplementedError:
        return False, False
    return True, bool(subdivision) and subdivision in getattr(cls, "subdivisions", ())


@dataclass(frozen=True)
class SiteCalendar:
    timezone: str
    hours: BusinessHours
    country: str | None = None
    subdivision: str | None = None
    # Plant shutdown days: (date, name).
    shutdowns: tuple[tuple[dt.date, str], ...] = ()
    # The region as the sites file names it (to say so when the holidays package does not know it).
    region: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _shutdown_days(self) -> dict[dt.date, str]:
        return dict(self.shutdowns)

    def is_holiday(self, day: dt.date) -> bool:
        if day in self._shutdown_days:
            return True
        cal = _holiday_calendar(self.country, self.subdivision)
        return cal is not None and day in cal

    def holiday_name(self, day: dt.date) -> str | None:
        if day in self._shutdown_days:
            return self._shutdown_days[day]
        cal = _holiday_calendar(self.country, self.subdivision)
        return cal.get(day) if cal is not None else None

    def holiday_note(self) -> str:
        """Which public-holiday calendar this site's clock uses, honestly."""
        country, subdivision = self.country, self.subdivision
        known, known_subdivision = holiday_support(country, subdivision)
        shutdowns = f"; {len(self._shutdown_days)} plant shutdown day(s)" if self._shutdown_days else ""
        if not country:
            return "no public holidays (the site has no country)" + shutdowns
        if not known:
            return f"no public holidays (no calendar for {country} in the holidays package)" + shutdowns
        if known_subdivision:
            return f"public holidays of {country}-{subdivision}" + shutdowns
        if self.region:
            return (f"national public holidays of {country} (the holidays package has no calendar for the "
                    f"region {self.region!r})") + shutdowns
        return f"national public holidays of {country}" + shutdowns

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() in self.hours.days and not self.is_holiday(day)

    def _windows(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The local windows starting on ``day`` (a window may end on the next day)."""
        if not self.is_business_day(day):
            return []
        tz = self.tz
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
        out = []
        for start, end in self.hours.windows_on(day.weekday()):
            lo = _wall(midnight, start)
            hi = _wall(midnight, end)
            out.append((lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)))
        return out

    def intervals(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Business intervals (UTC) from ``start`` on, in order, touching ones merged."""
        if self.hours.always:
            yield start, start + dt.timedelta(days=MAX_DAYS)
            return
        day = start.astimezone(self.tz).date() - dt.timedelta(days=1)  # yesterday's night shift may run on
        pending: tuple[dt.datetime, dt.datetime] | None = None
        for _ in range(MAX_DAYS):
            for lo, hi in self._windows(day):
                if hi <= start:
                    continue
                lo = max(lo, start)
                if pending is not None and lo <= pending[1]:
                    pending = (pending[0], max(pending[1], hi))
                    continue
                if pending is not None:
                    yield pending
                pending = (lo, hi)
            day += dt.timedelta(days=1)
        if pending is not None:
            yield pending

    def is_open(self, at: dt.datetime) -> bool:
        if self.hours.always:
            return True
        local_day = at.astimezone(self.tz).date()
        for day in (local_day - dt.timedelta(days=1), local_day):
            for lo, hi in self._windows(day):
                if lo <= at < hi:
                    return True
        return False

    def add_business_time(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant when ``duration`` of business time has passed after ``start``."""
        remaining = duration
        for lo, hi in self.intervals(start):
            span = hi - lo
            if remaining <= span:
                return lo + remaining
            remaining -= span
        raise ValueError("no business time within ten years")

    def business_time_between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        total = dt.timedelta(0)
        if end <= start:
            return total
        for lo, hi in self.intervals(start):
            if lo >= end:
                break
            total += min(hi, end) - lo
        return total

    def add_business_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """End of the ``days``-th business day after ``start``'s local date."""
        tz = self.tz
        day = start.astimezone(tz).date()
        counted = 0
        for _ in range(MAX_DAYS):
            if counted >= days:
                break
            day += dt.timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        if self.hours.always:
            return dt.datetime.combine(day, dt.time(23, 59), tzinfo=tz).astimezone(dt.UTC)
        ends = [end for _, end in self.hours.windows_on(day.weekday())] or [DAY - 1]
        return _wall(dt.datetime.combine(day, dt.time(0), tzinfo=tz), max(ends)).astimezone(dt.UTC)


def _wall(midnight: dt.datetime, minutes: int) -> dt.datetime:
    """Local wall-clock time ``minutes`` after ``midnight`` (aware arithmetic in one zone is wall-clock)."""
    return midnight + dt.timedelta(minutes=minutes)


def site_hours(site: Site | None) -> tuple[BusinessHours, str | None]:
    """A site's business hours and, when what is stored cannot be read, a warning (and 24x7 meanwhile).

    The importer refuses unreadable hours; a row stored before that check must not break answers or clocks.
    """
    if site is None:
        return parse_hours(DEFAULT_HOURS), None
    try:
        return parse_hours(site.business_hours, site_languages(site.language)), None
    except ValueError as exc:
        log.warning("site %s: %s; treated as 24x7", site.code, exc)
        return ALWAYS, (f"Business hours of {site.code} cannot be read ({site.business_hours!r}); "
                        "treated as 24x7 until the sites file is fixed and imported again")


def expand_shutdowns(rows: Iterable[SiteShutdown]) -> tuple[tuple[dt.date, str], ...]:
    out: dict[dt.date, str] = {}
    for row in rows:
        last = row.last_day or row.first_day
        day = row.first_day
        for _ in range(MAX_SHUTDOWN_DAYS):
            if day > last:
                break
            out.setdefault(day, row.name or "plant shutdown")
            day += dt.timedelta(days=1)
    return tuple(sorted(out.items()))


def shutdowns_of(site_code: str | None, *, session: Session) -> tuple[tuple[dt.date, str], ...]:
    if not site_code:
        return ()
    return expand_shutdowns(session.scalars(select(SiteShutdown).where(SiteShutdown.site_code == site_code)).all())


def for_site(site: Site | None, *, always: bool = False,
             shutdowns: tuple[tuple[dt.date, str], ...] = ()) -> SiteCalendar:
    if site is None:
        return SiteCalendar("UTC", ALWAYS if always else parse_hours(DEFAULT_HOURS))
    return SiteCalendar(
        site.timezone or "UTC",
        ALWAYS if always else site_hours(site)[0],
        site.country,
        site.holiday_subdivision,
        shutdowns,
        site.region,
    )


def for_system(system: System | None, *, session: Session, always: bool = False) -> SiteCalendar:
    site = None
    if system is not None and system.site_code:
        site = session.scalar(select(Site).where(Site.code == system.site_code))
    return for_site(site, always=always, shutdowns=shutdowns_of(site.code if site else None, session=session))


def add_business_days(now: dt.datetime, days: int, *, system: System | None, session: Session) -> dt.datetime:
    return for_system(system, session=session).add_business_days(now, days)
