"""Every submitted change and its approvals, as plain values with their waits.

A change's decision cycle time runs from its request (submission; for imported history, when its
approvals were first requested) to its decision (approval or rejection).  An approver's wait runs from
when their approval was requested to when they decided, or to when the approval was withdrawn.  Each is
measured twice: in calendar time, and in the business time of the system's site (its business hours, time
zone and public holidays) divided by the length of that site's business day, so "1.0 business days" means
one full business day at that site whatever its hours.

Imported ServiceNow history is the baseline era; changes raised in govbot are the govbot era.  Approvals
imported without a role get the governance role their approver held (at the change's site first, then
globally, then as the departed holder someone acts for, then through a team), and a side: IT or OT, from
the team that holds the role, the role's name, or the approver's teams.  The change manager's (CAB's)
approvals belong to neither side.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from governance_store import calendar as cal
from governance_store.changes import CHANGE_MANAGER_ROLE
from governance_store.models import (
    Approval,
    ApprovalState,
    ChangeRequest,
    ChangeState,
    DecisionRight,
    HierarchyNode,
    ParticipantKind,
    Person,
    Role,
    RoleAssignment,
    ScopeType,
    Site,
    SlaPolicy,
    System,
    Team,
    TeamMember,
    Timer,
)

# The approval clock's timer kind (``notifications.sla.APPROVAL``; the store does not import notifications).
APPROVAL_TIMER = "approval_sla"
NO_ROLE = "no governance role"
DECIDED = (ApprovalState.APPROVED.value, ApprovalState.REJECTED.value)
WITHDRAWN = (ApprovalState.CANCELLED.value, ApprovalState.REROUTED.value)
# A replacement approval is requested when the one it replaces is withdrawn; allow for clock skew.
REROUTE_WINDOW = dt.timedelta(hours=1)
_WORDS = re.compile(r"[A-Za-z]+")


class Era(enum.StrEnum):
    HISTORY = "history"  # imported from the previous tool: the baseline
    GOVBOT = "govbot"  # raised and decided in govbot


class Side(enum.StrEnum):
    IT = "IT"
    OT = "OT"


@dataclass(frozen=True)
class ApprovalFact:
    id: int
    change_id: int
    number: str
    person_id: int | None
    person: str
    left_on: dt.date | None
    role: str
    side: Side | None
    change_manager: bool  # the change manager's (CAB's) approval
    state: str
    requested_at: dt.datetime
    ended_at: dt.datetime | None  # decided or withdrawn
    hours: float | None
    business_days: float | None
    ended_weekday: int | None  # 0 = Monday, in the approver's time zone
    requested_weekday: int  # in the approver's time zone
    rerouted_to: int | None = None  # the approval that replaced this withdrawn one
    rerouted_from: int | None = None

    @property
    def decided(self) -> bool:
        return self.state in DECIDED and self.ended_at is not None

    @property
    def withdrawn(self) -> bool:
        """Ended without a decision: withdrawn, or re-routed to someone else."""
        return self.state in WITHDRAWN and self.ended_at is not None

    @property
    def days(self) -> float | None:
        return self.hours / 24 if self.hours is not None else None


@dataclass(frozen=True)
class ChangeFact:
    id: int
    number: str
    title: str
    era: Era
    site: str | None
    change_type: str
    purdue: str | None
    risk: str | None
    state: str
    system_id: int | None
    system_name: str | None
    requested_at: dt.datetime
    decided_at: dt.datetime | None
    hours: float | None  # request to decision
    business_days: float | None
    sla_target: dt.datetime | None
    approvals: tuple[ApprovalFact, ...] = ()

    @property
    def needs_decision(self) -> bool:
        """Someone had to decide: pre-approved standard changes have no approval records."""
        return bool(self.approvals)

    @property
    def decided(self) -> bool:
        return self.decided_at is not None

    @property
    def sla_met(self) -> bool | None:
        if self.sla_target is None or self.decided_at is None:
            return None
        return self.decided_at <= self.sla_target

    @property
    def days(self) -> float | None:
        return self.hours / 24 if self.hours is not None else None


@dataclass
class Calendars:
    """Each site's calendar and business-day length, looked up once."""

    sites: dict[str, Site]
    _cache: dict[tuple[str | None, bool], cal.SiteCalendar] = field(default_factory=dict)

    def of(self, site: str | None, *, always: bool = False) -> cal.SiteCalendar:
        key = (site, always)
        if key not in self._cache:
            self._cache[key] = cal.for_site(self.sites.get(site or ""), always=always)
        return self._cache[key]

    def day_hours(self, site: str | None) -> float:
        hours = self.of(site).hours
        if hours.always:
            return 24.0
        span = dt.datetime.combine(dt.date.min, hours.end) - dt.datetime.combine(dt.date.min, hours.start)
        return span.total_seconds() / 3600 or 24.0

    def business_days(self, site: str | None, start: dt.datetime, end: dt.datetime) -> float:
        seconds = self.of(site).business_time_between(start, end).total_seconds()
        return seconds / 3600 / self.day_hours(site)

    def timezone(self, site: str | None) -> str:
        return self.of(site).timezone


@dataclass(frozen=True)
class _Held:
    rank: int  # lower is a better match
    site: str | None
    role: str


class RoleIndex:
    """Which governance role a person approved a change at a site in, and which side (IT or OT) it is on.

    A role's side comes from the kind of the teams that hold it, else from its name ("OT Security Lead"),
    else from the teams its holders belong to; an escalation role that decides in another role's place
    (a decision right's escalation role) takes that role's side when all those roles agree.
    """

    def __init__(self, session: Session, *, change_manager_role: str = CHANGE_MANAGER_ROLE) -> None:
        self.change_manager_role = change_manager_role
        node_sites: dict[str, str | None] = {
            node: site for node, site in session.execute(select(HierarchyNode.node_id, HierarchyNode.site_code))}
        members: dict[int, set[int]] = defaultdict(set)
        self.team_kinds: dict[int, set[str]] = defaultdict(set)
        for team_id, person_id, kind in session.execute(
            select(TeamMember.team_id, TeamMember.person_id, Team.kind).join(Team, Team.id == TeamMember.team_id)
        ):
            members[team_id].add(person_id)
            if kind:
                self.team_kinds[person_id].add(kind)
        self.held: dict[int, list[_Held]] = defaultdict(list)
        holding_teams: dict[str, set[str]] = defaultdict(set)
        holders: dict[str, set[int]] = defaultdict(set)
        rows = session.execute(
            select(Role.name, RoleAssignment.scope_type, RoleAssignment.scope_key, RoleAssignment.person_id,
                   RoleAssignment.team_id, RoleAssignment.acting_for_id, Team.kind)
            .join(Role, Role.id == RoleAssignment.role_id)
            .outerjoin(Team, Team.id == RoleAssignment.team_id)
        )
        for role, scope_type, scope_key, person_id, team_id, acting_for_id, team_kind in rows:
            if scope_type == ScopeType.GLOBAL.value:
                site, scoped = None, 1
            elif scope_type == ScopeType.SITE.value:
                site, scoped = scope_key, 0
            else:
                site, scoped = node_sites.get(scope_key), 0
            if person_id is not None:
                self.held[person_id].append(_Held(scoped, site, role))
                holders[role].add(person_id)
            if acting_for_id is not None:
                self.held[acting_for_id].append(_Held(2 + scoped, site, role))
                holders[role].add(acting_for_id)
            if team_id is not None:
                holding_teams[role].add(team_kind or "")
                for member in members.get(team_id, ()):
                    self.held[member].append(_Held(4 + scoped, site, role))
        self.sides: dict[str, Side | None] = {}
        for role in set(holders) | set(holding_teams):
            self.sides[role] = self._own_side(role, holding_teams.get(role, set()), holders.get(role, set()))
        owners: dict[str, set[Side | None]] = defaultdict(set)
        for owner, escalation in session.execute(select(DecisionRight.owner_role, DecisionRight.escalation_role)):
            if escalation and escalation != owner:
                owners[escalation].add(self.sides.get(owner))
        for role, sides in owners.items():
            if self.sides.get(role) is None and len(sides) == 1 and None not in sides:
                self.sides[role] = next(iter(sides))

    def _own_side(self, role: str, team_kinds: set[str], people: set[int]) -> Side | None:
        if role == self.change_manager_role:
            return None
        known = {k for k in team_kinds if k in (Side.IT.value, Side.OT.value)}
        if len(known) == 1:
            return Side(known.pop())
        words = set(_WORDS.findall(role))
        if ("OT" in words) != ("IT" in words):
            return Side.OT if "OT" in words else Side.IT
        kinds = {k for p in people for k in self.team_kinds.get(p, ()) if k in (Side.IT.value, Side.OT.value)}
        return Side(kinds.pop()) if len(kinds) == 1 else None

    def role_of(self, person_id: int | None, site: str | None) -> str:
        """The role an approval at ``site`` was most likely asked of ``person_id`` in."""
        if person_id is None:
            return NO_ROLE
        fitting = [h for h in self.held.get(person_id, ()) if h.site is None or h.site == site]
        if not fitting:
            return NO_ROLE
        return min(fitting, key=lambda h: (h.rank, h.role)).role

    def side_of(self, role: str, person_id: int | None) -> Side | None:
        if role == self.change_manager_role:
            return None
        if role in self.sides:
            return self.sides[role]
        kinds = {k for k in self.team_kinds.get(person_id or -1, ()) if k in (Side.IT.value, Side.OT.value)}
        return Side(kinds.pop()) if len(kinds) == 1 else None


@dataclass(frozen=True)
class Scope:
    """Which changes to read: one site (``None``: all) and a period of their decision (else request)."""

    site: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def covers(self, at: dt.datetime) -> bool:
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


def purdue_label(level: str | None) -> str:
    """``"Level 3"``, ``"Level 3.5"``, ``"Cloud"``; ``"unknown level"`` when the system has none."""
    if not level:
        return "unknown level"
    return f"Level {level}" if level[0].isdigit() else level.capitalize()


def _weekday(at: dt.datetime, tz: str) -> int:
    return at.astimezone(ZoneInfo(tz)).weekday()


def _reroutes(rows: list[Any]) -> dict[int, int]:
    """Withdrawn approval id -> the approval requested (for someone else) when it was withdrawn."""
    out: dict[int, int] = {}
    taken: set[int] = set()
    withdrawn = sorted((a for a in rows if a.state in WITHDRAWN and a.decided_at is not None
                        and a.requested_at is not None), key=lambda a: (a.decided_at, a.id))
    for w in withdrawn:
        assert w.decided_at is not None and w.requested_at is not None
        candidates = [a for a in rows if a.id != w.id and a.id not in taken and a.requested_at is not None
                      and a.requested_at > w.requested_at and a.person_id != w.person_id
                      and abs(a.requested_at - w.decided_at) <= REROUTE_WINDOW]
        if candidates:
            best = min(candidates, key=lambda a: (abs(a.requested_at - w.decided_at), a.id))  # type: ignore[operator]
            out[w.id] = best.id
            taken.add(best.id)
    return out


CHANGE_COLUMNS = (
    ChangeRequest.id, ChangeRequest.number, ChangeRequest.title, ChangeRequest.origin, ChangeRequest.change_type,
    ChangeRequest.risk, ChangeRequest.state, ChangeRequest.priority, ChangeRequest.system_id,
    ChangeRequest.system_name, ChangeRequest.submitted_at, ChangeRequest.decided_at,
    System.site_code, System.purdue_level, System.criticality, System.name.label("system_label"),
)
APPROVAL_COLUMNS = (Approval.id, Approval.change_id, Approval.person_id, Approval.role_name, Approval.state,
                    Approval.requested_at, Approval.decided_at)


def _period(scope: Scope) -> list[ColumnElement[bool]]:
    """``scope``'s period in SQL: decided in it, or (undecided) requested in it."""
    conditions: list[ColumnElement[bool]] = []
    for column, bound, newer in ((ChangeRequest.decided_at, scope.since, True),
                                 (ChangeRequest.decided_at, scope.until, False)):
        if bound is None:
            continue
        decided = column >= bound if newer else column < bound
        requested = ChangeRequest.submitted_at >= bound if newer else ChangeRequest.submitted_at < bound
        conditions.append(or_(decided, and_(column.is_(None), requested)))
    return conditions


def load(*, session: Session, scope: Scope | None = None, calendars: Calendars | None = None,
         roles: RoleIndex | None = None, change_manager_role: str = CHANGE_MANAGER_ROLE) -> list[ChangeFact]:
    """The submitted changes in ``scope`` (drafts never are), oldest request first.

    Reads plain rows (no ORM objects for changes and approvals): a year of history is tens of thousands
    of them."""
    scope = scope or Scope()
    calendars = calendars or Calendars({s.code: s for s in session.scalars(select(Site)).all()})
    roles = roles or RoleIndex(session, change_manager_role=change_manager_role)
    policies = {(p.criticality, p.priority): (p.response_minutes, p.schedule)
                for p in session.scalars(select(SlaPolicy)).all()}
    query = (
        select(*CHANGE_COLUMNS)
        .outerjoin(System, System.id == ChangeRequest.system_id)
        .where(ChangeRequest.state != ChangeState.DRAFT.value, ChangeRequest.submitted_at.is_not(None), *_period(scope))
        .order_by(ChangeRequest.submitted_at, ChangeRequest.id)
    )
    if scope.site:
        query = query.where(System.site_code == scope.site)
    picked = session.execute(query).all()
    ids = [cr.id for cr in picked]
    approvals: dict[int, list[Any]] = defaultdict(list)
    people: dict[int, Person] = {}
    targets: dict[int, dt.datetime] = {}
    for chunk in _chunks(ids):
        for a in session.execute(select(*APPROVAL_COLUMNS).where(
            Approval.change_id.in_(chunk), Approval.kind == ParticipantKind.APPROVER.value,
            Approval.requested_at.is_not(None), Approval.state != ApprovalState.NOT_YET_REQUESTED.value,
        ).order_by(Approval.requested_at, Approval.id)):
            approvals[a.change_id].append(a)
        for change_id, target in session.execute(select(Timer.change_id, Timer.target_at).where(
            Timer.change_id.in_(chunk), Timer.kind == APPROVAL_TIMER, Timer.target_at.is_not(None),
        )):
            targets[change_id] = target
    person_ids = {a.person_id for rows in approvals.values() for a in rows if a.person_id is not None}
    for chunk in _chunks(sorted(person_ids)):
        people.update((p.id, p) for p in session.scalars(select(Person).where(Person.id.in_(chunk))).all())
    facts: list[ChangeFact] = []
    for cr in picked:
        site = cr.site_code
        rows = approvals.get(cr.id, [])
        rerouted = _reroutes(rows)
        replaced = {new: old for old, new in rerouted.items()}
        approval_facts = tuple(
            _approval_fact(a, cr, site, people.get(a.person_id or -1), calendars, roles,
                           rerouted_to=rerouted.get(a.id), rerouted_from=replaced.get(a.id))
            for a in rows
        )
        target = targets.get(cr.id)
        if target is None:
            policy = policies.get((cr.criticality or 4, cr.priority or 3))
            if policy is not None:
                calendar = calendars.of(site, always=policy[1] == "24x7")
                target = calendar.add_business_time(cr.submitted_at, dt.timedelta(minutes=policy[0]))
        decided = cr.decided_at
        facts.append(ChangeFact(
            id=cr.id, number=cr.number, title=cr.title,
            era=Era.GOVBOT if cr.origin == "govbot" else Era.HISTORY,
            site=site, change_type=(cr.change_type or "normal").lower(), purdue=cr.purdue_level,
            risk=(cr.risk or "").lower() or None, state=cr.state, system_id=cr.system_id,
            system_name=cr.system_label or cr.system_name, requested_at=cr.submitted_at, decided_at=decided,
            hours=_hours(cr.submitted_at, decided),
            business_days=calendars.business_days(site, cr.submitted_at, decided) if decided else None,
            sla_target=target, approvals=approval_facts,
        ))
    return facts


def _approval_fact(a: Any, cr: Any, site: str | None, person: Person | None, calendars: Calendars,
                   roles: RoleIndex, *, rerouted_to: int | None, rerouted_from: int | None) -> ApprovalFact:
    assert a.requested_at is not None
    role = a.role_name or roles.role_of(a.person_id, site)
    ended = a.decided_at if a.state in (*DECIDED, *WITHDRAWN) else None
    tz = (person.timezone if person is not None and person.timezone else None) or calendars.timezone(site)
    try:
        ZoneInfo(tz)
    except (ValueError, KeyError):
        tz = calendars.timezone(site)
    return ApprovalFact(
        id=a.id, change_id=cr.id, number=cr.number, person_id=a.person_id,
        person=person.display_name if person is not None else "unknown",
        left_on=person.left_on if person is not None and not person.active else None,
        role=role, side=roles.side_of(role, a.person_id),
        change_manager=role == roles.change_manager_role, state=a.state,
        requested_at=a.requested_at, ended_at=ended, hours=_hours(a.requested_at, ended),
        business_days=calendars.business_days(site, a.requested_at, ended) if ended else None,
        ended_weekday=_weekday(ended, tz) if ended else None, requested_weekday=_weekday(a.requested_at, tz),
        rerouted_to=rerouted_to, rerouted_from=rerouted_from,
    )


def _hours(start: dt.datetime, end: dt.datetime | None) -> float | None:
    if end is None:
        return None
    return max(0.0, (end - start).total_seconds() / 3600)


def _chunks(ids: Iterable[int], size: int = 500) -> Iterable[list[int]]:
    ordered = list(ids)
    for i in range(0, len(ordered), size):
        yield ordered[i:i + size]
