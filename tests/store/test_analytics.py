"""Decision analytics on the sample's year of history: the baseline and the bottlenecks its README describes,
found by the analysis; and changes decided in govbot measured against that baseline."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session, sessionmaker

from governance_store.analytics import decision_report
from governance_store.analytics.facts import APPROVAL_TIMER, Era
from governance_store.importers import import_paths
from notifications import sla
from tests.conftest import CORVANE, HISTORY
from tests.govbot_decisions import decided_in_govbot

NY = "America/New_York"
STALLED = ["CHG0030405", "CHG0030417", "CHG0030418", "CHG0030582", "CHG0030624", "CHG0030690", "CHG0030708",
           "CHG0030765", "CHG0030864", "CHG0030889"]


@pytest.fixture(scope="module")
def report(history_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    with history_factory() as s:
        return decision_report(session=s, tz=NY)


def by_code(report, code: str):  # type: ignore[no-untyped-def]
    return [f for f in report.findings if f.code == code]


def test_timer_kind_matches_the_sla_module() -> None:
    assert APPROVAL_TIMER == sla.APPROVAL


def test_baseline_cycle_time(report) -> None:  # type: ignore[no-untyped-def]
    base = report.overall.baseline
    assert base.n == 351  # decided changes someone had to approve; 94 pre-approved standard changes apart
    assert report.pre_approved.n == 94 and 2 < report.pre_approved.median_minutes < 4
    assert 4.0 < base.median_hours / 24 < 4.3 and 10 < base.p90_hours / 24 < 11.5
    assert 2.4 < base.median_bdays < 2.7
    assert report.overall.govbot.n == 0 and report.overall.change() is None
    emergency = next(c for c in report.dimensions["change_type"] if c.key == "emergency")
    assert emergency.baseline.n == 29 and round(emergency.baseline.median_hours, 2) == 1.01
    assert round(emergency.baseline.p90_hours, 1) == 2.2
    level3 = next(c for c in report.dimensions["purdue"] if c.key == "Level 3")
    assert level3.baseline.n == 56
    sites = {c.key: c.baseline.n for c in report.dimensions["site"]}
    assert sites == {"US-FDL": 175, "DE-RGB": 126, "CORP": 50}
    assert {c.key for c in report.dimensions["risk"]} == {"low", "moderate", "high"}


def test_weekly_trend_and_sla_compliance(report) -> None:  # type: ignore[no-untyped-def]
    weeks = report.weeks
    assert weeks[0].week == "2024-W23" and len(weeks) >= 52
    assert sum(w.summary.n for w in weeks) == 351
    assert all(w.era == Era.HISTORY for w in weeks)
    compliance = report.compliance[Era.HISTORY]
    assert compliance.total == 351 and 0 < compliance.pct < 30
    assert sum(w.sla_met for w in weeks) == compliance.met


def test_departed_approver_who_slowed_down(report) -> None:  # type: ignore[no-untyped-def]
    (slowed,) = by_code(report, "slowing_approver")
    assert slowed.people == ("Gregory Maddox",)
    assert slowed.figures["earlier"] == 62 and slowed.figures["recent"] == 17
    assert round(slowed.figures["earlier_median_bd"], 1) == 3.1 and round(slowed.figures["recent_median_bd"], 1) == 6.3
    assert any("8 of the later ones took 10 or more calendar days; the longest 15.7 cd" in e for e in slowed.evidence)


def test_approvals_stalled_until_rerouted(report) -> None:  # type: ignore[no-untyped-def]
    (stalled,) = by_code(report, "stalled_until_rerouted")
    assert sorted(stalled.changes) == STALLED
    assert "3 of these were open when they left, 7 were requested after they left" in stalled.evidence[0]
    assert any("stalled a median 8.1 cd, request to decision a median 10.2 cd (7)" in e for e in stalled.evidence)
    assert any("request to decision a median 8.0 cd (3)" in e for e in stalled.evidence)
    assert {row[4] for row in stalled.detail} == {"Luis Ortega", "Brian Caldwell"}


def test_cab_cadence(report) -> None:  # type: ignore[no-untyped-def]
    (cab,) = by_code(report, "decision_day")
    assert cab.figures["weekday"] == "Tue" and cab.figures["decisions"] == 143 and cab.figures["share_pct"] == 100
    assert "Change Manager (CAB Chair)" in cab.title
    level3 = next(e for e in cab.evidence if e.startswith("Level 3:"))
    assert "median 5.0 cd, 90th percentile 7.9 cd" in level3 or "median 5.1 cd, 90th percentile 7.9 cd" in level3
    assert any("Manufacturing Systems Owner median 0.9 bd" in e or "Manufacturing Systems Owner median 1.0 bd" in e
               for e in cab.evidence)


def test_it_side_of_conduit_changes(report) -> None:  # type: ignore[no-untyped-def]
    (split,) = by_code(report, "it_ot_split")
    assert "wait on the IT side" in split.title
    rgb = next(e for e in split.evidence if e.startswith("DE-RGB"))
    assert rgb.startswith("DE-RGB: 24 changes; OT side median 1.0 bd (1.0 cd), IT side median 3.0 bd (4.1 cd)")
    assert rgb.endswith("IT decided last on 83 %")
    fdl = next(e for e in split.evidence if e.startswith("US-FDL"))
    assert fdl.startswith("US-FDL: 17 changes; OT side median 0.8 bd (0.9 cd), IT side median 2.8 bd (4.2 cd)")
    assert split.people == ("Marcus Lee",)


def test_waits_by_role_and_person(report) -> None:  # type: ignore[no-untyped-def]
    people = {r.key: r for r in report.people}
    assert people["Johanna Weber"].decided.n == 54 and round(people["Johanna Weber"].decided.median_bdays, 1) == 0.8
    assert "left 2025-02-28" in people["Gregory Maddox"].note
    roles = {r.key: r for r in report.roles}
    assert roles["IT Infrastructure & Network"].note == "IT side"
    assert roles["OT Security Lead"].note == "OT side"
    assert roles["Change Manager (CAB Chair)"].note == ""
    tuesday = next(r for r in report.weekdays if r.weekday == "Tuesday")
    assert tuesday.decisions == max(r.decisions for r in report.weekdays)


def test_findings_are_ordered_by_their_cost(report) -> None:  # type: ignore[no-untyped-def]
    costs = [f.excess_days for f in report.findings]
    assert costs == sorted(costs, reverse=True) and report.top is report.findings[0]


def test_one_site_sees_only_its_own_changes(history_factory: sessionmaker[Session]) -> None:
    with history_factory() as s:
        rgb = decision_report(session=s, tz="Europe/Berlin", site="DE-RGB")
    assert rgb.overall.baseline.n == 126
    assert not by_code(rgb, "stalled_until_rerouted")
    (split,) = by_code(rgb, "it_ot_split")
    assert [e for e in split.evidence if e.startswith("US-FDL")] == []


def test_period(history_factory: sessionmaker[Session]) -> None:
    since = dt.datetime(2025, 1, 1, 5, tzinfo=dt.UTC)
    until = dt.datetime(2025, 4, 1, 4, tzinfo=dt.UTC)
    with history_factory() as s:
        quarter = decision_report(session=s, tz=NY, since=since, until=until)
    assert 0 < quarter.overall.baseline.n < 351
    assert quarter.weeks[0].week == "2025-W01" and quarter.weeks[-1].week == "2025-W14"  # Monday 31 March


def test_changes_decided_in_govbot_against_the_baseline(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        import_paths([CORVANE, HISTORY], session=s)
    wednesday = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
    for day in range(3):
        decided_in_govbot(session_factory, f'change PLC-FIL-L3-07 "Firmware v3{day}"',
                          at=wednesday + dt.timedelta(days=day), after=dt.timedelta(hours=2))
    with session_factory() as s:
        report = decision_report(session=s, tz=NY, site="US-FDL")
    govbot = report.overall.govbot
    assert govbot.n == 3 and govbot.median_hours == pytest.approx(2.0)
    change = report.overall.change()
    assert change is not None and change < -90  # hours against days
    fdl = next(c for c in report.dimensions["site"] if c.key == "US-FDL")
    assert fdl.govbot.n == 3 and fdl.change() is not None
    assert report.weeks[-1].era == Era.GOVBOT and report.weeks[-1].govbot.n == 3
    assert report.compliance[Era.GOVBOT].total == 3


def test_an_approval_govbot_rerouted_counts_as_rerouted() -> None:
    from governance_store.analytics.facts import _reroutes
    from governance_store.models import ApprovalState

    class Row:
        def __init__(self, id: int, person_id: int, state: str, requested: dt.datetime,
                     decided: dt.datetime | None) -> None:
            self.id, self.person_id, self.state, self.requested_at, self.decided_at = id, person_id, state, requested, decided

    t0 = dt.datetime(2025, 3, 3, 14, tzinfo=dt.UTC)
    moved = t0 + dt.timedelta(days=4)
    rows = [Row(1, 10, ApprovalState.REROUTED.value, t0, moved), Row(2, 11, "approved", moved, moved + dt.timedelta(hours=5))]
    assert _reroutes(rows) == {1: 2}
