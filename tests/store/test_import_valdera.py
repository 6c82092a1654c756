"""Importing the second sample org: plants in Mexico and Poland, exports as messy as theirs (BOM, CRLF, own
column orders, extra columns, names typed without diacritics, business hours in the plant's language), the
export time zone, plant shutdown days, and what the importer refuses."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance_store.calendar import for_system
from governance_store.importers import ImportFailed, ImportReport, import_paths
from governance_store.importers.run import FOLDER_SETTINGS
from governance_store.models import ChangeRequest, Person, Site, System
from tests.conftest import CORVANE, VALDERA

UTC = dt.UTC


@pytest.fixture
def imported(session: Session) -> ImportReport:
    report = import_paths([VALDERA], session=session, export_timezone="Europe/Warsaw")
    session.commit()
    return report


def site(session: Session, code: str) -> Site:
    return session.scalars(sa.select(Site).where(Site.code == code)).one()


def test_messy_exports_are_recognised_and_their_extra_columns_noted(imported: ImportReport) -> None:
    kinds = {Path(p).name: k for p, k in imported.files}
    assert len(kinds) == len(list(VALDERA.glob("*.csv")))
    assert kinds["sites.csv"] == "sites"  # BOM, CRLF, own column order, title-case headers
    assert kinds["plant_shutdowns.csv"] == "site_shutdowns"
    assert kinds["cmdb_ci.csv"] == "cmdb_ci"
    assert kinds["entra_users.csv"] == "entra_users"
    assert any("ignored unknown column(s): Plant Manager Phone" in n for n in imported.notes)
    assert any("ignored unknown column(s): u_cost_center" in n for n in imported.notes)
    assert any("onPremisesSyncEnabled" in n for n in imported.notes)


def test_sites_keep_their_hours_language_and_holiday_calendar(imported: ImportReport, session: Session) -> None:
    puebla, lodz, madrid = site(session, "MX-PUE"), site(session, "PL-LDZ"), site(session, "ES-MAD")
    assert puebla.business_hours == "Lun-Vie 07:00-15:00, 15:00-23:00; Sáb 07:00-13:00"
    assert (puebla.language, lodz.language, madrid.language) == ("es-MX", "pl-PL", "es")  # pl-PL from the country
    assert (lodz.holiday_subdivision, madrid.holiday_subdivision, puebla.holiday_subdivision) == ("10", "MD", None)
    assert any("no calendar for MX / Puebla; site MX-PUE uses the national public holidays of MX" in n
               for n in imported.notes)


def test_names_typed_without_diacritics_reach_the_person(imported: ImportReport, session: Session) -> None:
    oven = session.scalars(sa.select(System).where(System.name == "LDZ-STR-PIE-L3")).one()
    assert oven.owner is not None and oven.owner.display_name == "Łucja Woźniak"
    lucja = session.scalars(sa.select(Person).where(Person.display_name == "Łucja Woźniak")).one()
    assert lucja.preferred_language == "pl-PL"


def test_acting_holder_of_the_engineer_who_left(imported: ImportReport, session: Session) -> None:
    ramon = session.scalars(sa.select(Person).where(Person.display_name == "Ramón Núñez")).one()
    assert not ramon.active and ramon.left_on == dt.date(2025, 1, 31)


def test_export_time_zones_from_the_option_and_from_the_header(imported: ImportReport, session: Session) -> None:
    change = session.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == "CHG0040102")).one()
    # Written in Warsaw (CEST, UTC+2) on a file that does not say so: --export-timezone Europe/Warsaw.
    assert change.planned_start == dt.datetime(2025, 6, 21, 20, 0, tzinfo=UTC)
    # The CMDB export names its zone in the header: "sys_updated_on (Europe/Madrid)".
    oven = session.scalars(sa.select(System).where(System.name == "PUE-PLC-OVN-L2")).one()
    assert oven.updated_at == dt.datetime(2025, 5, 30, 16, 45, tzinfo=UTC)
    assert not any("display-value times read in America/New_York" in n and "cmdb_ci" in n for n in imported.notes)


def test_without_a_zone_an_export_of_sites_in_several_zones_is_refused(session: Session) -> None:
    with pytest.raises(ImportFailed) as failed:
        import_paths([VALDERA], session=session)
    assert [str(e) for e in failed.value.errors] == [
        f"{VALDERA / 'change_request.csv'}:1: start_date: display-value times without a time zone, and the sites "
        "are in 3 time zones (America/Mexico_City, Europe/Madrid, Europe/Warsaw); name the exporting user's zone "
        "with --export-timezone ZONE (GOVBOT_EXPORT_TIMEZONE), in the column header, e.g. 'sys_updated_on "
        "(Europe/Warsaw)', or as export_timezone = \"Europe/Warsaw\" in govbot-import.toml beside the files"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Site)) == 0, "nothing is written"


def test_sites_that_share_one_zone_give_it_to_an_export_that_does_not_say(session: Session, tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "sites.csv", "America/Mexico_City", "Europe/Warsaw")
    path = folder / "sites.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("Europe/Madrid", "Europe/Warsaw"), encoding="utf-8")
    report = import_paths([folder], session=session)
    change = session.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == "CHG0040102")).one()
    assert change.planned_start == dt.datetime(2025, 6, 21, 20, 0, tzinfo=UTC)  # 22:00 CEST
    assert any(n.startswith(f"{path.parent / 'change_request.csv'}: display-value times read in Europe/Warsaw, the "
                            "time zone of every site") for n in report.notes)


def test_the_folder_may_say_its_exports_zone(session: Session, tmp_path: Path) -> None:
    folder = tmp_path / "org"
    shutil.copytree(VALDERA, folder)
    (folder / FOLDER_SETTINGS).write_text('export_timezone = "Europe/Warsaw"\n', encoding="utf-8")
    report = import_paths([folder], session=session)
    change = session.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == "CHG0040102")).one()
    assert change.planned_start == dt.datetime(2025, 6, 21, 20, 0, tzinfo=UTC)
    assert not any("display-value times read in" in n for n in report.notes)


def test_two_plants_folders_are_each_read_in_their_own_zone(session: Session, tmp_path: Path) -> None:
    folder = tmp_path / "org"
    shutil.copytree(VALDERA, folder)
    (folder / FOLDER_SETTINGS).write_text('export_timezone = "Europe/Warsaw"\n', encoding="utf-8")
    # The first sample's folder says America/New_York; the option only speaks for files that say nothing.
    import_paths([CORVANE, folder], session=session, export_timezone="Asia/Tokyo")
    valdera = session.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == "CHG0040102")).one()
    assert valdera.planned_start == dt.datetime(2025, 6, 21, 20, 0, tzinfo=UTC)
    corvane = session.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == "CHG0031122")).one()
    assert corvane.planned_start == dt.datetime(2025, 6, 21, 3, 0, tzinfo=UTC)  # 23:00 EDT, 05:00 in Regensburg


@pytest.mark.parametrize(("settings", "reason"), [
    ('export_timezone = "Europe/Warshaw"\n', "unknown time zone 'Europe/Warshaw'"),
    ('export_timezone = 2\n', 'export_timezone must be a time zone name, e.g. "Europe/Warsaw", not 2'),
    ('export_timezone = "Europe/Warsaw"\nexport_zone = "UTC"\n', "unknown setting(s) 'export_zone'; known: export_timezone"),
    ('export_timezone = Europe/Warsaw\n', "not readable as TOML: "),
])
def test_a_folder_settings_file_that_is_wrong_stops_the_import(session: Session, tmp_path: Path, settings: str,
                                                               reason: str) -> None:
    folder = tmp_path / "org"
    shutil.copytree(VALDERA, folder)
    (folder / FOLDER_SETTINGS).write_text(settings, encoding="utf-8")
    errors = _failure(session, folder, export_timezone="Europe/Warsaw")
    assert len(errors) == 1 and errors[0].startswith(f"{folder / FOLDER_SETTINGS}:0: {reason}")


def test_times_that_carry_their_zone_need_no_other(session: Session, tmp_path: Path) -> None:
    folder = tmp_path / "org"
    shutil.copytree(VALDERA, folder)
    path = folder / "change_request.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r'"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"', r'"\1 Europe/Warsaw"', text), encoding="utf-8")
    report = import_paths([folder], session=session)  # sites in three zones, nothing else names one: not needed
    change = session.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == "CHG0040102")).one()
    assert change.planned_start == dt.datetime(2025, 6, 21, 20, 0, tzinfo=UTC)
    assert not any("display-value times read in" in n for n in report.notes)


def test_a_value_may_name_its_own_zone(session: Session, tmp_path: Path) -> None:
    folder = tmp_path / "org"
    shutil.copytree(VALDERA, folder)
    path = folder / "change_request.csv"
    text = path.read_text(encoding="utf-8").replace('"2025-06-21 22:00:00"', '"2025-06-21 22:00:00 Europe/Warsaw"')
    path.write_text(text, encoding="utf-8")
    import_paths([folder], session=session, export_timezone="America/Mexico_City")  # the value's own zone wins
    change = session.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == "CHG0040102")).one()
    assert change.planned_start == dt.datetime(2025, 6, 21, 20, 0, tzinfo=UTC)


def test_shutdown_days_join_the_site_calendar_and_reimport_is_idempotent(imported: ImportReport,
                                                                          session: Session) -> None:
    assert imported.count("site_shutdowns", "added") == 3
    oven = session.scalars(sa.select(System).where(System.name == "PUE-PLC-OVN-L2")).one()
    calendar = for_system(oven, session=session)
    assert not calendar.is_business_day(dt.date(2025, 12, 29))  # year-end shutdown, a Monday
    assert calendar.holiday_name(dt.date(2025, 12, 29)) == "Paro de fin de año"
    assert calendar.is_business_day(dt.date(2025, 12, 22))
    again = import_paths([VALDERA], session=session, export_timezone="Europe/Warsaw")
    assert not again.changed_anything


def _copy_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / "org"
    shutil.copytree(VALDERA, folder)
    path = folder / name
    data = path.read_bytes().decode("utf-8-sig")
    assert old in data
    path.write_text(data.replace(old, new), encoding="utf-8")
    return folder


def _failure(session: Session, folder: Path, export_timezone: str = "Europe/Warsaw") -> list[str]:
    with pytest.raises(ImportFailed) as failed:
        import_paths([folder], session=session, export_timezone=export_timezone)
    assert session.scalar(sa.select(sa.func.count()).select_from(Site)) == 0, "nothing is written"
    return [str(e) for e in failed.value.errors]


def test_unreadable_business_hours_are_an_import_error_with_file_and_line(session: Session, tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "sites.csv", "Pn-Pt 06:00-14:00", "Pn-Xy 06:00-14:00")
    errors = _failure(session, folder)
    assert errors == [f"{folder / 'sites.csv'}:3: business_hours_local: unknown weekday 'Xy' in business hours "
                      "'Pn-Xy 06:00-14:00, 14:00-22:00, 22:00-06:00'"]


def test_escalation_hours_must_be_a_clock_govbot_knows(session: Session, tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "escalation_chains.csv", '"business"', '"Lun-Vie"')
    errors = _failure(session, folder)
    assert errors and all("escalation_chains.csv" in e and "hours: expected 24x7 or business" in e for e in errors)


def test_bad_shutdown_rows_are_refused(session: Session, tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "plant_shutdowns.csv", '"PL-LDZ","2025-08-04","2025-08-08"',
                        '"PL-LDZ","2025-08-08","2025-08-04"')
    path = folder / "plant_shutdowns.csv"
    path.write_text(path.read_text(encoding="utf-8") + '"XX-NONE","2025-01-01","","?"\n', encoding="utf-8")
    errors = _failure(session, folder)
    assert f"{path}:4: last_day 2025-08-04 is before first_day 2025-08-08" in errors
    assert f"{path}:5: site_code: unknown site 'XX-NONE'" in errors


def test_the_generator_writes_the_committed_files(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_valdera", VALDERA.parent / "make_valdera.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.generate(tmp_path / "valdera")
    written = sorted(p.name for p in out.glob("*.csv"))
    assert written == sorted(p.name for p in VALDERA.glob("*.csv"))
    for name in written:
        assert (out / name).read_bytes() == (VALDERA / name).read_bytes(), name
    assert (VALDERA / "sites.csv").read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n" in (VALDERA / "sites.csv").read_bytes()
