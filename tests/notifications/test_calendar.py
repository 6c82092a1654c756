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


# --------------------------------------------------------------------------- six countries, as their plants write hours


def local_cal(tz: str, spec: str, language: str, country: str, subdiv: str | None = None,
              region: str | None = None, shutdowns: tuple[tuple[dt.date, str], ...] = ()) -> SiteCalendar:
    return SiteCalendar(tz, parse_hours(spec, (language,)), country, subdiv, shutdowns, region)


def business_hours_on(c: SiteCalendar, day: dt.date) -> dt.timedelta:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=c.tz).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=c.tz).astimezone(UTC)
    return c.business_time_between(start, end)


@pytest.mark.parametrize(
    ("tz", "spec", "language", "country", "subdiv", "holiday", "working_day"),
    [
        ("America/New_York", "Mon-Fri 06:00-22:00", "en", "US", "OH", dt.date(2025, 7, 4), dt.date(2025, 7, 3)),
        ("Europe/Berlin", "Mo-Fr 06:00-22:00", "de", "DE", "BY", dt.date(2025, 6, 19), dt.date(2025, 6, 18)),
        ("America/Mexico_City", "Lun-Vie 07:00-15:00", "es", "MX", None, dt.date(2025, 9, 16), dt.date(2025, 9, 17)),
        ("Europe/Warsaw", "Pn-Pt 06:00-14:00", "pl", "PL", "10", dt.date(2025, 11, 11), dt.date(2025, 11, 12)),
        ("Europe/Madrid", "lun.-vie. 9:00-18:00", "es", "ES", "MD", dt.date(2025, 5, 2), dt.date(2025, 5, 5)),
        ("Europe/Prague", "Po-Pá 6:00-14:00", "cs", "CZ", None, dt.date(2025, 10, 28), dt.date(2025, 10, 29)),
        ("America/Sao_Paulo", "seg-sex 08:00-17:00", "pt", "BR", None, dt.date(2025, 4, 21), dt.date(2025, 4, 22)),
    ],
)
def test_public_holidays_and_working_days_in_seven_countries(
    tz: str, spec: str, language: str, country: str, subdiv: str | None, holiday: dt.date, working_day: dt.date
) -> None:
    c = local_cal(tz, spec, language, country, subdiv)
    assert not c.is_business_day(holiday) and c.holiday_name(holiday)
    assert c.is_business_day(working_day)
    assert business_hours_on(c, holiday) == dt.timedelta(0)
    hours = parse_hours(spec, (language,)).windows_on(working_day.weekday())
    assert business_hours_on(c, working_day) == dt.timedelta(minutes=sum(b - a for a, b in hours))


def test_madrid_regional_holiday_is_not_catalonias() -> None:
    madrid = local_cal("Europe/Madrid", "lun.-vie. 9:00-18:00", "es", "ES", "MD")
    barcelona = local_cal("Europe/Madrid", "lun.-vie. 9:00-18:00", "es", "ES", "CT")
    assert not madrid.is_business_day(dt.date(2025, 5, 2))  # Fiesta de la Comunidad de Madrid
    assert barcelona.is_business_day(dt.date(2025, 5, 2))


@pytest.mark.parametrize(
    ("tz", "spec", "language", "day", "hours"),
    [
        ("Europe/Warsaw", "Pn-Nd 00:00-24:00", "pl", dt.date(2025, 3, 30), 23),  # spring forward
        ("Europe/Warsaw", "Pn-Nd 00:00-24:00", "pl", dt.date(2025, 10, 26), 25),  # fall back
        ("Europe/Madrid", "lun-dom 00:00-24:00", "es", dt.date(2025, 10, 26), 25),
        ("Europe/Prague", "Po-Ne 00:00-24:00", "cs", dt.date(2025, 3, 30), 23),
        # Mexico abolished daylight saving time in 2022: the old change days are ordinary.
        ("America/Mexico_City", "Lun-Dom 00:00-24:00", "es", dt.date(2025, 4, 6), 24),
        ("America/Mexico_City", "Lun-Dom 00:00-24:00", "es", dt.date(2025, 10, 26), 24),
        ("America/Mexico_City", "Lun-Dom 00:00-24:00", "es", dt.date(2021, 4, 4), 23),  # before the abolition
        # So did Brazil, in 2019.
        ("America/Sao_Paulo", "seg-dom 00:00-24:00", "pt", dt.date(2025, 11, 2), 24),
    ],
)
def test_days_with_and_without_a_daylight_saving_change(tz: str, spec: str, language: str, day: dt.date,
                                                         hours: int) -> None:
    c = local_cal(tz, spec, language, "", None)
    assert business_hours_on(c, day) == dt.timedelta(hours=hours)


def test_mexico_keeps_utc_minus_six_all_year() -> None:
    puebla = local_cal("America/Mexico_City", "Lun-Vie 07:00-15:00", "es", "MX", None, "Puebla")
    for month in (1, 4, 7, 11):
        assert dt.datetime(2025, month, 15, 12, tzinfo=puebla.tz).utcoffset() == dt.timedelta(hours=-6)
    # A Friday 14:00 request with two business hours left: one on Friday, one on Monday 07:00-08:00.
    due = puebla.add_business_time(dt.datetime(2025, 4, 4, 14, 0, tzinfo=puebla.tz).astimezone(UTC),
                                   dt.timedelta(hours=2))
    assert due == dt.datetime(2025, 4, 7, 14, 0, tzinfo=UTC)


def test_night_shift_across_a_polish_dst_change_and_a_holiday() -> None:
    lodz = local_cal("Europe/Warsaw", "Pn-Sb 22:00-06:00", "pl", "PL", "10")
    # Saturday 22:00 to Sunday 06:00 on the night clocks go forward lasts seven hours.
    sat = dt.datetime(2025, 3, 29, 21, 0, tzinfo=lodz.tz).astimezone(UTC)
    assert lodz.business_time_between(sat, sat + dt.timedelta(hours=12)) == dt.timedelta(hours=7)
    assert lodz.is_open(dt.datetime(2025, 3, 30, 5, 0, tzinfo=lodz.tz))  # Saturday's shift, on Sunday
    assert not lodz.is_open(dt.datetime(2025, 3, 30, 23, 0, tzinfo=lodz.tz))  # no shift starts on Sunday
    # Independence Day (Tuesday 11 November): no shift starts that evening; Monday's runs into Tuesday.
    assert lodz.is_open(dt.datetime(2025, 11, 11, 5, 0, tzinfo=lodz.tz))
    assert not lodz.is_open(dt.datetime(2025, 11, 11, 23, 0, tzinfo=lodz.tz))


def test_holiday_note_says_which_calendar_is_used() -> None:
    assert local_cal("Europe/Warsaw", "Pn-Pt 06:00-14:00", "pl", "PL", "10").holiday_note() == "public holidays of PL-10"
    puebla = local_cal("America/Mexico_City", "Lun-Vie 07:00-15:00", "es", "MX", None, "Puebla")
    assert puebla.holiday_note() == ("national public holidays of MX (the holidays package has no calendar for "
                                     "the region 'Puebla')")
    assert not puebla.is_business_day(dt.date(2025, 3, 17)), "national holidays are used all the same"
    assert "no calendar for XX" in local_cal("UTC", "Mon-Fri 08:00-17:00", "en", "XX").holiday_note()


def test_plant_shutdown_days_are_not_business_days() -> None:
    shutdown = ((dt.date(2025, 8, 4), "Postój wakacyjny"), (dt.date(2025, 8, 5), "Postój wakacyjny"))
    lodz = local_cal("Europe/Warsaw", "Pn-Pt 06:00-14:00", "pl", "PL", "10", shutdowns=shutdown)
    assert not lodz.is_business_day(dt.date(2025, 8, 4))
    assert lodz.holiday_name(dt.date(2025, 8, 5)) == "Postój wakacyjny"
    assert lodz.is_business_day(dt.date(2025, 8, 6))
    friday = dt.datetime(2025, 8, 1, 13, 0, tzinfo=lodz.tz).astimezone(UTC)
    assert lodz.add_business_time(friday, dt.timedelta(hours=2)) == dt.datetime(2025, 8, 6, 5, 0, tzinfo=UTC)
