from __future__ import annotations

import datetime as dt

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
