"""Changes of owner, step by step: a transfer, a claim, a takeover.

* **transfer** (``transfer SYSTEM to PERSON``, or "Transfer to…" on an attestation card): asked by the
  owner (or the acting holder of an owner who left) or the Accountable of the area; the new owner
  accepts; for a criticality-1 system or Purdue level 0-2 (the policy's ``approval_*``) the area's
  Accountable also approves.
* **claim** (``claim SYSTEM``): someone asks for a system nobody owns (or whose owner left); the area's
  Accountable approves.
* **takeover**: the acting holder of an owner who left confirms they own the system now; approved like
  a transfer (by the area's Accountable for criticality 1 or Purdue level 0-2).

When the last step is done the system's owner changes in the same transaction, so "who owns X" answers
with the new owner at once, and the owner is recorded as a fact confirmed in govbot (an import that
disagrees keeps it).  Every step and every refusal is in the audit trail; a refusal raises
:class:`NotAllowed` after recording it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store import audit, facts
from governance_store.models import (
    Attestation,
    AttestationState,
    OwnershipRequest,
    OwnershipRequestKind,
    OwnershipRequestState,
    Person,
    System,
)
from governance_store.ownership_policy import OwnershipPolicy
from governance_store.responders import area_accountable, stand_in

OPEN_STATES = (OwnershipRequestState.AWAITING_ACCEPTANCE.value, OwnershipRequestState.AWAITING_APPROVAL.value)
HOW = {
    OwnershipRequestKind.TRANSFER.value: facts.How.TRANSFERRED,
    OwnershipRequestKind.CLAIM.value: facts.How.CLAIMED,
    OwnershipRequestKind.TAKEOVER.value: facts.How.TOOK_OVER,
}


class OwnershipError(Exception):
    """A request that cannot be done as asked (told to the person as it is)."""


class NotAllowed(OwnershipError):
    """The person may not take this step; already in the audit trail."""


@dataclass(frozen=True)
class Step:
    request: OwnershipRequest
    message: str
    completed: bool = False


def is_open(request: OwnershipRequest) -> bool:
    return request.state in OPEN_STATES


def _refuse(system: System, actor: Person, step: str, reason: str, *, session: Session, now: dt.datetime,
            platform: str, request: OwnershipRequest | None = None) -> NotAllowed:
    audit.record(session, at=now, actor=actor, platform=platform, action=f"ownership.{step}.refused",
                 object_type="system", object_key=system.name[:80],
                 data={"reason": reason, "request": request.id if request is not None else None})
    return NotAllowed(reason)


def open_request_for(system: System, *, session: Session) -> OwnershipRequest | None:
    return session.scalar(select(OwnershipRequest).where(
        OwnershipRequest.system_id == system.id, OwnershipRequest.state.in_(OPEN_STATES)))


def may_hand_over(system: System, actor: Person, *, session: Session, policy: OwnershipPolicy) -> bool:
    """The owner (or their acting holder when they left) or the Accountable of the area."""
    if system.owner_id == actor.id:
        return True
    owner = stand_in(system.owner, session=session) if system.owner is not None and not system.owner.active else None
    if owner is not None and owner.person.id == actor.id:
        return True
    accountable = area_accountable(system, session=session, fallback_role=policy.routing.approver_fallback_role)
    return accountable is not None and accountable.person.id == actor.id


def unowned(system: System) -> bool:
    return system.owner is None or not system.owner.active


def request(system: System, *, kind: OwnershipRequestKind, to: Person, actor: Person, session: Session,
            now: dt.datetime, platform: str, policy: OwnershipPolicy, reason: str | None = None,
            attestation: Attestation | None = None, gap_id: int | None = None) -> Step:
    """Open a transfer, claim or takeover; raises :class:`NotAllowed` (audited) or :class:`OwnershipError`."""
    step = kind.value
    if system.retired:
        raise OwnershipError(f"{system.name} is retired; it has no owner to change")
    if kind is OwnershipRequestKind.TRANSFER and not may_hand_over(system, actor, session=session, policy=policy):
        raise _refuse(system, actor, step, f"Only the owner of {system.name} or the Accountable of its area can "
                      "hand it over", session=session, now=now, platform=platform)
    if kind is OwnershipRequestKind.CLAIM and not unowned(system):
        assert system.owner is not None
        raise _refuse(system, actor, step, f"{system.name} is owned by {system.owner.display_name}; ask them to "
                      "transfer it to you", session=session, now=now, platform=platform)
    if kind is OwnershipRequestKind.TAKEOVER:
        holder = stand_in(system.owner, session=session) if system.owner is not None and not system.owner.active else None
        if holder is None or holder.person.id != actor.id:
            raise _refuse(system, actor, step, f"Only the acting holder of {system.name}'s owner who left can take "
                          "it over", session=session, now=now, platform=platform)
    if not to.active:
        raise OwnershipError(f"{to.display_name} is no longer active in the directory")
    if system.owner_id == to.id:
        raise OwnershipError(f"{to.display_name} already owns {system.name}")
    waiting = open_request_for(system, session=session)
    if waiting is not None:
        raise OwnershipError(f"A {waiting.kind} of {system.name} to {waiting.to_person.display_name} is already "
                             "waiting; it must be finished or declined first")
    needs = kind is OwnershipRequestKind.CLAIM or policy.needs_approval(system)
    approver = area_accountable(system, session=session, fallback_role=policy.routing.approver_fallback_role) \
        if needs else None
    if needs and approver is None:
        raise OwnershipError(f"Nobody is Accountable for changes to {system.name}, so nobody can approve this; "
                             "ask your govbot admin to fix the role assignments")
    req = OwnershipRequest(kind=step, system_id=system.id, from_id=system.owner_id, to_id=to.id,
                           requested_by_id=actor.id, needs_approval=needs,
                           approver_id=approver.person.id if approver is not None else None,
                           state=OwnershipRequestState.AWAITING_ACCEPTANCE.value, reason=reason, created_at=now,
                           attestation_id=attestation.id if attestation is not None else None, gap_id=gap_id)
    session.add(req)
    session.flush()
    audit.record(session, at=now, actor=actor, platform=platform, action=f"ownership.{step}.requested",
                 object_type="system", object_key=system.name[:80],
                 data={"request": req.id, "from": system.owner.email if system.owner else None, "to": to.email,
                       "approver": approver.person.email if approver is not None else None, "reason": reason})
    if to.id == actor.id:  # a claim, a takeover, or the Accountable taking it themselves: accepted by asking
        return _accepted(req, actor=actor, session=session, now=now, platform=platform)
    return Step(req, f"{to.display_name} is asked to accept {system.name}.")


def load(request_id: int, *, session: Session) -> OwnershipRequest:
    query = select(OwnershipRequest).where(OwnershipRequest.id == request_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    req = session.scalars(query.execution_options(populate_existing=True)).first()
    if req is None:
        raise OwnershipError("That ownership request does not exist")
    return req


def _closed_text(req: OwnershipRequest) -> str:
    when = f" at {req.closed_at:%Y-%m-%d %H:%M} UTC" if req.closed_at else ""
    return f"That {req.kind} of {req.system.name} was already {req.state.replace('_', ' ')}{when}"


def accept(request_id: int, *, actor: Person, session: Session, now: dt.datetime, platform: str) -> Step:
    req = load(request_id, session=session)
    if req.to_id != actor.id:
        raise _refuse(req.system, actor, "accept", f"This {req.kind} is addressed to {req.to_person.display_name}",
                      session=session, now=now, platform=platform, request=req)
    if req.state != OwnershipRequestState.AWAITING_ACCEPTANCE.value:
        raise OwnershipError(_closed_text(req) if not is_open(req) else "You already accepted it")
    return _accepted(req, actor=actor, session=session, now=now, platform=platform)


def _accepted(req: OwnershipRequest, *, actor: Person, session: Session, now: dt.datetime, platform: str) -> Step:
    req.accepted_at = now
    audit.record(session, at=now, actor=actor, platform=platform, action="ownership.accepted", object_type="system",
                 object_key=req.system.name[:80], data={"request": req.id, "kind": req.kind})
    if req.needs_approval and req.approver_id not in (None, actor.id):
        req.state = OwnershipRequestState.AWAITING_APPROVAL.value
        approver = req.approver.display_name if req.approver else "the Accountable"
        return Step(req, f"{approver} is asked to approve: {req.system.name} to {req.to_person.display_name}.")
    return _complete(req, actor=actor, session=session, now=now, platform=platform)


def decline(request_id: int, *, actor: Person, reason: str | None, session: Session, now: dt.datetime,
            platform: str) -> Step:
    req = load(request_id, session=session)
    if req.to_id != actor.id:
        raise _refuse(req.system, actor, "decline", f"This {req.kind} is addressed to {req.to_person.display_name}",
                      session=session, now=now, platform=platform, request=req)
    if req.state != OwnershipRequestState.AWAITING_ACCEPTANCE.value:
        raise OwnershipError(_closed_text(req))
    _close(req, OwnershipRequestState.DECLINED, now)
    audit.record(session, at=now, actor=actor, platform=platform, action="ownership.declined", object_type="system",
                 object_key=req.system.name[:80], data={"request": req.id, "reason": reason})
    _reopen_attestation(req, session=session)
    return Step(req, f"You declined {req.system.name}; {req.requested_by.display_name if req.requested_by else 'the requester'} is told.")


def _approver_stand_in(req: OwnershipRequest, *, session: Session) -> Person | None:
    holder = stand_in(req.approver, session=session)
    return holder.person if holder is not None else None


def approve(request_id: int, *, actor: Person, session: Session, now: dt.datetime, platform: str,
            reject: bool = False, reason: str | None = None) -> Step:
    req = load(request_id, session=session)
    step = "reject" if reject else "approve"
    eligible = _approver_stand_in(req, session=session)
    if eligible is None or eligible.id != actor.id:
        who = req.approver.display_name if req.approver else "the Accountable of the area"
        raise _refuse(req.system, actor, step, f"Only {who} approves this {req.kind}", session=session, now=now,
                      platform=platform, request=req)
    if req.state != OwnershipRequestState.AWAITING_APPROVAL.value:
        raise OwnershipError(_closed_text(req) if not is_open(req) else
                             f"{req.to_person.display_name} has not accepted it yet")
    req.approved_at = now
    if reject:
        _close(req, OwnershipRequestState.REJECTED, now)
        audit.record(session, at=now, actor=actor, platform=platform, action="ownership.rejected", object_type="system",
                     object_key=req.system.name[:80], data={"request": req.id, "reason": reason})
        _reopen_attestation(req, session=session)
        return Step(req, f"You rejected the {req.kind} of {req.system.name} to {req.to_person.display_name}.")
    audit.record(session, at=now, actor=actor, platform=platform, action="ownership.approved", object_type="system",
                 object_key=req.system.name[:80], data={"request": req.id})
    return _complete(req, actor=actor, session=session, now=now, platform=platform)


def cancel(request_id: int, *, actor: Person, session: Session, now: dt.datetime, platform: str) -> Step:
    req = load(request_id, session=session)
    if actor.id not in (req.requested_by_id, req.from_id):
        raise _refuse(req.system, actor, "cancel", "Only who asked for it can withdraw it", session=session, now=now,
                      platform=platform, request=req)
    if not is_open(req):
        raise OwnershipError(_closed_text(req))
    _close(req, OwnershipRequestState.CANCELLED, now)
    audit.record(session, at=now, actor=actor, platform=platform, action="ownership.cancelled", object_type="system",
                 object_key=req.system.name[:80], data={"request": req.id})
    _reopen_attestation(req, session=session)
    return Step(req, f"The {req.kind} of {req.system.name} is withdrawn.")


def _close(req: OwnershipRequest, state: OwnershipRequestState, now: dt.datetime) -> None:
    req.state = state.value
    req.closed_at = now


def _reopen_attestation(req: OwnershipRequest, *, session: Session) -> None:
    """A transfer that came from an attestation and did not happen leaves the attestation to answer."""
    att = session.get(Attestation, req.attestation_id) if req.attestation_id else None
    if att is not None and att.state == AttestationState.TRANSFERRING.value:
        att.state = AttestationState.PENDING.value
        att.answered_at = None


def _complete(req: OwnershipRequest, *, actor: Person, session: Session, now: dt.datetime, platform: str) -> Step:
    system = req.system
    before = system.owner
    system.owner_id = req.to_id
    system.updated_at = now
    session.flush()
    session.refresh(system, ["owner"])
    how = HOW[req.kind]
    facts.confirm(session, table="systems", row_id=system.id, column="owner_id", value=req.to_id,
                  label=f"{system.name} owner: {req.to_person.display_name}", how=how, by=actor, now=now,
                  system_id=system.id)
    _close(req, OwnershipRequestState.COMPLETED, now)
    audit.record(session, at=now, actor=actor, platform=platform, action="ownership.changed", object_type="system",
                 object_key=system.name[:80],
                 data={"request": req.id, "kind": req.kind, "from": before.email if before else None,
                       "to": req.to_person.email, "approved_by": req.approver.email if req.approved_at and req.approver
                       else None})
    for att in session.scalars(select(Attestation).where(
            Attestation.system_id == system.id,
            Attestation.state.in_((AttestationState.PENDING.value, AttestationState.TRANSFERRING.value)))).all():
        att.state = (AttestationState.TRANSFERRED.value if att.id == req.attestation_id
                     else AttestationState.SUPERSEDED.value)
        att.answered_at = att.answered_at or now
    return Step(req, f"{req.to_person.display_name} now owns {system.name}.", completed=True)


def waiting_on(person: Person, *, session: Session) -> list[OwnershipRequest]:
    """Requests that wait on this person: to accept, or to approve (also for an approver who left)."""
    rows = session.scalars(select(OwnershipRequest).where(OwnershipRequest.state.in_(OPEN_STATES))
                           .order_by(OwnershipRequest.created_at, OwnershipRequest.id)).all()
    out = []
    for req in rows:
        if req.state == OwnershipRequestState.AWAITING_ACCEPTANCE.value and req.to_id == person.id:
            out.append(req)
        elif req.state == OwnershipRequestState.AWAITING_APPROVAL.value:
            holder = _approver_stand_in(req, session=session)
            if holder is not None and holder.id == person.id:
                out.append(req)
    return out


def awaited(req: OwnershipRequest, *, session: Session) -> Person | None:
    """Whom the request waits on now."""
    if req.state == OwnershipRequestState.AWAITING_ACCEPTANCE.value:
        return req.to_person
    if req.state == OwnershipRequestState.AWAITING_APPROVAL.value:
        return _approver_stand_in(req, session=session)
    return None
