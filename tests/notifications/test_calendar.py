"""Business time across DST changes and public holidays, in both sample time zones."""

from __future__ import annotations

import datetime as dt

import pytest

from governance_store.calendar import SiteCalendar
from governance_store.hours import parse_hours

UTC = dt.UTC


def cal(tz: str, spec: str, country: str | None = None, subdiv: str | None = None) -> SiteCalendar:
    return SiteCalendar(tz, parse_hours(spec), country, subdiv)


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        ("America/New_York", dt.date(2025, 3, 9), 3),   # spring forward: 02:00 -> 03:00
        ("Europe/Berlin", dt.date(2025, 3, 30), 3),
        ("Europe/Berlin", dt.date(2025, 10, 26), 5),    # fall back: 03:00 -> 02:00
        ("America/New_York", dt.date(2025, 11, 2), 5),
    ],
)
def test_business_window_spanning_a_dst_change_has_its_real_length(tz: str, day: dt.date, hours: int) -> None:
    c = cal(tz, "Mon-Sun 01:00-05:00")
    start = dt.datetime.combine(day, dt.time(0), tzinfo=c.tz).astimezone(UTC)
    end = dt.datetime.combine(day, dt.time(23), tzinfo=c.tz).astimezone(UTC)
    assert c.business_time_between(start, end) == dt.timedelta(hours=hours)


def test_adding_business_time_over_a_weekend_with_dst() -> None:
    findlay = cal("America/New_York", "Mon-Fri 06:00-22:00", "US", "OH")
    friday_evening = dt.datetime(2025, 3, 7, 21, 0, tzinfo=findlay.tz)  # EST
    due = findlay.add_business_time(friday_evening.astimezone(UTC), dt.timedelta(hours=2))
    # One hour on Friday, one on Monday from 06:00 — now EDT (UTC-4).
    assert due == dt.datetime(2025, 3, 10, 11, 0, tzinfo=UTC)


def test_regensburg_october_change() -> None:
    rgb = cal("Europe/Berlin", "Mo-Fr 06:00-22:00", "DE", "BY")
    friday = dt.datetime(2025, 10, 24, 21, 30, tzinfo=rgb.tz)  # CEST
    due = rgb.add_business_time(friday.astimezone(UTC), dt.timedelta(hours=1))
    assert due == dt.datetime(2025, 10, 27, 6, 30, tzinfo=rgb.tz).astimezone(UTC)
    assert due == dt.datetime(2025, 10, 27, 5, 30, tzinfo=UTC)  # CET is UTC+1


def test_public_holidays_per_subdivision() -> None:
    findlay = cal("America/New_York", "Mon-Fri 06:00-22:00", "US", "OH")
    rgb = cal("Europe/Berlin", "Mo-Fr 06:00-22:00", "DE", "BY")
    assert not findlay.is_business_day(dt.date(2025, 7, 4))
    assert rgb.is_business_day(dt.date(2025, 7, 4))
    # Corpus Christi is a holiday in Bavaria, not everywhere in Germany nor in Ohio.
    assert not rgb.is_business_day(dt.date(2025, 6, 19))
    assert cal("Europe/Berlin", "Mo-Fr 06:00-22:00", "DE", "BE").is_business_day(dt.date(2025, 6, 19))
    assert "Juneteenth" in (findlay.holiday_name(dt.date(2025, 6, 19)) or ""), "same day, another holiday"
    # All Saints' Day 2024 (a Friday): Bavaria rests, Ohio works.
    assert not rgb.is_business_day(dt.date(2024, 11, 1))
    assert findlay.is_business_day(dt.date(2024, 11, 1))
    thursday = dt.datetime(2025, 7, 3, 21, 0, tzinfo=findlay.tz).astimezone(UTC)
    assert findlay.add_business_time(thursday, dt.timedelta(hours=2)) == dt.datetime(2025, 7, 7, 11, 0, tzinfo=UTC)


def test_24x7_ignores_hours_and_holidays() -> None:
    always = cal("Europe/Berlin", "24x7", "DE", "BY")
    start = dt.datetime(2025, 12, 24, 23, 0, tzinfo=UTC)
    assert always.add_business_time(start, dt.timedelta(hours=30)) == start + dt.timedelta(hours=30)
