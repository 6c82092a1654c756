"""The weekly manager digest: decision cycle time, SLA breaches, escalations, governance gaps.

Scopes are configuration (a site, OT, security-relevant changes, everything);
each recipient scope is due at a local time in its site's time zone (default
Monday 08:00).  A unique (scope, ISO week) row written in the same transaction
as the outbox messages makes it exactly once: a restart never resends it, and a
bot that was down at 08:00 sends it when it comes back, marked as delayed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from governance_store import raci
from governance_store.lint import run_lint
from governance_store.models import (
    Approval,
    ApprovalState,
    AuditEntry,
    ChangeRequest,
    DigestRun,
    LintSnapshot,
    ParticipantKind,
    Person,
    Site,
    System,
)
from handlers.dashboard import DashboardLinks
from handlers.reply import LINK, Button, Field, Reply, Section, reply_to_dict
from notifications import outbox

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
SECURITY_WORDS = ("firewall", "idmz", "access", "security", "vpn", "jump")
SPARK = "▁▂▃▄▅▆▇█"
DELAY_GRACE = dt.timedelta(hours=1)


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
            title = (cr.title if cr else "").lower()
            return system.purdue_level == "3.5" or any(w in text or w in title for w in SECURITY_WORDS)
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


def scope_timezone(scope: DigestScope, *, session: Session) -> str:
    if scope.timezone:
        return scope.timezone
    kind, _, arg = scope.name.partition(":")
    if kind == "site":
        tz = session.scalar(select(Site.timezone).where(Site.code == arg))
        if tz:
            return tz
    return "UTC"


def iso_week(day: dt.date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def scheduled_instant(scope: DigestScope, now: dt.datetime, *, session: Session) -> tuple[str, dt.datetime]:
    """This ISO week's scheduled send time (UTC) in the scope's local time, and the week's label."""
    tz = ZoneInfo(scope_timezone(scope, session=session))
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

    @property
    def empty(self) -> bool:
        # Standing facts (systems still without an owner) are repeated only alongside news.
        return not (self.opened or self.decided or self.pending or self.breaches or self.escalations
                    or self.new_gaps or self.resolved_gaps)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def _hours(td: dt.timedelta) -> float:
    return td.total_seconds() / 3600


def collect(scope: DigestScope, *, session: Session, now: dt.datetime, week_start: dt.datetime) -> DigestData:
    start, end = week_start, week_start + dt.timedelta(days=7)
    data = DigestData(scope.name, iso_week(start.date()), start, end)
    changes = session.scalars(
        select(ChangeRequest).where(ChangeRequest.state != "draft")
        .options(selectinload(ChangeRequest.system), selectinload(ChangeRequest.participants).selectinload(Approval.person))
    ).all()
    in_scope = [cr for cr in changes if scope.matches(cr.system, cr)]
    numbers = {cr.number for cr in in_scope}
    for cr in in_scope:
        submitted = cr.submitted_at or cr.created_at
        if start <= submitted < end:
            data.opened.append(cr)
        if cr.decided_at and start <= cr.decided_at < end:
            data.decided.append(cr)
            data.cycle_hours.append(_hours(cr.decided_at - submitted))
        if cr.state == "submitted" and submitted < end:
            holders = [a.person.display_name for a in cr.participants
                       if a.kind == ParticipantKind.APPROVER.value and a.state == ApprovalState.REQUESTED.value and a.person]
            data.pending.append(cr)
            data.slowest.append((cr, holders, min(now, end) - submitted))
    data.slowest.sort(key=lambda x: x[2], reverse=True)
    for w in range(4, 0, -1):
        ws, we = start - dt.timedelta(days=7 * w), start - dt.timedelta(days=7 * (w - 1))
        cycles = [_hours(cr.decided_at - (cr.submitted_at or cr.created_at)) for cr in in_scope
                  if cr.decided_at and ws <= cr.decided_at < we]
        data.weekly_medians.append(statistics.median(cycles) if cycles else None)
    data.weekly_medians.append(statistics.median(data.cycle_hours) if data.cycle_hours else None)
    for entry in session.scalars(select(AuditEntry).where(
        AuditEntry.at >= start, AuditEntry.at < end,
        AuditEntry.action.in_(("change.sla_breached", "change.escalated")),
    )).all():
        if entry.object_key not in numbers:
            continue
        if entry.action == "change.sla_breached":
            data.breaches += 1
        else:
            data.escalations[int(entry.data.get("level", 0))] += 1
    # New and resolved since the previous snapshot (snapshots are taken when digests go out).
    latest = session.scalars(select(LintSnapshot).where(LintSnapshot.taken_at <= max(now, start))
                             .order_by(LintSnapshot.taken_at.desc(), LintSnapshot.id.desc()).limit(1)).first()
    before = None
    if latest is not None:
        before = session.scalars(select(LintSnapshot).where(LintSnapshot.id != latest.id,
                                                            LintSnapshot.taken_at <= latest.taken_at)
                                 .order_by(LintSnapshot.taken_at.desc(), LintSnapshot.id.desc()).limit(1)).first()
    if latest is not None:
        prev = set(before.keys) if before else set()
        cur = set(latest.keys)
        titles = {**(before.titles if before else {}), **latest.titles}
        relevant = [k for k in cur | prev if _gap_in_scope(scope, titles.get(k, {}))]
        data.new_gaps = sorted(titles.get(k, {}).get("text", k) for k in relevant if k in cur and k not in prev)
        data.resolved_gaps = sorted(titles.get(k, {}).get("text", k) for k in relevant if k in prev and k not in cur)
        data.no_owner = sorted(titles[k]["subject"] for k in cur if k.startswith("NO_ACCOUNTABLE_OWNER:")
                               and _gap_in_scope(scope, titles.get(k, {})))
    return data


def _gap_in_scope(scope: DigestScope, info: dict[str, object]) -> bool:
    kind, _, arg = scope.name.partition(":")
    if kind == "all":
        return True
    sites = info.get("sites") or []
    domains = info.get("domains") or []
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
    fields = [
        Field("Requests", f"{len(data.opened)} opened · {len(data.decided)} decided · {len(data.pending)} pending"),
        Field("Decision cycle time", f"median {_fmt_h(med)} · p90 {_fmt_h(p90)}{change}"),
        Field("Trend (5 weeks)", f"{trend(data.weekly_medians)}  previous 4 weeks median {_fmt_h(prev_med)}"),
        Field("SLA breaches · escalations",
              f"{data.breaches} · " + (", ".join(f"L{k}: {v}" for k, v in sorted(data.escalations.items())) or "none")),
    ]
    if data.slowest:
        fields.append(Field("Slowest pending approvals", "\n".join(
            f"{cr.number} {cr.title[:50]} — {_fmt_h(_hours(age))} waiting on {', '.join(holders) or 'nobody'}"
            for cr, holders, age in data.slowest[:5])))
    if data.new_gaps:
        fields.append(Field(f"New governance gaps ({len(data.new_gaps)})", "\n".join(data.new_gaps[:8])))
    if data.resolved_gaps:
        fields.append(Field(f"Resolved gaps ({len(data.resolved_gaps)})", "\n".join(data.resolved_gaps[:8])))
    if data.no_owner:
        fields.append(Field("Systems without an Accountable owner", ", ".join(data.no_owner[:10])))
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
              "resolved_gaps": data.resolved_gaps, "no_owner": data.no_owner, "delayed": delayed},
    )


def preview(scope: DigestScope, *, session: Session, now: dt.datetime) -> Reply:
    tz = ZoneInfo(scope_timezone(scope, session=session))
    local = now.astimezone(tz)
    monday = dt.datetime.combine(local.date() - dt.timedelta(days=local.weekday()), dt.time(0), tzinfo=tz)
    return render(collect(scope, session=session, now=now, week_start=monday.astimezone(dt.UTC)), scope)


def run_due(factory: sessionmaker[Session], scopes: list[DigestScope] | None, *, now: dt.datetime,
            links: DashboardLinks | None = None) -> list[DigestRun]:
    """Send every digest that is due and not yet sent for its ISO week; safe to call often and from many replicas.

    With ``links`` each recipient's digest carries buttons to the dashboard that sign them in (their
    personal pass; a channel gets plain links)."""
    sent: list[DigestRun] = []
    with factory() as session:
        active = scopes if scopes is not None else default_scopes(session=session)
    for scope in active:
        with factory() as session, session.begin():
            week, at = scheduled_instant(scope, now, session=session)
            if now < at:
                continue
            if session.scalar(select(DigestRun.id).where(DigestRun.scope == scope.name, DigestRun.iso_week == week)):
                continue
            # The report covers the ISO week that just ended.
            tz = ZoneInfo(scope_timezone(scope, session=session))
            this_monday = dt.datetime.combine(at.astimezone(tz).date() - dt.timedelta(days=at.astimezone(tz).weekday()),
                                              dt.time(0), tzinfo=tz).astimezone(dt.UTC)
            previous_monday = this_monday - dt.timedelta(days=7)
            if not session.scalar(select(func.count(LintSnapshot.id)).where(LintSnapshot.taken_at >= this_monday)):
                snapshot_lint(session=session, now=now)
            data = collect(scope, session=session, now=now, week_start=previous_monday)
            delayed = now - at > DELAY_GRACE
            reply = render(data, scope, delayed=delayed)
            run = DigestRun(scope=scope.name, iso_week=week, scheduled_at=at, created_at=now, delayed=delayed,
                            empty=data.empty, recipients=list(scope.recipients), payload=reply.data)
            try:
                with session.begin_nested():
                    session.add(run)
                    session.flush()
            except IntegrityError:
                continue  # another replica sent it
            if not data.empty:
                payload = reply_to_dict(reply)
                for email in scope.recipients:
                    pid = session.scalar(select(Person.id).where(func.lower(Person.email) == email.lower()))
                    if pid is not None:
                        outbox.enqueue(session, key=f"digest:{scope.name}:{week}:{pid}", now=now, person_id=pid,
                                       payload=_with_links(reply, links, person_id=pid, now=now) or payload)
                if scope.channel:
                    outbox.enqueue(session, key=f"digest:{scope.name}:{week}:ch:{scope.channel}", now=now,
                                   channel=scope.channel, payload=_with_links(reply, links, now=now) or payload)
            sent.append(run)
    return sent


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
