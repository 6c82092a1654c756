"""Reconciling sources across imports: matching rules, display vs raw exports, removal."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance_store.importers import import_paths
from governance_store.importers.run import FOLDER_SETTINGS
from governance_store.models import ChatIdentity, Person, System, SystemContact, SystemRelation, SystemSource

EWON_ID = "92583dda-c36f-3fa6-3b58-e9ec506f3da0"
ENTRA_ID_CI = "65d6a1a9b99b8684c3ddbfb07a7a4429"  # "Microsoft Entra ID (corvane)": nothing else refers to it
LIMS_CI = "b8ea8ce7f64188d30c39744d1300f206"  # "LIMS Plant 1": also seen by Nozomi


def copy_sample(corvane_dir: Path, to: Path, *, without: tuple[str, ...] = ()) -> Path:
    to.mkdir()
    for f in [*corvane_dir.glob("*.csv"), corvane_dir / FOLDER_SETTINGS]:
        if f.name not in without:
            shutil.copy(f, to / f.name)
    return to


def drop_rows(path: Path, column: str, *values: str) -> None:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index(column)
    kept = [rows[0]] + [r for r in rows[1:] if r[col] not in values]
    assert len(kept) == len(rows) - len(values), "every value to drop is in the file"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows(kept)


def append_row(path: Path, **values: str) -> None:
    with open(path, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    with open(path, "a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerow([values.get(h, "") for h in header])


def system(session: Session, name: str) -> System:
    return session.scalars(sa.select(System).where(System.name == name)).one()


def snapshot(session: Session) -> dict[str, tuple[object, ...]]:
    """What both CMDB exports describe, per system key."""
    out = {}
    for s in session.scalars(sa.select(System).where(System.in_cmdb.is_(True))).all():
        out[s.key] = (
            s.name, tuple(s.aliases), s.site_code, s.purdue_level, s.zone_id, s.domain, s.criticality, s.serial,
            s.asset_tag, tuple(s.ips), tuple(s.macs), s.install_status, s.operational_status,
            *(p.email if p else None for p in (s.owner, s.technical_manager)),
            *(t.name if t else None for t in (s.managed_by_team, s.support_team, s.assignment_team)),
            s.managed_by_group_name, s.support_group_name, s.assignment_group_name, s.updated_at, s.class_name,
        )
    return out


# --------------------------------------------------------------------------- display and raw exports


def test_raw_export_alone_gives_the_same_systems_as_the_display_export(
    session: Session, corvane_dir: Path, tmp_path: Path
) -> None:
    display = copy_sample(corvane_dir, tmp_path / "display", without=("cmdb_ci_raw.csv",))
    raw = copy_sample(corvane_dir, tmp_path / "raw", without=("cmdb_ci.csv",))
    import_paths([display], session=session)
    from_display = snapshot(session)
    session.rollback()
    report = import_paths([raw], session=session)
    assert {k for _, k in report.files} >= {"cmdb_ci_raw"} and "cmdb_ci" not in {k for _, k in report.files}
    from_raw = snapshot(session)
    assert len(from_raw) == 47
    # Identical except that the unknown group (B2) keeps its sys_id as its name: no display value names it.
    for key in ("730f1ea68ae98b10f5a5452e48c10856", "4f17329bea2b9f0ad6b1211cf2dfcb96"):
        assert from_raw.pop(key) != from_display.pop(key)
    assert from_raw == from_display
    assert system(session, "PLC-CIP-01").support_group_name == "79cdc599de716386cce305eac8060eb6"
    # Location, manufacturer and model are display-only; the raw table name maps to the same class label.
    drive = system(session, "VFD-FIL-L1-03")
    assert drive.location is None and drive.manufacturer is None and drive.node_id is None
    assert drive.class_name == "Industrial Drive"


def test_raw_export_after_the_display_export_changes_nothing(
    session: Session, corvane_dir: Path, tmp_path: Path
) -> None:
    display = copy_sample(corvane_dir, tmp_path / "display", without=("cmdb_ci_raw.csv",))
    import_paths([display], session=session)
    session.commit()
    report = import_paths([corvane_dir / "cmdb_ci_raw.csv"], session=session)
    assert report.counts["systems"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 47}
    assert report.counts["system_sources"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 47}
    # Both exports in one run count each system once.
    both = import_paths([corvane_dir / "cmdb_ci_raw.csv", corvane_dir / "cmdb_ci.csv"], session=session)
    assert both.counts["systems"]["unchanged"] == 47 and both.totals()["changed"] == 0


# --------------------------------------------------------------------------- matching rules


def test_ip_beats_serial_and_serial_beats_hostname(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    folder = copy_sample(corvane_dir, tmp_path / "in")
    nozomi = folder / "ot_inventory_nozomi.csv"
    # Serial of the L3 PLC (any case) but no address, and the host name of another system.
    append_row(nozomi, id="serial-only", name="hmi-fil-l1-04", level="1", ip="", mac_address="",
               serial_number="7a21c9e4", appliance_hosts="nozomi-fdl-01")
    # Host name only: an alias of the historian, in upper case.
    append_row(nozomi, id="host-only", name="PIHIST-FDL-01", level="3", appliance_hosts="nozomi-fdl-01")
    # A MAC the CMDB knows, on a new IP.
    append_row(nozomi, id="mac-only", name="10.41.99.9", level="1", ip="10.41.99.9", mac_address="5C-88-16-A1-14-10",
               appliance_hosts="nozomi-fdl-01")
    import_paths([folder], session=session)

    def matched(ext: str) -> System:
        return session.scalars(sa.select(SystemSource).where(SystemSource.external_id == ext)).one().system

    # Two CMDB items carry the serial; the one with an IP (the live PLC) ranks first in the tie.
    assert matched("serial-only").name == "PLC-FIL-L3-07"
    assert matched("host-only").name == "Historian (AVEVA PI) Plant 1"
    mixer = matched("mac-only")
    assert mixer.name == "PLC-MIX-01" and mixer.ips == ["10.41.14.10", "10.41.99.9"]
    assert mixer.purdue_level == "1"


def test_email_join_ignores_case(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    folder = copy_sample(corvane_dir, tmp_path / "in")
    slack = folder / "slack_users.csv"
    slack.write_text(slack.read_text(encoding="utf-8").replace("luis.ortega@corvane.example",
                                                               "Luis.Ortega@Corvane.EXAMPLE"), encoding="utf-8")
    import_paths([folder], session=session)
    ident = session.scalars(sa.select(ChatIdentity).where(ChatIdentity.external_id == "U02411743DB")).one()
    assert ident.person is not None and ident.person.display_name == "Luis Ortega"


# --------------------------------------------------------------------------- removal


def test_a_ci_gone_from_the_cmdb_export_is_removed(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    import_paths([corvane_dir], session=session)
    session.commit()
    folder = copy_sample(corvane_dir, tmp_path / "next")
    for name in ("cmdb_ci.csv", "cmdb_ci_raw.csv"):
        drop_rows(folder / name, "sys_id", ENTRA_ID_CI, LIMS_CI)
    report = import_paths([folder], session=session)
    session.commit()
    # The Entra ID CI had only its CMDB sighting: it goes.  The LIMS is still seen by Nozomi: it stays,
    # now outside the CMDB.
    assert report.counts["systems"] == {"added": 0, "changed": 1, "removed": 1, "unchanged": 46}
    assert report.counts["system_sources"]["removed"] == 2
    assert session.scalars(sa.select(System).where(System.key == ENTRA_ID_CI)).first() is None
    lims = system(session, "LIMS Plant 1")
    assert not lims.in_cmdb and {s.source for s in lims.sources} == {"nozomi"}
    again = import_paths([folder], session=session)
    assert again.totals()["added"] == again.totals()["changed"] == again.totals()["removed"] == 0


def test_an_asset_gone_from_the_ot_inventory_is_removed(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    import_paths([corvane_dir], session=session)
    session.commit()
    folder = copy_sample(corvane_dir, tmp_path / "next")
    drop_rows(folder / "ot_inventory_nozomi.csv", "id", EWON_ID, "0ff6961a-0d5c-4d06-9076-6c009aad8d03")
    report = import_paths([folder / "ot_inventory_nozomi.csv"], session=session)
    assert report.counts["system_sources"] == {"added": 0, "changed": 0, "removed": 2, "unchanged": 38}
    # The Ewon had no other sighting; SCADA-FDL-01 is still in the CMDB.
    assert report.counts["systems"]["removed"] == 1
    assert session.scalars(sa.select(System).where(System.key == f"nozomi:{EWON_ID}")).first() is None
    assert {s.source for s in system(session, "SCADA-FDL-01").sources} == {"servicenow"}


def test_a_partial_export_removes_nothing(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    import_paths([corvane_dir], session=session)
    session.commit()
    partial = tmp_path / "partial.csv"
    with open(corvane_dir / "ot_inventory_nozomi.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    with open(partial, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows(rows[:6])
    report = import_paths([partial], session=session)
    assert report.counts["system_sources"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 5}
    assert any("looks like a partial export, so nothing was removed" in n for n in report.notes)


def test_removal_is_scoped_to_the_appliances_in_the_export(
    session: Session, corvane_dir: Path, tmp_path: Path
) -> None:
    import_paths([corvane_dir], session=session)
    session.commit()
    findlay_only = tmp_path / "findlay.csv"
    with open(corvane_dir / "ot_inventory_nozomi.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("appliance_hosts")
    with open(findlay_only, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows([rows[0]] + [r for r in rows[1:] if r[col] == "nozomi-fdl-01"])
    report = import_paths([findlay_only], session=session)
    # Regensburg's appliance is not in this export, so its sightings are not candidates for removal.
    assert report.counts["system_sources"]["removed"] == 0
    assert "systems" not in report.counts


def test_an_asset_that_joins_the_cmdb_moves_its_sighting(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    import_paths([corvane_dir], session=session)
    session.commit()
    folder = copy_sample(corvane_dir, tmp_path / "next", without=("cmdb_ci_raw.csv",))
    append_row(folder / "cmdb_ci.csv", sys_id="e" * 32, name="RTR-ABF-L1-01", u_alias="Ewon remote access",
               sys_class_name="IP Router", u_site_code="DE-RGB", location="Werk Regensburg - Abfüllhalle",
               u_purdue_level="2", u_security_zone="RGB-Z1", ip_address="10.42.11.250",
               owned_by="Johanna Weber", u_business_criticality="2 - somewhat critical", install_status="Installed",
               operational_status="Operational", sys_updated_on="2025-06-01 08:00:00")
    report = import_paths([folder], session=session)
    assert report.counts["systems"]["added"] == 1 and report.counts["systems"]["removed"] == 1
    assert report.counts["system_sources"]["added"] == 1 and report.counts["system_sources"]["changed"] == 1
    rtr = system(session, "RTR-ABF-L1-01")
    assert rtr.in_cmdb and {s.source for s in rtr.sources} == {"servicenow", "nozomi"}
    assert rtr.node_id == "RGB-ABF-L1"
    assert session.scalars(sa.select(System).where(System.key == f"nozomi:{EWON_ID}")).first() is None


def test_relations_and_contacts_follow_their_exports(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    import_paths([corvane_dir], session=session)
    session.commit()
    folder = copy_sample(corvane_dir, tmp_path / "next")
    with open(folder / "cmdb_rel_ci.csv", encoding="utf-8", newline="") as fh:
        first = list(csv.reader(fh))[1][0]
    drop_rows(folder / "cmdb_rel_ci.csv", "sys_id", first)
    drop_rows(folder / "netbox_contact_assignments.csv", "contact", "Fortinet TAC")
    report = import_paths([folder], session=session)
    assert report.counts["system_relations"] == {"added": 0, "changed": 0, "removed": 1, "unchanged": 29}
    assert report.counts["system_contacts"] == {"added": 0, "changed": 0, "removed": 1, "unchanged": 13}
    session.commit()
    assert session.execute(sa.select(sa.func.count()).select_from(SystemRelation)).scalar_one() == 29
    assert not session.scalars(sa.select(SystemContact).where(SystemContact.contact_name == "Fortinet TAC")).all()


def test_a_raci_cell_cleared_removes_that_entry(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    import_paths([corvane_dir], session=session)
    session.commit()
    folder = copy_sample(corvane_dir, tmp_path / "next")
    raci = folder / "raci_matrix.csv"
    # ACT-07: the OT Security Lead is no longer Accountable (the G2 fix).
    text = raci.read_text(encoding="utf-8")
    old = '"ACT-07","Patch management","Firmware update - PLC / SIS / drives (Level 0-1)","per site","C","C","A","R","A"'
    assert old in text
    raci.write_text(text.replace(old, old[:-3] + '"C"'), encoding="utf-8")
    report = import_paths([raci], session=session)
    assert report.counts["raci_entries"] == {"added": 1, "changed": 0, "removed": 1, "unchanged": 120}


@pytest.mark.parametrize("deleted", ["true", "false"])
def test_a_person_is_inactive_when_any_directory_says_so(
    session: Session, corvane_dir: Path, tmp_path: Path, deleted: str
) -> None:
    folder = copy_sample(corvane_dir, tmp_path / "in")
    slack = folder / "slack_users.csv"
    slack.write_text(
        slack.read_text(encoding="utf-8").replace(
            '"U0C7441364B","T04CRVBEV","tom.brennan","Tom Brennan","false"',
            f'"U0C7441364B","T04CRVBEV","tom.brennan","Tom Brennan","{deleted}"'),
        encoding="utf-8")
    import_paths([folder], session=session)
    tom = session.scalars(sa.select(Person).where(Person.display_name == "Tom Brennan")).one()
    assert tom.active is (deleted == "false")
    assert tom.sources["entra"]["active"] is True and tom.sources["slack"]["active"] is (deleted == "false")
    assert tom.left_on is None


def test_role_assignment_scopes(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    from governance_store.models import RoleAssignment

    import_paths([corvane_dir], session=session)
    session.commit()
    extra = tmp_path / "roles.csv"
    extra.write_text(
        '"role","scope","holder_type","holder","holder_upn","valid_from","note"\n'
        '"Controls Engineer","FDL-FH","person","Jessica Park","","",""\n'
        '"Controls Engineer","FDL-FH-L3","person","Luis Ortega","LUIS.ORTEGA@corvane.example","",""\n'
        '"Controls Engineer","FDL-UT-NH3","person","Luis Ortega","","",""\n'
        '"Controls Engineer","PLC-FIL-L3-07","team","OT Engineering - Findlay","","",""\n'
        '"Controls Engineer","US-FDL","person","Jessica Park","","2022-05-16",""\n',
        encoding="utf-8")
    report = import_paths([extra], session=session)
    assert report.counts["role_assignments"] == {"added": 4, "changed": 0, "removed": 0, "unchanged": 1}
    assert any("17 role assignment(s) in the store are not in this file and were kept" in n for n in report.notes)
    scopes = {(a.scope_type, a.scope_key, a.holder_name) for a in session.scalars(
        sa.select(RoleAssignment).where(RoleAssignment.scope_type != "site")).all()}
    plc = system(session, "PLC-FIL-L3-07")
    assert {("area", "FDL-FH", "Jessica Park"), ("line", "FDL-FH-L3", "Luis Ortega"),
            ("line", "FDL-UT-NH3", "Luis Ortega"), ("system", plc.key, "OT Engineering - Findlay")} <= scopes


def test_unknown_scope_and_holder_are_errors(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    from governance_store.importers import ImportFailed

    import_paths([corvane_dir], session=session)
    bad = tmp_path / "roles.csv"
    bad.write_text(
        '"role","scope","holder_type","holder","holder_upn","valid_from","note"\n'
        '"Controls Engineer","MOON-BASE","person","Jessica Park","","",""\n'
        '"Controls Engineer","US-FDL","person","Jane Nobody","","",""\n'
        '"Controls Engineer","US-FDL","robot","R2","","",""\n',
        encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        import_paths([bad], session=session)
    assert [str(e) for e in info.value.errors] == [
        f"{bad}:2: scope: unknown scope 'MOON-BASE' (not GLOBAL, a site, an ISA-95 node or a system)",
        f"{bad}:3: holder: unknown person 'Jane Nobody'",
        f"{bad}:4: holder_type: invalid value 'robot' (expected person or team)",
    ]
