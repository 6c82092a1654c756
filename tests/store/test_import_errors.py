"""Broken input: every problem is reported as FILE:LINE: reason, and nothing is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance_store.importers import ImportFailed, RowError, import_paths
from governance_store.models import Base, Site, System, Zone
from tests.conftest import SAMPLE_EXPORT_TIMEZONE

SITES_HEADER = '"site_code","name","isa95_node_id","country","region","timezone","business_hours_local","oncall_channel","language"'
FDL = '"US-FDL","Plant 1 Findlay","US-FDL","US","Ohio","America/New_York","Mon-Fri 06:00-22:00","#ot-fdl-oncall","en"'
RGB = '"DE-RGB","Werk Regensburg","DE-RGB","DE","Bayern","Europe/Berlin","Mo-Fr 06:00-22:00","#ot-rgb","de"'


def write(path: Path, *lines: str, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def cmdb_row(corvane_dir: Path, **changes: str) -> list[str]:
    """The header and the first data row of the sample CMDB export, with fields changed."""
    import csv

    with open(corvane_dir / "cmdb_ci.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    row.update(changes)
    quote = lambda vs: ",".join('"' + v.replace('"', '""') + '"' for v in vs)  # noqa: E731
    return [quote(header), quote([row[h] for h in header])]


def failure(paths: list[Path], session: Session, export_timezone: str | None = SAMPLE_EXPORT_TIMEZONE) -> list[str]:
    with pytest.raises(ImportFailed) as info:
        import_paths(paths, session=session, export_timezone=export_timezone)
    assert all(isinstance(e, RowError) for e in info.value.errors)
    return [str(e) for e in info.value.errors]


def row_counts(session: Session) -> dict[str, int]:
    return {
        t.name: session.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        for t in Base.metadata.sorted_tables
    }


def test_row_error_format() -> None:
    assert str(RowError("a/b.csv", 7, "bad thing")) == "a/b.csv:7: bad thing"


def test_unrecognised_header(session: Session, tmp_path: Path) -> None:
    f = write(tmp_path / "inventory.csv", "colour,size,weight", "red,2,3")
    assert failure([f], session) == [f"{f}:1: unrecognised header (colour, size, weight); not a file shape govbot imports"]


def test_header_missing_a_needed_column_names_it(session: Session, tmp_path: Path) -> None:
    f = write(tmp_path / "sla.csv", "policy_id,business_criticality,response_target_minutes,resolution_target_hours",
              "SLA-1,1,15,4")
    assert failure([f], session) == [f"{f}:1: unrecognised header: looks like sla_policies but lacks column(s) priority"]


def test_empty_file_and_missing_path(session: Session, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    missing = tmp_path / "nope.csv"
    assert failure([empty, missing], session) == [f"{empty}:1: empty file: no header row",
                                                  f"{missing}:0: no such file or folder"]


def test_bad_raci_cell(session: Session, tmp_path: Path) -> None:
    f = write(
        tmp_path / "raci.csv",
        '"Activity ID","Process area","Activity","Scope","Plant Manager","OT Security Lead","Notes"',
        '"ACT-01","Change","Change approval","per site","A","C",""',
        '"ACT-02","Change","Emergency change","per site","X","A/R",""',
        '"ACT-03","Change","Firewall rule","per site","I","R/Q",""',
    )
    assert failure([f], session) == [
        f"{f}:3: Plant Manager: invalid RACI cell 'X' (expected R, A, C, I or a combination such as A/R)",
        f"{f}:4: OT Security Lead: invalid RACI cell 'R/Q' (expected R, A, C, I or a combination such as A/R)",
    ]


def test_bad_criticality_and_unknown_people_in_the_cmdb(session: Session, tmp_path: Path, corvane_dir: Path) -> None:
    header, row = cmdb_row(corvane_dir, u_business_criticality="7 - bogus", owned_by="", managed_by="",
                           install_status="Misplaced")
    _h, row2 = cmdb_row(corvane_dir, sys_id="0" * 32, owned_by="Nobody Known", managed_by="")
    _h, row3 = cmdb_row(corvane_dir, sys_id="1" * 32, owned_by="", managed_by="", u_purdue_level="7")
    f = write(tmp_path / "cmdb.csv", header, row, row2, row3)
    assert failure([f], session) == [
        f"{f}:2: u_business_criticality: invalid criticality '7 - bogus' (expected 1 to 4)",
        f"{f}:3: owned_by: unknown person 'Nobody Known'",
        f"{f}:4: u_purdue_level: invalid Purdue level '7' (expected one of 0, 1, 2, 3, 3.5, 4, 5, cloud)",
    ]


def test_unknown_raw_status_code(session: Session, tmp_path: Path, corvane_dir: Path) -> None:
    raw = (corvane_dir / "cmdb_ci_raw.csv").read_text(encoding="utf-8").splitlines()
    # The duplicate PLC (line 10) has no owner sys_id problems once the people exist; give it a bogus status.
    lines = [raw[0], raw[9].replace('"Import Set"', '"Import Set"').replace(',"1","1","Import Set"', ',"9","1","Import Set"')]
    f = write(tmp_path / "raw.csv", *lines)
    errors = failure([corvane_dir / "servicenow_sys_user.csv", f], session)
    assert f"{f}:2: install_status: unknown status code '9'" in errors


def test_duplicate_key_inside_a_file(session: Session, tmp_path: Path) -> None:
    f = write(tmp_path / "sites.csv", SITES_HEADER, FDL, RGB, FDL.replace("Plant 1 Findlay", "Findlay again"))
    assert failure([f], session) == [f"{f}:4: duplicate site_code 'US-FDL' (first on line 2)"]


def test_broken_encoding_reports_the_line_of_the_first_bad_byte(session: Session, tmp_path: Path) -> None:
    f = tmp_path / "sites.csv"
    f.write_bytes((SITES_HEADER + "\n" + FDL + "\n").encode() + RGB.replace("Werk", "W\xe4rk").encode("latin-1") + b"\n")
    assert failure([f], session) == [f"{f}:3: not valid UTF-8: byte 0xe4 at column 12"]


def test_malformed_rows(session: Session, tmp_path: Path) -> None:
    f = write(
        tmp_path / "sites.csv",
        SITES_HEADER,
        FDL,
        '"DE-RGB","Werk Regensburg"',
        '"X","multi',
        'line name","X","US","Ohio","America/New_York","","","en"',
        '"Y","bad"quote","Y","US","Ohio","America/New_York","","","en"',
    )
    assert failure([f], session) == [
        f"{f}:3: malformed CSV row: expected 9 fields, found 2",
        f"{f}:6: malformed CSV row: ',' expected after '\"'",
    ]


def test_unterminated_quote(session: Session, tmp_path: Path) -> None:
    f = write(tmp_path / "sites.csv", SITES_HEADER, FDL, '"DE-RGB","Werk Regensburg,"DE-RGB","DE"')
    errors = failure([f], session)
    assert len(errors) == 1 and errors[0].startswith(f"{f}:3: malformed CSV row")


def test_every_error_of_every_file_is_collected_in_file_order(session: Session, tmp_path: Path) -> None:
    zones = write(
        tmp_path / "zones.csv",
        '"zone_id","site_code","zone_name","purdue_level","sl_target","zone_owner_role","description"',
        '"Z1","US-FDL","Cell 1","0-2","9","Plant Manager",""',
        '"Z2","NOWHERE","Cell 2","0-2","2","Plant Manager",""',
        '"Z3","US-FDL","","0-2","2","Plant Manager",""',
    )
    sites = write(tmp_path / "sites.csv", SITES_HEADER, FDL, FDL.replace("America/New_York", "Mars/Olympus"))
    errors = failure([zones, sites], session)
    assert errors == [
        f"{zones}:2: sl_target: security level must be 0 to 4, got 9",
        f"{zones}:3: site_code: unknown site 'NOWHERE'",
        f"{zones}:4: zone_name is empty",
        f"{sites}:3: timezone: unknown time zone 'Mars/Olympus'",
        f"{sites}:3: duplicate site_code 'US-FDL' (first on line 2)",
    ]


def test_values_the_database_would_refuse(session: Session, tmp_path: Path) -> None:
    f = write(tmp_path / "sites.csv", SITES_HEADER, FDL.replace('"US-FDL","Plant', '"' + "X" * 40 + '","Plant'))
    assert failure([f], session) == [
        f"{f}:2: code is longer than 32 characters: '{'X' * 40}'...",
    ]


def test_all_or_nothing_on_an_empty_store(session: Session, tmp_path: Path) -> None:
    good = write(tmp_path / "sites.csv", SITES_HEADER, FDL, RGB)
    bad = write(
        tmp_path / "zones.csv",
        '"zone_id","site_code","zone_name","purdue_level","sl_target","zone_owner_role","description"',
        '"Z1","US-FDL","Cell 1","0-2","two","Plant Manager",""',
    )
    assert failure([good, bad], session) == [f"{bad}:2: sl_target: not a whole number: 'two'"]
    assert set(row_counts(session).values()) == {0}


def test_all_or_nothing_on_a_loaded_store(session: Session, tmp_path: Path, corvane_dir: Path) -> None:
    import_paths([corvane_dir], session=session)
    session.commit()
    before = row_counts(session)
    folder = tmp_path / "export"
    shutil.copytree(corvane_dir, folder)
    # A good change (a site renamed, a system gone) next to a broken RACI cell.
    sites = folder / "sites.csv"
    sites.write_text(sites.read_text(encoding="utf-8").replace("Werk Regensburg", "Werk RGB"), encoding="utf-8")
    raci = folder / "raci_matrix.csv"
    raci.write_text(raci.read_text(encoding="utf-8").replace('"ACT-18","Asset management","Asset inventory '
                    'reconciliation (CMDB vs OT monitoring)","global","",', '"ACT-18","Asset management","Asset '
                    'inventory reconciliation (CMDB vs OT monitoring)","global","Z",'), encoding="utf-8")
    errors = failure([folder], session)
    assert errors == [f"{raci}:19: Plant Manager: invalid RACI cell 'Z' (expected R, A, C, I or a combination such as A/R)"]
    session.rollback()
    assert row_counts(session) == before
    assert session.scalars(sa.select(Site.name).where(Site.code == "DE-RGB")).one() == "Werk Regensburg"


def test_unknown_extra_columns_are_ignored_with_a_note(session: Session, tmp_path: Path) -> None:
    f = write(tmp_path / "sites.csv", SITES_HEADER + ',"colour","Size"', FDL + ',"red","L"')
    report = import_paths([f], session=session)
    assert f"{f}: ignored unknown column(s): colour, Size" in report.notes
    assert session.scalars(sa.select(Site)).one().code == "US-FDL"


def test_byte_order_mark_is_accepted(session: Session, tmp_path: Path) -> None:
    f = tmp_path / "sites.csv"
    f.write_bytes(b"\xef\xbb\xbf" + (SITES_HEADER + "\r\n" + FDL + "\r\n").encode())
    report = import_paths([f], session=session)
    assert report.files == [(str(f), "sites")]
    assert session.scalars(sa.select(Site)).one().holiday_subdivision == "OH"


def test_unknown_team_is_a_note_not_an_error(session: Session, corvane_dir: Path) -> None:
    report = import_paths([corvane_dir], session=session)
    assert any("'OT Support Findlay' matches no team (2 rows); kept as a name" in n for n in report.notes)
    ews = session.scalars(sa.select(System).where(System.name == "EWS-FDL-01")).one()
    assert ews.assignment_group_name == "OT Support Findlay" and ews.assignment_team_id is None


def test_references_resolve_against_the_store(session: Session, tmp_path: Path, corvane_dir: Path) -> None:
    import_paths([corvane_dir / "sites.csv"], session=session)
    session.commit()
    zones = write(
        tmp_path / "zones.csv",
        '"zone_id","site_code","zone_name","purdue_level","sl_target","zone_owner_role","description"',
        '"Z1","US-FDL","Cell 1","0-2","2","Plant Manager","PSM-covered ammonia"',
    )
    report = import_paths([zones], session=session)
    assert report.counts["zones"]["added"] == 1
    assert report.counts["sites"] == {"added": 0, "changed": 1, "removed": 0, "unchanged": 0}
    assert session.scalars(sa.select(Zone)).one().site_code == "US-FDL"
    assert session.scalars(sa.select(Site).where(Site.code == "US-FDL")).one().psm_covered


def test_unknown_manager_is_reported_on_its_line(session: Session, tmp_path: Path, corvane_dir: Path) -> None:
    lines = (corvane_dir / "entra_users.csv").read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ',"ghost@corvane.example"'
    f = write(tmp_path / "entra.csv", *lines)
    assert failure([f], session) == [f"{f}:6: manager: unknown person 'ghost@corvane.example'"]
