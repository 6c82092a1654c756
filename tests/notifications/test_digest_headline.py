"""The digest's headline numbers (this week against the imported history, the top bottleneck) and its lists,
which count everything they announce."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.analytics import decision_report
from governance_store.importers import import_paths
from governance_store.models import OutboxMessage
from notifications import digest
from tests.conftest import HISTORY
from tests.govbot_decisions import decided_in_govbot

LUIS = "luis.ortega@corvane.example"
MONDAY_8 = dt.datetime(2025, 6, 9, 12, 0, tzinfo=dt.UTC)  # 08:00 EDT; the digest covers 2025-06-02..08


def fields_of(org: sessionmaker[Session], scope: str) -> dict[str, str]:
    with org() as s:
        msg = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like(f"digest:{scope}:%"))).first()
        assert msg is not None
        return {f["label"]: f["value"] for f in msg.payload["sections"][0]["fields"]}


def test_every_new_gap_is_listed_or_counted(org: sessionmaker[Session]) -> None:
    runs = digest.run_due(org, [digest.DigestScope("all", (LUIS,), public_url="https://govbot.example")],
                          now=MONDAY_8)
    new = runs[0].payload["new_gaps"]
    assert len(new) == 18  # the first digest finds every gap of the sample new
    fields = fields_of(org, "all")
    lines = fields["New governance gaps (18)"].splitlines()
    assert lines[:8] == new[:8]
    assert lines[8] == "… and 10 more (see https://govbot.example/gaps)"
    assert len(lines) == 9


def test_long_lists_say_how_many_more() -> None:
    start = dt.datetime(2025, 6, 2, 4, tzinfo=dt.UTC)
    data = digest.DigestData("all", "2025-W23", start, start + dt.timedelta(days=7))
    data.new_gaps = [f"gap {i}" for i in range(9)]
    data.resolved_gaps = [f"fixed {i}" for i in range(8)]
    data.no_owner = [f"SYS-{i}" for i in range(13)]
    reply = digest.render(data, digest.DigestScope("all"))
    fields = {f.label: f.value for f in reply.sections[0].fields}
    assert fields["New governance gaps (9)"].splitlines()[-1] == "… and 1 more"
    assert "more" not in fields["Resolved gaps (8)"] and len(fields["Resolved gaps (8)"].splitlines()) == 8
    assert fields["Systems without an Accountable owner (13)"].endswith("SYS-9, … and 3 more")


def _history_and_a_week_in_govbot(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        import_paths([HISTORY], session=s)
    tuesday = dt.datetime(2025, 6, 3, 13, 0, tzinfo=dt.UTC)
    for n in range(2):
        decided_in_govbot(org, f'change PLC-FIL-L3-07 "Firmware v3{n}"', at=tuesday + dt.timedelta(days=n),
                          after=dt.timedelta(hours=3))


def test_this_week_against_the_baseline_and_the_top_bottleneck(org: sessionmaker[Session]) -> None:
    _history_and_a_week_in_govbot(org)
    runs = digest.run_due(org, [digest.DigestScope("site:US-FDL", (LUIS,))], now=MONDAY_8)
    data: dict[str, Any] = runs[0].payload
    assert data["baseline_decisions"] == 175  # Findlay's imported decisions that someone had to approve
    with org() as s:
        report = decision_report(session=s, tz="America/New_York", site="US-FDL",
                                 until=dt.datetime(2025, 6, 9, 4, tzinfo=dt.UTC))
        quarter = decision_report(session=s, tz="America/New_York", site="US-FDL",
                                  since=dt.datetime(2025, 3, 10, 4, tzinfo=dt.UTC),
                                  until=dt.datetime(2025, 6, 9, 4, tzinfo=dt.UTC))
    assert data["baseline_median_hours"] == report.overall.baseline.median_hours
    assert data["median_hours"] == 3.0
    assert data["change_vs_baseline_pct"] < -90
    assert quarter.top is not None and data["top_bottleneck"] == quarter.top.title
    fields = fields_of(org, "site:US-FDL")
    assert fields["Against the baseline"].startswith("this week median 3.0 h · before govbot median")
    assert "(175 imported decisions): ▼" in fields["Against the baseline"]
    assert fields["Top bottleneck (last 13 weeks)"].startswith(quarter.top.title)


def test_headline_is_read_once_per_week_of_a_job(org: sessionmaker[Session]) -> None:
    _history_and_a_week_in_govbot(org)
    scopes = [digest.DigestScope(n, (LUIS,)) for n in ("ot", "security", "all", "site:US-FDL", "site:CORP", "site:DE-RGB")]
    seen: list[str] = []
    sa.event.listen(org.kw["bind"], "before_cursor_execute", lambda _c, _cur, statement, *_: seen.append(statement))
    runs = digest.run_due(org, scopes, now=MONDAY_8 + dt.timedelta(hours=1))
    assert len(runs) == 6 and all(r.payload.get("top_bottleneck") for r in runs if not r.empty)
    baseline_reads = [q for q in seen if "change_requests.origin !=" in q]
    assert len(baseline_reads) == 3, "one per week end (UTC; New York for two sites; Berlin alone)"
    assert [q for q in baseline_reads if "systems.site_code =" in q] == baseline_reads[-1:]
