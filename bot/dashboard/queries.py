"""Read-only queries behind the dashboard pages: plain dicts and lists, ready for the templates."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from governance_store import audit, chains, lint, raci
from governance_store.changes import cycle_time
from governance_store.models import (
    Activity,
    Approval,
    ApprovalState,
    AuditEntry,
    ChangeRequest,
    DigestRun,
    OutboxMessage,
    ParticipantKind,
    Person,
    RaciEntry,
    Site,
    System,
    SystemRelation,
    Timer,
    Zone,
)
from notifications import sla

OPEN_STATES = ("draft", "submitted", "approved", "scheduled")
LETTERS = ("R", "A", "C", "I")


def _name(person: Person | None) -> str:
    if person is None:
        return "—"
    return person.display_name if person.active else f"{person.display_name} (left)"


PER_PAGE = 100


class LintCache:
    """The governance lint behind the overview, systems and gaps pages.

    On a small organisation every page runs the lint afresh.  Once one pass
    takes longer than ``slow`` seconds (tens of thousands of systems), its
    report is reused for ``ttl`` seconds, and the pages say how old it is.
    """

    def __init__(self, *, ttl: float = 60.0, slow: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.slow, self.clock = ttl, slow, clock
        self._lock = threading.Lock()
        self._kept: tuple[float, dict[int, int], lint.LintReport, dt.datetime] | None = None

    def get(self, *, session: Session) -> tuple[dict[int, int], lint.LintReport, dt.datetime | None]:
        """Gap counts per system id, the report, and when it was made (``None``: just now)."""
        with self._lock:
            kept = self._kept
            if kept is not None and self.clock() < kept[0]:
                return kept[1], kept[2], kept[3]
            started = self.clock()
            counts, report = gap_counts(session=session)
            took = self.clock() - started
            self._kept = (self.clock() + self.ttl, counts, report, dt.datetime.now(dt.UTC)) if took > self.slow else None
            return counts, report, None


def gap_counts(*, session: Session) -> tuple[dict[int, int], lint.LintReport]:
    report = lint.run_lint(session=session)
    counts: dict[int, int] = defaultdict(int)
    for finding in report.findings:
        for sid in finding.system_ids:
            counts[sid] += 1
    return counts, report


def _page_of(total: int, page: int, per_page: int) -> tuple[int, int]:
    """(page, pages) with ``page`` clamped into range."""
    pages = max(1, -(-total // per_page))
    return min(max(page, 1), pages), pages


def systems_page(counts: dict[int, int], *, session: Session, gaps_only: bool = False, site: str | None = None,
                 page: int = 1, per_page: int | None = None) -> dict[str, Any]:
    """One page of the systems list, by name, optionally only one site or only systems with gaps."""
    per_page = per_page or PER_PAGE
    query = select(System.id).order_by(System.name, System.id)
    if site:
        query = query.where(System.site_code == site)
    ids = list(session.scalars(query).all())
    if gaps_only:
        ids = [i for i in ids if counts.get(i)]
    page, pages = _page_of(len(ids), page, per_page)
    wanted = ids[(page - 1) * per_page:page * per_page]
    zones = {z.zone_id: z.name for z in session.scalars(select(Zone)).all()}
    loaded = {s.id: s for s in session.scalars(
        select(System).options(selectinload(System.owner)).where(System.id.in_(wanted))).all()} if wanted else {}
    rows = []
    for sid in wanted:
        s = loaded[sid]
        rows.append({
            "id": s.id, "name": s.name, "class_name": s.class_name or "", "site": s.site_code or "",
            "owner": _name(s.owner), "purdue": s.purdue_level or "—",
            "zone": f"{s.zone_id} {zones.get(s.zone_id, '')}".strip() if s.zone_id else "—", "gaps": counts.get(s.id, 0),
        })
    site_codes = [c for c in session.scalars(select(System.site_code).distinct().order_by(System.site_code)).all() if c]
    return {"rows": rows, "total": len(ids), "page": page, "pages": pages, "per_page": per_page,
            "first": (page - 1) * per_page + 1 if rows else 0, "last": (page - 1) * per_page + len(rows),
            "site_codes": site_codes}


def findings_page(report: lint.LintReport, *, severity: str | None = None, code: str | None = None, page: int = 1,
                  per_page: int | None = None) -> dict[str, Any]:
    """One page of the lint findings (most severe first), optionally one severity or one code."""
    per_page = per_page or 2 * PER_PAGE
    every = report.sorted()
    by_code: dict[str, int] = defaultdict(int)
    for f in every:
        by_code[f.code] += 1
    chosen = [f for f in every if (not severity or f.severity == severity) and (not code or f.code == code)]
    page, pages = _page_of(len(chosen), page, per_page)
    shown = chosen[(page - 1) * per_page:page * per_page]
    return {"findings": shown, "total": len(chosen), "all": len(every), "page": page, "pages": pages,
            "first": (page - 1) * per_page + 1 if shown else 0, "last": (page - 1) * per_page + len(shown),
            "codes": sorted(by_code.items()), "severity": severity or "", "code": code or ""}


def system_detail(system_id: int, *, session: Session, activity_id: str | None = None) -> dict[str, Any] | None:
    s = session.get(System, system_id)
    if s is None:
        return None
    change_activity = raci.change_activity_for(s, session=session)
    activities = session.scalars(select(Activity).order_by(Activity.activity_id)).all()
    chosen = next((a for a in activities if a.activity_id == activity_id), None) or change_activity
    raci_rows: list[dict[str, Any]] = []
    raci_warnings: list[str] = []
    if chosen is not None:
        result = raci.resolve_activity(chosen, s, session=session)
        raci_warnings = list(result.warnings)
        for letter in LETTERS:
            for h in result.holders[letter]:
                raci_rows.append({"letter": letter, "role": h.role, "holder": h.label(), "scope": h.scope})
    chain_rows: list[dict[str, Any]] = []
    chain = chains.chain_for_system(s, session=session)
    if chain is not None:
        for lvl in chains.resolve_chain(chain, s, session=session):
            chain_rows.append({
                "level": lvl.level, "after": lvl.after_minutes, "hours": lvl.hours,
                "holders": [h.label() for h in lvl.holders],
                "people": [p.label() for p in lvl.people()], "problems": list(lvl.problems),
            })
    uses = session.scalars(select(SystemRelation).where(SystemRelation.system_id == s.id)
                           .options(selectinload(SystemRelation.depends_on))).all()
    used_by = session.scalars(select(SystemRelation).where(SystemRelation.depends_on_id == s.id)
                              .options(selectinload(SystemRelation.system))).all()
    changes = []
    for cr in session.scalars(select(ChangeRequest).where(ChangeRequest.system_id == s.id)
                              .order_by(ChangeRequest.created_at.desc())).all():
        changes.append({"number": cr.number, "title": cr.title, "state": cr.state, "created": cr.created_at,
                        "trail": [_audit_line(e) for e in audit.history(session, object_type="change",
                                                                        object_key=cr.number)]})
    zone = session.scalar(select(Zone).where(Zone.zone_id == s.zone_id)) if s.zone_id else None
    return {
        "zone": f"{zone.zone_id} {zone.name}" + (f", SL-T {zone.sl_target}" if zone.sl_target else "")
        if zone else (s.zone_id or "—"),
        "system": s, "owner": _name(s.owner), "technical_manager": _name(s.technical_manager),
        "support_group": s.support_group_name or (s.support_team.name if s.support_team else "—"),
        "activities": [(a.activity_id, a.name) for a in activities],
        "activity": chosen, "change_activity": change_activity, "raci": raci_rows, "raci_warnings": raci_warnings,
        "chain": chain.chain_id if chain else None, "chain_levels": chain_rows,
        "depends_on": [(r.depends_on.id, r.depends_on.name, r.kind) for r in uses],
        "used_by": [(r.system.id, r.system.name, r.kind) for r in used_by],
        "changes": changes, "gaps": lint.system_gaps(s, session=session),
    }


def _audit_line(e: AuditEntry) -> str:
    text = e.data.get("text") if isinstance(e.data, dict) else None
    extra = f" — {text}" if text else ""
    return f"{e.at:%Y-%m-%d %H:%M} UTC · {e.actor} ({e.platform}) · {e.action}{extra}"


def sites(*, session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.code)).all())


def raci_matrix(site: str | None, *, session: Session) -> dict[str, Any]:
    activities = session.scalars(select(Activity).options(
        selectinload(Activity.entries).selectinload(RaciEntry.role)).order_by(Activity.activity_id)).all()
    roles: list[str] = []
    for a in activities:
        for e in a.entries:
            if e.role.name not in roles:
                roles.append(e.role.name)
    holders = {}
    for role in roles:
        found = raci.role_holders(role, None, session=session, site_code=site)
        holders[role] = ", ".join(h.label().rsplit(" — ", 1)[0] for h in found) or "nobody"
    rows = []
    for a in activities:
        cells = {e.role.name: e.letter for e in a.entries}
        rows.append({"id": a.activity_id, "name": a.name, "cells": [cells.get(r, "") for r in roles]})
    return {"roles": roles, "holders": holders, "rows": rows}


def _timer(cr: ChangeRequest, *, session: Session) -> Timer | None:
    return session.scalar(select(Timer).where(Timer.change_id == cr.id, Timer.kind == sla.APPROVAL))


def sla_state(cr: ChangeRequest, *, session: Session, now: dt.datetime) -> dict[str, Any]:
    timer = _timer(cr, session=session)
    if timer is None:
        return {"timer": None, "due": None, "target": None, "breached": False, "level": 0, "state": "no timer"}
    breached = timer.target_at is not None and timer.state in ("pending", "paused") and now >= timer.target_at
    return {"timer": timer.id, "due": timer.due_at, "target": timer.target_at, "breached": breached,
            "level": timer.level, "state": timer.state}


def open_changes(*, session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    rows = []
    for cr in session.scalars(select(ChangeRequest).where(ChangeRequest.state.in_(OPEN_STATES))
                              .options(selectinload(ChangeRequest.requester))
                              .order_by(ChangeRequest.created_at.desc())).all():
        rows.append({"number": cr.number, "title": cr.title, "state": cr.state, "system": cr.system_name or "—",
                     "system_id": cr.system_id, "requester": _name(cr.requester), "risk": cr.risk or "—",
                     "sla": sla_state(cr, session=session, now=now)})
    return rows


def change_detail(number: str, *, session: Session, now: dt.datetime) -> dict[str, Any] | None:
    cr = session.scalar(select(ChangeRequest).where(ChangeRequest.number == number))
    if cr is None:
        return None
    participants = [{"kind": a.kind, "who": _name(a.person), "role": a.role_name or "", "state": a.state,
                     "decided": a.decided_at, "comment": a.comment or ""} for a in cr.participants]
    trail = audit.history(session, object_type="change", object_key=cr.number)
    return {"cr": cr, "requester": _name(cr.requester), "participants": participants,
            "sla": sla_state(cr, session=session, now=now), "trail": [_audit_line(e) for e in trail]}


def _week(ts: dt.datetime) -> str:
    year, week, _ = ts.isocalendar()
    return f"{year}-W{week:02d}"


def decision_metrics(*, session: Session) -> dict[str, Any]:
    weeks: dict[str, list[float]] = defaultdict(list)
    decided = session.scalars(select(ChangeRequest).where(ChangeRequest.decided_at.is_not(None),
                                                          ChangeRequest.submitted_at.is_not(None))).all()
    for cr in decided:
        td = cycle_time(cr)
        if td is not None and cr.decided_at is not None:
            weeks[_week(cr.decided_at)].append(td.total_seconds() / 3600)
    trend = [(w, sum(v) / len(v), len(v)) for w, v in sorted(weeks.items())]
    timers = session.scalars(select(Timer).where(Timer.kind == sla.APPROVAL)).all()
    met = breached = 0
    for t in timers:
        timed = session.get(ChangeRequest, t.change_id) if t.change_id else None
        if timed is None or timed.decided_at is None or t.target_at is None:
            continue
        if timed.decided_at <= t.target_at:
            met += 1
        else:
            breached += 1
    total = met + breached
    return {"trend": trend, "met": met, "breached": breached,
            "compliance": (100.0 * met / total) if total else None}


def trend_svg(trend: list[tuple[str, float, int]], *, width: int = 640, height: int = 220) -> str:
    """A line chart of the weekly mean decision cycle time (hours), as inline SVG."""
    pad = 40
    if not trend:
        return (f'<svg class="chart" width="{width}" height="{height}" role="img" aria-label="no data">'
                f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle">no decided changes yet</text></svg>')
    top = max(v for _, v, _ in trend) or 1.0
    step = (width - 2 * pad) / max(1, len(trend) - 1)
    pts = []
    for i, (_, v, _) in enumerate(trend):
        x = pad + i * step
        y = height - pad - (v / top) * (height - 2 * pad)
        pts.append((x, y))
    parts = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="decision cycle time per week">',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" class="axis"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" class="axis"/>',
             f'<text x="4" y="{pad}" class="label">{top:.1f} h</text>',
             '<polyline class="line" fill="none" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>']
    for (x, y), (week, v, n) in zip(pts, trend, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="dot"><title>{week}: {v:.1f} h ({n})</title></circle>')
        parts.append(f'<text x="{x:.1f}" y="{height - pad + 16}" text-anchor="middle" class="label">{week}</text>')
    parts.append("</svg>")
    return "".join(parts)


def overview(counts: dict[int, int], report: lint.LintReport, *, session: Session, now: dt.datetime) -> dict[str, Any]:
    return {
        "systems": session.scalar(select(func.count(System.id))) or 0,
        "people": session.scalar(select(func.count(Person.id)).where(Person.active.is_(True))) or 0,
        "sites": sites(session=session),
        "open_changes": session.scalar(select(func.count(ChangeRequest.id))
                                       .where(ChangeRequest.state.in_(OPEN_STATES))) or 0,
        "pending_approvals": pending_approvals(session=session),
        "findings": len(report.findings),
        "high": sum(1 for f in report.findings if f.severity == "high"),
        "systems_with_gaps": len(counts),
    }


def pending_approvals(*, session: Session) -> int:
    return session.scalar(select(func.count(Approval.id)).where(
        Approval.kind == ParticipantKind.APPROVER.value, Approval.state == ApprovalState.REQUESTED.value)) or 0


def escalations_in_audit(*, session: Session) -> int:
    return session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "change.escalated")) or 0


def digest_runs(*, session: Session) -> int:
    return session.scalar(select(func.count(DigestRun.id))) or 0


def outbox_pending(*, session: Session) -> int:
    return session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")) or 0


def people(*, session: Session) -> list[Person]:
    return list(session.scalars(select(Person).where(Person.active.is_(True), or_(Person.is_guest.is_(False),
                                                                                   Person.is_guest.is_(None)))
                                .order_by(Person.display_name)).all())
