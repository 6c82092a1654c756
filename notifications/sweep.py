"""The sweep: claim due timers and advance them, a batch of timers per transaction.

On PostgreSQL due rows are claimed with ``FOR UPDATE SKIP LOCKED`` (``batch``
rows at a time), so any number of replicas can sweep at once and each timer is
advanced by exactly one of them.  Replicas sweep their batches side by side and
take the audit log's lock only to append the batch's entries; a batch never
waits in the database for that lock while it holds its rows: it asks for it
without waiting, for a moment, and if it is still taken (a chat turn, which
locks the audit log before it touches timers, may be waiting for these very
rows) it gives the rows back and sweeps the batch again, this time taking the
audit log's lock first, as turns do, so a sweep never deadlocks with a turn.
The messages
a step causes are outbox rows with unique keys (``INSERT … ON CONFLICT DO
NOTHING``) and the audit entries are appended in the same transaction, so a
crash before commit loses nothing and a crash after commit repeats nothing.
Calendars, chain levels and the people a level reaches are looked up once per
sweep, not once per timer.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload, sessionmaker

from governance_store import audit, local_time
from governance_store.chains import resolve_level
from governance_store.models import (
    Approval,
    ApprovalState,
    ChangeRequest,
    EscalationChain,
    OutboxMessage,
    ParticipantKind,
    Person,
    Timer,
)
from handlers.reply import Button, Field, Reply, Section, reply_to_dict
from notifications import ownership, sla
from notifications.health import database_trouble

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    timers: int = 0
    fired: int = 0
    skipped: int = 0
    lateness: list[float] = field(default_factory=list)


BATCH = 100
# How long a batch swept side by side with others asks for the audit log before it gives its rows back.
AUDIT_PATIENCE_SECONDS = 0.2


@dataclass(frozen=True)
class _Targets:
    """Who one escalation level of one system reaches, as plain values."""

    person_ids: tuple[int, ...]
    channels: tuple[str, ...]
    names: tuple[str, ...]
    problems: tuple[str, ...]
    zones: tuple[str | None, ...] = ()  # each person's own time zone (``Person.timezone``), by position


@dataclass
class _Pass:
    """One sweep's memory (plain values only) and one transaction's pending writes."""

    lookups: sla.Lookups = field(default_factory=sla.Lookups)
    targets: dict[tuple[str, int, int | None], _Targets | None] = field(default_factory=dict)
    approvers: dict[int, list[Approval]] = field(default_factory=dict)
    changes: dict[int, ChangeRequest] = field(default_factory=dict)  # keeps the batch's rows in the session
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    audits: list[tuple[dt.datetime, str, str, str, dict[str, Any]]] = field(default_factory=list)

    def enqueue(self, *, key: str, now: dt.datetime, payload: dict[str, Any], person_id: int | None = None,
                channel: str | None = None, change_id: int | None = None) -> None:
        self.messages.setdefault(key, {
            "key": key, "kind": "message", "person_id": person_id, "channel": channel, "change_id": change_id,
            "payload": payload, "status": "pending", "attempts": 0, "created_at": now, "next_attempt_at": now,
            "platform_ref": {},
        })

    def audit(self, *, at: dt.datetime, action: str, object_key: str, data: dict[str, Any],
              object_type: str = "change") -> None:
        self.audits.append((at, action, object_type, object_key, data))

    def flush(self, session: Session) -> None:
        """Write the queued messages (an existing key is left alone) and append the audit entries."""
        self.write_messages(session)
        if self.audits:
            _append_audit(session, self.audits)
        self.forget_batch()

    def forget_batch(self) -> None:
        """Drop what the batch queued and held (written, or its transaction rolled back); the look-ups stay."""
        self.messages.clear()
        self.audits.clear()
        self.approvers.clear()
        self.changes.clear()

    def write_messages(self, session: Session) -> None:
        if self.messages:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            # In key order: replicas sweeping side by side that queue the same key wait for each other in
            # one order, never in a circle.
            rows = sorted(self.messages.values(), key=lambda row: str(row["key"]))
            session.connection().execute(
                insert(OutboxMessage).on_conflict_do_nothing(index_elements=["key"]), rows)
            self.messages.clear()


def _append_audit(session: Session, entries: list[tuple[dt.datetime, str, str, str, dict[str, Any]]]) -> None:
    audit.record_many(session, entries)


def _lock_audit(session: Session, meanwhile: Callable[[], bool] | None) -> None:
    if meanwhile is not None:
        while not audit.try_lock(session):
            if not meanwhile():
                break
        else:
            return
    audit.lock(session)


class _AuditBusy(Exception):
    """The audit log stayed locked while a batch held its rows: the batch is swept again, in turn."""


def _audit_soon(session: Session, patience: float) -> bool:
    """Take the audit log's lock without ever waiting for it in the database; whether it was taken
    within ``patience`` seconds."""
    deadline = time.monotonic() + patience
    pause = 0.001
    while not audit.try_lock(session):
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(2 * pause, 0.01)
    return True


def _any_due(session: Session, now: dt.datetime) -> bool:
    return session.scalar(select(Timer.id).where(Timer.state == "pending", Timer.due_at <= now).limit(1)) is not None


def _claim(session: Session, now: dt.datetime, batch: int) -> list[Timer]:
    query = (
        select(Timer).where(Timer.state == "pending", Timer.due_at <= now).order_by(Timer.due_at, Timer.id).limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query).all())


def sweep(factory: sessionmaker[Session], *, now: dt.datetime, limit: int = 10_000, batch: int = BATCH,
          meanwhile: Callable[[], bool] | None = None) -> SweepResult:
    """Advance every timer due at ``now`` (at most ``limit``), ``batch`` timers per transaction.

    ``meanwhile()`` is called while another transaction holds the audit log's lock (another
    replica's batch, a chat turn), instead of waiting for it, until it returns False (nothing
    more to do): the worker delivers messages meanwhile."""
    result = SweepResult()
    memo = _Pass()
    in_turn = False  # the next batch takes the audit log's lock before its rows
    while result.timers < limit:
        attempt = SweepResult()
        try:
            with factory() as session, session.begin():
                if not _any_due(session, now):
                    break
                side_by_side = session.get_bind().dialect.name == "postgresql" and not in_turn
                if not side_by_side:
                    # Chat turns lock the audit log before they touch timers (they record, then stop a clock):
                    # lock it before claiming, or a sweep holding timers and waiting for it deadlocks with them.
                    _lock_audit(session, meanwhile)
                timers = _claim(session, now, min(batch, limit - result.timers))
                if not timers:
                    break
                _prefetch(session, timers, memo)
                for timer in timers:
                    attempt.timers += 1
                    advance(timer, session=session, now=now, result=attempt, memo=memo)
                if side_by_side:
                    memo.write_messages(session)
                    session.flush()
                    if not _audit_soon(session, AUDIT_PATIENCE_SECONDS):
                        raise _AuditBusy
                memo.flush(session)
            in_turn = False
        except _AuditBusy:
            memo.forget_batch()
            in_turn = True
            continue
        except Exception as exc:
            if batch == 1 or database_trouble(exc):
                raise  # one timer at a time cannot help when the database itself is away
            # One bad timer must not hold back its batch: sweep on one timer per transaction.
            log.exception("a sweep batch failed; continuing one timer per transaction")
            memo = _Pass()
            batch = 1
            continue
        result.timers += attempt.timers
        result.fired += attempt.fired
        result.skipped += attempt.skipped
        result.lateness += attempt.lateness
    return result


def _prefetch(session: Session, timers: list[Timer], memo: _Pass) -> None:
    """Load the batch's change requests (with their systems) and pending approvers in two queries."""
    ids = {t.change_id for t in timers if t.change_id}
    if not ids:
        return
    memo.changes = {cr.id: cr for cr in session.scalars(
        select(ChangeRequest).options(selectinload(ChangeRequest.system)).where(ChangeRequest.id.in_(ids))).all()}
    memo.approvers = {i: [] for i in ids}
    for a in session.scalars(select(Approval).where(
        Approval.change_id.in_(ids), Approval.kind == ParticipantKind.APPROVER.value,
        Approval.state == ApprovalState.REQUESTED.value,
    ).order_by(Approval.id)).all():
        memo.approvers[a.change_id].append(a)


def advance(timer: Timer, *, session: Session, now: dt.datetime, result: SweepResult | None = None,
            memo: _Pass | None = None) -> None:
    result = result or SweepResult()
    own = memo is None
    memo = memo or _Pass()
    if timer.kind in ownership.KINDS:
        # Attestations, ownership requests and gaps: their own events, the same claims and outbox.
        fired, skipped, late = ownership.advance(timer, session=session, now=now, memo=memo)
        result.fired, result.skipped = result.fired + fired, result.skipped + skipped
        result.lateness += late
        if own:
            memo.flush(session)
        return
    cr = memo.changes.get(timer.change_id) if timer.change_id else None
    if cr is None and timer.change_id:
        cr = session.get(ChangeRequest, timer.change_id)
    if cr is None or cr.state not in ("submitted",) and not (cr.change_type == "emergency" and cr.decided_at is None
                                                             and cr.state == "implemented"):
        timer.state = "stopped"
        timer.token += 1
        return
    evs = sla.events(timer, cr, session=session, lookups=memo.lookups)
    due = [e for e in evs[timer.step:] if e.at <= now]
    for i, ev in enumerate(due):
        later = due[i + 1:]
        superseded = (ev.kind in ("warn", "consult_reminder") and bool(later)) or (
            ev.kind == "repeat" and any(x.kind in ("level", "repeat") for x in later)
        )
        if superseded:
            result.skipped += 1
            continue
        _fire(timer, cr, ev, session=session, now=now, memo=memo)
        result.fired += 1
        result.lateness.append((now - ev.at).total_seconds())
    timer.step += len(due)
    timer.token += 1
    timer.fired_at = now
    if timer.step >= len(evs):
        timer.state = "done"
    else:
        timer.due_at = evs[timer.step].at
    if own:
        memo.flush(session)


def _pending_approvers(cr: ChangeRequest, *, session: Session, memo: _Pass | None = None) -> list[Approval]:
    if memo is not None and cr.id in memo.approvers:
        return memo.approvers[cr.id]
    return list(session.scalars(select(Approval).where(
        Approval.change_id == cr.id, Approval.kind == ParticipantKind.APPROVER.value,
        Approval.state == ApprovalState.REQUESTED.value,
    )).all())


def _local(ts: dt.datetime, timer: Timer, cr: ChangeRequest, *, session: Session, memo: _Pass) -> str:
    calendar = memo.lookups.calendar(timer, cr, session=session)
    return local_time.clock(ts, calendar.tz)


def _reminder(cr: ChangeRequest, text: str, *, ref: str) -> dict[str, object]:
    return reply_to_dict(Reply(
        text=text,
        sections=(Section(title=f"{cr.number} · {cr.title}", fields=(Field("System", cr.system_name or "—"),)),),
        buttons=(Button("Approve", "cr.approve", ref, "primary"), Button("Reject", "cr.reject", ref, "danger")),
        ephemeral=False,
        data={"status": "reminder", "change": cr.number},
    ))


def _fire(timer: Timer, cr: ChangeRequest, ev: sla.Event, *, session: Session, now: dt.datetime, memo: _Pass) -> None:
    base = f"cr:{cr.id}:sla:{ev.key}" if ev.kind in ("warn", "breach") else f"cr:{cr.id}:{ev.key}"
    ref = str(cr.id)
    target = int(timer.data.get("target_minutes", 0))
    if ev.kind == "warn":
        for a in _pending_approvers(cr, session=session, memo=memo):
            memo.enqueue(key=f"{base}:{a.person_id}", now=now, person_id=a.person_id, change_id=cr.id, payload=_reminder(
                cr, f"Reminder: {cr.number} waits for your approval ({ev.pct}% of its {target}-minute response target used).",
                ref=ref))
        memo.audit(at=now, action="change.sla_reminder", object_key=cr.number,
                     data={"pct": ev.pct})
        return
    if ev.kind == "breach":
        waiting = _pending_approvers(cr, session=session, memo=memo)
        for a in waiting:
            memo.enqueue(key=f"{base}:{a.person_id}", now=now, person_id=a.person_id, change_id=cr.id, payload=_reminder(
                cr, f"{cr.number} has breached its {target}-minute response target and is being escalated.", ref=ref))
        if cr.requester_id:
            memo.enqueue(key=f"{base}:requester", now=now, person_id=cr.requester_id, payload=reply_to_dict(Reply(
                text=f"{cr.number} breached its response target; govbot is escalating it.", ephemeral=False,
                data={"status": "breach", "change": cr.number})))
        memo.audit(at=now, action="change.sla_breached", object_key=cr.number,
                     data={"policy": timer.data.get("policy"), "waiting_on": [a.role_name for a in waiting]})
        return
    if ev.kind in ("consult_reminder", "consult_overdue"):
        consult = session.get(Approval, timer.approval_id) if timer.approval_id else None
        if consult is None or consult.state != ApprovalState.REQUESTED.value:
            return
        base = f"cr:{cr.id}:{ev.key}:{consult.id}"
        if ev.kind == "consult_reminder":
            memo.enqueue(key=base, now=now, person_id=consult.person_id, change_id=cr.id, payload=reply_to_dict(Reply(
                text=f"Reminder: you are consulted on {cr.number} “{cr.title}”; please answer.",
                buttons=(Button("No concerns", "cr.consult_ok", ref, "primary"), Button("Raise concern", "cr.consult_concern", ref)),
                ephemeral=False, data={"status": "reminder", "change": cr.number})))
        else:
            who = consult.person.display_name if consult.person else "a consulted person"
            if cr.requester_id:
                memo.enqueue(key=f"{base}:requester", now=now, person_id=cr.requester_id, payload=reply_to_dict(Reply(
                    text=f"{who} has not answered the consultation on {cr.number}.", ephemeral=False,
                    data={"status": "overdue", "change": cr.number})))
            manager = consult.person.manager if consult.person else None
            if manager is not None and manager.active:
                memo.enqueue(key=f"{base}:manager", now=now, person_id=manager.id,
                               payload=reply_to_dict(Reply(
                                   text=f"{who} has not answered the consultation on {cr.number} “{cr.title}”.",
                                   ephemeral=False, data={"status": "overdue", "change": cr.number})))
            memo.audit(at=now, action="change.consult_overdue", object_key=cr.number,
                         data={"consulted": who})
        return
    _escalate(timer, cr, ev, session=session, now=now, memo=memo)


def _level_targets(chain_id: str, level_no: int, cr: ChangeRequest, *, session: Session, memo: _Pass) -> _Targets | None:
    key = (chain_id, level_no, cr.system_id)
    if key in memo.targets:
        return memo.targets[key]
    found = None
    chain = session.scalar(select(EscalationChain).where(EscalationChain.chain_id == chain_id))
    level = next((lvl for lvl in chain.levels if lvl.level == level_no), None) if chain else None
    if level is not None:
        targets = resolve_level(level, cr.system, session=session)
        names = []
        for h in targets.holders:
            if h.person is not None and not h.person.active and h.acting is not None:
                names.append(f"{h.acting.name} (acting for {h.person.name})")
            elif h.team is not None:
                names.append(h.team.name)
            elif h.person is not None:
                names.append(h.person.name)
        channels = [c.split(":", 1)[1] for c in targets.channels if c.startswith("slack_channel:") and ":" in c]
        for h in targets.holders:
            if h.team is not None and h.team.channel:
                channels.append(h.team.channel)
        ids = tuple(p.id for p in targets.people())
        zones = dict(session.execute(select(Person.id, Person.timezone).where(Person.id.in_(ids))).tuples().all()) \
            if ids else {}
        found = _Targets(ids, tuple(dict.fromkeys(channels)), tuple(names), tuple(targets.problems),
                         tuple(zones.get(i) for i in ids))
    memo.targets[key] = found
    return found


def _escalate(timer: Timer, cr: ChangeRequest, ev: sla.Event, *, session: Session, now: dt.datetime,
              memo: _Pass) -> None:
    chain_id = timer.data.get("chain")
    targets = _level_targets(chain_id, ev.level, cr, session=session, memo=memo) if chain_id else None
    if targets is None:
        return
    names = list(targets.names)
    who = ", ".join(names) or "nobody"
    at_local = _local(now, timer, cr, session=session, memo=memo)
    repeat = f" (reminder {ev.repeat})" if ev.kind == "repeat" else ""
    text = f"Escalation level {ev.level}{repeat}: {cr.number} “{cr.title}” is waiting for a decision."
    site_tz = memo.lookups.calendar(timer, cr, session=session).tz
    cards: dict[str, dict[str, Any]] = {}

    def card_in(zone_name: str | None) -> dict[str, Any]:
        """The card with its times in one zone: the recipient's own, else the site's."""
        tz = local_time.zone(zone_name) or site_tz
        if tz.key not in cards:
            cards[tz.key] = reply_to_dict(Reply(
                text=text,
                sections=(Section(title=f"{cr.number} · escalated to level {ev.level}", fields=(
                    Field("System", cr.system_name or "—"),
                    Field("Waiting since", local_time.stamp(cr.submitted_at, tz)),
                    Field("Escalated", local_time.stamp(now, tz)),
                    Field("Escalation chain", f"{chain_id} level {ev.level}: {who}"),
                )),),
                buttons=(Button("I'm on it", "esc.ack", f"{timer.id}:{ev.level}", "primary"),),
                warnings=targets.problems,
                ephemeral=False,
                data={"status": "escalation", "change": cr.number, "level": ev.level},
            ))
        return cards[tz.key]

    base = f"cr:{cr.id}:{ev.key}"
    zones = targets.zones or (None,) * len(targets.person_ids)
    for pid, zone_name in zip(targets.person_ids, zones, strict=True):
        memo.enqueue(key=f"{base}:{pid}", now=now, person_id=pid, change_id=cr.id, payload=card_in(zone_name))
    for ch in targets.channels:
        memo.enqueue(key=f"{base}:ch:{ch}", now=now, channel=ch, change_id=cr.id, payload=card_in(None))
    if ev.kind == "level":
        timer.level = ev.level
        memo.audit(at=now, action="change.escalated", object_key=cr.number,
                   data={"level": ev.level, "chain": chain_id, "to": names, "problems": list(targets.problems),
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
        audit.record(session, at=now, actor_label=f"unknown {platform} user", platform=platform,
                     action="escalation.ack.refused", object_type="change", object_key=cr.number,
                     data={"level": level, "reason": "not in directory"})
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
