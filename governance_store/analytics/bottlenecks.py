"""Where decisions wait: small rules over the decision facts, each naming a bottleneck with its evidence.

Every rule reads the same facts and returns findings; nothing here knows a name, a site or a weekday in
advance.  A finding carries its numbers (in calendar days, "cd", and business days of the system's site,
"bd"), the changes behind it, and ``excess_days``: the calendar days the affected approvals waited beyond
what was usual, summed, which orders the findings (the first is the top bottleneck).

Rules:

- ``stalled_until_rerouted``: approvals withdrawn from one approver and requested from another, grouped by
  the first approver (for instance approvals still routed to someone who had left);
- ``slowed_before_leaving`` / slowing approvers: an approver whose last two months were much slower than
  before (ending at their leaving date when they left);
- ``decision_day``: a role whose decisions fall on one weekday (a CAB cadence), and what it costs the
  changes that need it;
- ``it_ot_split``: on changes that need both an IT and an OT approval, one side waits far longer;
- ``slow_approver``: an approver whose usual wait is a multiple of everyone's, when no other finding
  names them already.

Emergency changes are decided out of band and are left out of waits that measure the normal flow.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from governance_store.analytics.facts import ApprovalFact, ChangeFact, Side, purdue_label
from governance_store.analytics.stats import median, percentile

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MIN_DECISIONS = 10  # decisions of a role before its weekday pattern means anything
ONE_DAY_SHARE = 0.7  # share of a role's decisions on one weekday that makes it a cadence
MIN_APPROVALS = 5  # approvals of a person (or a side) before their waits are compared
SLOWER = 1.5  # this many times the comparison makes a wait a bottleneck
MUCH_SLOWER = 2.0
RECENT_MONTHS = 2


@dataclass(frozen=True)
class Finding:
    code: str
    title: str
    summary: str
    evidence: tuple[str, ...]
    changes: tuple[str, ...]
    excess_days: float
    people: tuple[str, ...] = ()
    detail_header: tuple[str, ...] = ()
    detail: tuple[tuple[str, ...], ...] = ()
    figures: dict[str, float | int | str] = field(default_factory=dict)


def fmt_days(days: float | None, unit: str) -> str:
    return "—" if days is None else f"{days:.1f} {unit}"


def waits(approvals: Iterable[ApprovalFact]) -> str:
    """``"3.0 bd (4.1 cd)"``: median business and calendar days."""
    items = list(approvals)
    return (f"{fmt_days(median(a.business_days for a in items if a.business_days is not None), 'bd')} "
            f"({fmt_days(median(a.days for a in items if a.days is not None), 'cd')})")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _changes(approvals: Iterable[ApprovalFact]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a.number for a in sorted(approvals, key=lambda a: (a.requested_at, a.number))))


@dataclass
class Context:
    changes: list[ChangeFact]
    tz: dt.tzinfo
    approvals: list[ApprovalFact] = field(default_factory=list)
    by_id: dict[int, ApprovalFact] = field(default_factory=dict)
    change_of: dict[int, ChangeFact] = field(default_factory=dict)
    usual_days: float = 0.0  # median wait of a decided approval in the normal flow
    usual_bdays: float = 0.0

    def __post_init__(self) -> None:
        for c in self.changes:
            self.change_of[c.id] = c
            for a in c.approvals:
                self.approvals.append(a)
                self.by_id[a.id] = a
        normal = self.normal_decided()
        self.usual_days = median(a.days for a in normal if a.days is not None) or 0.0
        self.usual_bdays = median(a.business_days for a in normal if a.business_days is not None) or 0.0

    def normal_decided(self) -> list[ApprovalFact]:
        return [a for a in self.approvals if a.decided and self.change_of[a.change_id].change_type != "emergency"]

    def day(self, at: dt.datetime) -> str:
        return f"{at.astimezone(self.tz):%Y-%m-%d}"

    def stamp(self, at: dt.datetime | None) -> str:
        return f"{at.astimezone(self.tz):%Y-%m-%d %H:%M}" if at else "—"


Rule = Callable[[Context], list[Finding]]


def stalled_until_rerouted(ctx: Context) -> list[Finding]:
    rerouted = [a for a in ctx.approvals if a.rerouted_to is not None]
    by_person: dict[str, list[ApprovalFact]] = defaultdict(list)
    for a in rerouted:
        by_person[a.person].append(a)
    out: list[Finding] = []
    for person, items in by_person.items():
        if len(items) < 2:
            continue
        items.sort(key=lambda a: a.requested_at)
        totals: list[float] = []
        detail: list[tuple[str, ...]] = []
        to: Counter[str] = Counter()
        for a in items:
            new = ctx.by_id[a.rerouted_to or -1]
            to[new.person] += 1
            end = new.ended_at if new.decided else None
            total = (end - a.requested_at).total_seconds() / 86400 if end else None
            if total is not None:
                totals.append(total)
            change = ctx.change_of[a.change_id]
            detail.append((a.number, change.system_name or "—", ctx.stamp(a.requested_at), ctx.stamp(a.ended_at),
                           new.person, ctx.stamp(end), fmt_days(total, "cd")))
        stall = median(a.days for a in items if a.days is not None)
        left_on = items[0].left_on
        evidence = [f"re-routed to {', '.join(f'{p} ({n})' for p, n in to.most_common())}"]
        summary = (f"{_plural(len(items), 'approval')} waited a median {fmt_days(stall, 'cd')} on {person} until "
                   f"someone re-routed them; from request to decision they took a median "
                   f"{fmt_days(median(totals), 'cd')}, against {ctx.usual_days:.1f} cd for an approval usually.")
        if left_on is not None:
            cut = dt.datetime.combine(left_on + dt.timedelta(days=1), dt.time(0), tzinfo=ctx.tz)
            before = [a for a in items if a.requested_at < cut]
            after = [a for a in items if a.requested_at >= cut]
            evidence.insert(0, f"{person} left on {left_on.isoformat()}: {len(before)} of these were open when "
                               f"they left, {len(after)} were requested after they left")
            for label, group in (("open when they left", before), ("requested after they left", after)):
                group_totals = [t for a, t in _totals(ctx, group)]
                if group:
                    evidence.append(f"{label}: stalled a median {fmt_days(median(a.days for a in group if a.days is not None), 'cd')}, "
                                    f"request to decision a median {fmt_days(median(group_totals), 'cd')} ({len(group)})")
        out.append(Finding(
            code="stalled_until_rerouted",
            title=f"Approvals routed to {person}{' (left ' + left_on.isoformat() + ')' if left_on else ''} "
                  f"stalled until re-routed",
            summary=summary, evidence=tuple(evidence), changes=_changes(items),
            excess_days=sum(max(0.0, t - ctx.usual_days) for t in totals), people=(person,),
            detail_header=("Change", "System", "Requested", "Withdrawn", "Re-routed to", "Decided", "Request to decision"),
            detail=tuple(detail),
            figures={"approvals": len(items), "median_stall_cd": stall or 0.0, "median_total_cd": median(totals) or 0.0},
        ))
    return out


def _totals(ctx: Context, items: Iterable[ApprovalFact]) -> list[tuple[ApprovalFact, float]]:
    out = []
    for a in items:
        new = ctx.by_id.get(a.rerouted_to or -1)
        if new is not None and new.decided and new.ended_at is not None:
            out.append((a, (new.ended_at - a.requested_at).total_seconds() / 86400))
    return out


def _month_start(day: dt.date, back: int) -> dt.date:
    month = day.year * 12 + day.month - 1 - back
    return dt.date(month // 12, month % 12 + 1, 1)


def slowing_approver(ctx: Context) -> list[Finding]:
    """An approver's last months (up to their leaving date) against their earlier decisions."""
    by_person: dict[str, list[ApprovalFact]] = defaultdict(list)
    for a in ctx.normal_decided():
        by_person[a.person].append(a)
    out: list[Finding] = []
    for person, items in by_person.items():
        left_on = items[0].left_on
        end = left_on or max(a.requested_at for a in items).astimezone(ctx.tz).date()
        start = _month_start(end, RECENT_MONTHS - 1)
        cut = dt.datetime.combine(start, dt.time(0), tzinfo=ctx.tz)
        earlier = [a for a in items if a.requested_at < cut]
        recent = [a for a in items if a.requested_at >= cut]
        if len(earlier) < MIN_APPROVALS or len(recent) < MIN_APPROVALS:
            continue
        before_b = median(a.business_days for a in earlier if a.business_days is not None) or 0.0
        now_b = median(a.business_days for a in recent if a.business_days is not None) or 0.0
        if now_b < SLOWER * before_b or now_b - before_b < 1.0:
            continue
        long_waits = [a for a in recent if (a.days or 0) >= 10]
        first = ctx.day(min(a.requested_at for a in earlier))
        last_early = ctx.day(max(a.requested_at for a in earlier))
        evidence = (
            f"requested {first} to {last_early}: {_plural(len(earlier), 'decision')}, median {waits(earlier)}",
            f"requested {start.isoformat()} to {end.isoformat()}: {_plural(len(recent), 'decision')}, "
            f"median {waits(recent)}",
            f"{len(long_waits)} of the later ones took 10 or more calendar days; the longest "
            f"{max(a.days or 0 for a in recent):.1f} cd",
        )
        when = f"before leaving on {left_on.isoformat()}" if left_on else "in the last two months"
        out.append(Finding(
            code="slowing_approver",
            title=f"{person}'s approvals slowed {when}",
            summary=(f"Approvals requested from {person} from {start.isoformat()} took a median {now_b:.1f} business "
                     f"days, {now_b / before_b if before_b else 0:.1f} times the {before_b:.1f} before."),
            evidence=evidence, changes=_changes(recent),
            excess_days=sum(max(0.0, (a.days or 0) - (median(x.days for x in earlier if x.days is not None) or 0))
                            for a in recent),
            people=(person,),
            figures={"earlier": len(earlier), "recent": len(recent), "earlier_median_bd": before_b,
                     "recent_median_bd": now_b},
        ))
    return out


def decision_day(ctx: Context) -> list[Finding]:
    """A role that decides on one weekday (a board's cadence) and what the wait costs."""
    by_role: dict[str, list[ApprovalFact]] = defaultdict(list)
    for a in ctx.normal_decided():
        by_role[a.role].append(a)
    out: list[Finding] = []
    for role, items in by_role.items():
        if len(items) < MIN_DECISIONS:
            continue
        days = Counter(a.ended_weekday for a in items)
        weekday, count = days.most_common(1)[0]
        if weekday is None or count < ONE_DAY_SHARE * len(items):
            continue
        wait = median(a.days for a in items if a.days is not None) or 0.0
        if wait < max(1.0, ctx.usual_days):
            continue  # one decision day, but nobody waits for it
        changes = [ctx.change_of[c] for c in dict.fromkeys(a.change_id for a in items)]
        cycle = [c.days for c in changes if c.days is not None]
        requests = Counter(a.requested_weekday for a in items)
        evidence = [
            "decisions by weekday: " + " · ".join(f"{WEEKDAYS[d]} {days.get(d, 0)}" for d in range(7) if days.get(d)
                                                  or d < 5),
            "requests by weekday: " + " · ".join(f"{WEEKDAYS[d]} {requests.get(d, 0)}" for d in range(7)
                                                 if requests.get(d) or d < 5),
            f"changes that need it: {len(changes)}; request to decision median "
            f"{fmt_days(median(cycle), 'cd')}, 90th percentile {fmt_days(percentile(cycle, 0.9), 'cd')}",
        ]
        levels: dict[str, list[float]] = defaultdict(list)
        for c in changes:
            if c.days is not None:
                levels[purdue_label(c.purdue)].append(c.days)
        for level, values in sorted(levels.items(), key=lambda kv: -len(kv[1]))[:4]:
            evidence.append(f"{level}: {_plural(len(values), 'change')}, median {fmt_days(median(values), 'cd')}, "
                            f"90th percentile {fmt_days(percentile(values, 0.9), 'cd')}")
        others: dict[str, list[ApprovalFact]] = defaultdict(list)
        first_other = 0
        excess = 0.0
        for a in items:
            mates = [m for m in ctx.change_of[a.change_id].approvals if m.id != a.id and m.decided and m.role != role]
            for m in mates:
                others[m.role].append(m)
            if mates and a.ended_at is not None and all(m.ended_at and m.ended_at <= a.ended_at for m in mates):
                first_other += 1
                excess += max(0.0, (a.ended_at - max(m.ended_at for m in mates if m.ended_at)).total_seconds() / 86400)
            elif not mates:
                excess += max(0.0, (a.days or 0) - ctx.usual_days)
        if others:
            evidence.append(f"the other approvers decided before it on {first_other} of {len(items)} changes: "
                            + "; ".join(f"{r} median {waits(v)} ({len(v)})"
                                        for r, v in sorted(others.items(), key=lambda kv: -len(kv[1]))[:3]))
        share = 100.0 * count / len(items)
        out.append(Finding(
            code="decision_day",
            title=f"{role} decides on {WEEKDAY_NAMES[weekday]}s: changes wait for that day",
            summary=(f"{count} of {len(items)} decisions ({share:.0f} %) by the {role} fall on a {WEEKDAY_NAMES[weekday]}; "
                     f"the changes that need it take a median {fmt_days(median(cycle), 'cd')} from request to decision."),
            evidence=tuple(evidence), changes=_changes(items), excess_days=excess,
            people=tuple(sorted({a.person for a in items})),
            figures={"decisions": len(items), "weekday": WEEKDAYS[weekday], "share_pct": share,
                     "median_cycle_cd": median(cycle) or 0.0},
        ))
    return out


def it_ot_split(ctx: Context) -> list[Finding]:
    """Changes that need both an IT and an OT approval: which side they wait on, per site."""
    per_site: dict[str, list[tuple[ChangeFact, list[ApprovalFact], list[ApprovalFact]]]] = defaultdict(list)
    for c in ctx.changes:
        if c.change_type == "emergency":
            continue
        ot = [a for a in c.approvals if a.side == Side.OT and a.decided]
        it = [a for a in c.approvals if a.side == Side.IT and a.decided]
        if ot and it:
            per_site[c.site or "unknown site"].append((c, ot, it))
    lines: dict[Side, list[str]] = defaultdict(list)
    affected: dict[Side, list[ApprovalFact]] = defaultdict(list)
    excess: dict[Side, float] = defaultdict(float)
    people: dict[Side, Counter[str]] = defaultdict(Counter)
    figures: dict[Side, dict[str, float | int | str]] = defaultdict(dict)
    for site, rows in sorted(per_site.items()):
        if len(rows) < MIN_APPROVALS:
            continue
        side_wait = {Side.OT: [max(rows_[1], key=_end) for rows_ in rows], Side.IT: [max(rows_[2], key=_end) for rows_ in rows]}
        med = {s: median(a.business_days for a in v if a.business_days is not None) or 0.0 for s, v in side_wait.items()}
        slow, fast = (Side.IT, Side.OT) if med[Side.IT] >= med[Side.OT] else (Side.OT, Side.IT)
        if med[slow] < SLOWER * med[fast] or med[slow] - med[fast] < 0.5:
            continue
        last = 0
        for c, ot, it in rows:
            mine = ot if slow == Side.OT else it
            latest = max(a.ended_at for a in c.approvals if a.decided and a.ended_at is not None)
            if max(a.ended_at for a in mine if a.ended_at is not None) >= latest:
                last += 1
        for s_a, f_a in zip(side_wait[slow], side_wait[fast], strict=True):
            excess[slow] += max(0.0, ((s_a.days or 0) - (f_a.days or 0)))
        affected[slow].extend(side_wait[slow])
        people[slow].update(a.person for a in side_wait[slow])
        lines[slow].append(
            f"{site}: {_plural(len(rows), 'change')}; {fast.value} side median {waits(side_wait[fast])}, "
            f"{slow.value} side median {waits(side_wait[slow])}; {slow.value} decided last on {100 * last / len(rows):.0f} %")
        figures[slow][f"{site}_changes"] = len(rows)
        figures[slow][f"{site}_{slow.value}_median_bd"] = med[slow]
        figures[slow][f"{site}_{fast.value}_median_bd"] = med[fast]
        figures[slow][f"{site}_{slow.value}_last_pct"] = 100 * last / len(rows)
    out = []
    for slow, evidence in lines.items():
        fast = Side.OT if slow == Side.IT else Side.IT
        who = ", ".join(f"{p} ({n})" for p, n in people[slow].most_common(3))
        out.append(Finding(
            code="it_ot_split",
            title=f"Changes that need both IT and OT approval wait on the {slow.value} side",
            summary=(f"Where a change needs an {fast.value} and an {slow.value} approval, the {slow.value} side takes "
                     f"far longer and usually decides last ({who})."),
            evidence=(*evidence, f"{slow.value} side approvers: {who}"), changes=_changes(affected[slow]),
            excess_days=excess[slow], people=tuple(people[slow]), figures=figures[slow],
        ))
    return out


def _end(a: ApprovalFact) -> dt.datetime:
    assert a.ended_at is not None
    return a.ended_at


def slow_approver(ctx: Context, named: set[str]) -> list[Finding]:
    by_person: dict[str, list[ApprovalFact]] = defaultdict(list)
    for a in ctx.normal_decided():
        by_person[a.person].append(a)
    out = []
    for person, items in by_person.items():
        if person in named or len(items) < MIN_APPROVALS:
            continue
        mine = median(a.business_days for a in items if a.business_days is not None) or 0.0
        if ctx.usual_bdays <= 0 or mine < MUCH_SLOWER * ctx.usual_bdays or mine - ctx.usual_bdays < 1.0:
            continue
        roles = Counter(a.role for a in items)
        out.append(Finding(
            code="slow_approver",
            title=f"Approvals wait longest on {person}",
            summary=(f"{person} ({', '.join(r for r, _ in roles.most_common(2))}) decides after a median "
                     f"{mine:.1f} business days, against {ctx.usual_bdays:.1f} for all approvers."),
            evidence=(f"{_plural(len(items), 'decision')}, median {waits(items)}, 90th percentile "
                      f"{fmt_days(percentile((a.business_days for a in items if a.business_days is not None), 0.9), 'bd')}",),
            changes=_changes(items), excess_days=sum(max(0.0, (a.days or 0) - ctx.usual_days) for a in items),
            people=(person,), figures={"decisions": len(items), "median_bd": mine},
        ))
    return out


RULES: tuple[Rule, ...] = (stalled_until_rerouted, slowing_approver, decision_day, it_ot_split)


def find(changes: list[ChangeFact], *, tz: dt.tzinfo) -> list[Finding]:
    """Every bottleneck in ``changes``, the costliest first."""
    ctx = Context(changes, tz)
    found: list[Finding] = []
    for rule in RULES:
        found.extend(rule(ctx))
    named = {p for f in found for p in f.people}
    found.extend(slow_approver(ctx, named))
    found.sort(key=lambda f: (-f.excess_days, f.title))
    return found
