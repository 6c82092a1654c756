"""The governance lint on the sample org finds every planted gap and no source disagreement."""

from __future__ import annotations

from sqlalchemy.orm import Session

from governance_store.lint import normalised_name, run_lint


def subjects(report, code: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.subject for f in report.by_code(code)}


def test_every_planted_gap_is_found(corvane: Session) -> None:
    report = run_lint(session=corvane)
    # G1: a system with no Accountable.
    assert subjects(report, "NO_ACCOUNTABLE_OWNER") == {"Edge Gateway Line 1 Findlay"}
    # G2 and B3: activities with two and with zero Accountables.
    assert subjects(report, "ACTIVITY_MULTIPLE_ACCOUNTABLE") == {"ACT-07"}
    assert subjects(report, "ACTIVITY_NO_ACCOUNTABLE") == {"ACT-18"}
    # G3: the owner who left, everywhere he is still named.
    owners = {s.split(" (")[0] for s in subjects(report, "DEPARTED_OWNER")}
    assert owners == {"PLC-FIL-L3-07", "PLC-FIL-L03-07", "HMI-FIL-L3-02", "SIS-NH3-01", "EWS-FDL-01"}
    assert subjects(report, "DEPARTED_TEAM_MANAGER") == {"OT Engineering - Findlay"}
    assert subjects(report, "DEPARTED_ESCALATION_TARGET") == {"ESC-OT-FDL level 2"}
    assert subjects(report, "DEPARTED_APPROVER") == {"CHG0031201 (Gregory Maddox)"}
    for finding in report.by_code("DEPARTED_OWNER"):
        assert "acting holder: Luis Ortega" in finding.evidence
    # G4: the near-duplicate PLC.
    dup = report.by_code("DUPLICATE_SYSTEM")
    assert len(dup) == 1
    assert set(dup[0].subject.split(" / ")) == {"PLC-FIL-L3-07", "PLC-FIL-L03-07"}
    assert any("7A21C9E4" in e for e in dup[0].evidence)
    # G5: the vendor's remote-access router seen only by OT monitoring.
    shadow = report.by_code("NOT_IN_CMDB")
    assert [f.subject for f in shadow] == ["10.42.11.250"]
    assert any("Ewon" in e for e in shadow[0].evidence)
    # B1: retired but still on the network.
    assert subjects(report, "RETIRED_BUT_SEEN") == {"HMI-FIL-L1-01"}
    # B2: a team that does not exist.
    unknown = report.by_code("UNKNOWN_TEAM")
    assert {f.subject for f in unknown} == {"OT Support Findlay"}
    assert "PLC-CIP-01" in unknown[0].evidence[1] and "EWS-FDL-01" in unknown[0].evidence[1]
    # B4: people chat cannot reach, and the Slack account that matches nobody.
    assert subjects(report, "UNREACHABLE_IN_CHAT") == {"Johanna Weber", "Ray Dawson"}
    unmatched = report.by_code("UNMATCHED_CHAT_IDENTITY")
    assert len(unmatched) == 1 and "jo.weber@corvane.example" in unmatched[0].evidence[0]


def test_source_disagreements_are_not_findings(corvane: Session) -> None:
    report = run_lint(session=corvane)
    codes = {f.code for f in report.findings}
    assert codes <= {
        "NO_ACCOUNTABLE_OWNER", "ACTIVITY_MULTIPLE_ACCOUNTABLE", "ACTIVITY_NO_ACCOUNTABLE", "DEPARTED_OWNER",
        "DEPARTED_TEAM_MANAGER", "DEPARTED_ESCALATION_TARGET", "DEPARTED_APPROVER", "DUPLICATE_SYSTEM",
        "NOT_IN_CMDB", "RETIRED_BUT_SEEN", "UNKNOWN_TEAM", "UNREACHABLE_IN_CHAT", "UNMATCHED_CHAT_IDENTITY",
    }
    text = " ".join(" ".join(f.evidence) + f.subject for f in report.findings).lower()
    # Purdue level per source, NetBox hostnames, lower-case serials, NetBox's inactive contact.
    for system in ("vfd-fil-l1-03", "rbt-pal-l2-01", "ft-mix-101", "ot firewall cell 2", "sw-ot-fdl-fh-01"):
        assert system not in text, system
    assert len(report.findings) == 18


def test_findings_have_stable_keys(corvane: Session) -> None:
    first = {f.key for f in run_lint(session=corvane).findings}
    second = {f.key for f in run_lint(session=corvane).findings}
    assert first == second and len(first) == len(run_lint(session=corvane).findings)


def test_normalised_names_ignore_zero_padding_case_and_umlauts() -> None:
    assert normalised_name("PLC-FIL-L03-07") == normalised_name("plc_fil_l3_7")
    assert normalised_name("Füller L1") == normalised_name("FULLER-L1")
    assert normalised_name("HMI-FIL-L1-04") != normalised_name("HMI-FIL-L1-01")


def test_every_planted_gap_of_the_second_sample_is_found(valdera: Session) -> None:
    report = run_lint(session=valdera)
    owners = {s.split(" (")[0] for s in subjects(report, "DEPARTED_OWNER")}
    assert owners == {"PUE-PLC-OVN-L2", "PUE-HMI-OVN-L2"}
    for finding in report.by_code("DEPARTED_OWNER"):
        assert "acting holder: Sofía Peña" in finding.evidence
    assert subjects(report, "DEPARTED_ESCALATION_TARGET") == {"ESC-OT-PUE level 2"}
    assert subjects(report, "NO_ACCOUNTABLE_OWNER") == {"LDZ-GW-CHL-01"}
    assert subjects(report, "ACTIVITY_NO_ACCOUNTABLE") == {"ACT-09"}
    assert subjects(report, "UNKNOWN_TEAM") == {"Soporte OT Puebla"}
    # Reconciled, not reported: "Lucja Wozniak" in the CMDB is Łucja Woźniak in the directory.
    assert {f.code for f in report.findings} == {
        "DEPARTED_OWNER", "DEPARTED_ESCALATION_TARGET", "NO_ACCOUNTABLE_OWNER", "ACTIVITY_NO_ACCOUNTABLE",
        "UNKNOWN_TEAM",
    }
