"""A decision report laid out as tables, for the CSV and Excel exports of a quarterly review.

Durations are numbers (hours, business days), rounded to two decimals; a missing value is an empty cell.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from governance_store.analytics.cycle import Comparison
from governance_store.analytics.facts import Era
from governance_store.analytics.report import DecisionReport, WaitRow
from governance_store.analytics.stats import Summary
from governance_store.spreadsheet import Sheet


def _n(value: float | None) -> float | str:
    return "" if value is None else round(value, 2)


def _summary(s: Summary) -> list[Any]:
    return [s.n, _n(s.median_hours), _n(s.p90_hours), _n(s.median_bdays), _n(s.p90_bdays)]


SUMMARY_HEADER = ["decisions", "median hours", "p90 hours", "median business days", "p90 business days"]


def _comparisons(name: str, title: str, rows: list[Comparison]) -> Sheet:
    header = [title, *(f"baseline {h}" for h in SUMMARY_HEADER), *(f"govbot {h}" for h in SUMMARY_HEADER),
              "change of median % (calendar)", "change of median % (business)"]
    return Sheet(name, f"Decision cycle time by {title.lower()}", header, [
        [c.key, *_summary(c.baseline), *_summary(c.govbot), _n(c.change(business=False)), _n(c.change(business=True))]
        for c in rows
    ])


def _waits(name: str, title: str, key: str, rows: list[WaitRow]) -> Sheet:
    return Sheet(name, title, [key, "note", *SUMMARY_HEADER, "withdrawn before deciding"],
                 [[r.key, r.note, *_summary(r.decided), r.withdrawn] for r in rows])


def _day(at: dt.datetime | None, tz: ZoneInfo) -> str:
    return f"{at.astimezone(tz):%Y-%m-%d}" if at else ""


def sheets(report: DecisionReport, *, generated: dt.datetime) -> list[Sheet]:
    tz = ZoneInfo(report.timezone)
    o = report.overall
    base_c, now_c = report.compliance[Era.HISTORY], report.compliance[Era.GOVBOT]
    history, govbot = report.spans.get(Era.HISTORY), report.spans.get(Era.GOVBOT)
    until = report.until - dt.timedelta(days=1) if report.until else None
    summary = Sheet("Summary", "Decision metrics", ["measure", "imported history (baseline)", "govbot", "change %"], [
        ["scope", report.site or "all sites", "", ""],
        ["period (decided, else requested)", f"{_day(report.since, tz) or 'start'} to {_day(until, tz) or 'now'}", "", ""],
        ["time zone of dates and weeks", report.timezone, "", ""],
        ["generated", f"{generated.astimezone(tz):%Y-%m-%d %H:%M %Z}", "", ""],
        ["requests from", _day(history.first if history else None, tz), _day(govbot.first if govbot else None, tz), ""],
        ["requests to", _day(history.last if history else None, tz), _day(govbot.last if govbot else None, tz), ""],
        ["decisions (someone had to approve)", o.baseline.n, o.govbot.n, ""],
        ["median cycle time, hours", _n(o.baseline.median_hours), _n(o.govbot.median_hours), _n(o.change())],
        ["p90 cycle time, hours", _n(o.baseline.p90_hours), _n(o.govbot.p90_hours), ""],
        ["median cycle time, business days", _n(o.baseline.median_bdays), _n(o.govbot.median_bdays),
         _n(o.change(business=True))],
        ["p90 cycle time, business days", _n(o.baseline.p90_bdays), _n(o.govbot.p90_bdays), ""],
        ["within SLA response target, %", _n(base_c.pct), _n(now_c.pct), ""],
        ["within SLA response target, decisions", base_c.met, now_c.met, ""],
        ["pre-approved standard changes", report.pre_approved.n, "", ""],
        ["top bottleneck", report.top.title if report.top else "none found", "", ""],
    ])
    labels: dict[str, tuple[str, str]] = {"site": ("By site", "Site"), "change_type": ("By change type", "Change type"),
                                          "purdue": ("By Purdue level", "Purdue level"), "risk": ("By risk", "Risk")}
    out = [summary]
    for key, rows in report.dimensions.items():
        name, title = labels[key]
        out.append(_comparisons(name, title, rows))
    out.append(Sheet("Weekly", "Decision cycle time and SLA compliance per week", [
        "ISO week", "Monday", *SUMMARY_HEADER, "imported decisions", "govbot decisions", "within SLA target",
        "with an SLA target", "within SLA target %"],
        [[w.week, w.monday.isoformat(), *_summary(w.summary), w.history.n, w.govbot.n, w.sla_met, w.sla_total,
          _n(w.sla_pct)] for w in report.weeks]))
    out.append(_waits("Approver roles", "Approver waits by role (normal and standard changes)", "role", report.roles))
    out.append(_waits("Approvers", "Approver waits by person (normal and standard changes)", "approver", report.people))
    out.append(Sheet("Weekdays", "Decisions by weekday (in each approver's time zone)", ["weekday", *SUMMARY_HEADER],
                     [[r.weekday, *_summary(r.summary)] for r in report.weekdays]))
    out.append(Sheet("Bottlenecks", "Where decisions wait, costliest first", [
        "rank", "finding", "summary", "evidence", "days waited beyond usual", "changes"],
        [[i, f.title, f.summary, "; ".join(f.evidence), _n(f.excess_days), len(f.changes)]
         for i, f in enumerate(report.findings, start=1)]))
    out.append(Sheet("Bottleneck changes", "The changes behind each bottleneck", ["rank", "finding", "change"],
                     [[i, f.title, number] for i, f in enumerate(report.findings, start=1) for number in f.changes]))
    return out


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")
