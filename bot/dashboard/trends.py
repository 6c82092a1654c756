"""What the overview and metrics pages show: the decision report, coverage and gaps as charts with tables."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.dashboard import charts
from bot.dashboard.zones import PageZone
from governance_store import lint
from governance_store.analytics import DecisionReport, coverage, decision_report
from governance_store.analytics.cycle import Comparison, Week, iso_week
from governance_store.analytics.facts import Era
from governance_store.analytics.stats import Summary
from governance_store.changes import CHANGE_MANAGER_ROLE

TREND_WEEKS = 52
DIMENSION_LABELS = {"site": "Site", "change_type": "Change type", "purdue": "Purdue level", "risk": "Risk"}


def duration(hours: float | None) -> str:
    """``"1.5 h"`` under two days, ``"4.1 d"`` (calendar days) above."""
    if hours is None:
        return "—"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def bdays(days: float | None) -> str:
    return "—" if days is None else f"{days:.1f} bd"


def pct(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.0f} %" if signed else f"{value:.0f} %"


@dataclass(frozen=True)
class View:
    """Calendar time (hours and days) or business time (business days of the system's site)."""

    business: bool

    def median(self, s: Summary) -> str:
        return bdays(s.median_bdays) if self.business else duration(s.median_hours)

    def p90(self, s: Summary) -> str:
        return bdays(s.p90_bdays) if self.business else duration(s.p90_hours)

    def days(self, s: Summary, which: str = "median") -> float | None:
        if self.business:
            return s.median_bdays if which == "median" else s.p90_bdays
        value = s.median_hours if which == "median" else s.p90_hours
        return value / 24 if value is not None else None

    @property
    def unit(self) -> str:
        return "business days" if self.business else "calendar days"


def comparison_row(c: Comparison, view: View) -> dict[str, Any]:
    return {"key": c.key, "base_n": c.baseline.n, "base_median": view.median(c.baseline), "base_p90": view.p90(c.baseline),
            "now_n": c.govbot.n, "now_median": view.median(c.govbot), "now_p90": view.p90(c.govbot),
            "change": pct(c.change(business=view.business), signed=True), "faster": (c.change(business=view.business) or 0) < 0}


def _labels(weeks: list[Week]) -> list[str]:
    return [w.week for w in weeks]


def cycle_chart(weeks: list[Week], report: DecisionReport, view: View, *, what: str) -> charts.Chart:
    history = [view.days(w.history) for w in weeks]
    history_p90 = [view.days(w.history, "p90") for w in weeks]
    govbot = [view.days(w.govbot) for w in weeks]
    govbot_p90 = [view.days(w.govbot, "p90") for w in weeks]
    baseline = view.days(report.overall.baseline)
    series = [charts.Series("median, imported history", history, charts.ACCENT),
              charts.Series("p90, imported history", history_p90, charts.ACCENT, ":")]
    if any(v is not None for v in govbot):
        series += [charts.Series("median, govbot", govbot, charts.GOVBOT, "-", "o"),
                   charts.Series("p90, govbot", govbot_p90, charts.GOVBOT, ":")]
    return charts.line_chart(
        alt=f"{what}: median and 90th percentile per week in {view.unit}"
            + (f"; baseline median {baseline:.1f}" if baseline is not None else ""),
        labels=_labels(weeks), series=series, unit=view.unit,
        reference=("baseline median", baseline) if baseline is not None else None,
    )


def sla_chart(weeks: list[Week]) -> charts.Chart:
    history = [w.sla_pct_of(Era.HISTORY) for w in weeks]
    govbot = [w.sla_pct_of(Era.GOVBOT) for w in weeks]
    series = [charts.Series("imported history", history, charts.ACCENT, "bar")]
    if any(v is not None for v in govbot):
        series.append(charts.Series("govbot", govbot, charts.GOVBOT, "bar"))
    return charts.line_chart(alt="Share of decisions within the SLA response target, per week", labels=_labels(weeks),
                             series=series, unit="% within target", y_max=100)


def week_rows(weeks: list[Week], view: View) -> list[dict[str, Any]]:
    return [{"week": w.week, "monday": w.monday.isoformat(), "era": "govbot" if w.era == Era.GOVBOT else "history",
             "n": w.summary.n, "median": view.median(w.summary), "p90": view.p90(w.summary),
             "sla": pct(w.sla_pct), "sla_n": f"{w.sla_met} of {w.sla_total}" if w.sla_total else "—"}
            for w in weeks]


def headline(report: DecisionReport, view: View) -> dict[str, Any]:
    o = report.overall
    base_c, now_c = report.compliance[Era.HISTORY], report.compliance[Era.GOVBOT]
    return {
        "base_n": o.baseline.n, "base_median": view.median(o.baseline), "base_p90": view.p90(o.baseline),
        "now_n": o.govbot.n, "now_median": view.median(o.govbot), "now_p90": view.p90(o.govbot),
        "change": pct(o.change(business=view.business), signed=True),
        "faster": (o.change(business=view.business) or 0) < 0,
        "base_sla": pct(base_c.pct), "base_sla_n": f"{base_c.met} of {base_c.total}",
        "now_sla": pct(now_c.pct), "now_sla_n": f"{now_c.met} of {now_c.total}",
        "pre_approved": report.pre_approved.n,
        "pre_approved_minutes": f"{report.pre_approved.median_minutes:.1f}"
        if report.pre_approved.median_minutes is not None else "—",
        "history_span": report.spans.get(Era.HISTORY), "govbot_span": report.spans.get(Era.GOVBOT),
    }


def finding_view(f: Any) -> dict[str, Any]:
    return {"code": f.code, "title": f.title, "summary": f.summary, "evidence": list(f.evidence),
            "changes": list(f.changes), "excess": f"{f.excess_days:.0f}", "detail_header": list(f.detail_header),
            "detail": [list(r) for r in f.detail]}


def metrics_page(*, session: Session, zone: PageZone, site: str | None, business: bool,
                 since: dt.datetime | None, until: dt.datetime | None,
                 change_manager_role: str = CHANGE_MANAGER_ROLE) -> dict[str, Any]:
    report = decision_report(session=session, tz=zone.name, site=site, since=since, until=until,
                             change_manager_role=change_manager_role)
    view = View(business)
    weeks = report.weeks
    return {
        "report": report, "view": view, "headline": headline(report, view),
        "cycle_chart": cycle_chart(weeks, report, view, what="Decision cycle time"), "sla_chart": sla_chart(weeks),
        "weeks": week_rows(weeks, view),
        "dimensions": [(DIMENSION_LABELS[name], [comparison_row(c, view) for c in rows])
                       for name, rows in report.dimensions.items()],
        "roles": report.roles, "people": report.people, "weekdays": report.weekdays,
        "findings": [finding_view(f) for f in report.findings],
    }


def overview_trends(report_lint: lint.LintReport, *, session: Session, zone: PageZone, site: str | None,
                    now: dt.datetime, change_manager_role: str = CHANGE_MANAGER_ROLE) -> dict[str, Any]:
    """The last year up to ``now``: cycle time, SLA compliance, ownership coverage and open gaps."""
    local = now.astimezone(zone.tz).date()
    this_monday = local - dt.timedelta(days=local.weekday())
    first_monday = this_monday - dt.timedelta(weeks=TREND_WEEKS - 1)
    since = dt.datetime.combine(first_monday, dt.time(0), tzinfo=zone.tz)
    until = dt.datetime.combine(this_monday + dt.timedelta(days=7), dt.time(0), tzinfo=zone.tz)
    report = decision_report(session=session, tz=zone.name, site=site, since=since, until=until,
                             change_manager_role=change_manager_role)
    view = View(False)
    weeks = report.weeks
    mondays = [first_monday + dt.timedelta(weeks=i) for i in range(TREND_WEEKS)]
    # Coverage on each week's last day (today for this week).
    days = [min(m + dt.timedelta(days=6), local) for m in mondays]
    owned = coverage.ownership_coverage(days, session=session, site=site)
    gaps = coverage.open_gaps(report_lint, session=session, now=now, site=site, since=since)
    coverage_chart = charts.line_chart(
        alt="Share of live systems whose Accountable owner is with the company, per week",
        labels=[iso_week(m) for m in mondays], series=[charts.Series("ownership coverage", [p.pct for p in owned],
                                                                     charts.ACCENT, "-")],
        unit="% of systems", y_max=100)
    gap_labels = [zone.day(g.at) + (" (now)" if g.current else "") for g in gaps]
    gaps_chart = charts.line_chart(alt="Open governance gaps at each weekly lint snapshot and now", labels=gap_labels,
                                   series=[charts.Series("open gaps", [float(g.open) for g in gaps], charts.SECOND,
                                                         "-", "o")], unit="findings")
    return {
        "trend_report": report, "headline": headline(report, view),
        "cycle_chart": cycle_chart(weeks, report, view, what="Decision cycle time, last 52 weeks"),
        "sla_chart": sla_chart(weeks), "weeks": week_rows(weeks, view),
        "coverage_chart": coverage_chart,
        "coverage": [{"week": iso_week(m), "day": d.isoformat(), "covered": p.covered, "total": p.total,
                      "pct": pct(p.pct)} for m, d, p in zip(mondays, days, owned, strict=True)],
        "gaps_chart": gaps_chart,
        "gaps": [{"at": zone.fmt(g.at), "open": g.open, "current": g.current} for g in gaps],
        "coverage_now": pct(owned[-1].pct) if owned else "—", "gaps_now": gaps[-1].open if gaps else 0,
        "top": finding_view(report.top) if report.top is not None else None,
    }
