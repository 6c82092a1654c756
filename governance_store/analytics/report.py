"""One scope's decision report: baseline against govbot, weekly trend, waits and bottlenecks."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from governance_store.analytics import bottlenecks, cycle
from governance_store.analytics.facts import ApprovalFact, ChangeFact, Era, Scope, load
from governance_store.analytics.stats import Summary
from governance_store.changes import CHANGE_MANAGER_ROLE

WEEKDAY_NAMES = bottlenecks.WEEKDAY_NAMES


@dataclass(frozen=True)
class WaitRow:
    """The waits of one approver role or one person."""

    key: str
    note: str  # a person's roles and leaving date; a role's side
    decided: Summary
    withdrawn: int  # approvals withdrawn before they decided (re-routed, or the change ended)


@dataclass(frozen=True)
class WeekdayRow:
    weekday: str
    decisions: int
    summary: Summary


@dataclass(frozen=True)
class Span:
    first: dt.datetime
    last: dt.datetime


@dataclass(frozen=True)
class DecisionReport:
    site: str | None
    timezone: str
    since: dt.datetime | None
    until: dt.datetime | None
    changes: int  # submitted changes in scope
    overall: cycle.Comparison
    compliance: dict[Era, cycle.Compliance]
    dimensions: dict[str, list[cycle.Comparison]]
    weeks: list[cycle.Week]
    pre_approved: cycle.PreApproved
    roles: list[WaitRow]
    people: list[WaitRow]
    weekdays: list[WeekdayRow]
    findings: list[bottlenecks.Finding]
    spans: dict[Era, Span] = field(default_factory=dict)

    @property
    def top(self) -> bottlenecks.Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def has_history(self) -> bool:
        return self.overall.baseline.n > 0

    @property
    def has_govbot(self) -> bool:
        return self.overall.govbot.n > 0


def _wait_rows(approvals: list[ApprovalFact], key: str) -> list[WaitRow]:
    groups: dict[str, list[ApprovalFact]] = defaultdict(list)
    for a in approvals:
        groups[getattr(a, key)].append(a)
    rows = []
    for name, items in groups.items():
        decided = [a for a in items if a.decided]
        if key == "person":
            roles = Counter(a.role for a in items)
            note = ", ".join(r for r, _ in roles.most_common(3))
            left = next((a.left_on for a in items if a.left_on), None)
            if left:
                note += f"; left {left.isoformat()}"
        else:
            sides = {a.side.value for a in items if a.side is not None}
            note = "/".join(sorted(sides)) + " side" if sides else ""
        rows.append(WaitRow(name, note, Summary.of((a.hours, a.business_days) for a in decided),
                            sum(1 for a in items if a.withdrawn)))
    rows.sort(key=lambda r: (-(r.decided.median_bdays or 0), r.key))
    return rows


def _weekday_rows(approvals: list[ApprovalFact]) -> list[WeekdayRow]:
    by_day: dict[int, list[ApprovalFact]] = defaultdict(list)
    for a in approvals:
        if a.decided and a.ended_weekday is not None:
            by_day[a.ended_weekday].append(a)
    return [WeekdayRow(WEEKDAY_NAMES[d], len(by_day[d]), Summary.of((a.hours, a.business_days) for a in by_day[d]))
            for d in range(7) if d < 5 or by_day.get(d)]


def build(facts: list[ChangeFact], *, tz: str, site: str | None = None, since: dt.datetime | None = None,
          until: dt.datetime | None = None) -> DecisionReport:
    zone = ZoneInfo(tz)
    decided = cycle.decisions(facts)
    ctx_changes = [f for f in facts if f.needs_decision]
    normal = [a for f in ctx_changes if f.change_type != "emergency" for a in f.approvals]
    spans: dict[Era, Span] = {}
    for era in Era:
        times = [f.requested_at for f in facts if f.era == era]
        if times:
            spans[era] = Span(min(times), max(times))
    return DecisionReport(
        site=site, timezone=tz, since=since, until=until, changes=len(facts),
        overall=cycle.compare(decided), compliance={era: cycle.compliance(decided, era) for era in Era},
        dimensions=cycle.by_dimension(decided), weeks=cycle.weekly(decided, tz=zone, since=since, until=until),
        pre_approved=cycle.pre_approved(facts), roles=_wait_rows(normal, "role"), people=_wait_rows(normal, "person"),
        weekdays=_weekday_rows(normal), findings=bottlenecks.find(ctx_changes, tz=zone), spans=spans,
    )


def decision_report(*, session: Session, tz: str, site: str | None = None, since: dt.datetime | None = None,
                    until: dt.datetime | None = None, change_manager_role: str = CHANGE_MANAGER_ROLE) -> DecisionReport:
    """The decision report of ``site`` (``None``: every site) for changes decided (else requested) in
    [``since``, ``until``); dates and weeks in ``tz``.  ``change_manager_role``: the role of the change
    authority (the CAB), which sits on neither the IT nor the OT side (the quorum rules' setting)."""
    facts = load(session=session, scope=Scope(site=site, since=since, until=until),
                 change_manager_role=change_manager_role)
    return build(facts, tz=tz, site=site, since=since, until=until)
