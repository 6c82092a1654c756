"""Site calendars: business hours in the site's time zone, minus its public holidays.

Intervals are built from local wall-clock times and converted with ``zoneinfo``,
so a business day that contains a DST change has its true length.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store.hours import ALWAYS, BusinessHours, parse_hours
from governance_store.models import Site, System

MAX_DAYS = 3660


@lru_cache(maxsize=64)
def _holiday_calendar(country: str | None, subdivision: str | None) -> holidays_lib.HolidayBase | None:
    if not country:
        return None
    try:
        return holidays_lib.country_holidays(country, subdiv=subdivision or None)
    except (NotImplementedError, KeyError):
        return holidays_lib.country_holidays(country) if country else None


@dataclass(frozen=True)
class SiteCalendar:
    timezone: str
    hours: BusinessHours
    country: str | None = None
    subdivision: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_holiday(self, day: dt.date) -> bool:
        cal = _holiday_calendar(self.country, self.subdivision)
        return cal is not None and day in cal

    def holiday_name(self, day: dt.date) -> str | None:
        cal = _holiday_calendar(self.country, self.subdivision)
        return cal.get(day) if cal is not None else None

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() in self.hours.days and not self.is_holiday(day)

    def intervals(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Business intervals (UTC) from ``start`` on, in order."""
        if self.hours.always:
            yield start, start + dt.timedelta(days=MAX_DAYS)
            return
        tz = self.tz
        day = start.astimezone(tz).date()
        for _ in range(MAX_DAYS):
            if self.is_business_day(day):
                lo = dt.datetime.combine(day, self.hours.start, tzinfo=tz).astimezone(dt.UTC)
                hi = dt.datetime.combine(day, self.hours.end, tzinfo=tz).astimezone(dt.UTC)
                if hi > start:
                    yield max(lo, start), hi
            day += dt.timedelta(days=1)

    def is_open(self, at: dt.datetime) -> bool:
        if self.hours.always:
            return True
        local = at.astimezone(self.tz)
        return self.is_business_day(local.date()) and self.hours.is_open(local)

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
        while counted < days:
            day += dt.timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        end_time = self.hours.end if not self.hours.always else dt.time(23, 59)
        return dt.datetime.combine(day, end_time, tzinfo=tz).astimezone(dt.UTC)


def for_site(site: Site | None, *, always: bool = False) -> SiteCalendar:
    if site is None:
        return SiteCalendar("UTC", ALWAYS if always else parse_hours("Mon-Fri 08:00-18:00"))
    return SiteCalendar(
        site.timezone or "UTC",
        ALWAYS if always else parse_hours(site.business_hours),
        site.country,
        site.holiday_subdivision,
    )


def for_system(system: System | None, *, session: Session, always: bool = False) -> SiteCalendar:
    site = None
    if system is not None and system.site_code:
        site = session.scalar(select(Site).where(Site.code == system.site_code))
    return for_site(site, always=always)


def add_business_days(now: dt.datetime, days: int, *, system: System | None, session: Session) -> dt.datetime:
    return for_system(system, session=session).add_business_days(now, days)
