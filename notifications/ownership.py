"""Ownership work in people's chats, on the same timers as change approvals.

* :func:`announce_campaign`, :func:`announce_request` and :func:`announce_gaps` queue the cards a step
  causes (outbox rows with unique keys, in the caller's transaction) and start, move or stop the timer
  that keeps the SLA of what now waits on someone.
* A timer is a :class:`~governance_store.models.Timer` row of kind :data:`ATTESTATION`, :data:`REQUEST`
  or :data:`GAP`.  Its events are fixed when it starts (reminders at the policy's percentages of the
  time to answer, escalation level 1 to the awaited person's manager at the deadline, level 2 to the
  Accountable of the area later), so a policy edited later never shifts a running SLA.  The sweep
  (:mod:`notifications.sweep`) claims due timers of every kind with ``FOR UPDATE SKIP LOCKED`` and hands
  these to :func:`advance`, which queues each event's messages with unique keys: a crash repeats
  nothing and two replicas never send the same reminder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store import attestation, gaps, transfers
from governance_store.calendar import for_system
from governance_store.models import (
    AttestationCampaign,
    CampaignState,
    GapState,
    OwnershipRequest,
    Person,
    System,
    Timer,
    TrackedGap,
)
from governance_store.ownership_policy import DEFAULT_POLICY, OwnershipPolicy, Sla
from governance_store.responders import area_accountable, manager_of
from handlers.reply import Reply, reply_to_dict
from notifications import outbox
from notifications.ownership_cards import attestation_card, gap_card, local, request_card, zone_of

ATTESTATION = "attestation_sla"
REQUEST = "ownership_sla"
GAP = "gap_sla"
KINDS = frozenset({ATTESTATION, REQUEST, GAP})


class Memo(Protocol):
    """What the sweep gives :func:`advance`: queue messages and audit entries for its transaction."""

    def enqueue(self, *, key: str, now: dt.datetime, payload: dict[str, Any], person_id: int | None = None,
                channel: str | None = None, change_id: int | None = None) -> None: ...

    def audit(self, *, at: dt.datetime, action: str, object_key: str, data: dict[str, Any],
              object_type: str = "change") -> None: ...


# --------------------------------------------------------------------------- timers


def schedule(start: dt.datetime, system: System | None, sla: Sla, *, session: Session) -> list[dict[str, Any]]:
    """The events of one SLA from ``start``, in order: reminders, then escalation levels 1 and 2."""
    calendar = for_system(system, session=session)
    due = attestation.deadline(system, start, sla, session=session)
    span = calendar.business_time_between(start, due)
    events: list[dict[str, Any]] = [
        {"kind": "remind", "pct": pct, "at": calendar.add_business_time(start, span * pct / 100).isoformat()}
        for pct in sla.remind_at_pct
    ]
    for level, after in enumerate(sla.escalate_after_days, 1):
        at = calendar.add_business_days(due, after) if after else due
        events.append({"kind": "escalate", "level": level, "at": at.isoformat()})
    events.sort(key=lambda e: e["at"])
    return events


def start_timer(kind: str, subject: str, *, start: dt.datetime, system: System | None, sla: Sla, session: Session,
                data: dict[str, Any]) -> Timer:
    """Start (or restart from the beginning) the timer of one piece of work."""
    events = schedule(start, system, sla, session=session)
    target = attestation.deadline(system, start, sla, session=session)
    due = dt.datetime.fromisoformat(events[0]["at"]) if events else target
    timer = session.scalar(select(Timer).where(Timer.kind == kind, Timer.subject_key == subject))
    if timer is None:
        timer = Timer(kind=kind, subject_key=subject, token=0, due_at=due, started_at=start)
        session.add(timer)
    timer.state, timer.step, timer.level, timer.repeats = "pending", 0, 0, 0
    timer.started_at, timer.fired_at, timer.target_at, timer.due_at = start, None, target, due
    timer.token = (timer.token or 0) + 1
    timer.data = {**data, "events": events}
    session.flush()
    return timer


def _context(policy: OwnershipPolicy) -> dict[str, Any]:
    """What the sweep needs of the policy later, kept with the timer (a changed policy never shifts it)."""
    return {"card_size": policy.card_size, "approver_fallback_role": policy.routing.approver_fallback_role}


def stop_timer(kind: str, subject: str, *, session: Session, reason: str) -> None:
    timer = session.scalar(select(Timer).where(Timer.kind == kind, Timer.subject_key == subject))
    if timer is not None and timer.state == "pending":
        timer.state = "stopped"
        timer.token += 1
        timer.data = {**timer.data, "stopped": reason}


# --------------------------------------------------------------------------- announcing


def _card(reply: Reply) -> dict[str, Any]:
    return reply_to_dict(reply)


def announce_campaign(campaign: AttestationCampaign, people: dict[int, Person], *, session: Session,
                      now: dt.datetime, policy: OwnershipPolicy) -> int:
    """Send each person asked their card and start their SLA; the number of cards queued."""
    queued = 0
    for person_id, person in people.items():
        card = attestation_card(person, campaign, session=session, policy=policy)
        if outbox.enqueue(session, key=f"att:{campaign.id}:{person_id}:card", now=now, person_id=person_id,
                          payload=_card(card)) is not None:
            queued += 1
        first = attestation.pending_for(person, session=session, campaign_id=campaign.id)
        start_timer(ATTESTATION, f"att:{campaign.id}:{person_id}", start=now,
                    system=first[0].system if first else None, sla=policy.attestation, session=session,
                    data={"campaign": campaign.id, "person": person_id, **_context(policy)})
    return queued


def attestation_answered(campaign: AttestationCampaign, person: Person, *, session: Session) -> None:
    """Stop the person's reminders once nothing of theirs is left in the campaign."""
    if not attestation.pending_for(person, session=session, campaign_id=campaign.id):
        stop_timer(ATTESTATION, f"att:{campaign.id}:{person.id}", session=session, reason="answered")


def announce_request(step: transfers.Step, *, session: Session, now: dt.datetime, policy: OwnershipPolicy) -> None:
    """After any step of a transfer, claim or takeover: cards to whom it now waits on, notices when it
    ended, and the SLA of the waiting step."""
    req = step.request
    base = f"own:{req.id}"
    system = req.system
    for subject in (f"{base}:accept", f"{base}:approve"):
        stop_timer(REQUEST, subject, session=session, reason=req.state)
    if req.state == "awaiting_acceptance":
        outbox.enqueue(session, key=f"{base}:accept:{req.to_id}", now=now, person_id=req.to_id,
                       payload=_card(request_card(req, viewer="new_owner", session=session)))
        start_timer(REQUEST, f"{base}:accept", start=now, system=system, sla=policy.attestation, session=session,
                    data={"request": req.id, **_context(policy)})
        return
    if req.state == "awaiting_approval":
        approver = transfers.awaited(req, session=session)
        if approver is not None:
            outbox.enqueue(session, key=f"{base}:approve:{approver.id}", now=now, person_id=approver.id,
                           payload=_card(request_card(req, viewer="approver", session=session)))
        start_timer(REQUEST, f"{base}:approve", start=now, system=system, sla=policy.attestation, session=session,
                    data={"request": req.id, **_context(policy)})
        return
    told = {req.requested_by_id, req.from_id, req.to_id} - {None}
    for person_id in sorted(told):  # type: ignore[type-var]
        person = session.get(Person, person_id)
        if person is None or not person.active:
            continue
        outbox.enqueue(session, key=f"{base}:{req.state}:{person_id}", now=now, person_id=person_id,
                       payload=_card(request_card(req, viewer="requester", session=session)))


def announce_gaps(result: gaps.SyncResult, *, session: Session, now: dt.datetime, policy: OwnershipPolicy) -> int:
    """Cards for gaps opened, reopened or reassigned, and the SLA of each; closed gaps stop theirs."""
    queued = 0
    for gap in result.new_work:
        queued += announce_gap(gap, session=session, now=now, policy=policy)
    for gap in result.closed:
        stop_timer(GAP, f"gap:{gap.id}", session=session, reason="closed")
    return queued


def announce_gap(gap: TrackedGap, *, session: Session, now: dt.datetime, policy: OwnershipPolicy) -> int:
    if gap.assignee_id is None:
        stop_timer(GAP, f"gap:{gap.id}", session=session, reason="nobody to fix it")
        return 0
    system = session.get(System, gap.system_ids[0]) if gap.system_ids else None
    start_timer(GAP, f"gap:{gap.id}", start=now, system=system, sla=policy.gaps, session=session,
                data={"gap": gap.id, "assignee": gap.assignee_id, **_context(policy)})
    sent = outbox.enqueue(session, key=f"gap:{gap.id}:open:{gap.reopened}:{gap.assignee_id}", now=now,
                          person_id=gap.assignee_id, payload=_card(gap_card(gap, session=session)))
    return 1 if sent is not None else 0


def gap_closed(gap: TrackedGap, *, session: Session) -> None:
    if gap.state == GapState.CLOSED.value:
        stop_timer(GAP, f"gap:{gap.id}", session=session, reason="closed")


# --------------------------------------------------------------------------- the sweep's part


def advance(timer: Timer, *, session: Session, now: dt.datetime, memo: Memo) -> tuple[int, int, list[float]]:
    """Fire what is due of one ownership timer; returns (fired, skipped, lateness in seconds)."""
    work = _Work.of(timer, session=session)
    events: list[dict[str, Any]] = list(timer.data.get("events", []))
    if work is None:
        timer.state = "stopped"
        timer.token += 1
        return 0, 0, []
    due = [e for e in events[timer.step:] if dt.datetime.fromisoformat(e["at"]) <= now]
    fired = skipped = 0
    lateness: list[float] = []
    for i, ev in enumerate(due):
        later = due[i + 1:]
        if ev["kind"] == "remind" and later:
            skipped += 1  # a reminder overtaken by a later event is not worth sending late
            continue
        work.fire(ev, timer=timer, now=now, memo=memo)
        fired += 1
        lateness.append((now - dt.datetime.fromisoformat(ev["at"])).total_seconds())
    timer.step += len(due)
    timer.token += 1
    timer.fired_at = now
    if timer.step >= len(events):
        timer.state = "done"
    else:
        timer.due_at = dt.datetime.fromisoformat(events[timer.step]["at"])
    return fired, skipped, lateness


class _Work:
    """What one ownership timer waits for, and how its reminders and escalations read."""

    def __init__(self, *, kind: str, key: str, awaited: Person, system: System | None, reminder: Reply,
                 summary: str, object_type: str, object_key: str, session: Session, policy_fallback: str) -> None:
        self.kind, self.key, self.awaited, self.system = kind, key, awaited, system
        self.reminder, self.summary = reminder, summary
        self.object_type, self.object_key = object_type, object_key
        self.session = session
        self.fallback = policy_fallback

    @classmethod
    def of(cls, timer: Timer, *, session: Session) -> _Work | None:
        """``None`` when nothing waits any more (answered, closed, left unassigned)."""
        policy = dataclasses.replace(DEFAULT_POLICY, card_size=int(timer.data.get("card_size", DEFAULT_POLICY.card_size)))
        fallback = str(timer.data.get("approver_fallback_role") or policy.routing.approver_fallback_role)
        if timer.kind == ATTESTATION:
            campaign = session.get(AttestationCampaign, int(timer.data["campaign"]))
            person = session.get(Person, int(timer.data["person"]))
            if campaign is None or person is None or campaign.state != CampaignState.OPEN.value:
                return None
            pending = attestation.pending_for(person, session=session, campaign_id=campaign.id)
            if not pending:
                return None
            names = ", ".join(a.system.name for a in pending[:5]) + (" …" if len(pending) > 5 else "")
            zone = zone_of(pending[0].system.site_code, session=session)
            summary = (f"{person.display_name} has not confirmed {len(pending)} system(s) of {campaign.name} "
                       f"({names}), due {local(min(a.due_at for a in pending), zone)}.")
            card = attestation_card(person, campaign, session=session, policy=policy)
            return cls(kind="att", key=f"att:{campaign.id}:{person.id}", awaited=person, system=pending[0].system,
                       reminder=card, summary=summary, object_type="campaign", object_key=str(campaign.id),
                       session=session, policy_fallback=fallback)
        if timer.kind == REQUEST:
            req = session.get(OwnershipRequest, int(timer.data["request"]))
            if req is None or not transfers.is_open(req):
                return None
            waiting = transfers.awaited(req, session=session)
            if waiting is None:
                return None
            step = "accept" if req.state == "awaiting_acceptance" else "approve"
            viewer = "new_owner" if step == "accept" else "approver"
            summary = (f"{waiting.display_name} has not answered whether to {step} the {req.kind} of "
                       f"{req.system.name} to {req.to_person.display_name} (asked {req.created_at:%Y-%m-%d}).")
            return cls(kind="own", key=f"own:{req.id}:{step}", awaited=waiting, system=req.system,
                       reminder=request_card(req, viewer=viewer, session=session), summary=summary,
                       object_type="system", object_key=req.system.name[:80], session=session,
                       policy_fallback=fallback)
        gap = session.get(TrackedGap, int(timer.data["gap"]))
        if gap is None or gap.state != GapState.OPEN.value or gap.assignee is None:
            return None
        system = session.get(System, gap.system_ids[0]) if gap.system_ids else None
        summary = (f"{gap.assignee.display_name} has not fixed the governance gap “{gap.title}: {gap.subject}” "
                   f"(open since {gap.opened_at:%Y-%m-%d}).")
        return cls(kind="gap", key=f"gap:{gap.id}:{gap.reopened}", awaited=gap.assignee, system=system,
                   reminder=gap_card(gap, session=session), summary=summary, object_type="gap",
                   object_key=gap.subject[:80], session=session, policy_fallback=fallback)

    def _targets(self, level: int) -> list[Person]:
        if level == 1:
            manager = manager_of(self.awaited)
            if manager is not None:
                return [manager]
        found = area_accountable(self.system, session=self.session, fallback_role=self.fallback) \
            if self.system is not None else None
        people = [found.person] if found is not None else []
        return [p for p in people if p.id != self.awaited.id]

    def fire(self, ev: dict[str, Any], *, timer: Timer, now: dt.datetime, memo: Memo) -> None:
        action = {"att": "attestation", "own": "ownership", "gap": "gap"}[self.kind]
        if ev["kind"] == "remind":
            card = self.reminder
            memo.enqueue(key=f"{self.key}:remind:{ev['pct']}:{self.awaited.id}", now=now, person_id=self.awaited.id,
                         payload=reply_to_dict(Reply(text=f"Reminder: {card.text}", sections=card.sections,
                                                     buttons=card.buttons, ephemeral=False,
                                                     data={**card.data, "reminder": ev["pct"]})))
            memo.audit(at=now, action=f"{action}.reminded", object_key=self.object_key,
                       data={"person": self.awaited.email, "pct": ev["pct"]}, object_type=self.object_type)
            return
        level = int(ev["level"])
        targets = self._targets(level)
        if not targets and level == 1:
            targets = self._targets(2)
        for person in targets:
            memo.enqueue(key=f"{self.key}:escalate:L{level}:{person.id}", now=now, person_id=person.id,
                         payload=reply_to_dict(Reply(
                             text=f"Escalation level {level}: {self.summary} Please follow up with them.",
                             ephemeral=False, data={"status": "escalation", "level": level, "work": self.key})))
        timer.level = level
        memo.audit(at=now, action=f"{action}.escalated", object_key=self.object_key,
                   data={"level": level, "waiting_on": self.awaited.email, "to": [p.email for p in targets]},
                   object_type=self.object_type)


# --------------------------------------------------------------------------- jobs


def sync_and_announce(*, session: Session, now: dt.datetime, policy: OwnershipPolicy) -> int:
    """Reconcile the tracked gaps with the governance lint and send the new work; cards queued."""
    result = gaps.sync(session=session, now=now, policy=policy)
    return announce_gaps(result, session=session, now=now, policy=policy)


def start_campaign(*, session: Session, now: dt.datetime, policy: OwnershipPolicy, started_by: str,
                   name: str | None = None, sites: tuple[str, ...] = (),
                   everything: bool = False) -> tuple[AttestationCampaign | None, attestation.Plan]:
    """Start a campaign and send every owner asked their card."""
    campaign, plan = attestation.start(session=session, now=now, policy=policy, started_by=started_by, name=name,
                                       sites=sites, everything=everything)
    if campaign is not None:
        announce_campaign(campaign, plan.people, session=session, now=now, policy=policy)
    return campaign, plan
