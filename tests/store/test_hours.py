from __future__ import annotations

import datetime as dt
import re

import pytest

from governance_store.hours import local_time, parse_hours


def test_english_and_german_specs_mean_the_same() -> None:
    assert parse_hours("Mon-Fri 06:00-22:00") == parse_hours("Mo-Fr 06:00-22:00")
    assert parse_hours("Mo-Fr 06:00-22:00").describe() == "Mon-Fri 06:00-22:00"


def test_open_and_closed_in_the_site_time_zone() -> None:
    hours = parse_hours("Mon-Fri 06:00-22:00")
    # 2025-06-02 is a Monday. 09:30 UTC is 05:30 in Findlay (closed) and 11:30 in Regensburg (open).
    now = dt.datetime(2025, 6, 2, 9, 30, tzinfo=dt.UTC)
    assert not hours.is_open(local_time(now, "America/New_York"))
    assert hours.is_open(local_time(now, "Europe/Berlin"))
    saturday = dt.datetime(2025, 6, 7, 12, 0, tzinfo=dt.UTC)
    assert not hours.is_open(local_time(saturday, "Europe/Berlin"))


def test_24x7_is_always_open() -> None:
    assert parse_hours("24x7").is_open(dt.datetime(2025, 12, 25, 3, 0, tzinfo=dt.UTC))
    assert parse_hours(None).always


def test_unreadable_spec_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="cannot read business hours"):
        parse_hours("weekdays 9 to 5")


# --------------------------------------------------------------------------- as the plants write them


@pytest.mark.parametrize(
    ("spec", "languages", "described"),
    [
        ("Lun-Vie 08:00-17:00", (), "Mon-Fri 08:00-17:00"),
        ("Pn-Pt 07:00-15:00", (), "Mon-Fri 07:00-15:00"),
        ("Pn-Sb 06:00-22:00", ("pl",), "Mon-Sat 06:00-22:00"),
        ("lun.-ven. 8h-17h30", ("fr",), "Mon-Fri 08:00-17:30"),
        ("lun-ven 08:00-17:00", ("it",), "Mon-Fri 08:00-17:00"),
        ("seg-sex 08:00-17:00", ("pt",), "Mon-Fri 08:00-17:00"),
        ("Po-Pá 6:00-14:00", ("cs",), "Mon-Fri 06:00-14:00"),
        ("ma-vr 08:00-17:00", ("nl",), "Mon-Fri 08:00-17:00"),
        ("Montag-Freitag 06:00-22:00", (), "Mon-Fri 06:00-22:00"),
        ("Mo-Fr 06:00-14:00, 14:00-22:00; Sa 06:00-12:00", ("de",), "Mon-Fri 06:00-14:00, 14:00-22:00; Sat 06:00-12:00"),
        ("Lu-Sá 07:00-15:00 y 15:00-23:00", ("es",), "Mon-Sat 07:00-15:00, 15:00-23:00"),
        ("Mon,Wed,Fri 8-12", (), "Mon,Wed,Fri 08:00-12:00"),
        ("Mon-Fri 22:00-06:00", (), "Mon-Fri 22:00-06:00"),
        ("Mon-Sun 00:00-24:00", (), "Mon-Sun 00:00-24:00"),
        ("Mo–Fr 24h", (), "Mon-Fri 00:00-24:00"),
    ],
)
def test_business_hours_in_every_plant_language(spec: str, languages: tuple[str, ...], described: str) -> None:
    assert parse_hours(spec, languages).describe() == described


def test_an_abbreviation_means_the_day_of_the_site_language() -> None:
    # "So" is Sunday in German and Saturday in Polish; "Do" Thursday in German, Sunday in Spanish.
    assert parse_hours("So 08:00-12:00", ("de",)).days == frozenset({6})
    assert parse_hours("So 08:00-12:00", ("pl",)).days == frozenset({5})
    assert parse_hours("Do 08:00-12:00", ("de",)).days == frozenset({3})
    assert parse_hours("Do 08:00-12:00", ("es",)).days == frozenset({6})


def test_day_names_are_described_in_the_locale() -> None:
    hours = parse_hours("Pn-Pt 07:00-15:00", ("pl",))
    assert hours.describe("pl") == "pon-pt 07:00-15:00"
    assert hours.describe("es-MX") == "lun-vie 07:00-15:00"


def test_night_shift_runs_past_midnight() -> None:
    hours = parse_hours("Mon-Fri 22:00-06:00")
    assert hours.is_open(dt.datetime(2025, 6, 2, 23, 0))  # Monday night
    assert hours.is_open(dt.datetime(2025, 6, 3, 5, 59))  # Tuesday early: Monday's shift
    assert hours.is_open(dt.datetime(2025, 6, 7, 5, 0))  # Saturday early: Friday's shift
    assert not hours.is_open(dt.datetime(2025, 6, 2, 5, 0))  # Monday early: Sunday had no shift
    assert not hours.is_open(dt.datetime(2025, 6, 3, 12, 0))


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("Lun a Vie 08:00-17:00", "unknown weekday 'a'"),
        ("Xyz-Fri 08:00-17:00", "unknown weekday 'Xyz'"),
        ("Mon-Fri", "cannot read business hours"),
        ("Mon-Fri 25:00-26:00", "25:00 is not a time of day"),
        ("Mon-Fri 08:00-17:00 Sa", "'Sa' has no times after it"),
        ("08:00-17:00", "has no days before it"),
        ("Mon-Fri 08:00-08:00", "empty range"),
    ],
)
def test_unreadable_hours_say_why(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_hours(spec)
