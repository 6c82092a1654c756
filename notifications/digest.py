"""The weekly manager digest: decision cycle time, SLA breaches, escalations, governance gaps.

Scopes are configuration (a site, OT, security-relevant changes, everything:
``GOVBOT_DIGEST_SCOPES_FILE``, see ``notifications.digest_scopes``) or derived
from the role assignments; each recipient scope is due at a local time in its
site's time zone (default Monday 08:00).  A unique (scope, ISO week) row, claimed
before the digest is computed and filled in in the same transaction as the outbox
messages, makes it exactly once: a restart never resends it, a second replica
never computes it, and a bot that was down at 08:00 sends it when it comes back,
marked as delayed.  A digest reads only the change requests of its week (and of
the trend's four weeks before it, and those still pending) as records; its headline
(this week against the imported history, and the top bottleneck of the 13 weeks
before) reads plain rows once per job (``notifications.digest_headline``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from governance_store import audit, raci
from governance_store.analytics.bottlenecks import Finding
from governance_store.lint import run_lint
from governance_store.models import (
    Approval,
    ApprovalState,
    AuditEntry,
    ChangeRequest,
    ChangeState,
    DigestRun,
    LintSnapshot,
    ParticipantKind,
    Person,
    Site,
    System,
)
from governance_store.ownership_metrics import DigestFigures, DigestReads, digest_figures, digest_reads
from handlers.dashboard_pass import DashboardLinks
from handlers.reply import LINK, Button, Field, Reply, Section, reply_to_dict
from notifications import digest_headline, outbox

# Scopes besides one site's (``site:CODE``), and how a person is told what a scope may be.
FIXED_SCOPES = ("ot", "security", "all")
SCOPE_FORMS = "site:CODE, ot, security or all"
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
SECURITY_WORDS = ("firewall", "idmz", "access", "security", "vpn", "jump")
SPARK = "▁▂▃▄▅▆▇█"
DELAY_GRACE = dt.timedelta(hours=1)
TREND_WEEKS = 4  # earlier weeks in the cycle-time trend
BATCH = 500  # ids per IN list

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DigestScope:
    """Who gets which digest, and when."""

    name: str  # "site:US-FDL", "ot", "security", "all"
    recipients: tuple[str, ...] = ()  # e-mail addresses
    channel: str | None = None
    weekday: str = "mon"
    time: str = "08:00"
    timezone: str | None = None  # default: the scope's site time zone, else UTC
    public_url: str | None = None

    def matches(self, system: System | None, cr: ChangeRequest | None = None) -> bool:
        return self.matches_title(system, cr.title if cr is not None else "")

    def matches_title(self, system: System | None, title: str) -> bool:
        """Whether a change with ``title`` on ``system`` belongs to this scope."""
        kind, _, arg = self.name.partition(":")
        if kind == "all":
            return True
        if system is None:
            return False
        if kind == "site":
            return system.site_code == arg
        if kind == "ot":
            return system.domain == "OT"
        if kind == "security":
            text = " ".join(filter(None, [system.class_name, system.zone_id, system.name, *(system.aliases or [])])).lower()
            lowered = title.lower()
            return system.purdue_level == "3.5" or any(w in text or w in lowered for w in SECURITY_WORDS)
        return False


def default_scopes(*, session: Session) -> list[DigestScope]:
    """Without configuration: each plant manager gets their site, the CISO security, the OT leads OT."""
    scopes: list[DigestScope] = []
    for site in session.scalars(select(Site).order_by(Site.code)).all():
        holders = raci.role_holders("Plant Manager", None, session=session, site_code=site.code)
        emails = tuple(p.email for h in holders for p in h.people() if h.scope.startswith("site"))
        if emails:
            scopes.append(DigestScope(f"site:{site.code}", emails))
    for role, scope in (("CISO", "security"), ("OT Engineering Lead", "ot")):
        from governance_store.models import Role, RoleAssignment

        people = session.scalars(
            select(Person).join(RoleAssignment, RoleAssignment.person_id == Person.id).join(Role)
            .where(Role.name == role, Person.active.is_(True))
        ).all()
        if people:
            scopes.append(DigestScope(scope, tuple(sorted({p.email for p in people}))))
    return scopes


def site_timezones(*, session: Session) -> dict[str, str]:
    """Every site's time zone by site code (one query for a whole job)."""
    return {code: tz for code, tz in session.execute(select(Site.code, Site.timezone)) if tz}


def scope_timezone(scope: DigestScope, *, session: Session, zones: dict[str, str] | None = None) -> str:
    """The scope's own time zone, else its site's (from ``zones`` when given), else UTC."""
    if scope.timezone:
        return scope.timezone
    kind, _, arg = scope.name.partition(":")
    if kind == "site":
        tz = zones.get(arg) if zones is not None else session.scalar(select(Site.timezone).where(Site.code == arg))
        if tz:
            return tz
    return "UTC"


def iso_week(day: dt.date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def scheduled_instant(scope: DigestScope, now: dt.datetime, *, session: Session,
                      zones: dict[str, str] | None = None) -> tuple[str, dt.datetime]:
    """This ISO week's scheduled send time (UTC) in the scope's local time, and the week's label."""
    tz = ZoneInfo(scope_timezone(scope, session=session, zones=zones))
    local = now.astimezone(tz)
    monday = local.date() - dt.timedelta(days=local.weekday())
    day = monday + dt.timedelta(days=WEEKDAYS.get(scope.weekday.lower()[:3], 0))
    hh, mm = (int(x) for x in scope.time.split(":"))
    at = dt.datetime.combine(day, dt.time(hh, mm), tzinfo=tz).astimezone(dt.UTC)
    return iso_week(day), at


# --------------------------------------------------------------------------- contents


@dataclass
class DigestData:
    scope: str
    week: str
    start: dt.datetime
    end: dt.datetime
    opened: list[ChangeRequest] = field(default_factory=list)
    decided: list[ChangeRequest] = field(default_factory=list)
    pending: list[ChangeRequest] = field(default_factory=list)
    cycle_hours: list[float] = field(default_factory=list)
    weekly_medians: list[float | None] = field(default_factory=list)
    breaches: int = 0
    escalations: Counter[int] = field(default_factory=Counter)
    slowest: list[tuple[ChangeRequest, list[str], dt.timedelta]] = field(default_factory=list)
    new_gaps: list[str] = field(default_factory=list)
    resolved_gaps: list[str] = field(default_factory=list)
    no_owner: list[str] = field(default_factory=list)
    baseline_hours: list[float] = field(default_factory=list)  # imported decisions before the week's end
    top: Finding | None = None  # the costliest bottleneck of the 13 weeks before the week's end
    ownership: DigestFigures | None = None

    @property
    def empty(self) -> bool:
        # Standing facts (systems still without an owner) are repeated only alongside news.
        return not (self.opened or self.decided or self.pending or self.breaches or self.escalations
                    or self.new_gaps or self.resolved_gaps or (self.ownership is not None and self.ownership.news))


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def _hours(td: dt.timedelta) -> float:
    return td.total_seconds() / 3600


@dataclass
class WeekHistory:
    """The change requests a digest of one week can use, and what it needs about them.

    Only these are read: opened in the week, decided in it or in the trend's earlier weeks, or still
    pending.  Loaded for one scope (filtered in SQL where that is simple), or once for every scope of a
    job with the same week (``SharedReads``); ``scope.matches`` decides in either case.
    """

    start: dt.datetime
    end: dt.datetime
    changes: list[ChangeRequest]  # with their systems
    holders: dict[int, list[str]]  # pending change id -> the approvers it waits on, in approval order
    audit: list[tuple[str, str, int]]  # the week's breaches and escalations: (change number, action, level)
    audited: dict[str, ChangeRequest]  # changes named by those entries that are not in ``changes``


def _scope_filter(scope: DigestScope | None) -> tuple[ColumnElement[bool] | None, bool]:
    """A SQL condition that keeps at least what ``scope.matches`` keeps, and whether a system is required."""
    kind, _, arg = scope.name.partition(":") if scope is not None else ("all", "", "")
    if kind == "all":
        return None, False
    if kind == "site":
        return System.site_code == arg, True
    if kind == "ot":
        return System.domain == "OT", True
    if kind == "security":
        return None, True  # words in names, aliases and titles: decided in Python
    return false(), True


def _changes(session: Session, scope: DigestScope | None, *where: ColumnElement[bool]) -> list[ChangeRequest]:
    condition, needs_system = _scope_filter(scope)
    query = select(ChangeRequest)
    query = query.join(ChangeRequest.system) if needs_system else query.outerjoin(ChangeRequest.system)
    query = query.options(contains_eager(ChangeRequest.system)).where(ChangeRequest.state != ChangeState.DRAFT.value, *where)
    if condition is not None:
        query = query.where(condition)
    return list(session.scalars(query.order_by(ChangeRequest.id)).all())


def _batches(values: Iterable[Any]) -> Iterable[list[Any]]:
    ordered = sorted(values)
    for i in range(0, len(ordered), BATCH):
        yield ordered[i:i + BATCH]


def load_week(session: Session, start: dt.datetime, end: dt.datetime, scope: DigestScope | None = None) -> WeekHistory:
    """What a digest of [start, end) reads, for ``scope`` (``None``: for every scope)."""
    opened = func.coalesce(ChangeRequest.submitted_at, ChangeRequest.created_at)
    changes = _changes(session, scope, or_(
        (opened >= start) & (opened < end),
        # A day's margin: the trend's weeks follow local midnights, which daylight saving shifts by an hour.
        (ChangeRequest.decided_at >= start - dt.timedelta(weeks=TREND_WEEKS, days=1)) & (ChangeRequest.decided_at < end),
        (ChangeRequest.state == ChangeState.SUBMITTED.value) & (opened < end),
    ))
    holders: dict[int, list[str]] = {}
    pending = [cr.id for cr in changes if cr.state == ChangeState.SUBMITTED.value]
    for ids in _batches(pending):
        for change_id, name in session.execute(
            select(Approval.change_id, Person.display_name).join(Person, Person.id == Approval.person_id)
            .where(Approval.change_id.in_(ids), Approval.kind == ParticipantKind.APPROVER.value,
                   Approval.state == ApprovalState.REQUESTED.value)
            .order_by(Approval.change_id, Approval.id)
        ):
            holders.setdefault(change_id, []).append(name)
    audit = [
        (key, action, int((data or {}).get("level", 0)) if action == "change.escalated" else 0)
        for key, action, data in session.execute(select(AuditEntry.object_key, AuditEntry.action, AuditEntry.data).where(
            AuditEntry.at >= start, AuditEntry.at < end,
            AuditEntry.action.in_(("change.sla_breached", "change.escalated")),
        ).order_by(AuditEntry.id))
    ]
    known = {cr.number for cr in changes}
    audited: dict[str, ChangeRequest] = {}
    for numbers in _batches({key for key, _, _ in audit} - known):
        audited.update((cr.number, cr) for cr in _changes(session, scope, ChangeRequest.number.in_(numbers)))
    return WeekHistory(start, end, changes, holders, audit, audited)


@dataclass
class SharedReads:
    """What the scopes of one digest job read alike, read once: each week's history, the lint snapshots' gaps.

    A week is read for every scope at once when ``scopes_per_week`` (week start -> due scopes) says that
    more than one scope will need it (``None``: always); a scope alone in its week reads only its own share.
    """

    scopes_per_week: Counter[dt.datetime] | None = None
    weeks: dict[tuple[dt.datetime, dt.datetime], WeekHistory] = field(default_factory=dict)
    gaps: dict[tuple[int, int | None], tuple[set[str], set[str], dict[str, Any]]] = field(default_factory=dict)
    headlines: dict[dt.datetime, digest_headline.HeadlineReads] = field(default_factory=dict)
    ownership: dict[tuple[dt.datetime, dt.datetime], DigestReads] = field(default_factory=dict)

    def week(self, session: Session, start: dt.datetime, end: dt.datetime, scope: DigestScope) -> WeekHistory:
        if self.scopes_per_week is not None and self.scopes_per_week[start] < 2:
            return load_week(session, start, end, scope)
        if (start, end) not in self.weeks:
            self.weeks[start, end] = load_week(session, start, end)
        return self.weeks[start, end]

    def headline(self, session: Session, start: dt.datetime, end: dt.datetime,
                 scope: DigestScope) -> digest_headline.HeadlineReads:
        if self.scopes_per_week is not None and self.scopes_per_week[start] < 2:
            return headline_reads(session, end, scope)
        if end not in self.headlines:
            self.headlines[end] = digest_headline.read(session, end)
        return self.headlines[end]


    def ownership_reads(self, session: Session, start: dt.datetime, end: dt.datetime,
                        now: dt.datetime) -> DigestReads:
        if (start, end) not in self.ownership:
            known = next(iter(self.ownership.values()), None)  # coverage and open gaps are of now: read once
            self.ownership[start, end] = digest_reads(session=session, start=start, end=end, now=now, known=known)
        return self.ownership[start, end]


def headline_reads(session: Session, end: dt.datetime, scope: DigestScope) -> digest_headline.HeadlineReads:
    """The headline reads for one scope alone: a site's only, where the scope is a site."""
    kind, _, arg = scope.name.partition(":")
    return digest_headline.read(session, end, site=arg if kind == "site" else None)


def monday_midnight(at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """00:00 local time (``tz``) on the Monday of the week holding ``at``, in UTC."""
    local = at.astimezone(tz)
    return dt.datetime.combine(local.date() - dt.timedelta(days=local.weekday()), dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def week_boundary(week_start: dt.datetime, weeks: int, tz: dt.tzinfo | None) -> dt.datetime:
    """The midnight ``weeks`` weeks after ``week_start`` (negative: before), in UTC.

    With ``tz`` the weeks are the calendar's: midnight to midnight in local time, so a week that holds a
    daylight-saving change is 167 or 169 hours long.  Without it, weeks are 7 x 24 hours."""
    if tz is None:
        return week_start + dt.timedelta(days=7 * weeks)
    day = week_start.astimezone(tz).date() + dt.timedelta(days=7 * weeks)
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def collect(scope: DigestScope, *, session: Session, now: dt.datetime, week_start: dt.datetime,
            shared: SharedReads | None = None, tz: dt.tzinfo | None = None) -> DigestData:
    """The digest of the week from ``week_start`` (local midnight, in UTC); ``tz``: the scope's time zone."""
    start, end = week_start, week_boundary(week_start, 1, tz)
    data = DigestData(scope.name, iso_week((start.astimezone(tz) if tz else start).date()), start, end)
    week = shared.week(session, start, end, scope) if shared is not None else load_week(session, start, end, scope)
    in_scope = [cr for cr in week.changes if scope.matches(cr.system, cr)]
    numbers = {cr.number for cr in in_scope} | {n for n, cr in week.audited.items() if scope.matches(cr.system, cr)}
    for cr in in_scope:
        submitted = cr.submitted_at or cr.created_at
        if start <= submitted < end:
            data.opened.append(cr)
        if cr.decided_at and start <= cr.decided_at < end:
            data.decided.append(cr)
            data.cycle_hours.append(_hours(cr.decided_at - submitted))
        if cr.state == ChangeState.SUBMITTED.value and submitted < end:
            data.pending.append(cr)
            data.slowest.append((cr, list(week.holders.get(cr.id, ())), min(now, end) - submitted))
    data.slowest.sort(key=lambda x: x[2], reverse=True)
    for w in range(TREND_WEEKS, 0, -1):
        ws, we = week_boundary(start, -w, tz), week_boundary(start, 1 - w, tz)
        cycles = [_hours(cr.decided_at - (cr.submitted_at or cr.created_at)) for cr in in_scope
                  if cr.decided_at and ws <= cr.decided_at < we]
        data.weekly_medians.append(statistics.median(cycles) if cycles else None)
    data.weekly_medians.append(statistics.median(data.cycle_hours) if data.cycle_hours else None)
    reads = shared.headline(session, start, end, scope) if shared is not None else headline_reads(session, end, scope)
    head = digest_headline.for_scope(scope, reads, tz=tz or dt.UTC)
    data.baseline_hours, data.top = head.baseline_hours, head.top
    for key, action, level in week.audit:
        if key not in numbers:
            continue
        if action == "change.sla_breached":
            data.breaches += 1
        else:
            data.escalations[level] += 1
    # New and resolved since the previous snapshot (snapshots are taken when digests go out).
    gaps = _snapshot_gaps(session, max(now, start), shared)
    if gaps is not None:
        cur, prev, titles = gaps
        relevant = [k for k in cur | prev if _gap_in_scope(scope, titles.get(k, {}))]
        data.new_gaps = sorted(titles.get(k, {}).get("text", k) for k in relevant if k in cur and k not in prev)
        data.resolved_gaps = sorted(titles.get(k, {}).get("text", k) for k in relevant if k in prev and k not in cur)
        data.no_owner = sorted(titles[k]["subject"] for k in cur if k.startswith("NO_ACCOUNTABLE_OWNER:")
                               and _gap_in_scope(scope, titles.get(k, {})))
    kind, _, arg = scope.name.partition(":")
    if kind in ("site", "all"):
        owned = shared.ownership_reads(session, start, end, now) if shared is not None else None
        data.ownership = digest_figures(session=session, site=arg if kind == "site" else None, start=start, end=end,
                                        now=now, reads=owned)
    return data


def _snapshot_gaps(session: Session, at: dt.datetime,
                   shared: SharedReads | None) -> tuple[set[str], set[str], dict[str, Any]] | None:
    """The latest lint snapshot taken by ``at`` and the one before it: (current keys, previous keys, titles)."""
    ids = session.scalars(select(LintSnapshot.id).where(LintSnapshot.taken_at <= at)
                          .order_by(LintSnapshot.taken_at.desc(), LintSnapshot.id.desc()).limit(2)).all()
    if not ids:
        return None
    pair = (ids[0], ids[1] if len(ids) > 1 else None)
    if shared is not None and pair in shared.gaps:
        return shared.gaps[pair]
    latest = session.get(LintSnapshot, pair[0])
    before = session.get(LintSnapshot, pair[1]) if pair[1] is not None else None
    assert latest is not None
    gaps = (set(latest.keys), set(before.keys) if before else set(), {**(before.titles if before else {}), **latest.titles})
    if shared is not None:
        shared.gaps[pair] = gaps
    return gaps


def _gap_in_scope(scope: DigestScope, info: dict[str, object]) -> bool:
    kind, _, arg = scope.name.partition(":")
    if kind == "all":
        return True
    sites = cast(list[str], info.get("sites") or [])
    domains = cast(list[str], info.get("domains") or [])
    if kind == "site":
        return arg in sites or not sites
    if kind == "ot":
        return "OT" in domains or not domains
    return kind == "security" and str(info.get("code", "")) in (
        "NOT_IN_CMDB", "RETIRED_BUT_SEEN", "UNKNOWN_TEAM", "ACTIVITY_MULTIPLE_ACCOUNTABLE", "ACTIVITY_NO_ACCOUNTABLE"
    )


def snapshot_lint(*, session: Session, now: dt.datetime) -> LintSnapshot:
    """Record today's findings (the digest compares snapshots to tell new from resolved)."""
    report = run_lint(session=session)
    systems = {s.id: s for s in session.scalars(select(System).where(
        System.id.in_({i for f in report.findings for i in f.system_ids}))).all()}
    titles = {}
    for f in report.findings:
        related = [systems[i] for i in f.system_ids if i in systems]
        titles[f.key] = {
            "text": f"{f.title}: {f.subject}", "subject": f.subject, "code": f.code,
            "sites": sorted({s.site_code for s in related if s.site_code}),
            "domains": sorted({s.domain for s in related if s.domain}),
        }
    snap = LintSnapshot(taken_at=now, keys=sorted(titles), titles=titles)
    session.add(snap)
    session.flush()
    return snap


def trend(values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "—"
    hi = max(present) or 1.0
    return "".join(" " if v is None else SPARK[min(len(SPARK) - 1, int(v / hi * (len(SPARK) - 1)))] for v in values)


def _fmt_h(h: float | None) -> str:
    if h is None:
        return "—"
    return f"{h:.1f} h" if h < 48 else f"{h / 24:.1f} d"


DASHBOARD_PAGES = (("Open changes", "changes"), ("Metrics", "metrics-page"), ("Gaps", "gaps"))


def _links(base: str, suffix: str = "") -> tuple[Button, ...]:
    base = base.rstrip("/")
    return tuple(Button(label, LINK, f"{base}/{path}{suffix}") for label, path in DASHBOARD_PAGES)


def render(data: DigestData, scope: DigestScope, *, delayed: bool = False) -> Reply:
    if data.empty:
        return Reply(text=f"Nothing to report for {scope.name} in {data.week}.", data={"status": "empty", "scope": scope.name})
    med = statistics.median(data.cycle_hours) if data.cycle_hours else None
    p90 = _pct(data.cycle_hours, 0.9)
    prev = [v for v in data.weekly_medians[:-1] if v is not None]
    prev_med = statistics.median(prev) if prev else None
    change = ""
    if med is not None and prev_med:
        delta = (med - prev_med) / prev_med * 100
        change = f" ({'▼' if delta < 0 else '▲'} {abs(delta):.0f}% vs previous 4 weeks)"
    base_med = statistics.median(data.baseline_hours) if data.baseline_hours else None
    versus = None
    if base_med:
        versus = (med - base_med) / base_med * 100 if med is not None else None
    fields = [
        Field("Requests", f"{len(data.opened)} opened · {len(data.decided)} decided · {len(data.pending)} pending"),
        Field("Decision cycle time", f"median {_fmt_h(med)} · p90 {_fmt_h(p90)}{change}"),
        Field("Trend (5 weeks)", f"{trend(data.weekly_medians)}  previous 4 weeks median {_fmt_h(prev_med)}"),
    ]
    if base_med is not None:
        fields.append(Field("Against the baseline", (
            f"this week median {_fmt_h(med)} · before govbot median {_fmt_h(base_med)} "
            f"({len(data.baseline_hours)} imported decisions)"
            + (f": {'▼' if versus < 0 else '▲'} {abs(versus):.0f}%" if versus is not None else ": nothing decided this week"))))
    if data.top is not None:
        fields.append(Field("Top bottleneck (last 13 weeks)", f"{data.top.title}. {data.top.summary}"))
    fields.append(Field("SLA breaches · escalations",
                        f"{data.breaches} · " + (", ".join(f"L{k}: {v}" for k, v in sorted(data.escalations.items()))
                                                 or "none")))
    more = f" (see {scope.public_url.rstrip('/')}/{{page}})" if scope.public_url else ""
    if data.slowest:
        fields.append(Field(f"Slowest pending approvals ({len(data.slowest)})", _listed(
            [f"{cr.number} {cr.title[:50]} — {_fmt_h(_hours(age))} waiting on {', '.join(holders) or 'nobody'}"
             for cr, holders, age in data.slowest], 5, more.format(page="changes"))))
    if data.new_gaps:
        fields.append(Field(f"New governance gaps ({len(data.new_gaps)})",
                            _listed(data.new_gaps, 8, more.format(page="gaps"))))
    if data.resolved_gaps:
        fields.append(Field(f"Resolved gaps ({len(data.resolved_gaps)})", _listed(data.resolved_gaps, 8, "")))
    if data.no_owner:
        fields.append(Field(f"Systems without an Accountable owner ({len(data.no_owner)})",
                            _listed(data.no_owner, 10, more.format(page="gaps"), sep=", ")))
    own = data.ownership
    if own is not None:
        fields.append(Field("Ownership", (
            f"coverage {own.coverage.pct}% ({own.coverage.attested}/{own.coverage.systems} systems with an owner "
            f"confirmed in govbot) · attestation {own.answered}/{own.asked} answered, median {_fmt_h(own.median_response_hours)} · "
            f"gaps {own.gaps_opened} opened, {own.gaps_closed} closed (median {_fmt_h(own.median_close_hours)}), "
            f"{own.gaps_open} open")))
    buttons = _links(scope.public_url) if scope.public_url else ()
    note = " (delayed: govbot was not running at the scheduled time)" if delayed else ""
    return Reply(
        text=f"Weekly governance digest {data.week} — {scope.name}{note}",
        sections=(Section(title=f"Governance digest {data.week} · {scope.name}", fields=tuple(fields)),),
        buttons=buttons,
        ephemeral=False,
        data={"status": "digest", "scope": scope.name, "week": data.week, "opened": len(data.opened),
              "decided": len(data.decided), "pending": len(data.pending), "median_hours": med, "p90_hours": p90,
              "breaches": data.breaches, "escalations": dict(data.escalations), "new_gaps": data.new_gaps,
              "resolved_gaps": data.resolved_gaps, "no_owner": data.no_owner, "delayed": delayed,
              "baseline_median_hours": base_med, "baseline_decisions": len(data.baseline_hours),
              "change_vs_baseline_pct": versus, "top_bottleneck": data.top.title if data.top else None,
              "ownership": dataclasses.asdict(own) if own is not None else None},
    )


def _listed(items: list[str], limit: int, more: str, *, sep: str = "\n") -> str:
    """The first ``limit`` items, and how many more there are: a digest counts everything it announces."""
    shown = sep.join(items[:limit])
    rest = len(items) - limit
    if rest <= 0:
        return shown
    return f"{shown}{sep}… and {rest} more{more}"


def preview(scope: DigestScope, *, session: Session, now: dt.datetime) -> Reply:
    tz = ZoneInfo(scope_timezone(scope, session=session))
    return render(collect(scope, session=session, now=now, week_start=monday_midnight(now, tz), tz=tz), scope)


@dataclass(frozen=True)
class DueDigest:
    """A scope whose digest for ``week`` is due (scheduled at ``at``) and not sent yet."""

    scope: DigestScope
    week: str
    at: dt.datetime
    this_monday: dt.datetime  # 00:00 local time on the Monday of ``week``, in UTC
    tz: ZoneInfo  # the scope's time zone

    @property
    def last_monday(self) -> dt.datetime:
        """00:00 local time on the Monday before: the digest covers [last_monday, this_monday)."""
        return week_boundary(self.this_monday, -1, self.tz)


def due_digests(scopes: list[DigestScope], *, session: Session, now: dt.datetime) -> list[DueDigest]:
    """The scopes that are due by ``now`` and have no digest run for their week yet (a few small queries)."""
    zones = site_timezones(session=session)
    due: list[DueDigest] = []
    for scope in scopes:
        week, at = scheduled_instant(scope, now, session=session, zones=zones)
        if now < at:
            continue
        tz = ZoneInfo(scope_timezone(scope, session=session, zones=zones))
        due.append(DueDigest(scope, week, at, monday_midnight(at, tz), tz))
    if not due:
        return []
    done = set(session.execute(select(DigestRun.scope, DigestRun.iso_week).where(
        DigestRun.scope.in_({d.scope.name for d in due}), DigestRun.iso_week.in_({d.week for d in due}))).all())
    return [d for d in due if (d.scope.name, d.week) not in done]


def run_due(factory: sessionmaker[Session], scopes: list[DigestScope] | None, *, now: dt.datetime,
            links: DashboardLinks | None = None) -> list[DigestRun]:
    """Send every digest that is due and not yet sent for its ISO week; safe to call often and from many replicas.

    Each (scope, week) is claimed before anything is computed: its unique ``digest_runs`` row is inserted
    first and filled in, with the outbox messages, in the same transaction.  A replica that loses the race
    waits on the unique index until the winner commits and then skips without computing; a crash rolls
    the claim back, and the next cycle (of any replica) sends it.  What the due scopes read alike (each
    week's change history, the lint snapshots) is read once per call.

    With ``links`` each recipient's digest carries buttons to the dashboard that sign them in (their
    personal pass; a channel gets plain links)."""
    sent: list[DigestRun] = []
    # One session for the whole job (a transaction per scope): the shared reads stay loaded in it.
    with factory(expire_on_commit=False) as session:
        with session.begin():
            active = scopes if scopes is not None else default_scopes(session=session)
            due = due_digests(active, session=session, now=now)
        shared = SharedReads(Counter(d.last_monday for d in due))
        for item in due:
            started = time.perf_counter()
            with session.begin():
                run = DigestRun(scope=item.scope.name, iso_week=item.week, scheduled_at=item.at, created_at=now,
                                delayed=now - item.at > DELAY_GRACE, empty=True, recipients=list(item.scope.recipients),
                                payload={})
                try:
                    with session.begin_nested():
                        session.add(run)
                        session.flush()
                except IntegrityError:
                    continue  # another replica sent it (we waited here while it was sending it)
                queued = _compose(session, run, item, now=now, links=links, shared=shared)
            sent.append(run)
            log.info("digest %s %s: %s (%.1f s)", item.scope.name, item.week,
                     f"{queued} messages queued" if queued else "nothing to report", time.perf_counter() - started)
    return sent


def _compose(session: Session, run: DigestRun, item: DueDigest, *, now: dt.datetime, links: DashboardLinks | None,
             shared: SharedReads) -> int:
    """Compute the claimed digest, fill in its run and queue its messages; the number of messages queued."""
    scope, week = item.scope, item.week
    if not session.scalar(select(func.count(LintSnapshot.id)).where(LintSnapshot.taken_at >= item.this_monday)):
        snapshot_lint(session=session, now=now)
    # The report covers the ISO week that just ended.
    data = collect(scope, session=session, now=now, week_start=item.last_monday, shared=shared, tz=item.tz)
    reply = render(data, scope, delayed=run.delayed)
    run.empty, run.payload = data.empty, reply.data
    if data.empty:
        return 0
    reply = with_audit_anchor(reply, audit.anchor(session, now=now))
    run.payload = reply.data
    queued = 0
    payload = reply_to_dict(reply)
    for email in scope.recipients:
        pid = session.scalar(select(Person.id).where(func.lower(Person.email) == email.lower()))
        if pid is not None:
            queued += outbox.enqueue(session, key=f"digest:{scope.name}:{week}:{pid}", now=now, person_id=pid,
                                     payload=_with_links(reply, links, person_id=pid, now=now) or payload) is not None
    if scope.channel:
        queued += outbox.enqueue(session, key=f"digest:{scope.name}:{week}:ch:{scope.channel}", now=now,
                                 channel=scope.channel, payload=_with_links(reply, links, now=now) or payload) is not None
    return queued


def with_audit_anchor(reply: Reply, taken: audit.Anchor) -> Reply:
    """The digest with a footer line anchoring the audit trail: kept in mailboxes and chat history, outside
    the database, it lets ``govbot audit verify --anchor`` prove later what the trail held that day."""
    line = taken.line()
    sections = reply.sections
    if sections:
        last = sections[-1]
        sections = (*sections[:-1], dataclasses.replace(last, fields=(*last.fields, Field("Audit trail anchor", line))))
    return dataclasses.replace(reply, sections=sections, data={**reply.data, "audit_anchor": line})


def _with_links(reply: Reply, links: DashboardLinks | None, *, now: dt.datetime,
                person_id: int | None = None) -> dict[str, object] | None:
    """The digest with dashboard buttons: signed for one person, plain for a channel; ``None`` without links."""
    if links is None or reply.buttons:
        return None
    if person_id is None or links.key is None:
        buttons = _links(links.base_url)
    else:
        url, _expires = links.link(person_id, now=now)
        buttons = _links(links.base_url, "?" + url.split("?", 1)[1])
    return reply_to_dict(dataclasses.replace(reply, buttons=buttons))
