"""Change requests: routing by decision rights, the approval state machine, authorisation.

Routing is data-driven: the change activity follows from the system (RACI
matrix rows for OT level 0-2, level 3 site systems, IT/enterprise, emergency
OT), its Accountable roles become approver slots resolved at the most specific
scope, Consulted and Informed roles are told, and the matching decision right
adds its evidence and escalation role.  Every decision is authorised here, not
in an adapter.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz, utils
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from governance_store import audit, local_time, raci
from governance_store.calendar import for_system
from governance_store.models import (
    CHANGE_NUMBER_COUNTER,
    CHANGE_NUMBER_SEQUENCE,
    Activity,
    Approval,
    ApprovalState,
    BlackoutWindow,
    ChangeRequest,
    ChangeState,
    Counter,
    DecisionRight,
    Delegation,
    ParticipantKind,
    Person,
    RoleAssignment,
    Site,
    System,
    SystemRelation,
)

CHANGE_TYPES = ("standard", "normal", "emergency")
RISKS = ("low", "moderate", "high")
PENDING = (ChangeState.SUBMITTED.value,)
OPEN = (ChangeState.SUBMITTED.value, ChangeState.APPROVED.value, ChangeState.SCHEDULED.value)
CHANGE_MANAGER_ROLE = "Change Manager (CAB Chair)"
ORIGIN = "govbot"  # ``ChangeRequest.origin`` of requests raised in govbot; imported ones name their source
NUMBER_PREFIX = "GCR"
MAX_NUMBER = 999_999


def awaiting_decision(cr: ChangeRequest) -> bool:
    """Submitted and not decided, or an emergency change implemented first that still needs its
    retrospective approval."""
    return cr.state in PENDING or (
        cr.change_type == "emergency" and cr.state == ChangeState.IMPLEMENTED.value and cr.decided_at is None
    )


def imported(cr: ChangeRequest) -> bool:
    """Raised and decided in another system (ServiceNow): govbot shows it and never changes it."""
    return cr.origin != ORIGIN


def read_only_reason(cr: ChangeRequest) -> str:
    source = "ServiceNow" if cr.origin == "servicenow" else cr.origin
    if cr.decided_at is not None:
        return (f"{cr.number} was decided in {source} on {cr.decided_at:%Y-%m-%d}; govbot shows it read-only and "
                "nothing can be changed here.")
    where = f" (state there: {cr.source_state})" if cr.source_state else ""
    return f"{cr.number} is managed in {source}{where}; govbot shows it read-only: decide on it in {source}."


class ChangeError(Exception):
    """A request the rules refuse; the message is for the user."""


class NotAllowed(ChangeError):
    """The acting person may not do this; refusals are audited."""


@dataclass(frozen=True)
class ChangePolicy:
    """Quorum and workflow rules; the defaults follow common change-enablement practice."""

    all_accountables_must_approve: bool = True
    change_manager_on_high_risk: bool = True
    change_manager_role: str = CHANGE_MANAGER_ROLE
    allow_self_approval_for_standard: bool = False
    emergency_retro_business_days: int = 2


@dataclass(frozen=True)
class ChangePolicies:
    """The quorum rules in force: a default and overrides per RACI activity (built once from settings)."""

    default: ChangePolicy = field(default_factory=ChangePolicy)
    per_activity: Mapping[str, ChangePolicy] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> ChangePolicies:
        """Top-level keys set the default, ``activities`` override per activity; unknown keys are refused.

        Example: ``{"change_manager_on_high_risk": true, "activities": {"ACT-03":
        {"allow_self_approval_for_standard": true}}}``.
        """
        names = set(ChangePolicy.__dataclass_fields__)
        unknown = set(config) - names - {"activities"}
        if unknown:
            raise ValueError(f"unknown change policy keys: {', '.join(sorted(unknown))}")
        base = {k: v for k, v in config.items() if k in names}
        per_activity: dict[str, ChangePolicy] = {}
        activities = config.get("activities") or {}
        if not isinstance(activities, Mapping):
            raise ValueError("change policy 'activities' must map activity ids to rules")
        for activity, override in activities.items():
            if not isinstance(override, Mapping):
                raise ValueError(f"change policy for {activity} must be an object")
            bad = set(override) - names
            if bad:
                raise ValueError(f"unknown change policy keys for {activity}: {', '.join(sorted(bad))}")
            per_activity[str(activity)] = ChangePolicy(**{**base, **override})  # type: ignore[arg-type]
        return cls(default=ChangePolicy(**base), per_activity=per_activity)  # type: ignore[arg-type]

    def for_activity(self, activity_id: str | None) -> ChangePolicy:
        return self.per_activity.get(activity_id or "", self.default)


DEFAULT_POLICIES = ChangePolicies()


@dataclass(frozen=True)
class Slot:
    """One approval that must be given: a role, and the people who may give it."""

    role: str
    people: tuple[raci.PersonRef, ...]
    acting_for: dict[int, int] = field(default_factory=dict)  # person id -> departed holder id
    delegate_of: dict[int, int] = field(default_factory=dict)  # delegate id -> delegating person id
    reason: str = ""


@dataclass
class Draft:
    system: System
    title: str
    change_type: str = "normal"
    risk: str = "moderate"
    description: str | None = None
    planned_start: dt.datetime | None = None
    planned_end: dt.datetime | None = None
    rollback_plan: str | None = None
    process_safety: bool = False
    moc_reference: str | None = None
    cab_required: bool = False


@dataclass
class Routing:
    activity: Activity | None
    decision_right: DecisionRight | None
    slots: list[Slot] = field(default_factory=list)
    consulted: list[tuple[str, raci.PersonRef]] = field(default_factory=list)
    informed: list[tuple[str, raci.PersonRef]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    moc_required: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.slots)


# --------------------------------------------------------------------------- routing


def decision_right_for(activity: Activity, *, session: Session) -> DecisionRight | None:
    """The decision right whose wording best matches the activity (e.g. DR-01 for ACT-01)."""
    rights = session.scalars(select(DecisionRight)).all()
    best, best_score = None, 0.0
    name = activity.name.lower()
    for dr in rights:
        text = dr.decision.lower()
        score = fuzz.token_set_ratio(name, text, processor=utils.default_process)
        if ("emergency" in name) != ("emergency" in text):
            score -= 30
        if "change" not in text and "firmware" not in text:
            score -= 20
        m1, m2 = re.search(r"level\s*[\d.-]+", name), re.search(r"level\s*[\d.-]+", text)
        if m1 and m2 and m1.group(0).replace(" ", "") == m2.group(0).replace(" ", ""):
            score += 15
        if score > best_score:
            best, best_score = dr, score
    return best if best_score >= 55 else None


def _active_delegation(person_id: int, now: dt.datetime, *, session: Session) -> Delegation | None:
    return session.scalar(
        select(Delegation)
        .where(Delegation.person_id == person_id, Delegation.starts_at <= now, Delegation.ends_at > now)
        .options(selectinload(Delegation.delegate))
        .order_by(Delegation.starts_at.desc())
        .limit(1)
    )


def _site(system: System, *, session: Session) -> Site | None:
    return session.scalar(select(Site).where(Site.code == system.site_code)) if system.site_code else None


def route(draft: Draft, *, requester: Person, session: Session, now: dt.datetime,
          policies: ChangePolicies = DEFAULT_POLICIES) -> Routing:
    """Who must approve, be consulted and be informed, and what conflicts exist: nothing is written."""
    system = draft.system
    routing = Routing(activity=None, decision_right=None)
    _validate(draft, routing, session=session)
    activity = raci.change_activity_for(system, session=session, emergency=draft.change_type == "emergency")
    routing.activity = activity
    if activity is None:
        routing.errors["system"] = f"No change activity in the RACI matrix covers {system.name}"
        return routing
    policy = policies.for_activity(activity.activity_id)
    routing.decision_right = decision_right_for(activity, session=session)
    result = raci.resolve_activity(activity, system, session=session)
    routing.warnings.extend(w for w in result.warnings if "left the company" not in w)

    roles: list[tuple[str, list[raci.Holder]]] = []
    by_role: dict[str, list[raci.Holder]] = {}
    for h in result.holders["A"]:
        by_role.setdefault(h.role, []).append(h)
    roles.extend(by_role.items())
    needs_manager = policy.change_manager_on_high_risk and (draft.risk == "high" or draft.cab_required)
    if needs_manager and policy.change_manager_role not in by_role:
        holders = raci.role_holders(policy.change_manager_role, system, session=session)
        if holders:
            roles.append((policy.change_manager_role, holders))
        else:
            routing.warnings.append(f"No {policy.change_manager_role} is assigned to add to the approvers")
    if not policy.all_accountables_must_approve and roles:
        roles = roles[:1]

    self_ok = draft.change_type == "standard" and policy.allow_self_approval_for_standard
    for role, holders in roles:
        people: list[raci.PersonRef] = []
        acting_for: dict[int, int] = {}
        delegate_of: dict[int, int] = {}
        for h in holders:
            if h.person is not None and not h.person.active:
                if h.acting is None:
                    routing.warnings.append(f"{role} {h.person.name} left the company and nobody acts for them")
                    continue
                routing.warnings.append(
                    f"{role} {h.person.name} left the company; {h.acting.name} approves as acting holder"
                )
                acting_for[h.acting.id] = h.person.id
            for p in h.people():
                delegation = _active_delegation(p.id, now, session=session)
                if delegation is not None and delegation.delegate.active:
                    d = raci.PersonRef.of(delegation.delegate)
                    routing.warnings.append(
                        f"{p.name} is away until {delegation.ends_at:%Y-%m-%d}; {d.name} approves as delegate"
                    )
                    delegate_of[d.id] = p.id
                    p = d
                if p.id == requester.id and not self_ok:
                    routing.warnings.append(
                        f"You hold {role}; separation of duties routes that approval to someone else"
                    )
                    continue
                if all(x.id != p.id for x in people):
                    people.append(p)
        if not people:
            escalate = routing.decision_right.escalation_role if routing.decision_right else None
            substitutes = raci.role_holders(escalate, system, session=session) if escalate else []
            for h in substitutes:
                people.extend(p for p in h.people() if p.id != requester.id and all(x.id != p.id for x in people))
            if people:
                routing.warnings.append(f"{role} approval goes to {escalate} ({', '.join(p.name for p in people)})")
            else:
                routing.errors["approvers"] = f"Nobody but you can approve as {role}; ask the change manager"
                continue
        routing.slots.append(Slot(role=role, people=tuple(people), acting_for=acting_for, delegate_of=delegate_of))

    approver_ids = {p.id for s in routing.slots for p in s.people}
    for letter, target in (("C", routing.consulted), ("I", routing.informed)):
        seen: set[int] = set()
        for h in result.holders[letter]:
            for p in h.people():
                if p.id not in seen and p.id not in approver_ids and p.id != requester.id:
                    seen.add(p.id)
                    target.append((h.role, p))
    site = _site(system, session=session)
    if draft.process_safety and site is not None and site.psm_covered:
        routing.moc_required = True
        if not (draft.moc_reference or "").strip():
            routing.errors["moc_reference"] = (
                f"{site.name} is a process-safety (PSM) site: a process-safety-relevant change needs its MOC reference"
            )
    routing.conflicts.extend(conflicts(draft, session=session))
    return routing


def _validate(draft: Draft, routing: Routing, *, session: Session) -> None:
    if not draft.title.strip():
        routing.errors["title"] = "Give the change a short title"
    elif len(draft.title) > 300:
        routing.errors["title"] = "Keep the title under 300 characters"
    if draft.change_type not in CHANGE_TYPES:
        routing.errors["change_type"] = f"Type must be one of {', '.join(CHANGE_TYPES)}"
    if draft.risk not in RISKS:
        routing.errors["risk"] = f"Risk must be one of {', '.join(RISKS)}"
    if (draft.planned_start is None) != (draft.planned_end is None):
        routing.errors["window"] = "Give both the start and the end of the planned window"
    elif draft.planned_start and draft.planned_end and draft.planned_end <= draft.planned_start:
        routing.errors["window"] = "The planned window must end after it starts"
    if draft.change_type != "standard" and draft.risk == "high" and not (draft.rollback_plan or "").strip():
        routing.errors["rollback_plan"] = "A high-risk change needs a rollback plan"


def conflicts(draft: Draft, *, session: Session, exclude_id: int | None = None) -> list[str]:
    """Open changes on the system or its neighbours with an overlapping window; site blackouts."""
    if draft.planned_start is None or draft.planned_end is None:
        return []
    system = draft.system
    neighbours = {system.id}
    for rel in session.scalars(
        select(SystemRelation).where(
            or_(SystemRelation.system_id == system.id, SystemRelation.depends_on_id == system.id)
        )
    ).all():
        neighbours.update((rel.system_id, rel.depends_on_id))
    found: list[str] = []
    query = (
        select(ChangeRequest)
        .where(
            ChangeRequest.system_id.in_(neighbours),
            ChangeRequest.state.in_(OPEN),
            ChangeRequest.planned_start < draft.planned_end,
            ChangeRequest.planned_end > draft.planned_start,
        )
        .options(selectinload(ChangeRequest.system))
    )
    if exclude_id is not None:
        query = query.where(ChangeRequest.id != exclude_id)
    for other in session.scalars(query).all():
        where = "the same system" if other.system_id == system.id else f"{other.system.name if other.system else '?'}, which it is connected to"
        found.append(f"{other.number} “{other.title}” is planned on {where} in an overlapping window")
    for bw in session.scalars(
        select(BlackoutWindow).where(
            or_(BlackoutWindow.site_code.is_(None), BlackoutWindow.site_code == system.site_code),
            BlackoutWindow.starts_at < draft.planned_end,
            BlackoutWindow.ends_at > draft.planned_start,
        )
    ).all():
        found.append(f"the window falls in a blackout at {bw.site_code or 'all sites'}: {bw.reason}")
    return found


# --------------------------------------------------------------------------- submission


def _next_value(session: Session) -> int:
    """The next change number: a PostgreSQL sequence (never handed out twice, never blocks); on SQLite a
    counter row, which the database's single writer serialises."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.execute(CHANGE_NUMBER_SEQUENCE.next_value()).scalar_one())
    bumped = session.execute(
        update(Counter).where(Counter.name == CHANGE_NUMBER_COUNTER).values(value=Counter.value + 1)
        .returning(Counter.value)).scalar_one_or_none()
    if bumped is not None:
        return int(bumped)
    start = _highest_number(session) + 1
    session.add(Counter(name=CHANGE_NUMBER_COUNTER, value=start))
    session.flush()
    return start


def _highest_number(session: Session) -> int:
    numbers = session.scalars(select(ChangeRequest.number).where(ChangeRequest.number.like(f"{NUMBER_PREFIX}%"))).all()
    return max((int(n[len(NUMBER_PREFIX):]) for n in numbers if n[len(NUMBER_PREFIX):].isdigit()), default=0)


def next_number(session: Session) -> str:
    """A change number nobody has: ``GCR`` and six digits, from a sequence that is safe under concurrency."""
    while True:
        n = _next_value(session)
        if n > MAX_NUMBER:
            raise ChangeError("govbot has run out of change numbers; ask your govbot admin")
        number = f"{NUMBER_PREFIX}{n:06d}"
        if session.scalar(select(ChangeRequest.id).where(ChangeRequest.number == number)) is None:
            return number


def save_draft(draft: Draft, *, requester: Person, session: Session, now: dt.datetime) -> ChangeRequest:
    """Keep what the requester entered (nothing is sent yet); it becomes a request on submit."""
    cr = ChangeRequest(
        number=next_number(session),
        title=draft.title.strip()[:300],
        description=draft.description,
        change_type=draft.change_type,
        state=ChangeState.DRAFT.value,
        risk=draft.risk,
        system_id=draft.system.id,
        system_name=draft.system.name,
        requester_id=requester.id,
        planned_start=draft.planned_start,
        planned_end=draft.planned_end,
        cab_required=draft.cab_required or draft.risk == "high",
        process_safety=draft.process_safety,
        moc_reference=draft.moc_reference,
        rollback_plan=draft.rollback_plan,
        created_at=now,
        origin="govbot",
        priority=_priority(draft),
    )
    session.add(cr)
    session.flush()
    return cr


def draft_of(cr: ChangeRequest) -> Draft:
    assert cr.system is not None
    return Draft(
        system=cr.system, title=cr.title, change_type=cr.change_type, risk=cr.risk or "moderate",
        description=cr.description, planned_start=cr.planned_start, planned_end=cr.planned_end,
        rollback_plan=cr.rollback_plan, process_safety=cr.process_safety, moc_reference=cr.moc_reference,
        cab_required=cr.cab_required,
    )


def submit_draft(change_id: int, *, actor: Person | None, session: Session, now: dt.datetime, platform: str,
                 policies: ChangePolicies = DEFAULT_POLICIES) -> tuple[ChangeRequest, Routing]:
    """Route a saved draft afresh and send it for decision."""
    cr = load_for_update(change_id, session=session)
    actor = _require(cr, actor, "submit", session=session, now=now, platform=platform)
    if cr.requester_id != actor.id:
        raise _refuse(cr, actor, "submit", f"Only the requester can submit {cr.number}", session=session, now=now,
                      platform=platform)
    if cr.state != ChangeState.DRAFT.value:
        raise ChangeError(f"{cr.number} was already submitted")
    if cr.system is None:
        raise ChangeError(f"The system of {cr.number} no longer exists")
    draft = draft_of(cr)
    routing = route(draft, requester=actor, session=session, now=now, policies=policies)
    if not routing.ok:
        raise ChangeError("; ".join(routing.errors.values()) or "No approver could be found")
    cr.state = ChangeState.SUBMITTED.value
    cr.submitted_at = now
    cr.activity_id = routing.activity.activity_id if routing.activity else None
    for slot in routing.slots:
        for p in slot.people:
            session.add(Approval(
                change_id=cr.id, kind=ParticipantKind.APPROVER.value, person_id=p.id, role_name=slot.role,
                acting_for_id=slot.acting_for.get(p.id), delegate_of_id=slot.delegate_of.get(p.id),
                state=ApprovalState.REQUESTED.value, requested_at=now,
            ))
    for role, p in routing.consulted:
        session.add(Approval(change_id=cr.id, kind=ParticipantKind.CONSULTED.value, person_id=p.id, role_name=role,
                             state=ApprovalState.REQUESTED.value, requested_at=now))
    for role, p in routing.informed:
        session.add(Approval(change_id=cr.id, kind=ParticipantKind.INFORMED.value, person_id=p.id, role_name=role,
                             state=ApprovalState.INFORMED.value, requested_at=now))
    session.flush()
    audit.record(
        session, at=now, actor=actor, platform=platform, action="change.submitted", object_type="change",
        object_key=cr.number,
        data={
            "system": draft.system.name, "type": cr.change_type, "risk": cr.risk, "activity": cr.activity_id,
            "approvers": {s.role: [p.name for p in s.people] for s in routing.slots},
            "conflicts": routing.conflicts, "warnings": routing.warnings,
        },
    )
    return cr, routing


def submit(draft: Draft, *, requester: Person, session: Session, now: dt.datetime, platform: str,
           policies: ChangePolicies = DEFAULT_POLICIES) -> tuple[ChangeRequest, Routing]:
    """Save and submit in one step (scripts and tests)."""
    routing = route(draft, requester=requester, session=session, now=now, policies=policies)
    if not routing.ok:
        raise ChangeError("; ".join(routing.errors.values()) or "No approver could be found")
    cr = save_draft(draft, requester=requester, session=session, now=now)
    return submit_draft(cr.id, actor=requester, session=session, now=now, platform=platform, policies=policies)


def _priority(draft: Draft) -> int:
    if draft.change_type == "emergency":
        return 1
    return {"high": 2, "moderate": 3, "low": 4}.get(draft.risk, 3)


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Outcome:
    change: ChangeRequest
    message: str
    transitioned: bool
    new_state: str


def load_for_update(change_id: int, *, session: Session) -> ChangeRequest:
    """Lock the change row for the rest of the transaction (PostgreSQL row lock; SQLite has one writer)."""
    query = select(ChangeRequest).where(ChangeRequest.id == change_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    cr = session.scalars(query.execution_options(populate_existing=True)).first()
    if cr is None:
        raise ChangeError("That change request does not exist")
    return cr


def _refuse(cr: ChangeRequest, actor: Person | None, action: str, reason: str, *, session: Session,
            now: dt.datetime, platform: str) -> NotAllowed:
    audit.record(session, at=now, actor=actor, actor_label=None if actor is not None else f"unknown {platform} user",
                 platform=platform, action=f"change.{action}.refused", object_type="change", object_key=cr.number,
                 data={"reason": reason})
    return NotAllowed(reason)


def _require(cr: ChangeRequest, actor: Person | None, action: str, *, session: Session, now: dt.datetime,
             platform: str) -> Person:
    """The rules every step on a change shares: the actor is an active person in the directory, and the
    change is govbot's own (imported history is read-only).  Raises :class:`NotAllowed` (audited)."""
    if actor is None:
        raise _refuse(cr, None, action, "You are not in govbot's directory, so you cannot act on change requests",
                      session=session, now=now, platform=platform)
    if not actor.active:
        left = f" (left on {actor.left_on:%Y-%m-%d})" if actor.left_on else ""
        raise _refuse(cr, actor, action, f"Your directory entry is inactive{left}, so you cannot act on "
                      "change requests", session=session, now=now, platform=platform)
    if imported(cr):
        raise _refuse(cr, actor, action, read_only_reason(cr), session=session, now=now, platform=platform)
    return actor


def viewer_zone(cr: ChangeRequest, viewer: Person | None, *, session: Session) -> ZoneInfo:
    """The zone ``viewer`` reads times about ``cr`` in: their own where known, else the change's site's."""
    return local_time.zone_for(viewer, site=for_system(cr.system, session=session).tz)


def already_decided(cr: ChangeRequest, *, session: Session, tz: ZoneInfo | None = None,
                    viewer: Person | None = None) -> str:
    """"GCR… was already approved by X at 09:12 CEST", in ``tz`` (default: ``viewer``'s zone)."""
    last = session.scalars(
        select(Approval).where(Approval.change_id == cr.id, Approval.kind == ParticipantKind.APPROVER.value,
                               Approval.decided_at.is_not(None),
                               Approval.state.in_((ApprovalState.APPROVED.value, ApprovalState.REJECTED.value)))
        .options(selectinload(Approval.person)).order_by(Approval.decided_at.desc(), Approval.id.desc())
    ).first()
    if cr.state in (ChangeState.WITHDRAWN.value, ChangeState.CANCELLED.value) or last is None:
        last = None
    zone = tz or viewer_zone(cr, viewer, session=session)
    who = f" by {last.person.display_name}" if last and last.person else ""
    at = cr.decided_at or (last.decided_at if last else None)
    when = f" at {local_time.stamp(at, zone)}" if at else ""
    return f"{cr.number} was already {cr.state}{who}{when}"


def may_decide(change_id: int, *, actor: Person | None, approve: bool, session: Session, now: dt.datetime,
               platform: str) -> ChangeRequest:
    """Check, without deciding, that ``actor`` may approve or reject now (before asking a reason, say);
    raises :class:`NotAllowed` (audited) when not."""
    cr = load_for_update(change_id, session=session)
    _pending_decisions(cr, actor, "approve" if approve else "reject", session=session, now=now, platform=platform)
    return cr


def _pending_decisions(cr: ChangeRequest, actor: Person | None, verb: str, *, session: Session, now: dt.datetime,
                       platform: str) -> list[Approval]:
    """The approvals ``actor`` may give on ``cr`` now; raises :class:`NotAllowed` (audited) when none."""
    actor = _require(cr, actor, verb, session=session, now=now, platform=platform)
    mine = list(session.scalars(
        select(Approval).where(Approval.change_id == cr.id, Approval.person_id == actor.id,
                               Approval.kind == ParticipantKind.APPROVER.value)
    ).all())
    if cr.requester_id != actor.id:
        mine += _delegated_to(cr, actor, now=now, session=session)
    if cr.requester_id == actor.id and not any(a.state == ApprovalState.REQUESTED.value for a in mine):
        raise _refuse(cr, actor, verb, f"You requested {cr.number}; you cannot approve or reject your own change",
                      session=session, now=now, platform=platform)
    if not mine:
        raise _refuse(cr, actor, verb, f"You are not an approver of {cr.number}", session=session, now=now,
                      platform=platform)
    if not awaiting_decision(cr):
        raise _refuse(cr, actor, verb, already_decided(cr, session=session, viewer=actor), session=session, now=now,
                      platform=platform)
    pending = [a for a in mine if a.state == ApprovalState.REQUESTED.value]
    if not pending:
        done = mine[0]
        zone = viewer_zone(cr, actor, session=session)
        raise _refuse(cr, actor, verb, f"You already {done.state} {cr.number}"
                      + (f" at {local_time.stamp(done.decided_at, zone)}" if done.decided_at else ""),
                      session=session, now=now, platform=platform)
    return pending


def _delegated_to(cr: ChangeRequest, actor: Person, *, now: dt.datetime, session: Session) -> list[Approval]:
    """Approvals of ``cr`` still waiting on active people who, right now, have named ``actor`` their delegate."""
    delegators = session.scalars(
        select(Delegation.person_id).join(Person, Person.id == Delegation.person_id)
        .where(Delegation.delegate_id == actor.id, Delegation.starts_at <= now, Delegation.ends_at > now,
               Person.active.is_(True))
    ).all()
    if not delegators:
        return []
    return list(session.scalars(
        select(Approval).where(Approval.change_id == cr.id, Approval.kind == ParticipantKind.APPROVER.value,
                               Approval.state == ApprovalState.REQUESTED.value, Approval.person_id.in_(delegators))
    ).all())


def decide(change_id: int, *, actor: Person | None, approve: bool, reason: str | None, session: Session,
           now: dt.datetime, platform: str) -> Outcome:
    """Record one approver's decision; exactly one transition happens however many click at once."""
    cr = load_for_update(change_id, session=session)
    verb = "approve" if approve else "reject"
    pending = _pending_decisions(cr, actor, verb, session=session, now=now, platform=platform)
    assert actor is not None
    if not approve and not (reason or "").strip():
        raise ChangeError("A rejection needs a reason")
    stood_in_for = sorted({a.person.email for a in pending if a.person_id != actor.id and a.person is not None})
    for a in pending:
        if a.person_id != actor.id:
            # A delegate decides in the delegator's place: the approval is theirs now, and says for whom.
            a.delegate_of_id, a.person_id = a.person_id, actor.id
        a.state = ApprovalState.APPROVED.value if approve else ApprovalState.REJECTED.value
        a.decided_at = now
        a.comment = reason
    session.flush()
    decided = "change.approved" if approve else "change.rejected"
    audit.record(session, at=now, actor=actor, platform=platform, action=decided, object_type="change",
                 object_key=cr.number, data={"roles": sorted({a.role_name or "" for a in pending}), "reason": reason,
                                             **({"as_delegate_for": stood_in_for} if stood_in_for else {})})
    approvals = session.scalars(
        select(Approval).where(Approval.change_id == cr.id, Approval.kind == ParticipantKind.APPROVER.value)
    ).all()
    transitioned = False
    if not approve:
        _close_open_slots(approvals, now)
        _transition(cr, ChangeState.REJECTED.value if cr.state in PENDING else cr.state, now, actor, session, platform,
                    reason=reason)
        cr.decided_at = now
        transitioned = True
        message = f"You rejected {cr.number}."
    else:
        roles = {a.role_name for a in approvals}
        satisfied = {a.role_name for a in approvals if a.state == ApprovalState.APPROVED.value}
        if roles <= satisfied:
            _close_open_slots(approvals, now)
            cr.decided_at = now
            if cr.state in PENDING:
                _transition(cr, ChangeState.APPROVED.value, now, actor, session, platform)
            else:
                audit.record(session, at=now, actor=actor, platform=platform, action="change.retro_approved",
                             object_type="change", object_key=cr.number, data={})
            transitioned = True
            message = f"You approved {cr.number}; it is now approved."
        else:
            waiting = sorted(r or "" for r in roles - satisfied)
            message = f"You approved {cr.number}; still waiting on: {', '.join(waiting)}."
    cr.awaiting_requester_since = None
    session.flush()
    return Outcome(cr, message, transitioned, cr.state)


def _close_open_slots(approvals: Sequence[Approval], now: dt.datetime) -> None:
    for a in approvals:
        if a.state == ApprovalState.REQUESTED.value:
            a.state = ApprovalState.CANCELLED.value
            a.decided_at = now


def _transition(cr: ChangeRequest, new_state: str, now: dt.datetime, actor: Person | None, session: Session,
                platform: str, **data: object) -> None:
    old = cr.state
    cr.state = new_state
    audit.record(session, at=now, actor=actor, platform=platform, action="change.state", object_type="change",
                 object_key=cr.number, data={"from": old, "to": new_state, **data})


def respond_consult(change_id: int, *, actor: Person | None, concern: str | None, session: Session,
                    now: dt.datetime, platform: str) -> Outcome:
    cr = load_for_update(change_id, session=session)
    actor = _require(cr, actor, "consult", session=session, now=now, platform=platform)
    row = None
    if actor is not None:
        row = session.scalar(select(Approval).where(
            Approval.change_id == cr.id, Approval.person_id == actor.id, Approval.kind == ParticipantKind.CONSULTED.value
        ))
    if row is None:
        raise _refuse(cr, actor, "consult", f"You are not consulted on {cr.number}", session=session, now=now,
                      platform=platform)
    if cr.state != ChangeState.SUBMITTED.value:
        raise ChangeError(already_decided(cr, session=session, viewer=actor))
    row.state = ApprovalState.CONCERN.value if concern else ApprovalState.NO_CONCERNS.value
    row.comment = concern
    row.decided_at = now
    audit.record(session, at=now, actor=actor, platform=platform, action="change.consulted", object_type="change",
                 object_key=cr.number, data={"concern": concern})
    return Outcome(cr, "Thanks — your concern was recorded and shared." if concern else "Thanks — no concerns recorded.",
                   False, cr.state)


def ask_question(change_id: int, *, actor: Person | None, question: str, session: Session, now: dt.datetime,
                 platform: str) -> Outcome:
    """An approver asks the requester something: the request waits on the requester until answered."""
    cr = load_for_update(change_id, session=session)
    actor = _require(cr, actor, "ask", session=session, now=now, platform=platform)
    if not session.scalar(select(Approval.id).where(
        Approval.change_id == cr.id, Approval.person_id == actor.id, Approval.kind == ParticipantKind.APPROVER.value
    )):
        raise _refuse(cr, actor, "ask", f"Only approvers of {cr.number} can ask its requester", session=session,
                      now=now, platform=platform)
    if cr.state not in PENDING:
        raise ChangeError(already_decided(cr, session=session, viewer=actor))
    if not question.strip():
        raise ChangeError("Type your question")
    cr.awaiting_requester_since = now
    audit.record(session, at=now, actor=actor, platform=platform, action="change.question", object_type="change",
                 object_key=cr.number, data={"question": question})
    return Outcome(cr, "Your question was sent to the requester.", False, cr.state)


def answer_question(change_id: int, *, actor: Person | None, answer: str, session: Session, now: dt.datetime,
                    platform: str) -> Outcome:
    cr = load_for_update(change_id, session=session)
    actor = _require(cr, actor, "answer", session=session, now=now, platform=platform)
    if cr.requester_id != actor.id:
        raise _refuse(cr, actor, "answer", f"Only the requester of {cr.number} can answer", session=session,
                      now=now, platform=platform)
    cr.awaiting_requester_since = None
    audit.record(session, at=now, actor=actor, platform=platform, action="change.answer", object_type="change",
                 object_key=cr.number, data={"answer": answer})
    return Outcome(cr, "Your answer was sent to the approvers.", False, cr.state)


LIFECYCLE = {
    "schedule": ((ChangeState.APPROVED.value,), ChangeState.SCHEDULED.value),
    "implement": ((ChangeState.SCHEDULED.value, ChangeState.APPROVED.value), ChangeState.IMPLEMENTED.value),
    "close": ((ChangeState.IMPLEMENTED.value,), ChangeState.CLOSED.value),
    "withdraw": ((ChangeState.SUBMITTED.value, ChangeState.APPROVED.value, ChangeState.SCHEDULED.value),
                 ChangeState.WITHDRAWN.value),
    "cancel": ((ChangeState.SUBMITTED.value, ChangeState.APPROVED.value, ChangeState.SCHEDULED.value),
               ChangeState.CANCELLED.value),
}


def advance(change_id: int, step: str, *, actor: Person | None, session: Session, now: dt.datetime, platform: str,
            policies: ChangePolicies = DEFAULT_POLICIES) -> Outcome:
    """Lifecycle steps after the decision: schedule, implement, close; or withdraw / cancel."""
    if step not in LIFECYCLE:
        raise ChangeError(f"Unknown step {step!r}")
    cr = load_for_update(change_id, session=session)
    actor = _require(cr, actor, step, session=session, now=now, platform=platform)
    policy = policies.for_activity(cr.activity_id)
    allowed_from, target = LIFECYCLE[step]
    is_requester = cr.requester_id == actor.id
    is_assignee = cr.assigned_to_id == actor.id
    is_manager = _holds(actor, policy.change_manager_role, session=session)
    if step == "withdraw" and not is_requester:
        raise _refuse(cr, actor, step, f"Only the requester can withdraw {cr.number}", session=session, now=now,
                      platform=platform)
    if step == "cancel" and not is_manager:
        raise _refuse(cr, actor, step, f"Only the {policy.change_manager_role} can cancel {cr.number}",
                      session=session, now=now, platform=platform)
    if step in ("schedule", "implement", "close") and not (is_requester or is_assignee or is_manager):
        raise _refuse(cr, actor, step, f"Only the requester, the assignee or the change manager can {step} {cr.number}",
                      session=session, now=now, platform=platform)
    emergency_first = step == "implement" and cr.change_type == "emergency" and cr.state == ChangeState.SUBMITTED.value
    if cr.state not in allowed_from and not emergency_first:
        raise ChangeError(f"{cr.number} is {cr.state}; it cannot be {target} now")
    if emergency_first:
        from governance_store.calendar import add_business_days

        cr.retro_due_at = add_business_days(now, policy.emergency_retro_business_days, system=cr.system, session=session)
    if target in (ChangeState.WITHDRAWN.value, ChangeState.CANCELLED.value):
        approvals = session.scalars(select(Approval).where(Approval.change_id == cr.id)).all()
        _close_open_slots([a for a in approvals if a.kind != ParticipantKind.INFORMED.value], now)
    _transition(cr, target, now, actor, session, platform, emergency_first=emergency_first)
    if target in (ChangeState.CLOSED.value, ChangeState.WITHDRAWN.value, ChangeState.CANCELLED.value):
        cr.closed_at = now
    return Outcome(cr, f"{cr.number} is now {target}.", True, target)


def _holds(person: Person, role: str, *, session: Session) -> bool:
    return any(ra.role.name == role and ra.valid_to is None for ra in raci.roles_held(person, session=session))


def cycle_time(cr: ChangeRequest) -> dt.timedelta | None:
    if cr.submitted_at and cr.decided_at:
        return cr.decided_at - cr.submitted_at
    return None


def response_times(cr: ChangeRequest) -> dict[str, dt.timedelta]:
    out = {}
    for a in cr.participants:
        decided = a.state in (ApprovalState.APPROVED.value, ApprovalState.REJECTED.value)
        if a.kind == ParticipantKind.APPROVER.value and a.requested_at and a.decided_at and a.person and decided:
            out[a.person.display_name] = a.decided_at - a.requested_at
    return out


# --------------------------------------------------------------------------- approvers who left


def approvals_waiting_on(person: Person, *, session: Session,
                         now: dt.datetime | None = None) -> list[tuple[ChangeRequest, Approval]]:
    """Approvals waiting on ``person``; on people who left and for whom ``person`` is the acting holder
    (before the worker has re-routed them); and, at ``now``, on people who named ``person`` their delegate
    (never the person's own requests).  Oldest request first."""
    acting_for = session.scalars(select(Person.id).join(
        RoleAssignment, RoleAssignment.acting_for_id == Person.id).where(
        RoleAssignment.person_id == person.id, Person.active.is_(False))).all()
    delegators: Sequence[int] = []
    if now is not None:
        delegators = session.scalars(
            select(Delegation.person_id).join(Person, Person.id == Delegation.person_id)
            .where(Delegation.delegate_id == person.id, Delegation.starts_at <= now, Delegation.ends_at > now,
                   Person.active.is_(True))).all()
    rows = session.execute(
        select(ChangeRequest, Approval).join(Approval, Approval.change_id == ChangeRequest.id)
        .where(Approval.person_id.in_([person.id, *acting_for, *delegators]),
               Approval.kind == ParticipantKind.APPROVER.value, Approval.state == ApprovalState.REQUESTED.value,
               ChangeRequest.state.in_((*PENDING, ChangeState.IMPLEMENTED.value)))
        .order_by(func.coalesce(ChangeRequest.submitted_at, ChangeRequest.created_at), ChangeRequest.id)
    ).tuples().all()
    out: list[tuple[ChangeRequest, Approval]] = []
    seen: set[int] = set()
    for cr, approval in rows:
        if approval.person_id in delegators and cr.requester_id == person.id:
            continue
        if cr.id not in seen and awaiting_decision(cr):
            seen.add(cr.id)
            out.append((cr, approval))
    return out


@dataclass(frozen=True)
class Rerouted:
    """One approval that waited on someone who left: who it went to (nobody: ``to`` is empty) and why."""

    change: ChangeRequest
    role: str
    left: Person
    to: tuple[Person, ...]
    how: str


def _active_people(refs: Sequence[raci.PersonRef], *, exclude: set[int], session: Session) -> list[Person]:
    out: list[Person] = []
    for ref in refs:
        person = session.get(Person, ref.id)
        if person is not None and person.active and person.id not in exclude and person not in out:
            out.append(person)
    return out


def _substitutes(cr: ChangeRequest, left: Person, *, session: Session) -> tuple[list[Person], str]:
    """The acting holder of the role ``left`` held, else the holders of the decision right's escalation role."""
    requester = {cr.requester_id} if cr.requester_id else set()
    acting = raci.acting_for(left.id, session=session)
    if acting is not None:
        people = _active_people([acting], exclude=requester, session=session)
        if people:
            return people, f"acting holder for {left.display_name}"
    activity = session.scalar(select(Activity).where(Activity.activity_id == cr.activity_id)) if cr.activity_id else None
    right = decision_right_for(activity, session=session) if activity is not None else None
    if right is not None and right.escalation_role and cr.system is not None:
        holders = raci.role_holders(right.escalation_role, cr.system, session=session)
        people = _active_people([p for h in holders for p in h.people()], exclude=requester, session=session)
        if people:
            return people, f"escalation role {right.escalation_role} ({right.decision_id})"
    return [], ""


def reroute_departed(*, session: Session, now: dt.datetime) -> list[Rerouted]:
    """Approvals still waiting on people who have left the directory go to the acting holder of their role
    (from the role assignments) or, when nobody acts for them, to the decision right's escalation role.

    The departed person's approval becomes ``rerouted`` and the substitutes get approvals of their own
    (acting for the person who left); the audit trail says who, why and how.  An approval nobody can take
    over is left waiting and reported once (``change.approval_stalled``).  Safe to run again: a substitute
    who already has the approval is not given a second one.
    """
    rows = session.scalars(
        select(Approval).join(Person, Approval.person_id == Person.id)
        .join(ChangeRequest, Approval.change_id == ChangeRequest.id)
        .where(Approval.kind == ParticipantKind.APPROVER.value, Approval.state == ApprovalState.REQUESTED.value,
               Person.active.is_(False),
               ChangeRequest.state.in_((*PENDING, ChangeState.IMPLEMENTED.value)))
        .options(selectinload(Approval.person), selectinload(Approval.change).selectinload(ChangeRequest.system))
        .order_by(Approval.id)
    ).all()
    done: list[Rerouted] = []
    for approval in rows:
        cr, left = approval.change, approval.person
        if left is None or not awaiting_decision(cr):
            continue
        role = approval.role_name or "approver"
        people, how = _substitutes(cr, left, session=session)
        left_on = f" on {left.left_on:%Y-%m-%d}" if left.left_on else ""
        if not people:
            if approval.comment != STALLED:
                approval.comment = STALLED
                audit.record(session, at=now, action="change.approval_stalled", object_type="change",
                             object_key=cr.number, data={"role": role, "waiting_on": left.email,
                                                         "reason": f"{left.display_name} left{left_on}; nobody acts "
                                                                   "for them and no escalation role is assigned"})
                done.append(Rerouted(cr, role, left, (), ""))
            continue
        holding = {a.person_id for a in session.scalars(select(Approval).where(
            Approval.change_id == cr.id, Approval.kind == ParticipantKind.APPROVER.value,
            Approval.state == ApprovalState.REQUESTED.value, Approval.role_name == approval.role_name)).all()}
        added = [p for p in people if p.id not in holding]
        for person in added:
            session.add(Approval(
                change_id=cr.id, kind=ParticipantKind.APPROVER.value, person_id=person.id, role_name=approval.role_name,
                acting_for_id=left.id, state=ApprovalState.REQUESTED.value, requested_at=now, due_at=approval.due_at,
            ))
        approval.state = ApprovalState.REROUTED.value
        approval.decided_at = now
        approval.comment = f"re-routed to {', '.join(p.display_name for p in people)} ({how}): left{left_on}"
        session.flush()
        if added:
            audit.record(session, at=now, action="change.approval_rerouted", object_type="change", object_key=cr.number,
                         data={"role": role, "from": left.email, "to": [p.email for p in added],
                               "reason": f"{left.display_name} left{left_on}", "how": how})
            done.append(Rerouted(cr, role, left, tuple(added), how))
    return done


STALLED = "waiting on someone who left; nobody to re-route to"
