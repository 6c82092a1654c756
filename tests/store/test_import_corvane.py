"""Importing the whole sample org: every file shape, the reconciliations, idempotency and dry runs."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance_store.importers import ImportReport, import_paths
from governance_store.models import (
    Activity,
    Approval,
    Base,
    ChangeRequest,
    ChatIdentity,
    Conduit,
    DecisionRight,
    EscalationChain,
    EscalationLevel,
    HierarchyNode,
    Person,
    RaciEntry,
    Role,
    RoleAssignment,
    Site,
    SlaPolicy,
    System,
    SystemContact,
    SystemRelation,
    SystemSource,
    Team,
    TeamMember,
)
from tests.conftest import SAMPLE_EXPORT_TIMEZONE

EWON_ID = "92583dda-c36f-3fa6-3b58-e9ec506f3da0"
UTC = dt.UTC


@pytest.fixture
def imported(session: Session, corvane_dir: Path) -> ImportReport:
    report = import_paths([corvane_dir], session=session)
    session.commit()
    return report


def system(session: Session, name: str) -> System:
    return session.scalars(sa.select(System).where(System.name == name)).one()


def person(session: Session, name: str) -> Person:
    return session.scalars(sa.select(Person).where(Person.display_name == name)).one()


def sighting(session: Session, source: str, external_id: str) -> SystemSource:
    return session.scalars(
        sa.select(SystemSource).where(SystemSource.source == source, SystemSource.external_id == external_id)
    ).one()


def row_counts(session: Session) -> dict[str, int]:
    return {
        t.name: session.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        for t in Base.metadata.sorted_tables
    }


# --------------------------------------------------------------------------- files and counts


def test_every_file_is_recognised_by_its_header(imported: ImportReport, corvane_dir: Path) -> None:
    kinds = {Path(p).name: k for p, k in imported.files}
    assert len(kinds) == len(list(corvane_dir.glob("*.csv"))) == 25
    assert kinds["cmdb_ci.csv"] == "cmdb_ci"
    assert kinds["cmdb_ci_raw.csv"] == "cmdb_ci_raw"
    assert kinds["cmdb_rel_ci.csv"] == "cmdb_rel_ci"
    assert kinds["ot_inventory_nozomi.csv"] == "ot_inventory_nozomi"
    assert kinds["servicenow_sys_user_group.csv"] == "servicenow_sys_user_group"
    assert kinds["netbox_contact_roles.csv"] == "netbox_contact_roles"
    assert all(Path(p).stem == k for p, k in imported.files if k != "cmdb_ci_raw")


def test_sample_counts(session: Session, imported: ImportReport) -> None:
    systems = session.scalars(sa.select(System)).all()
    # 45 live + 1 duplicate + 1 retired CMDB rows, plus the Ewon router only OT monitoring sees.
    assert len(systems) == 48
    assert sum(s.in_cmdb for s in systems) == 47
    assert [s.key for s in systems if not s.in_cmdb] == [f"nozomi:{EWON_ID}"]
    by_source = dict(session.execute(
        sa.select(SystemSource.source, sa.func.count()).group_by(SystemSource.source)).all())
    assert by_source == {"servicenow": 47, "nozomi": 40, "netbox": 6}
    assert imported.counts["systems"] == {"added": 48, "changed": 0, "removed": 0, "unchanged": 0}
    assert imported.counts["system_sources"]["added"] == 93
    counts = row_counts(session)
    assert counts["people"] == 30
    assert counts["chat_identities"] == 31
    assert counts["teams"] == 12
    assert counts["team_members"] == 29
    assert counts["activities"] == 18
    assert counts["roles"] == 13
    assert counts["role_assignments"] == 18
    assert counts["decision_rights"] == 9
    assert counts["sla_policies"] == 16
    assert counts["escalation_chains"] == 6
    assert counts["escalation_levels"] == 22
    assert counts["change_requests"] == 5
    assert counts["approvals"] == 8
    assert counts["system_relations"] == 30
    assert counts["system_contacts"] == 14
    assert counts["sites"] == 3 and counts["hierarchy_nodes"] == 32 and counts["zones"] == 18
    assert counts["conduits"] == 8
    for kind, per_kind in imported.counts.items():
        assert per_kind["added"] == counts[kind], kind


# --------------------------------------------------------------------------- reconciling sources


def test_ot_inventory_rows_are_matched_to_the_right_cis(session: Session, imported: ImportReport) -> None:
    # By IP: the G4 duplicate shares the serial but has no IP, so the sighting goes to the real PLC.
    plc = sighting(session, "nozomi", "1af7ecc5-7c7c-1085-1935-18342b8cd205")
    assert plc.system.name == "PLC-FIL-L3-07"
    dup = system(session, "PLC-FIL-L03-07")
    assert {s.source for s in dup.sources} == {"servicenow"}
    assert dup.serial == system(session, "PLC-FIL-L3-07").serial == "7A21C9E4"
    # By host name against the CMDB alias; the host name is learned.
    fw = sighting(session, "nozomi", "d471c7eb-8e7d-3b3b-ffe1-a1641fa922b7")
    assert fw.system.name == "OT Firewall Cell 2"
    assert "fw-cell2-fdl-01" in fw.system.hostnames
    assert sighting(session, "nozomi", "0ff6961a-0d5c-4d06-9076-6c009aad8d03").system.name == "SCADA-FDL-01"
    # Lower-case CIP serials.
    cip = sighting(session, "nozomi", "456a6b6b-8669-ab36-62a0-c487e08b0ad1")
    assert cip.system.name == "PLC-CIP-01" and cip.attributes["serial_number"] == "2b6601c8"
    # The CMDB's Purdue level wins; Nozomi's is kept on the sighting.
    vfd = system(session, "VFD-FIL-L1-03")
    assert vfd.purdue_level == "0"
    assert {s.source: (s.attributes or {}).get("level") for s in vfd.sources}["nozomi"] == "1"
    # B1: the retired HMI is still seen.
    hmi = system(session, "HMI-FIL-L1-01")
    assert hmi.retired and "nozomi" in {s.source for s in hmi.sources}
    attrs = sighting(session, "nozomi", "81a6b63b-a73f-3ad9-37c6-acfb4ee50603").attributes
    assert attrs["protocols"] == ["ethernetip", "cip"] and attrs["zones"] == ["FDL-Z1"]
    assert attrs["vendor"] == "Rockwell Automation/Allen-Bradley" and attrs["firmware_version"] == "33.011"
    assert attrs["custom_fields"] == {"site": "US-FDL"}


def test_unmatched_ot_asset_becomes_a_system_outside_the_cmdb(session: Session, imported: ImportReport) -> None:
    ewon = session.scalars(sa.select(System).where(System.key == f"nozomi:{EWON_ID}")).one()
    assert not ewon.in_cmdb
    assert ewon.name == "10.42.11.250" and ewon.ips == ["10.42.11.250"]
    assert (ewon.site_code, ewon.zone_id, ewon.purdue_level, ewon.domain) == ("DE-RGB", "RGB-Z1", "2", "OT")
    assert ewon.model == "Ewon Cosy 131"
    assert "openvpn" in ewon.sources[0].attributes["protocols"]
    assert any("1 asset(s) match no CMDB item" in n for n in imported.notes)


def test_netbox_devices_join_by_ip_serial_and_name(session: Session, imported: ImportReport) -> None:
    assert sighting(session, "netbox", "fw-cell2-fdl-01").system.name == "OT Firewall Cell 2"
    assert sighting(session, "netbox", "fw-cell1-rgb-01").system.name == "OT-FW Zelle Abfüllung"
    assert sighting(session, "netbox", "fw-idmz-rgb-01").system.name == "FW-IDMZ-RGB-01"
    assert sighting(session, "netbox", "sw-ot-fdl-fh-01").attributes["ips"] == ["10.41.20.2"]
    contacts = session.scalars(sa.select(SystemContact)).all()
    tac = next(c for c in contacts if c.contact_name == "Fortinet TAC")
    assert tac.person_id is None and tac.role == "Vendor Support" and tac.priority == "secondary"
    inactive = next(c for c in contacts if c.priority == "inactive")
    assert inactive.person is not None and inactive.person.display_name == "Gregory Maddox"
    site_level = [c for c in contacts if c.system_id is None]
    assert {(c.site_code, c.contact_name) for c in site_level} == {("US-FDL", "Hannah Kowalski"),
                                                                    ("DE-RGB", "Lukas Brandl")}


def test_display_and_raw_exports_are_the_same_systems(session: Session, imported: ImportReport) -> None:
    cip = system(session, "PLC-CIP-01")
    # Display labels win; the raw export's unknown group sys_id does not replace the name.
    assert cip.class_name == "PLC" and cip.location == "Findlay Plant 1 - Utilities"
    assert cip.support_group_name == "OT Support Findlay" and cip.support_team_id is None
    sn = sighting(session, "servicenow", "730f1ea68ae98b10f5a5452e48c10856")
    assert sn.system_id == cip.id and cip.key == "730f1ea68ae98b10f5a5452e48c10856"
    # Both exports carry the same instant: 05:11:12 New York is 10:11:12 UTC.
    assert cip.updated_at == dt.datetime(2025, 2, 2, 10, 11, 12, tzinfo=UTC)
    assert sn.seen_at == cip.updated_at


# --------------------------------------------------------------------------- system fields


def test_system_fields(session: Session, imported: ImportReport) -> None:
    plc = system(session, "PLC-FIL-L3-07")
    assert (plc.site_code, plc.purdue_level, plc.zone_id, plc.domain, plc.criticality) == ("US-FDL", "1", "FDL-Z3", "OT", 1)
    assert plc.owner.display_name == "Gregory Maddox" and plc.technical_manager.display_name == "Jessica Park"
    assert plc.managed_by_team.name == plc.support_team.name == "OT Engineering - Findlay"
    assert plc.install_status == "Installed" and plc.operational_status == "Operational"
    assert plc.ips == ["10.41.13.7"] and plc.macs == ["5c:88:16:a1:13:07"]
    assert plc.aliases == ["Line 3 filler PLC"]
    assert system(session, "SAP S/4HANA Production (PS4)").aliases == ["PS4", "ERP"]
    retired = system(session, "HMI-FIL-L1-01")
    assert (retired.install_status, retired.operational_status, retired.criticality) == ("Retired", "Retired", 4)
    assert system(session, "FS-FDL-01").domain == "IT"
    assert system(session, "FW-IDMZ-FDL-01").domain == "OT"
    assert system(session, "Nozomi Vantage").domain == "cloud"
    edge = system(session, "Edge Gateway Line 1 Findlay")
    assert edge.owner_id is None and edge.technical_manager_id is None and edge.managed_by_team_id is None
    assert edge.support_team.name == "Data & Analytics Platform"


@pytest.mark.parametrize(
    ("name", "node"),
    [
        ("PLC-FIL-L3-07", "FDL-FH-L3"),
        ("PLC-FIL-L03-07", "FDL-FH-L3"),
        ("HMI-FIL-L1-04", "FDL-FH-L1"),
        ("Edge Gateway Line 1 Findlay", "FDL-FH-L1"),
        ("OT Firewall Cell 2", "FDL-FH"),
        ("SIS-NH3-01", "FDL-UT"),
        ("SCADA-FDL-01", "FDL-CR"),
        ("SPS-ABF-L1-01", "RGB-ABF-L1"),
        ("OT-FW Zelle Abfüllung", "RGB-ABF"),
        ("F-SPS-KAE-01", "RGB-EZ"),
        ("SPS-SIR-01", "RGB-SIR"),
        ("Historian (AVEVA PI) Plant 2", "RGB-LS"),
        ("SAP S/4HANA Production (PS4)", None),
    ],
)
def test_systems_sit_in_their_isa95_node(session: Session, corvane_dir: Path, name: str, node: str | None) -> None:
    import_paths([corvane_dir], session=session)
    assert system(session, name).node_id == node


def test_sites_zones_and_conduits(session: Session, imported: ImportReport) -> None:
    sites = {s.code: s for s in session.scalars(sa.select(Site)).all()}
    assert sites["US-FDL"].holiday_subdivision == "OH" and sites["US-FDL"].psm_covered
    assert sites["DE-RGB"].holiday_subdivision == "BY" and not sites["DE-RGB"].psm_covered
    assert not sites["CORP"].psm_covered
    assert sites["DE-RGB"].business_hours == "Mo-Fr 06:00-22:00" and sites["DE-RGB"].timezone == "Europe/Berlin"
    line = session.scalars(sa.select(HierarchyNode).where(HierarchyNode.node_id == "RGB-ABF-L1")).one()
    assert line.parent.node_id == "RGB-ABF" and line.local_name == "Linie 1 (PET aseptisch)"
    conduits = {c.conduit_id: c for c in session.scalars(sa.select(Conduit)).all()}
    assert conduits["RGB-C1"].enforced_by_system_id == system(session, "OT-FW Zelle Abfüllung").id
    assert conduits["FDL-C1"].enforced_by_system_id == system(session, "OT Firewall Cell 2").id


def test_relations_from_cmdb_rel_ci(session: Session, imported: ImportReport) -> None:
    rels = session.scalars(sa.select(SystemRelation)).all()
    pairs = {(r.system.name, r.depends_on.name, r.kind) for r in rels}
    assert ("HMI-FIL-L3-02", "PLC-FIL-L3-07", "depends_on") in pairs
    assert ("SCADA-FDL-01", "SW-OT-FDL-FH-01", "depends_on") in pairs
    assert ("OT Firewall Cell 2", "SW-OT-FDL-FH-01", "connected_by") in pairs
    assert {r.source for r in rels} == {"servicenow"}


# --------------------------------------------------------------------------- people and teams


def test_people_join_across_directories(session: Session, imported: ImportReport) -> None:
    maddox = person(session, "Gregory Maddox")
    assert not maddox.active and maddox.left_on == dt.date(2025, 2, 28)
    assert {k: v["active"] for k, v in maddox.sources.items() if "active" in v} == {
        "servicenow": False, "entra": False, "slack": False}
    assert maddox.aad_object_id == "8903ed2a-d461-7446-72b4-d0f3b635d7a2"
    assert maddox.servicenow_sys_id == "e7d9adadb3008e2ffd46a2f83499b7d9"
    assert maddox.manager.display_name == "Brian Caldwell"
    luis = person(session, "Luis Ortega")
    acting = session.scalars(sa.select(RoleAssignment).where(RoleAssignment.person_id == luis.id)).one()
    assert acting.acting_for_id == maddox.id
    assert (acting.scope_type, acting.scope_key, acting.role.name) == ("site", "US-FDL", "OT Engineering Lead")
    assert acting.valid_from == dt.date(2025, 3, 1)
    # Guests are joined by mail; their manager comes from Entra.
    nina = person(session, "Nina Castillo")
    assert nina.is_guest and nina.email == "nina.castillo@brightlinecontrols.example"
    assert nina.upn.startswith("nina.castillo_brightlinecontrols.example#EXT#")
    ray = person(session, "Ray Dawson")
    assert ray.manager_id == nina.id and ray.active
    assert person(session, "Jessica Park").manager.display_name == "Luis Ortega"
    assert person(session, "Tom Brennan").phone == "+1 419 555 0142"


def test_slack_accounts_join_only_on_exact_email(session: Session, imported: ImportReport) -> None:
    idents = {i.external_id: i for i in session.scalars(sa.select(ChatIdentity)).all()}
    johanna = idents["U0F97113F78"]
    assert johanna.person_id is None and johanna.email == "jo.weber@corvane.example"
    assert idents["U02411743DB"].person.display_name == "Luis Ortega"
    bots = [i for i in idents.values() if i.is_bot]
    assert {b.handle for b in bots} == {"servicenow", "govbot"} and all(b.person_id is None for b in bots)
    assert idents["U0E2A50A780"].deleted and idents["U0E2A50A780"].person.display_name == "Gregory Maddox"
    assert idents["U0B15E1BFD9"].is_restricted and idents["U0B15E1BFD9"].workspace_id == "T04CRVBEV"
    joined = {i.person_id for i in idents.values() if i.person_id}
    assert len(joined) == 28  # 31 accounts - 2 bots - Johanna's


def test_teams_merge_the_list_and_servicenow_groups(session: Session, imported: ImportReport) -> None:
    team = session.scalars(sa.select(Team).where(Team.name == "OT Engineering - Findlay")).one()
    assert team.team_key == "T04" and team.servicenow_sys_id == "3c79e59814f30cd9086712d1b1e28d57"
    assert team.kind == "OT" and team.site_code == "US-FDL" and team.manager.display_name == "Gregory Maddox"
    soc = session.scalars(sa.select(Team).where(Team.name == "Security Operations Center")).one()
    members = session.scalars(
        sa.select(Person.display_name).join(TeamMember, TeamMember.person_id == Person.id)
        .where(TeamMember.team_id == soc.id)).all()
    # Hannah is a member only in sys_user_grmember.
    assert set(members) == {"Aisha Bello", "Kevin Tran", "Hannah Kowalski"}
    assert soc.site_code is None


# --------------------------------------------------------------------------- governance model and changes


def test_raci_matrix(session: Session, imported: ImportReport) -> None:
    def letters(activity_id: str) -> set[tuple[str, str]]:
        return {(e.role.name, e.letter) for e in session.scalars(
            sa.select(RaciEntry).join(Activity).where(Activity.activity_id == activity_id)).all()}

    act02 = letters("ACT-02")
    assert {("Manufacturing Systems Owner", "A"), ("Manufacturing Systems Owner", "R")} <= act02
    assert {r for r, letter in letters("ACT-07") if letter == "A"} == {"OT Engineering Lead", "OT Security Lead"}
    assert not {r for r, letter in letters("ACT-18") if letter == "A"}
    act = session.scalars(sa.select(Activity).where(Activity.activity_id == "ACT-01")).one()
    assert act.scope_kind == "site" and act.process_area == "Change enablement"
    assert "OSHA 1910.119(l)" in act.notes
    assert session.scalars(sa.select(Role).where(Role.name == "SOC")).one()


def test_decision_rights_sla_and_escalation(session: Session, imported: ImportReport) -> None:
    dr = session.scalars(sa.select(DecisionRight).where(DecisionRight.decision_id == "DR-01")).one()
    assert dr.must_consult == ["Production Shift Lead", "OT Security Lead"]
    assert dr.informed == ["Change Manager (CAB Chair)", "SOC"] and dr.scope_kind == "site"
    sla = session.scalars(sa.select(SlaPolicy).where(SlaPolicy.policy_id == "SLA-C1-P1")).one()
    assert (sla.criticality, sla.priority, sla.response_minutes, sla.resolution_hours) == (1, 1, 15, 4)
    assert sla.notify_at_pct == ["50", "75", "100"]
    chain = session.scalars(sa.select(EscalationChain).where(EscalationChain.chain_id == "ESC-IT")).one()
    assert chain.applies_to_groups == ["IT Infrastructure & Network", "Enterprise Applications - SAP",
                                       "IT Service Desk"]
    assert chain.site_code == "*" and [lv.level for lv in chain.levels] == [1, 2, 3, 4]
    level = session.scalars(sa.select(EscalationLevel).join(EscalationChain).where(
        EscalationChain.chain_id == "ESC-OT-FDL", EscalationLevel.level == 1)).one()
    assert level.channels == ["slack_channel:#ot-fdl-oncall", "phone:on-call"] and level.target_type == "team"
    level4 = session.scalars(sa.select(EscalationLevel).join(EscalationChain).where(
        EscalationChain.chain_id == "ESC-OT-FDL", EscalationLevel.level == 4)).one()
    assert level4.targets == ["OT Security Lead@GLOBAL", "CISO@GLOBAL"] and level4.after_minutes == 60


def test_changes_and_approvals(session: Session, imported: ImportReport) -> None:
    changes = {c.number: c for c in session.scalars(sa.select(ChangeRequest)).all()}
    fw = changes["CHG0031201"]
    assert (fw.origin, fw.change_type, fw.source_state, fw.state) == ("servicenow", "normal", "Authorize", "submitted")
    assert fw.title == "Firmware upgrade PLC-FIL-L3-07 to v33.011"
    assert fw.system.name == "PLC-FIL-L3-07" and fw.requester.display_name == "Jessica Park"
    assert fw.cab_required and fw.priority == 3 and fw.external_id == "7038ece24a4e41394010ce10571c7adf"
    # 23:00 New York display value is 05:00 CEST: 03:00 UTC the next day.
    patch = changes["CHG0031122"]
    assert patch.planned_start == dt.datetime(2025, 6, 21, 3, 0, tzinfo=UTC)
    assert (patch.change_type, patch.state) == ("standard", "scheduled")
    assert changes["CHG0031150"].state == "implemented" and changes["CHG0031150"].change_type == "emergency"
    assert changes["CHG0031099"].state == "closed"
    approvals = session.scalars(sa.select(Approval).where(Approval.change_id == fw.id)).all()
    by_person = {a.person.display_name: a for a in approvals}
    assert by_person["Gregory Maddox"].state == "requested"
    assert by_person["Hannah Kowalski"].state == "approved"
    assert by_person["Hannah Kowalski"].comment == "Backup of current project verified"
    assert by_person["Brian Caldwell"].due_at == dt.datetime(2025, 6, 6, 21, 0, tzinfo=UTC)
    assert by_person["Brian Caldwell"].requested_at == dt.datetime(2025, 6, 3, 13, 0, tzinfo=UTC)
    nyr = session.scalars(sa.select(Approval).where(Approval.external_id == "a5b284d4f81c05eac1ede518bf561b6c")).one()
    assert nyr.state == "not_yet_requested" and nyr.due_at is None and nyr.kind == "approver"


# --------------------------------------------------------------------------- idempotency, dry run, order


def test_second_import_changes_nothing(session: Session, corvane_dir: Path, imported: ImportReport) -> None:
    before = row_counts(session)
    again = import_paths([corvane_dir], session=session)
    session.commit()
    assert again.totals()["added"] == again.totals()["changed"] == again.totals()["removed"] == 0
    assert again.totals()["unchanged"] == imported.totals()["added"]
    assert all(c["unchanged"] == imported.counts[k]["added"] for k, c in again.counts.items())
    assert row_counts(session) == before


def test_dry_run_writes_nothing_and_reports_what_would_change(session: Session, corvane_dir: Path) -> None:
    report = import_paths([corvane_dir], session=session, dry_run=True)
    assert report.dry_run and report.counts["systems"]["added"] == 48
    assert set(row_counts(session).values()) == {0}
    session.rollback()
    assert set(row_counts(session).values()) == {0}
    real = import_paths([corvane_dir], session=session)
    assert real.counts == report.counts
    session.commit()
    after = row_counts(session)
    again = import_paths([corvane_dir], session=session, dry_run=True)
    assert again.totals()["added"] == again.totals()["changed"] == 0
    assert row_counts(session) == after


def test_file_order_and_names_do_not_matter(session: Session, corvane_dir: Path, tmp_path: Path) -> None:
    files = sorted(corvane_dir.glob("*.csv"), reverse=True)
    renamed = []
    for i, f in enumerate(files):
        target = tmp_path / f"export_{i:02d}.csv"
        shutil.copy(f, target)
        renamed.append(target)
    report = import_paths(renamed, session=session, export_timezone=SAMPLE_EXPORT_TIMEZONE)
    assert report.counts["systems"]["added"] == 48
    assert {k for _, k in report.files} >= {"sites", "cmdb_ci", "cmdb_ci_raw", "raci_matrix"}
    assert person(session, "Gregory Maddox").left_on == dt.date(2025, 2, 28)


def test_progress_is_reported(session: Session, corvane_dir: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    import_paths([corvane_dir], session=session, progress=lambda label, done, total: seen.append((label, done, total)))
    labels = {label for label, _, _ in seen}
    assert "reading cmdb_ci.csv" in labels and "writing" in labels
    assert all(0 <= done <= total for _, done, total in seen)
    assert seen[-1][1] == seen[-1][2]


def test_bulk_paths_store_what_the_orm_reads_back(
    session: Session, corvane_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large tables go to the driver in bulk (COPY on PostgreSQL); the values must round-trip exactly."""
    from governance_store.importers import state

    monkeypatch.setattr(state, "COPY_THRESHOLD", 1)
    import_paths([corvane_dir], session=session)
    session.commit()
    monkeypatch.setattr(state, "COPY_THRESHOLD", 10**9)
    again = import_paths([corvane_dir], session=session)
    assert again.totals()["changed"] == again.totals()["added"] == 0
    fw = sighting(session, "nozomi", "d471c7eb-8e7d-3b3b-ffe1-a1641fa922b7")
    assert fw.attributes["custom_fields"] == {"site": "US-FDL"} and fw.attributes["protocols"] == ["https", "ssh"]
    plc = system(session, "PLC-FIL-L3-07")
    assert plc.updated_at == dt.datetime(2025, 5, 28, 13, 2, 11, tzinfo=UTC) and plc.in_cmdb is True
    assert person(session, "Jürgen Lehmann").sources["servicenow"]["user_name"] == "juergen.lehmann"
