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

from bot.dashboard.zones import PageZone
from governance_store import audit, chains, lint, raci
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


def holder_label(person: Person | None, *, session: Session) -> str:
    """A person as the dashboard names them; someone who left with the holder acting for them."""
    if person is None:
        return "—"
    if person.active:
        return person.display_name
    left = f", who left {person.left_on.isoformat()}" if person.left_on else ", who left"
    acting = raci.acting_for(person.id, session=session)
    if acting is not None:
        return f"{acting.name} (acting for {person.display_name}{left})"
    return f"{person.display_name} (left{' ' + person.left_on.isoformat() if person.left_on else ''}; nobody acts for them)"


def participant_label(a: Approval, *, session: Session) -> str:
    """Who took part, as they were; for a request still waiting on someone who left, who acts for them."""
    person = a.person
    if person is None or person.active:
        return _name(person)
    left = f"left {person.left_on.isoformat()}" if person.left_on else "left"
    if a.state == ApprovalState.REQUESTED.value:
        acting = raci.acting_for(person.id, session=session)
        if acting is not None:
            return f"{person.display_name} ({left}; {acting.name} acts for them)"
    return f"{person.display_name} ({left})"


SOURCE_NAMES = {"servicenow": "ServiceNow CMDB", "nozomi": "Nozomi Guardian", "netbox": "NetBox"}


def system_detail(system_id: int, *, session: Session, report: lint.LintReport,
                  activity_id: str | None = None) -> dict[str, Any] | None:
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
                        "trail": audit.history(session, object_type="change", object_key=cr.number)})
    zone = session.scalar(select(Zone).where(Zone.zone_id == s.zone_id)) if s.zone_id else None
    identifiers = [f"serial {s.serial}" if s.serial else "", f"asset tag {s.asset_tag}" if s.asset_tag else "",
                   *(s.ips or []), *(s.hostnames or [])]
    sources = [f"{SOURCE_NAMES.get(src.source, src.source)}"
               + (f" (sys_id {src.external_id})" if src.source == "servicenow" else "") for src in s.sources]
    return {
        "security_zone": f"{zone.zone_id} {zone.name}" + (f", SL-T {zone.sl_target}" if zone.sl_target else "")
        if zone else (s.zone_id or "—"),
        "system": s, "owner": holder_label(s.owner, session=session),
        "technical_manager": holder_label(s.technical_manager, session=session),
        "support_group": s.support_group_name or (s.support_team.name if s.support_team else "—"),
        "identifiers": [i for i in identifiers if i], "sources": sources,
        "activities": [(a.activity_id, a.name) for a in activities],
        "activity": chosen, "change_activity": change_activity, "raci": raci_rows, "raci_warnings": raci_warnings,
        "chain": chain.chain_id if chain else None, "chain_levels": chain_rows,
        "depends_on": [(r.depends_on.id, r.depends_on.name, r.kind) for r in uses],
        "used_by": [(r.system.id, r.system.name, r.kind) for r in used_by],
        # The same findings the systems list counts: one lint, one number.
        "changes": changes, "gaps": sorted(report.for_system(s.id), key=lambda f: (lint.SEVERITY_ORDER.get(f.severity, 9),
                                                                                  f.code, f.subject)),
    }


def audit_line(e: AuditEntry, zone: PageZone) -> str:
    data = e.data if isinstance(e.data, dict) else {}
    text = data.get("text")
    if e.action == "change.escalated" and data.get("level") is not None:
        # The sweep wrote the time in the site's zone; the page may show another: re-tell it in the page's.
        to = ", ".join(str(n) for n in data.get("to") or []) or "nobody"
        text = f"escalated to level {data['level']}: {to} at {zone.fmt(e.at, '%H:%M')}"
    extra = f" — {text}" if text else ""
    return f"{zone.fmt(e.at)} · {e.actor} ({e.platform}) · {e.action}{extra}"


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


LIVE_TIMER = ("pending", "paused")


def breaches(numbers: list[str], *, session: Session) -> dict[str, dt.datetime]:
    """When each change first breached its response target, as the sweep recorded it in the audit trail."""
    out: dict[str, dt.datetime] = {}
    for i in range(0, len(numbers), 500):
        for key, at in session.execute(
            select(AuditEntry.object_key, func.min(AuditEntry.at))
            .where(AuditEntry.object_type == "change", AuditEntry.action == "change.sla_breached",
                   AuditEntry.object_key.in_(numbers[i:i + 500]))
            .group_by(AuditEntry.object_key)
        ):
            out[key] = at
    return out


def sla_state(cr: ChangeRequest, timer: Timer | None, *, now: dt.datetime,
              breached_at: dt.datetime | None = None) -> dict[str, Any]:
    """The change's response clock as a manager reads it.

    A breach stays a breach: once the sweep recorded it, or once the decision came after the target, the
    change is breached whatever happens next (an "I'm on it", the decision, the timer stopping).  The next
    due step is shown only while the clock runs."""
    decided = cr.decided_at
    if timer is None:
        return {"timer": None, "due": None, "target": None, "breached": breached_at is not None,
                "breached_at": breached_at, "level": 0, "acknowledged": None, "state": "no timer",
                "decided": decided, "running": False}
    target = timer.target_at
    late = target is not None and (decided > target if decided is not None else
                                   timer.state == "pending" and now >= target)
    running = decided is None and timer.state in LIVE_TIMER
    if decided is not None:
        state = "decided"
    elif timer.state == "paused":
        state = "paused: waiting on the requester"
    else:
        state = {"pending": "running", "acknowledged": "escalation acknowledged", "done": "escalation ended",
                 "stopped": "stopped"}.get(timer.state, timer.state)
    return {"timer": timer.id, "due": timer.due_at if running else None, "target": target,
            "breached": breached_at is not None or late, "breached_at": breached_at, "level": timer.level,
            "acknowledged": timer.acknowledged_level, "state": state, "decided": decided, "running": running}


def open_changes(*, session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    found = session.scalars(select(ChangeRequest).where(ChangeRequest.state.in_(OPEN_STATES))
                            .options(selectinload(ChangeRequest.requester))
                            .order_by(ChangeRequest.created_at.desc())).all()
    breached = breaches([cr.number for cr in found], session=session)
    timers: dict[int, Timer] = {}
    ids = [cr.id for cr in found]
    for i in range(0, len(ids), 500):
        for t in session.scalars(select(Timer).where(Timer.change_id.in_(ids[i:i + 500]), Timer.kind == sla.APPROVAL)):
            if t.change_id is not None:
                timers[t.change_id] = t
    rows = []
    for cr in found:
        rows.append({"number": cr.number, "title": cr.title, "state": cr.state, "system": cr.system_name or "—",
                     "system_id": cr.system_id, "requester": _name(cr.requester), "risk": cr.risk or "—",
                     "sla": sla_state(cr, timers.get(cr.id), now=now, breached_at=breached.get(cr.number))})
    return rows


def change_detail(number: str, *, session: Session, now: dt.datetime) -> dict[str, Any] | None:
    cr = session.scalar(select(ChangeRequest).where(ChangeRequest.number == number))
    if cr is None:
        return None
    participants = [{"kind": a.kind, "who": participant_label(a, session=session), "role": a.role_name or "",
                     "state": a.state, "requested": a.requested_at, "decided": a.decided_at, "comment": a.comment or ""}
                    for a in cr.participants]
    trail = audit.history(session, object_type="change", object_key=cr.number)
    return {"cr": cr, "requester": _name(cr.requester), "participants": participants,
            "site": cr.system.site_code if cr.system else None,
            "sla": sla_state(cr, _timer(cr, session=session), now=now,
                             breached_at=breaches([cr.number], session=session).get(cr.number)),
            "trail": trail}


def overview(counts: dict[int, int], report: lint.LintReport, *, session: Session, now: dt.datetime,
             site: str | None = None) -> dict[str, Any]:
    """The overview's cards, for one site or all (findings naming no system count everywhere)."""
    systems = select(System.id)
    if site:
        systems = systems.where(System.site_code == site)
    ids = set(session.scalars(systems).all())
    findings = [f for f in report.findings if not site or not f.system_ids or ids.intersection(f.system_ids)]
    open_query = select(func.count(ChangeRequest.id)).where(ChangeRequest.state.in_(OPEN_STATES))
    pending_query = select(func.count(Approval.id)).where(
        Approval.kind == ParticipantKind.APPROVER.value, Approval.state == ApprovalState.REQUESTED.value)
    if site:
        open_query = open_query.join(System, System.id == ChangeRequest.system_id).where(System.site_code == site)
        pending_query = (pending_query.join(ChangeRequest, ChangeRequest.id == Approval.change_id)
                         .join(System, System.id == ChangeRequest.system_id).where(System.site_code == site))
    return {
        "systems": len(ids),
        "people": session.scalar(select(func.count(Person.id)).where(Person.active.is_(True))) or 0,
        "sites": sites(session=session),
        "open_changes": session.scalar(open_query) or 0,
        "pending_approvals": session.scalar(pending_query) or 0,
        "findings": len(findings),
        "high": sum(1 for f in findings if f.severity == "high"),
        "systems_with_gaps": sum(1 for i in counts if i in ids),
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
