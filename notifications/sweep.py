"""The sweep: claim due timers and advance them, one transaction per timer.

On PostgreSQL due rows are claimed with ``FOR UPDATE SKIP LOCKED``, so any
number of replicas can sweep at once and each timer is advanced by exactly one
of them; the messages a step causes are outbox rows with unique keys written in
the same transaction, so a crash before commit loses nothing and a crash after
commit repeats nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from governance_store import audit
from governance_store.chains import resolve_level
from governance_store.models import (
    Approval,
    ApprovalState,
    ChangeRequest,
    EscalationChain,
    ParticipantKind,
    Person,
    Timer,
)
from handlers.reply import Button, Field, Reply, Section, reply_to_dict
from notifications import outbox, sla

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    timers: int = 0
    fired: int = 0
    skipped: int = 0
    lateness: list[float] = field(default_factory=list)


def _claim(session: Session, now: dt.datetime) -> Timer | None:
    query = (
        select(Timer).where(Timer.state == "pending", Timer.due_at <= now).order_by(Timer.due_at, Timer.id).limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


def sweep(factory: sessionmaker[Session], *, now: dt.datetime, limit: int = 10_000) -> SweepResult:
    result = SweepResult()
    for _ in range(limit):
        with factory() as session, session.begin():
            timer = _claim(session, now)
            if timer is None:
                break
            result.timers += 1
            advance(timer, session=session, now=now, result=result)
    return result


def advance(timer: Timer, *, session: Session, now: dt.datetime, result: SweepResult | None = None) -> None:
    result = result or SweepResult()
    cr = session.get(ChangeRequest, timer.change_id) if timer.change_id else None
    if cr is None or cr.state not in ("submitted",) and not (cr.change_type == "emergency" and cr.decided_at is None
                                                             and cr.state == "implemented"):
        timer.state = "stopped"
        timer.token += 1
        return
    evs = sla.events(timer, cr, session=session)
    due = [e for e in evs[timer.step:] if e.at <= now]
    for i, ev in enumerate(due):
        later = due[i + 1:]
        superseded = (ev.kind in ("warn", "consult_reminder") and bool(later)) or (
            ev.kind == "repeat" and any(x.kind in ("level", "repeat") for x in later)
        )
        if superseded:
            result.skipped += 1
            continue
        _fire(timer, cr, ev, session=session, now=now)
        result.fired += 1
        result.lateness.append((now - ev.at).total_seconds())
    timer.step += len(due)
    timer.token += 1
    timer.fired_at = now
    if timer.step >= len(evs):
        timer.state = "done"
    else:
        timer.due_at = evs[timer.step].at


def _pending_approvers(cr: ChangeRequest, *, session: Session) -> list[Approval]:
    return list(session.scalars(select(Approval).where(
        Approval.change_id == cr.id, Approval.kind == ParticipantKind.APPROVER.value,
        Approval.state == ApprovalState.REQUESTED.value,
    )).all())


def _local(ts: dt.datetime, timer: Timer, cr: ChangeRequest, *, session: Session) -> str:
    calendar = sla._calendar(timer, cr, session=session)  # noqa: SLF001 - same package
    return f"{ts.astimezone(calendar.tz):%H:%M %Z}"


def _reminder(cr: ChangeRequest, text: str, *, ref: str) -> dict[str, object]:
    return reply_to_dict(Reply(
        text=text,
        sections=(Section(title=f"{cr.number} · {cr.title}", fields=(Field("System", cr.system_name or "—"),)),),
        buttons=(Button("Approve", "cr.approve", ref, "primary"), Button("Reject", "cr.reject", ref, "danger")),
        ephemeral=False,
        data={"status": "reminder", "change": cr.number},
    ))


def _fire(timer: Timer, cr: ChangeRequest, ev: sla.Event, *, session: Session, now: dt.datetime) -> None:
    base = f"cr:{cr.id}:sla:{ev.key}" if ev.kind in ("warn", "breach") else f"cr:{cr.id}:{ev.key}"
    ref = str(cr.id)
    target = int(timer.data.get("target_minutes", 0))
    if ev.kind == "warn":
        for a in _pending_approvers(cr, session=session):
            outbox.enqueue(session, key=f"{base}:{a.person_id}", now=now, person_id=a.person_id, payload=_reminder(
                cr, f"Reminder: {cr.number} waits for your approval ({ev.pct}% of its {target}-minute response target used).",
                ref=ref))
        audit.record(session, at=now, action="change.sla_reminder", object_type="change", object_key=cr.number,
                     data={"pct": ev.pct})
        return
    if ev.kind == "breach":
        waiting = _pending_approvers(cr, session=session)
        for a in waiting:
            outbox.enqueue(session, key=f"{base}:{a.person_id}", now=now, person_id=a.person_id, payload=_reminder(
                cr, f"{cr.number} has breached its {target}-minute response target and is being escalated.", ref=ref))
        if cr.requester_id:
            outbox.enqueue(session, key=f"{base}:requester", now=now, person_id=cr.requester_id, payload=reply_to_dict(Reply(
                text=f"{cr.number} breached its response target; govbot is escalating it.", ephemeral=False,
                data={"status": "breach", "change": cr.number})))
        audit.record(session, at=now, action="change.sla_breached", object_type="change", object_key=cr.number,
                     data={"policy": timer.data.get("policy"), "waiting_on": [a.role_name for a in waiting]})
        return
    if ev.kind in ("consult_reminder", "consult_overdue"):
        a = session.get(Approval, timer.approval_id) if timer.approval_id else None
        if a is None or a.state != ApprovalState.REQUESTED.value:
            return
        base = f"cr:{cr.id}:{ev.key}:{a.id}"
        if ev.kind == "consult_reminder":
            outbox.enqueue(session, key=base, now=now, person_id=a.person_id, payload=reply_to_dict(Reply(
                text=f"Reminder: you are consulted on {cr.number} “{cr.title}”; please answer.",
                buttons=(Button("No concerns", "cr.consult_ok", ref, "primary"), Button("Raise concern", "cr.consult_concern", ref)),
                ephemeral=False, data={"status": "reminder", "change": cr.number})))
        else:
            who = a.person.display_name if a.person else "a consulted person"
            if cr.requester_id:
                outbox.enqueue(session, key=f"{base}:requester", now=now, person_id=cr.requester_id, payload=reply_to_dict(Reply(
                    text=f"{who} has not answered the consultation on {cr.number}.", ephemeral=False,
                    data={"status": "overdue", "change": cr.number})))
            manager = a.person.manager if a.person else None
            if manager is not None and manager.active:
                outbox.enqueue(session, key=f"{base}:manager", now=now, person_id=manager.id,
                               payload=reply_to_dict(Reply(
                                   text=f"{who} has not answered the consultation on {cr.number} “{cr.title}”.",
                                   ephemeral=False, data={"status": "overdue", "change": cr.number})))
            audit.record(session, at=now, action="change.consult_overdue", object_type="change", object_key=cr.number,
                         data={"consulted": who})
        return
    _escalate(timer, cr, ev, session=session, now=now)


def _escalate(timer: Timer, cr: ChangeRequest, ev: sla.Event, *, session: Session, now: dt.datetime) -> None:
    chain = session.scalar(select(EscalationChain).where(EscalationChain.chain_id == timer.data.get("chain")))
    if chain is None:
        return
    level = next((lvl for lvl in chain.levels if lvl.level == ev.level), None)
    if level is None:
        return
    targets = resolve_level(level, cr.system, session=session)
    people = targets.people()
    names = []
    for h in targets.holders:
        if h.person is not None and not h.person.active and h.acting is not None:
            names.append(f"{h.acting.name} (acting for {h.person.name})")
        elif h.team is not None:
            names.append(h.team.name)
        elif h.person is not None:
            names.append(h.person.name)
    who = ", ".join(names) or "nobody"
    at_local = _local(now, timer, cr, session=session)
    repeat = f" (reminder {ev.repeat})" if ev.kind == "repeat" else ""
    text = f"Escalation level {ev.level}{repeat}: {cr.number} “{cr.title}” is waiting for a decision."
    card = reply_to_dict(Reply(
        text=text,
        sections=(Section(title=f"{cr.number} · escalated to level {ev.level}", fields=(
            Field("System", cr.system_name or "—"),
            Field("Waiting since", f"{cr.submitted_at:%Y-%m-%d %H:%M} UTC" if cr.submitted_at else "—"),
            Field("Escalation chain", f"{chain.chain_id} level {ev.level}: {who}"),
        )),),
        buttons=(Button("I'm on it", "esc.ack", f"{timer.id}:{ev.level}", "primary"),),
        warnings=targets.problems,
        ephemeral=False,
        data={"status": "escalation", "change": cr.number, "level": ev.level},
    ))
    base = f"cr:{cr.id}:{ev.key}"
    for p in people:
        outbox.enqueue(session, key=f"{base}:{p.id}", now=now, person_id=p.id, payload=card)
    channels = [c.split(":", 1)[1] for c in targets.channels if c.startswith("slack_channel:") and ":" in c]
    for h in targets.holders:
        if h.team is not None and h.team.channel:
            channels.append(h.team.channel)
    for ch in dict.fromkeys(channels):
        outbox.enqueue(session, key=f"{base}:ch:{ch}", now=now, channel=ch, payload=card)
    if ev.kind == "level":
        timer.level = ev.level
        audit.record(session, at=now, action="change.escalated", object_type="change", object_key=cr.number,
                     data={"level": ev.level, "chain": chain.chain_id, "to": names, "problems": list(targets.problems),
                           "text": f"escalated to level {ev.level}: {who} at {at_local}"})
    else:
        timer.repeats += 1


def acknowledge(timer_id: int, level: int, *, person: Person | None, session: Session, now: dt.datetime,
                platform: str) -> str:
    """"I'm on it": stops the escalation at this level.  Only someone the level reaches may acknowledge."""
    timer = session.get(Timer, timer_id)
    if timer is None or timer.change_id is None:
        return "That escalation no longer exists."
    cr = session.get(ChangeRequest, timer.change_id)
    assert cr is not None
    if person is None:
        audit.record(session, at=now, platform=platform, action="escalation.ack.refused", object_type="change",
                     object_key=cr.number, data={"level": level, "reason": "not in directory"})
        return "You are not in govbot's directory, so you cannot acknowledge escalations."
    chain = session.scalar(select(EscalationChain).where(EscalationChain.chain_id == timer.data.get("chain")))
    lvl = next((x for x in chain.levels if x.level == level), None) if chain else None
    reached = {p.id for p in resolve_level(lvl, cr.system, session=session).people()} if lvl else set()
    if person.id not in reached:
        audit.record(session, at=now, actor=person, platform=platform, action="escalation.ack.refused",
                     object_type="change", object_key=cr.number, data={"level": level})
        return f"Escalation level {level} of {cr.number} is not addressed to you."
    if timer.acknowledged_level is not None:
        return f"{cr.number} was already acknowledged at level {timer.acknowledged_level}."
    sla.acknowledge(timer, level=level)
    audit.record(session, at=now, actor=person, platform=platform, action="change.escalation_acknowledged",
                 object_type="change", object_key=cr.number, data={"level": level})
    return f"Thanks, {person.display_name}: escalation of {cr.number} stops at level {level}."
