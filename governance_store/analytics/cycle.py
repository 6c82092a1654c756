"""Decision cycle time: the baseline (imported history) against changes decided in govbot.

Only changes someone had to decide count (a pre-approved standard change has no approver); they are
summarised apart.  Groups are per site, change type, Purdue level and risk; weeks are ISO weeks of the
decision in the time zone the caller chooses.  SLA compliance is the share of decisions made by the
response target of the SLA policy (the running timer's target for changes decided in govbot, the same
policy applied to the request for imported history).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from governance_store.analytics.facts import ChangeFact, Era, purdue_label
from governance_store.analytics.stats import Summary, change_pct

UNKNOWN = "unknown"


DIMENSIONS: tuple[tuple[str, str, Callable[[ChangeFact], str]], ...] = (
    ("site", "Site", lambda f: f.site or UNKNOWN),
    ("change_type", "Change type", lambda f: f.change_type),
    ("purdue", "Purdue level", lambda f: purdue_label(f.purdue)),
    ("risk", "Risk", lambda f: f.risk or UNKNOWN),
)


@dataclass(frozen=True)
class Comparison:
    """One group: its baseline and its govbot-era cycle times."""

    key: str
    baseline: Summary
    govbot: Summary

    def change(self, *, business: bool = False) -> float | None:
        """Median now against the baseline median, in percent (negative: faster)."""
        return change_pct(self.govbot.median(business=business), self.baseline.median(business=business))


def compare(facts: Iterable[ChangeFact], key: str = "all") -> Comparison:
    base: list[tuple[float | None, float | None]] = []
    now: list[tuple[float | None, float | None]] = []
    for f in facts:
        (now if f.era == Era.GOVBOT else base).append((f.hours, f.business_days))
    return Comparison(key, Summary.of(base), Summary.of(now))


def decisions(facts: Iterable[ChangeFact]) -> list[ChangeFact]:
    """The decided changes that needed someone's decision."""
    return [f for f in facts if f.decided and f.needs_decision]


def by_dimension(facts: list[ChangeFact]) -> dict[str, list[Comparison]]:
    """Dimension name -> one comparison per group, largest group first."""
    out: dict[str, list[Comparison]] = {}
    for name, _label, key in DIMENSIONS:
        groups: dict[str, list[ChangeFact]] = defaultdict(list)
        for f in facts:
            groups[key(f)].append(f)
        rows = [compare(members, k) for k, members in groups.items()]
        rows.sort(key=lambda c: (-(c.baseline.n + c.govbot.n), c.key))
        out[name] = rows
    return out


@dataclass(frozen=True)
class Week:
    week: str  # ISO week, e.g. "2025-W07"
    monday: dt.date
    summary: Summary  # every decision of the week
    history: Summary  # imported decisions only
    govbot: Summary  # decisions made in govbot only
    sla_total: int
    sla_met: int
    sla_by_era: dict[Era, Compliance] = field(default_factory=dict)

    @property
    def sla_pct(self) -> float | None:
        return 100.0 * self.sla_met / self.sla_total if self.sla_total else None

    def sla_pct_of(self, era: Era) -> float | None:
        c = self.sla_by_era.get(era)
        return c.pct if c is not None else None

    @property
    def era(self) -> Era:
        """The week's era: govbot as soon as one of its decisions was made in govbot."""
        return Era.GOVBOT if self.govbot.n else Era.HISTORY


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _monday(at: dt.datetime, tz: ZoneInfo) -> dt.date:
    local = at.astimezone(tz).date()
    return local - dt.timedelta(days=local.weekday())


def weekly(facts: list[ChangeFact], *, tz: ZoneInfo, since: dt.datetime | None = None,
           until: dt.datetime | None = None) -> list[Week]:
    """Every ISO week from the first decision (or ``since``) to the last (or the one before ``until``),
    empty weeks included, by decision time in ``tz``."""
    groups: dict[dt.date, list[ChangeFact]] = defaultdict(list)
    for f in facts:
        assert f.decided_at is not None
        groups[_monday(f.decided_at, tz)].append(f)
    if not groups and (since is None or until is None):
        return []
    monday = _monday(since, tz) if since is not None else min(groups)
    last = _monday(until - dt.timedelta(microseconds=1), tz) if until is not None else max(groups)
    weeks: list[Week] = []
    while monday <= last:
        members = groups.get(monday, [])
        timed = [f.sla_met for f in members if f.sla_met is not None]
        weeks.append(Week(
            iso_week(monday), monday, Summary.of((f.hours, f.business_days) for f in members),
            Summary.of((f.hours, f.business_days) for f in members if f.era == Era.HISTORY),
            Summary.of((f.hours, f.business_days) for f in members if f.era == Era.GOVBOT),
            len(timed), sum(1 for m in timed if m), {era: compliance(members, era) for era in Era},
        ))
        monday += dt.timedelta(days=7)
    return weeks


@dataclass(frozen=True)
class Compliance:
    total: int
    met: int

    @property
    def pct(self) -> float | None:
        return 100.0 * self.met / self.total if self.total else None


def compliance(facts: Iterable[ChangeFact], era: Era) -> Compliance:
    timed = [f.sla_met for f in facts if f.era == era and f.sla_met is not None]
    return Compliance(len(timed), sum(1 for m in timed if m))


@dataclass(frozen=True)
class PreApproved:
    """Decided changes nobody had to approve (pre-approved standard changes)."""

    n: int
    median_minutes: float | None


def pre_approved(facts: Iterable[ChangeFact]) -> PreApproved:
    members = [f for f in facts if f.decided and not f.needs_decision]
    s = Summary.of((f.hours, None) for f in members)
    return PreApproved(s.n, s.median_hours * 60 if s.median_hours is not None else None)
