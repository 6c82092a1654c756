"""SLA clocks for pending decisions, and the schedule of reminders and escalations they cause.

A change request's clock starts at submission, pauses while it waits on the
requester, and stops at the decision.  The target comes from the SLA policy for
the system's business criticality and the change's priority; it runs 24x7 or in
the site's business hours (time zone and public holidays).  From the clock and
the escalation chain we derive one ordered list of events — reminders at the
warn-at percentages, the breach, each escalation level and its repeat pings —
and a timer row remembers how many of them were handled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store import calendar as cal
from governance_store.chains import chain_for_system
from governance_store.models import (
    Approval,
    ApprovalState,
    ChangeRequest,
    EscalationChain,
    ParticipantKind,
    SlaPolicy,
    Timer,
)

APPROVAL = "approval_sla"
CONSULT = "consult_sla"
DEFAULT_REPEAT_MINUTES = 15
MAX_REPEATS_PER_LEVEL = 8


@dataclass(frozen=True)
class Event:
    kind: str  # "warn" | "breach" | "level" | "repeat" | "consult_reminder" | "consult_overdue"
    at: dt.datetime
    pct: int = 0
    level: int = 0
    repeat: int = 0

    @property
    def key(self) -> str:
        if self.kind == "warn":
            return f"warn:{self.pct}"
        if self.kind == "level":
            return f"escalate:L{self.level}"
        if self.kind == "repeat":
            return f"escalate:L{self.level}:repeat:{self.repeat}"
        return self.kind


def policy_for(cr: ChangeRequest, *, session: Session) -> SlaPolicy | None:
    criticality = cr.system.criticality if cr.system and cr.system.criticality else 4
    priority = cr.priority or 3
    return session.scalar(
        select(SlaPolicy).where(SlaPolicy.criticality == criticality, SlaPolicy.priority == priority)
    )


def _calendar(timer: Timer, cr: ChangeRequest, *, session: Session) -> cal.SiteCalendar:
    return cal.for_system(cr.system, session=session, always=timer.data.get("schedule") == "24x7")


class Lookups:
    """Calendars and chain levels remembered for one sweep (plain values, safe across transactions)."""

    def __init__(self) -> None:
        self._calendars: dict[tuple[str | None, bool], cal.SiteCalendar] = {}
        self._levels: dict[str | None, list[tuple[int, str, int]] | None] = {}

    def calendar(self, timer: Timer, cr: ChangeRequest, *, session: Session) -> cal.SiteCalendar:
        key = (cr.system.site_code if cr.system else None, timer.data.get("schedule") == "24x7")
        if key not in self._calendars:
            self._calendars[key] = _calendar(timer, cr, session=session)
        return self._calendars[key]

    def levels(self, chain_id: str | None, *, session: Session) -> list[tuple[int, str, int]] | None:
        """(level, hours, after_minutes) of a chain, in level order; None when there is no such chain."""
        if chain_id not in self._levels:
            self._levels[chain_id] = _chain_levels(chain_id, session=session)
        return self._levels[chain_id]


def _chain_levels(chain_id: str | None, *, session: Session) -> list[tuple[int, str, int]] | None:
    chain = session.scalar(select(EscalationChain).where(EscalationChain.chain_id == chain_id)) if chain_id else None
    if chain is None:
        return None
    return [(lvl.level, lvl.hours, lvl.after_minutes) for lvl in sorted(chain.levels, key=lambda lvl: lvl.level)]


def start(cr: ChangeRequest, *, session: Session, now: dt.datetime) -> Timer | None:
    """Start the approval clock of a submitted change (and the consult clocks); idempotent."""
    policy = policy_for(cr, session=session)
    if policy is None:
        return None
    existing = session.scalar(select(Timer).where(Timer.kind == APPROVAL, Timer.subject_key == f"cr:{cr.id}"))
    if existing is not None:
        return existing
    chain = chain_for_system(cr.system, session=session) if cr.system else None
    warns = sorted({int(p) for p in policy.notify_at_pct if str(p).strip().isdigit() and 0 < int(p) < 100})
    timer = Timer(
        kind=APPROVAL, subject_key=f"cr:{cr.id}", change_id=cr.id, state="pending", started_at=now, due_at=now,
        data={
            "policy": policy.policy_id, "schedule": "24x7" if policy.schedule == "24x7" else "business",
            "target_minutes": policy.response_minutes, "warn_pcts": warns,
            "chain": chain.chain_id if chain else None, "paused_seconds": 0,
            "repeat_minutes": DEFAULT_REPEAT_MINUTES,
        },
    )
    session.add(timer)
    session.flush()
    timer.target_at = target_instant(timer, cr, session=session)
    timer.due_at = next_due(timer, cr, session=session) or timer.target_at
    for a in session.scalars(select(Approval).where(
        Approval.change_id == cr.id, Approval.kind == ParticipantKind.CONSULTED.value,
        Approval.state == ApprovalState.REQUESTED.value,
    )).all():
        consult = Timer(
            kind=CONSULT, subject_key=f"cr:{cr.id}:consult:{a.id}", change_id=cr.id, approval_id=a.id,
            state="pending", started_at=now, due_at=now, data=dict(timer.data),
        )
        session.add(consult)
        session.flush()
        consult.target_at = target_instant(consult, cr, session=session)
        consult.due_at = consult.target_at
    session.flush()
    return timer


def target_instant(timer: Timer, cr: ChangeRequest, *, session: Session) -> dt.datetime:
    calendar = _calendar(timer, cr, session=session)
    total = dt.timedelta(minutes=int(timer.data["target_minutes"])) + dt.timedelta(
        seconds=int(timer.data.get("paused_seconds", 0))
    )
    return calendar.add_business_time(timer.started_at, total)


def events(timer: Timer, cr: ChangeRequest, *, session: Session, lookups: Lookups | None = None) -> list[Event]:
    """Every event of this clock, in order (deterministic for the same inputs)."""
    calendar = lookups.calendar(timer, cr, session=session) if lookups else _calendar(timer, cr, session=session)
    target = dt.timedelta(minutes=int(timer.data["target_minutes"]))
    paused = dt.timedelta(seconds=int(timer.data.get("paused_seconds", 0)))
    out: list[Event] = []
    if timer.kind == CONSULT:
        due = calendar.add_business_time(timer.started_at, target + paused)
        out.append(Event("consult_reminder", due))
        out.append(Event("consult_overdue", calendar.add_business_time(timer.started_at, 2 * target + paused)))
        return out
    for pct in timer.data.get("warn_pcts", []):
        out.append(Event("warn", calendar.add_business_time(timer.started_at, target * pct / 100 + paused), pct=pct))
    breach = calendar.add_business_time(timer.started_at, target + paused)
    out.append(Event("breach", breach))
    chain_id = timer.data.get("chain")
    levels = lookups.levels(chain_id, session=session) if lookups else _chain_levels(chain_id, session=session)
    if levels is None:
        return out
    repeat = dt.timedelta(minutes=int(timer.data.get("repeat_minutes", DEFAULT_REPEAT_MINUTES)))
    starts = []
    for number, hours, after_minutes in levels:
        level_cal = calendar if hours == "business" else cal.SiteCalendar(calendar.timezone, cal.ALWAYS)
        starts.append((number, level_cal.add_business_time(breach, dt.timedelta(minutes=after_minutes))))
    for i, (level, at) in enumerate(starts):
        out.append(Event("level", at, level=level))
        until = starts[i + 1][1] if i + 1 < len(starts) else None
        if repeat.total_seconds() <= 0:
            continue
        n = 1
        while n <= MAX_REPEATS_PER_LEVEL:
            when = at + repeat * n
            if until is not None and when >= until:
                break
            if until is None and n > 2:
                break  # after the last level: two more pings, then the chain has ended
            out.append(Event("repeat", when, level=level, repeat=n))
            n += 1
    out.sort(key=lambda e: e.at)
    return out


def next_due(timer: Timer, cr: ChangeRequest, *, session: Session) -> dt.datetime | None:
    evs = events(timer, cr, session=session)
    return evs[timer.step].at if timer.step < len(evs) else None


def stop(cr: ChangeRequest, *, session: Session, reason: str) -> int:
    """Stop every clock of a decided (or withdrawn) change."""
    timers = session.scalars(select(Timer).where(Timer.change_id == cr.id, Timer.state.in_(("pending", "paused")))).all()
    for t in timers:
        t.state = "stopped"
        t.token += 1
        t.data = {**t.data, "stopped": reason}
    return len(timers)


def stop_consult(approval: Approval, *, session: Session) -> None:
    t = session.scalar(select(Timer).where(Timer.kind == CONSULT, Timer.approval_id == approval.id))
    if t is not None and t.state in ("pending", "paused"):
        t.state = "stopped"
        t.token += 1


def pause(cr: ChangeRequest, *, session: Session, now: dt.datetime) -> None:
    for t in session.scalars(select(Timer).where(Timer.change_id == cr.id, Timer.state == "pending")).all():
        t.state = "paused"
        t.paused_at = now
        t.token += 1


def resume(cr: ChangeRequest, *, session: Session, now: dt.datetime) -> None:
    for t in session.scalars(select(Timer).where(Timer.change_id == cr.id, Timer.state == "paused")).all():
        calendar = _calendar(t, cr, session=session)
        if t.paused_at is not None:
            extra = calendar.business_time_between(t.paused_at, now)
            t.data = {**t.data, "paused_seconds": int(t.data.get("paused_seconds", 0)) + int(extra.total_seconds())}
        t.paused_at = None
        t.state = "pending"
        t.token += 1
        t.target_at = target_instant(t, cr, session=session)
        t.due_at = next_due(t, cr, session=session) or now


def acknowledge(timer: Timer, *, level: int) -> None:
    timer.acknowledged_level = level
    timer.state = "acknowledged"
    timer.token += 1
