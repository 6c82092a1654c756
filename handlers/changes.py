"""Change requests in chat: open (form or inline), preview the routing, submit, decide,
consult, ask the requester, and move through the lifecycle.  Cards about a request
are re-rendered and updated in place whenever its state changes."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from governance_store import audit, escalations, local_time
from governance_store import changes as core
from governance_store.models import (
    Approval,
    ApprovalState,
    AuditEntry,
    ChangeRequest,
    ChangeState,
    Delegation,
    OutboxMessage,
    OutboxStatus,
    ParticipantKind,
    Person,
    Site,
    Timer,
)
from handlers.catalog import Catalog
from handlers.ownership import find_person
from handlers.reply import (
    Action,
    Button,
    Command,
    Field,
    Form,
    FormField,
    Reply,
    Section,
    echo,
    reply_to_dict,
    row_id,
)
from handlers.routes import Route, RouteKind
from handlers.services import Services
from notifications import outbox, sla

USAGE = (
    'change SYSTEM "title" [type=standard|normal|emergency] [risk=low|moderate|high] '
    "[window=YYYY-MM-DDTHH:MM/HH:MM] [rollback=...] [safety=yes moc=MOC-REF] [desc=...]"
)
KEYS = {"type", "risk", "window", "rollback", "safety", "moc", "desc", "description", "cab"}


def _status(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "candidates": [], "warnings": [], **extra}


def _person(actor_person_id: int | None, *, session: Session) -> Person:
    """The acting person: the router lets only active people in the directory reach these use cases."""
    person = session.get(Person, actor_person_id) if actor_person_id is not None else None
    if person is None:
        raise LookupError("a change use case was reached without a person")
    return person


# --------------------------------------------------------------------------- the form


def change_form(*, values: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> Form:
    v, e = values or {}, errors or {}
    return Form(
        title="New change request",
        submit_action_id="cr.preview",
        value="new",
        submit_label="Preview routing",
        fields=(
            FormField("system", "System", "system", True, initial=v.get("system", ""),
                      hint="name, alias, hostname, IP, serial or asset tag", error=e.get("system", "")),
            FormField("title", "Title", "text", True, initial=v.get("title", ""), error=e.get("title", "")),
            FormField("description", "Description", "textarea", initial=v.get("description", "")),
            FormField("change_type", "Type", "select", True, ("standard", "normal", "emergency"),
                      v.get("change_type", "normal"), error=e.get("change_type", "")),
            FormField("risk", "Risk", "select", True, ("low", "moderate", "high"), v.get("risk", "moderate"),
                      error=e.get("risk", "")),
            FormField("window", "Planned window (site local time)", "text", initial=v.get("window", ""),
                      hint="e.g. 2025-06-14T06:00/10:00", error=e.get("window", "")),
            FormField("rollback_plan", "Rollback plan", "textarea", initial=v.get("rollback_plan", ""),
                      error=e.get("rollback_plan", "")),
            FormField("process_safety", "Process-safety relevant (MOC needed)", "checkbox",
                      initial=v.get("process_safety", "")),
            FormField("moc_reference", "MOC reference", "text", initial=v.get("moc_reference", ""),
                      error=e.get("moc_reference", "")),
        ),
    )


def parse_window(text: str, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """``2025-06-14T06:00/10:00``, ``2025-06-14 06:00-10:00`` or ``START..END`` in the site's local time."""
    t = text.strip()
    zone = ZoneInfo(tz)
    m = re.match(r"^(\d{4}-\d{2}-\d{2})[T ](\d{1,2}:\d{2})\s*(?:/|-|–|\.\.)\s*(\d{1,2}:\d{2})$", t)
    if m:
        day = dt.date.fromisoformat(m.group(1))
        start = dt.datetime.combine(day, dt.time.fromisoformat(m.group(2).zfill(5)), tzinfo=zone)
        end = dt.datetime.combine(day, dt.time.fromisoformat(m.group(3).zfill(5)), tzinfo=zone)
        if end <= start:
            end += dt.timedelta(days=1)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    m = re.match(r"^(\S+[T ]\d{1,2}:\d{2})\s*(?:/|\.\.)\s*(\S+[T ]\d{1,2}:\d{2})$", t)
    if m:
        start = dt.datetime.fromisoformat(m.group(1).replace(" ", "T")).replace(tzinfo=zone)
        end = dt.datetime.fromisoformat(m.group(2).replace(" ", "T")).replace(tzinfo=zone)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    raise ValueError("write the window as YYYY-MM-DDTHH:MM/HH:MM (site local time)")


def _draft_from_values(values: dict[str, str], *, session: Session,
                       catalog: Catalog) -> tuple[core.Draft | None, dict[str, str], Reply | None]:
    errors: dict[str, str] = {}
    system_text = values.get("system", "").strip()
    if not system_text:
        return None, {"system": "Which system does the change touch?"}, None
    resolved = catalog.resolve(system_text, session=session)
    if resolved.system is None:
        res = resolved.resolution
        names = ", ".join(m.name for m in res.matches[:5])
        if res.status == "ambiguous":
            errors["system"] = f"Several systems match: {names}. Type the exact name."
        else:
            errors["system"] = f"No system called “{echo(system_text)}”." + (f" Did you mean: {names}?" if names else "")
        return None, errors, None
    system = resolved.system
    site = session.scalar(select(Site).where(Site.code == system.site_code)) if system.site_code else None
    start = end = None
    if values.get("window", "").strip():
        try:
            start, end = parse_window(values["window"], site.timezone if site else "UTC")
        except ValueError as exc:
            errors["window"] = str(exc)
    change_type = values.get("change_type", "normal").strip().lower() or "normal"
    risk = values.get("risk", "moderate").strip().lower() or "moderate"
    draft = core.Draft(
        system=system,
        title=values.get("title", "").strip(),
        change_type=change_type,
        risk=risk,
        description=values.get("description") or None,
        planned_start=start,
        planned_end=end,
        rollback_plan=values.get("rollback_plan") or None,
        process_safety=values.get("process_safety", "").strip().lower() in ("1", "true", "yes", "on", "y", "x"),
        moc_reference=values.get("moc_reference") or None,
        cab_required=values.get("cab", "").lower() in ("1", "true", "yes"),
    )
    return draft, errors, None


def parse_inline(text: str) -> dict[str, str]:
    """``change SYSTEM "title" key=value ...`` into form values; raises ValueError on bad syntax."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"unbalanced quotes ({exc})") from None
    values: dict[str, str] = {}
    positional: list[str] = []
    for tok in tokens:
        key, eq, val = tok.partition("=")
        if eq and key.lower() in KEYS:
            k = key.lower()
            values[{"type": "change_type", "rollback": "rollback_plan", "safety": "process_safety",
                    "moc": "moc_reference", "desc": "description"}.get(k, k)] = val
        elif eq and re.match(r"^[a-z_]+$", key):
            raise ValueError(f"unknown field '{key}'")
        else:
            positional.append(tok)
    if len(positional) < 2:
        raise ValueError("give the system and a quoted title")
    values["system"] = " ".join(positional[:-1])
    values["title"] = positional[-1]
    return values


# --------------------------------------------------------------------------- opening


def change_command(command: Command, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = _person(command.actor.person_id, session=session)
    rest = command.text.strip()[len("change"):].strip()
    if not rest:
        return Reply(text="Fill in the change request.", form=change_form(), data=_status("form"))
    try:
        values = parse_inline(rest)
    except ValueError as exc:
        return Reply(text=f"I couldn't read that change request: {exc}.\nUsage: {USAGE}", data=_status("usage"))
    return _preview(values, actor=actor, session=session, now=now, services=services)


def _preview(values: dict[str, str], *, actor: Person, session: Session, now: dt.datetime,
             services: Services) -> Reply:
    draft, errors, _ = _draft_from_values(values, session=session, catalog=services.catalog)
    if draft is None or errors:
        return Reply(text="Please correct the highlighted fields.", form=change_form(values=values, errors=errors),
                     data=_status("invalid", errors=errors))
    routing = core.route(draft, requester=actor, session=session, now=now, policies=services.policies)
    if routing.errors:
        return Reply(text="Please correct the highlighted fields.",
                     form=change_form(values=values, errors=routing.errors),
                     data=_status("invalid", errors=dict(routing.errors)))
    cr = core.save_draft(draft, requester=actor, session=session, now=now)
    fields = [
        Field("System", f"{draft.system.name} ({draft.system.site_code or '—'})"),
        Field("Activity", f"{routing.activity.activity_id} {routing.activity.name}" if routing.activity else "—"),
    ]
    fields += [Field(f"Approver — {s.role}", ", ".join(p.name for p in s.people)) for s in routing.slots]
    if routing.consulted:
        fields.append(Field("Consulted", ", ".join(f"{p.name} ({role})" for role, p in routing.consulted)))
    if routing.informed:
        fields.append(Field("Informed", ", ".join(f"{p.name} ({role})" for role, p in routing.informed)))
    if routing.decision_right is not None and routing.decision_right.evidence_required:
        fields.append(Field(f"Evidence ({routing.decision_right.decision_id})", routing.decision_right.evidence_required))
    if routing.conflicts:
        fields.append(Field("Conflicts", "\n".join(routing.conflicts)))
    warnings = tuple(routing.warnings) + tuple(f"Conflict: {c}" for c in routing.conflicts)
    return Reply(
        text=f"Here is who {cr.number} will reach. Nothing has been sent yet.",
        sections=(Section(title=f"{cr.number} · {cr.title}", fields=tuple(fields)),),
        buttons=(
            Button("Submit", "cr.submit", str(cr.id), "primary"),
            Button("Discard", "cr.discard", str(cr.id), "danger"),
        ),
        warnings=warnings,
        data=_status("preview", change=cr.number, approvers={s.role: [p.name for p in s.people] for s in routing.slots},
                     consulted=[p.name for _, p in routing.consulted], informed=[p.name for _, p in routing.informed],
                     conflicts=routing.conflicts, warnings=list(warnings)),
    )


# --------------------------------------------------------------------------- cards


def _local(ts: dt.datetime | None, tz: ZoneInfo) -> str:
    return local_time.stamp(ts, tz)


def _viewer(person_id: int | None, *, session: Session) -> Person | None:
    return session.get(Person, person_id) if person_id is not None else None


def card(cr: ChangeRequest, *, role: str, session: Session, viewer: Person | None = None) -> Reply:
    """The card for one viewer kind: approver, consulted, informed or requester.

    Every time on it is in one zone, labelled: the viewer's own where known, else the change's site's."""
    tz = core.viewer_zone(cr, viewer, session=session)
    approvals = session.scalars(
        select(Approval).where(Approval.change_id == cr.id).options(selectinload(Approval.person))
        .order_by(Approval.id)
    ).all()
    status_lines = []
    for a in approvals:
        if a.kind != ParticipantKind.APPROVER.value or a.person is None:
            continue
        mark = {"approved": "✅", "rejected": "❌", "requested": "⏳", "cancelled": "–", "rerouted": "↪"}.get(a.state,
                                                                                                       a.state)
        extra = f" (acting for {a.acting_for.display_name})" if a.acting_for_id and a.acting_for else ""
        if a.delegate_of_id and a.delegate_of:
            extra += f" (delegate of {a.delegate_of.display_name})"
        when = f" {_local(a.decided_at, tz)}" if a.decided_at and a.state in ("approved", "rejected") else ""
        comment = f" — “{a.comment}”" if a.comment else ""
        status_lines.append(f"{mark} {a.person.display_name}{extra} · {a.role_name}{when}{comment}")
    consult_lines = [
        f"{'💬' if a.state == 'concern' else '👍' if a.state == 'no_concerns' else '⏳'} {a.person.display_name}"
        + (f": {a.comment}" if a.comment else "")
        for a in approvals if a.kind == ParticipantKind.CONSULTED.value and a.person is not None
    ]
    requester = cr.requester.display_name if cr.requester else "—"
    fields = [
        Field("State", cr.state + (" (waiting on the requester's answer)" if cr.awaiting_requester_since else "")),
        Field("System", f"{cr.system_name or '—'} ({cr.system.site_code if cr.system else '—'})"),
        Field("Type · risk", f"{cr.change_type} · {cr.risk or '—'}"),
        Field("Planned window", f"{_local(cr.planned_start, tz)} → {_local(cr.planned_end, tz)}"),
        Field("Requested by", requester),
        Field("Approvals", "\n".join(status_lines) or "—"),
    ]
    if consult_lines:
        fields.append(Field("Consulted", "\n".join(consult_lines)))
    if cr.rollback_plan:
        fields.append(Field("Rollback plan", cr.rollback_plan))
    if cr.process_safety:
        fields.append(Field("MOC", cr.moc_reference or "missing"))
    if cr.retro_due_at:
        fields.append(Field("Retrospective approval due", _local(cr.retro_due_at, tz)))
    timer = session.scalar(select(Timer).where(Timer.change_id == cr.id, Timer.kind == sla.APPROVAL))
    if timer is not None and timer.target_at is not None:
        fields.append(Field("SLA", _sla_text(timer, cr, tz=tz, session=session)))
    if role == "requester" and core.awaiting_decision(cr):
        unreached = _not_reached(cr, tz=tz, timer=timer, session=session)
        if unreached:
            fields.append(Field("Not reached yet", unreached))
    buttons: tuple[Button, ...] = ()
    pending = core.awaiting_decision(cr) and not core.imported(cr)
    ref = str(cr.id)
    if core.imported(cr):
        fields.append(Field("Managed in", "ServiceNow (read-only here)" if cr.origin == "servicenow" else cr.origin))
    elif role == "approver" and pending:
        buttons = (Button("Approve", "cr.approve", ref, "primary"), Button("Reject", "cr.reject", ref, "danger"),
                   Button("Ask a question", "cr.ask", ref))
    elif role == "consulted" and cr.state == ChangeState.SUBMITTED.value and not core.imported(cr):
        buttons = (Button("No concerns", "cr.consult_ok", ref, "primary"), Button("Raise concern", "cr.consult_concern", ref))
    elif role == "requester":
        nxt = {
            ChangeState.APPROVED.value: [("Schedule", "cr.schedule"), ("Withdraw", "cr.withdraw")],
            ChangeState.SCHEDULED.value: [("Mark implemented", "cr.implement"), ("Withdraw", "cr.withdraw")],
            ChangeState.IMPLEMENTED.value: [("Close", "cr.close")],
            ChangeState.SUBMITTED.value: [("Withdraw", "cr.withdraw")]
            + ([("Implemented (emergency)", "cr.implement")] if cr.change_type == "emergency" else [])
            + ([("Answer the question", "cr.answer")] if cr.awaiting_requester_since else []),
        }.get(cr.state, [])
        buttons = tuple(Button(label, aid, ref) for label, aid in nxt)
    headline = {
        "approver": f"Your approval is requested: {cr.number}",
        "consulted": f"You are consulted on {cr.number}",
        "informed": f"For your information: {cr.number} is {cr.state}",
        "requester": f"{cr.number} is {cr.state}",
    }[role]
    if role == "approver" and not pending and cr.state != ChangeState.DRAFT.value:
        headline = core.already_decided(cr, session=session, tz=tz).replace(" was already ", " was ", 1) \
            if cr.decided_at else f"{cr.number} is {cr.state}"
    return Reply(
        text=f"{headline} — {cr.title}",
        sections=(Section(title=f"{cr.number} · {cr.title}", fields=tuple(fields)),),
        buttons=buttons,
        ephemeral=False,
        data=_status("card", change=cr.number, state=cr.state, role=role),
    )


def _not_reached(cr: ChangeRequest, *, tz: ZoneInfo, timer: Timer | None, session: Session) -> str:
    """Who a request (or a consultation) has not reached yet, why, and what govbot does about it."""
    rows = session.execute(
        select(OutboxMessage, Person).join(Person, Person.id == OutboxMessage.person_id)
        .where(OutboxMessage.change_id == cr.id, OutboxMessage.kind == "message",
               OutboxMessage.status == OutboxStatus.WAITING.value)
        .order_by(OutboxMessage.id)
    ).tuples().all()
    lines: list[str] = []
    seen: set[int] = set()
    for msg, person in rows:
        if person.id in seen or _card_role(msg) not in ("approver", "consulted"):
            continue
        seen.add(person.id)
        note = msg.reach or {}
        reason = str(note.get("reason") or "no connected platform reaches them yet")
        fallback_at = note.get("fallback_at")
        if note.get("fallback") == "email" and fallback_at:
            then = local_time.stamp(dt.datetime.fromisoformat(fallback_at), tz)
            plan = f"e-mail to {person.email} at {then} if still unreachable"
        else:
            plan = "delivered as soon as they can be reached (when they open govbot, or are given a way in)"
        lines.append(f"⚠ {person.display_name}: {reason}. govbot keeps trying; {plan}.")
    if lines and timer is not None and timer.state in ("pending", "paused"):
        lines.append("The SLA clock and its escalation run on meanwhile.")
    return "\n".join(lines)


def _sla_text(timer: Timer, cr: ChangeRequest, *, tz: ZoneInfo, session: Session) -> str:
    target = _local(timer.target_at, tz)
    text = f"{timer.data.get('policy', '')}: decision due {target}"
    if timer.state == "paused":
        text += " · paused while waiting on the requester"
    if timer.level:
        text += f" · escalated to level {timer.level}"
        last = session.scalars(select(AuditEntry).where(
            AuditEntry.object_key == cr.number, AuditEntry.action == "change.escalated"
        ).order_by(AuditEntry.id.desc())).first()
        if last is not None:
            to = ", ".join(str(n) for n in last.data.get("to") or []) or "nobody"
            text += f" (escalated to level {last.data.get('level', timer.level)}: {to} at {local_time.clock(last.at, tz)})"
    if timer.acknowledged_level is not None:
        text += f" · acknowledged at level {timer.acknowledged_level}"
    if timer.state == "stopped":
        text += " · stopped"
    return text


_ROLES = ("approver", "consulted", "informed", "requester")


def _card_role(msg: OutboxMessage) -> str | None:
    parts = msg.key.split(":")
    return parts[2] if len(parts) > 2 and parts[2] in _ROLES else None


def _stale_buttons(cr: ChangeRequest, msg: OutboxMessage, *, session: Session) -> set[str]:
    """The action ids a reminder or escalation card about ``cr`` offers that no longer do anything."""
    stale: set[str] = set()
    if not core.awaiting_decision(cr):
        stale |= {"cr.approve", "cr.reject", "cr.ask", "esc.ack", "cr.consult_ok", "cr.consult_concern"}
    if cr.state != ChangeState.SUBMITTED.value:
        stale |= {"cr.consult_ok", "cr.consult_concern"}
    timer = session.scalar(select(Timer).where(Timer.change_id == cr.id, Timer.kind == sla.APPROVAL))
    if timer is not None and timer.acknowledged_level is not None:
        stale.add("esc.ack")
    if ":consult_reminder:" in msg.key:
        approval_id = row_id(msg.key.rsplit(":", 1)[-1])
        consult = session.get(Approval, approval_id) if approval_id is not None else None
        if consult is not None and consult.state != ApprovalState.REQUESTED.value:
            stale |= {"cr.consult_ok", "cr.consult_concern"}
    if msg.person_id is not None and not stale & {"cr.approve", "cr.reject"}:
        waiting = session.scalar(select(Approval.id).where(
            Approval.change_id == cr.id, Approval.person_id == msg.person_id,
            Approval.kind == ParticipantKind.APPROVER.value, Approval.state == ApprovalState.REQUESTED.value))
        if waiting is None and core.awaiting_decision(cr):
            stale |= {"cr.approve", "cr.reject"}  # they decided already (or it was re-routed from them)
    return stale


def _settled_note(cr: ChangeRequest, *, tz: ZoneInfo, session: Session) -> str:
    if not core.awaiting_decision(cr):
        if cr.state in (ChangeState.WITHDRAWN.value, ChangeState.CANCELLED.value):
            return f"{cr.number} was {cr.state}; nothing is waiting for you any more."
        return core.already_decided(cr, session=session, tz=tz).replace(" was already ", " was ", 1) + "."
    ack = session.scalars(select(AuditEntry).where(
        AuditEntry.object_key == cr.number, AuditEntry.action == "change.escalation_acknowledged",
    ).order_by(AuditEntry.id.desc())).first()
    if ack is not None:
        return (f"{ack.actor} is on it: the escalation of {cr.number} stopped at level {ack.data.get('level')} "
                f"at {local_time.stamp(ack.at, tz)}.")
    return f"Your part in {cr.number} is done."


def _refresh_notice(cr: ChangeRequest, msg: OutboxMessage, *, session: Session) -> dict[str, Any] | object | None:
    """A reminder, breach or escalation card without the buttons the change made stale (and what happened);
    :data:`outbox.WITHDRAW` when it was never delivered (not worth sending any more); ``None``: unchanged."""
    payload = dict(msg.payload or {})
    buttons = payload.get("buttons") or []
    stale = _stale_buttons(cr, msg, session=session) & {b.get("action_id") for b in buttons}
    if not stale:
        return None
    if msg.status in outbox.UNDELIVERED:
        return outbox.WITHDRAW
    tz = core.viewer_zone(cr, _viewer(msg.person_id, session=session), session=session)
    note = _settled_note(cr, tz=tz, session=session)
    kept = [b for b in buttons if b.get("action_id") not in stale]
    text = str(payload.get("text") or "")
    if note not in text:
        text = f"{note}\n{text}"
    data = dict(payload.get("data") or {})
    data.update({"status": "settled", "state": cr.state})
    return {**payload, "text": text, "buttons": kept, "data": data}


def refresh(cr: ChangeRequest, *, session: Session, now: dt.datetime, version: int | str,
            roles: tuple[str, ...] = _ROLES) -> int:
    """Bring every card about ``cr`` up to date for its recipient (``roles``: only those cards, and then no
    reminders): role cards are rendered afresh, reminder and escalation cards lose the buttons the change made
    stale.  Cards still on their way get the new content in place."""
    viewers: dict[int | None, Person | None] = {}

    def render(msg: OutboxMessage) -> dict[str, Any] | object | None:
        role = _card_role(msg)
        if role is None:
            return _refresh_notice(cr, msg, session=session) if roles == _ROLES else None
        if role not in roles:
            return None
        if msg.person_id not in viewers:
            viewers[msg.person_id] = _viewer(msg.person_id, session=session)
        return reply_to_dict(card(cr, role=role, session=session, viewer=viewers[msg.person_id]))

    return outbox.enqueue_updates(session, change_id=cr.id, now=now, version=version, render=render)  # type: ignore[arg-type]


def on_reach_changed(session: Session, change_id: int, now: dt.datetime, version: str) -> None:
    """A message about the change started or stopped waiting for its recipient: the requester's card says who
    could not be reached yet (the outbox calls this, wired by the composition root)."""
    cr = session.get(ChangeRequest, change_id)
    if cr is not None and core.awaiting_decision(cr):
        refresh(cr, session=session, now=now, version=version, roles=("requester",))


def notify(cr: ChangeRequest, *, event: str, session: Session, now: dt.datetime) -> None:
    """Queue the messages an event causes, and refresh every card already sent about the request."""
    approvals = session.scalars(select(Approval).where(Approval.change_id == cr.id)).all()
    base = f"cr:{cr.id}"

    def for_person(role: str, person_id: int) -> dict[str, Any]:
        return reply_to_dict(card(cr, role=role, session=session, viewer=_viewer(person_id, session=session)))

    if event in ("submitted", "rerouted"):
        for a in approvals:
            if a.person_id is None:
                continue
            if event == "rerouted" and (a.kind != ParticipantKind.APPROVER.value
                                        or a.state != ApprovalState.REQUESTED.value):
                continue
            role = {"approver": "approver", "consulted": "consulted", "informed": "informed"}[a.kind]
            outbox.enqueue(session, key=f"{base}:{role}:{a.person_id}", now=now, person_id=a.person_id,
                           change_id=cr.id, payload=for_person(role, a.person_id))
        if cr.requester_id and event == "submitted":
            outbox.enqueue(session, key=f"{base}:requester:{cr.requester_id}", now=now, person_id=cr.requester_id,
                           change_id=cr.id, payload=for_person("requester", cr.requester_id))
        if event == "submitted":
            return
    if event in ("approved", "rejected", "withdrawn", "cancelled"):
        for a in approvals:
            if a.kind == ParticipantKind.INFORMED.value and a.person_id is not None:
                outbox.enqueue(session, key=f"{base}:notice:{event}:{a.person_id}", now=now, person_id=a.person_id,
                               change_id=None, payload=for_person("informed", a.person_id))
    if event == "question" and cr.requester_id:
        asked = session.scalar(select(func.max(AuditEntry.id))) or 0
        outbox.enqueue(session, key=f"{base}:notice:question:{asked}:{cr.requester_id}", now=now,
                       person_id=cr.requester_id, change_id=None, payload=for_person("requester", cr.requester_id))
    session.flush()
    version = session.scalar(select(func.max(AuditEntry.id))) or 0
    refresh(cr, session=session, now=now, version=version)


# --------------------------------------------------------------------------- actions


def _change(action: Action, *, session: Session) -> ChangeRequest | None:
    change_id = row_id(action.value)
    return session.get(ChangeRequest, change_id) if change_id is not None else None


def on_action(action: Action, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = _person(action.actor.person_id, session=session)
    platform = action.actor.platform
    if action.action_id == "cr.preview":
        return _preview(dict(action.inputs), actor=actor, session=session, now=now, services=services)
    cr = _change(action, session=session)
    if cr is None:
        return Reply(text="That change request does not exist.", data=_status("refused"))
    step = action.action_id.removeprefix("cr.")
    try:
        if step == "submit":
            cr, routing = core.submit_draft(cr.id, actor=actor, session=session, now=now, platform=platform,
                                            policies=services.policies)
            sla.start(cr, session=session, now=now)
            notify(cr, event="submitted", session=session, now=now)
            reply = card(cr, role="requester", session=session, viewer=actor)
            return _with(reply, text=f"{cr.number} was submitted to {', '.join(p.name for s in routing.slots for p in s.people)}.",
                         status="submitted")
        if step == "discard":
            if cr.requester_id != actor.id or cr.state != ChangeState.DRAFT.value:
                return Reply(text="Only the requester can discard an unsent draft.", data=_status("refused"))
            session.delete(cr)
            return Reply(text="Draft discarded; nothing was sent.", data=_status("discarded"))
        if step in ("approve", "reject"):
            reason = action.inputs.get("reason", "").strip()
            if step == "reject" and not reason:
                # Only someone who may reject is asked why (a refusal is audited like any other).
                core.may_decide(cr.id, actor=actor, approve=False, session=session, now=now, platform=platform)
                return Reply(text=f"Why do you reject {cr.number}?", form=Form(
                    title=f"Reject {cr.number}", submit_action_id="cr.reject", value=str(cr.id), submit_label="Reject",
                    fields=(FormField("reason", "Reason", "textarea", True),)), data=_status("form"))
            outcome = core.decide(cr.id, actor=actor, approve=step == "approve", reason=reason or None,
                                  session=session, now=now, platform=platform)
            if outcome.transitioned:
                sla.stop(outcome.change, session=session, reason=outcome.new_state)
                notify(outcome.change, event=outcome.new_state, session=session, now=now)
            else:
                notify(outcome.change, event="decision", session=session, now=now)
            return _with(card(outcome.change, role="approver", session=session, viewer=actor), text=outcome.message,
                         status=outcome.new_state)
        if step in ("consult_ok", "consult_concern"):
            concern = action.inputs.get("concern", "").strip()
            if step == "consult_concern" and not concern:
                return Reply(text="What is your concern?", form=Form(
                    title=f"Concern on {cr.number}", submit_action_id="cr.consult_concern", value=str(cr.id),
                    fields=(FormField("concern", "Concern", "textarea", True),)), data=_status("form"))
            outcome = core.respond_consult(cr.id, actor=actor, concern=concern or None, session=session, now=now,
                                           platform=platform)
            for a in outcome.change.participants:
                if a.person_id == actor.id and a.kind == ParticipantKind.CONSULTED.value:
                    sla.stop_consult(a, session=session)
            notify(outcome.change, event="consulted", session=session, now=now)
            return _with(card(outcome.change, role="consulted", session=session, viewer=actor), text=outcome.message,
                         status="consulted")
        if step in ("ask", "answer"):
            text = action.inputs.get("text", "").strip()
            if not text:
                label = "Question to the requester" if step == "ask" else "Your answer"
                return Reply(text=label, form=Form(title=f"{cr.number}", submit_action_id=action.action_id,
                                                   value=str(cr.id), fields=(FormField("text", label, "textarea", True),)),
                             data=_status("form"))
            if step == "ask":
                outcome = core.ask_question(cr.id, actor=actor, question=text, session=session, now=now, platform=platform)
                sla.pause(outcome.change, session=session, now=now)
                notify(outcome.change, event="question", session=session, now=now)
            else:
                outcome = core.answer_question(cr.id, actor=actor, answer=text, session=session, now=now, platform=platform)
                sla.resume(outcome.change, session=session, now=now)
                notify(outcome.change, event="answer", session=session, now=now)
            return Reply(text=outcome.message, data=_status("ok"))
        if step in ("schedule", "implement", "close", "withdraw", "cancel"):
            outcome = core.advance(cr.id, step, actor=actor, session=session, now=now, platform=platform,
                                   policies=services.policies)
            if outcome.new_state in ("withdrawn", "cancelled"):
                sla.stop(outcome.change, session=session, reason=outcome.new_state)
            notify(outcome.change, event=outcome.new_state, session=session, now=now)
            return _with(card(outcome.change, role="requester", session=session, viewer=actor), text=outcome.message,
                         status=outcome.new_state)
    except core.NotAllowed as exc:
        return Reply(text=str(exc), data=_status("refused"))
    except core.ChangeError as exc:
        return Reply(text=str(exc), data=_status("invalid"))
    return Reply(text="That button is no longer supported.", data=_status("refused"))


def _with(reply: Reply, *, text: str, status: str) -> Reply:
    data = dict(reply.data)
    data["status"] = status
    return Reply(text=text, sections=reply.sections, buttons=reply.buttons, warnings=reply.warnings,
                 ephemeral=True, data=data)


# --------------------------------------------------------------------------- my approvals


def approvals_command(command: Command, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = _person(command.actor.person_id, session=session)
    rows = core.approvals_waiting_on(actor, session=session, now=now)
    if not rows:
        return Reply(text="Nothing waits for your approval.", data=_status("answered", pending=[]))
    sections = []
    buttons = []
    for cr, approval in rows[:10]:
        age = now - (cr.submitted_at or cr.created_at)
        fields = [Field("System", cr.system_name or "—"), Field("Waiting", f"{age.days} d {age.seconds // 3600} h"),
                  Field("Requested by", cr.requester.display_name if cr.requester else "—")]
        if approval.person_id != actor.id and approval.person is not None:
            why = "you are their delegate" if approval.person.active else "left; you act for them"
            fields.append(Field("For", f"{approval.person.display_name} ({why})"))
        elif approval.acting_for is not None:
            fields.append(Field("For", f"{approval.acting_for.display_name} (left; you act for them)"))
        if core.imported(cr):
            fields.append(Field("Decide", core.read_only_reason(cr)))
        else:
            buttons += [Button(f"Approve {cr.number}", "cr.approve", str(cr.id), "primary"),
                        Button(f"Reject {cr.number}", "cr.reject", str(cr.id), "danger")]
        sections.append(Section(title=f"{cr.number} · {cr.title}", fields=tuple(fields)))
    return Reply(text=f"{len(rows)} change request(s) wait for your approval.", sections=tuple(sections),
                 buttons=tuple(buttons), data=_status("answered", pending=[cr.number for cr, _ in rows]))


def reroute_departed(*, session: Session, now: dt.datetime) -> int:
    """Give approvals waiting on people who left to their acting holders (or escalate them), and send the new
    approvers their cards; the worker runs this regularly and ``govbot import`` after every import."""
    moved = core.reroute_departed(session=session, now=now)
    for change_id in dict.fromkeys(r.change.id for r in moved if r.to):
        cr = session.get(ChangeRequest, change_id)
        if cr is not None and not core.imported(cr):
            notify(cr, event="rerouted", session=session, now=now)
    return len(moved)


def acknowledge_action(action: Action, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    timer_text, _, level_text = action.value.partition(":")
    timer_id, level = row_id(timer_text), row_id(level_text)
    if timer_id is None or level is None:
        return Reply(text="That escalation no longer exists.", data=_status("refused"))
    actor = _person(action.actor.person_id, session=session)
    outcome = escalations.acknowledge(timer_id, level, person=actor, session=session, now=now,
                                      platform=action.actor.platform)
    if outcome.accepted and outcome.change is not None:
        notify(outcome.change, event="acknowledged", session=session, now=now)
    return Reply(text=outcome.message, data=_status("acknowledged" if outcome.accepted else "refused"))


DELEGATE_USAGE = "delegate PERSON until YYYY-MM-DD [reason]  ·  delegate off  ·  delegate (show)"
# A stand-in covers an absence, not a change of role: longer windows are a role assignment.
MAX_DELEGATION = dt.timedelta(days=366)


def delegate_command(command: Command, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    """Out of office: name who approves in your place until a date."""
    actor = _person(command.actor.person_id, session=session)
    rest = command.text.strip()[len("delegate"):].strip()
    active = session.scalars(select(Delegation).where(
        Delegation.person_id == actor.id, Delegation.ends_at > now).order_by(Delegation.starts_at)).all()
    if not rest:
        if not active:
            return Reply(text=f"You have no delegate. Usage: {DELEGATE_USAGE}", data=_status("answered"))
        tz = _zone(actor.timezone)
        lines = [f"{d.delegate.display_name} from {d.starts_at.astimezone(tz):%Y-%m-%d} until "
                 f"{d.ends_at.astimezone(tz):%Y-%m-%d %H:%M %Z}" for d in active]
        return Reply(text="Your delegates:\n" + "\n".join(lines), data=_status("answered"))
    if rest.lower() == "off":
        for d in active:
            d.ends_at = max(now, d.starts_at)
        audit.record(session, at=now, actor=actor, platform=command.actor.platform, action="delegation.ended",
                     object_type="person", object_key=actor.email, data={})
        return Reply(text="You approve your own requests again.", data=_status("answered"))
    m = re.match(r"^(?P<who>.+?)\s+until\s+(?P<day>\S+)(?:\s+(?P<reason>.*))?$", rest, re.I)
    if not m:
        return Reply(text=f"Usage: {DELEGATE_USAGE}", data=_status("usage"))
    try:
        day = dt.date.fromisoformat(m["day"]) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", m["day"]) else None
    except ValueError:
        day = None
    if day is None:
        return Reply(text=f"“{m['day']}” is not a date (write YYYY-MM-DD). Usage: {DELEGATE_USAGE}",
                     data=_status("usage"))
    tz = _zone(actor.timezone)
    today = now.astimezone(tz).date()
    if day < today:
        return Reply(text="That date has passed.", data=_status("invalid"))
    if day - today > MAX_DELEGATION:
        return Reply(text=f"A delegation can last at most {MAX_DELEGATION.days} days (until "
                          f"{today + MAX_DELEGATION:%Y-%m-%d}); for longer, ask for a role assignment.",
                     data=_status("invalid"))
    who = find_person(session, m["who"])
    if who is None or not who.active:
        return Reply(text=f"I don't know an active person called “{echo(m['who'])}” (use their name or e-mail).",
                     data=_status("invalid"))
    if who.id == actor.id:
        return Reply(text="You cannot delegate to yourself.", data=_status("invalid"))
    until = dt.datetime.combine(day, dt.time(23, 59), tzinfo=tz).astimezone(dt.UTC)
    if until <= now:
        return Reply(text="That date has passed.", data=_status("invalid"))
    session.add(Delegation(person_id=actor.id, delegate_id=who.id, starts_at=now, ends_at=until,
                           reason=(m["reason"] or None)))
    audit.record(session, at=now, actor=actor, platform=command.actor.platform, action="delegation.set",
                 object_type="person", object_key=actor.email,
                 data={"delegate": who.email, "until": until.isoformat(), "reason": m["reason"]})
    return Reply(text=f"Until {day:%Y-%m-%d}, {who.display_name} approves in your place. New requests go to them.",
                 data=_status("answered"))


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# --------------------------------------------------------------------------- routes


def _change_subject(request: Command | Action, session: Session) -> tuple[str, str]:
    if isinstance(request, Action) and request.action_id.startswith("cr.") and request.action_id != "cr.preview":
        change_id = row_id(request.value)
        cr = session.get(ChangeRequest, change_id) if change_id is not None else None
        return "change", cr.number if cr is not None else f"#{request.value[:20]}"
    return "change", "new"


def _escalation_subject(request: Command | Action, session: Session) -> tuple[str, str]:
    value = request.value if isinstance(request, Action) else ""
    timer_id = row_id(value.partition(":")[0])
    timer = session.get(Timer, timer_id) if timer_id is not None else None
    cr = session.get(ChangeRequest, timer.change_id) if timer is not None and timer.change_id else None
    return "change", cr.number if cr is not None else f"timer {value[:20]}"


def _person_subject(request: Command | Action, session: Session) -> tuple[str, str]:
    return "person", request.actor.email or request.actor.display_name or "unknown"


# What each button does, as the audit trail names a refusal and the person is told.
_STEPS = {
    "preview": ("change.request", "open change requests"),
    "submit": ("change.submit", "submit change requests"),
    "discard": ("change.discard", "discard change requests"),
    "approve": ("change.approve", "decide on change requests"),
    "reject": ("change.reject", "decide on change requests"),
    "consult_ok": ("change.consult", "answer consultations"),
    "consult_concern": ("change.consult", "answer consultations"),
    "ask": ("change.ask", "ask about change requests"),
    "answer": ("change.answer", "answer questions about change requests"),
    "schedule": ("change.schedule", "schedule change requests"),
    "implement": ("change.implement", "implement change requests"),
    "close": ("change.close", "close change requests"),
    "withdraw": ("change.withdraw", "withdraw change requests"),
    "cancel": ("change.cancel", "cancel change requests"),
}

ROUTES = (
    Route(RouteKind.COMMAND, "change", change_command, changes_state=True, audit_as="change.request",
          what="open change requests", subject=_change_subject),
    Route(RouteKind.COMMAND, "approvals", approvals_command),
    Route(RouteKind.COMMAND, "delegate", delegate_command, changes_state=True, audit_as="delegation",
          what="name a delegate", subject=_person_subject),
    Route(RouteKind.ACTION, "esc.ack", acknowledge_action, changes_state=True, audit_as="escalation.ack",
          what="acknowledge escalations", subject=_escalation_subject),
    *(Route(RouteKind.ACTION, f"cr.{step}", on_action, changes_state=True, audit_as=audit_as, what=what,
            subject=_change_subject) for step, (audit_as, what) in _STEPS.items()),
)
