"""RACI resolution: who is Responsible, Accountable, Consulted and Informed for an
activity on one system, taking each role's holder at the most specific scope that
covers the system (system, then line or cell, area, site, global)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process, utils
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from governance_store.models import (
    Activity,
    HierarchyNode,
    Person,
    RaciEntry,
    Role,
    RoleAssignment,
    ScopeType,
    System,
    Team,
    TeamMember,
)
from governance_store.wording import Wording

LETTERS = ("R", "A", "C", "I")
LETTER_NAMES = {"R": "responsible", "A": "accountable", "C": "consulted", "I": "informed"}


@dataclass(frozen=True)
class PersonRef:
    id: int
    name: str
    email: str
    active: bool
    title: str | None = None
    left_on: str | None = None

    @classmethod
    def of(cls, person: Person) -> PersonRef:
        return cls(
            id=person.id,
            name=person.display_name,
            email=person.email,
            active=person.active,
            title=person.title,
            left_on=person.left_on.isoformat() if person.left_on else None,
        )

    def label(self) -> str:
        if self.active:
            return self.name
        return f"{self.name} (left {self.left_on})" if self.left_on else f"{self.name} (left)"

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "email": self.email, "active": self.active}


@dataclass(frozen=True)
class TeamRef:
    id: int
    name: str
    channel: str | None
    email: str | None
    members: tuple[PersonRef, ...]

    def label(self) -> str:
        return f"{self.name} ({self.channel})" if self.channel else self.name


@dataclass(frozen=True)
class Holder:
    """The holder of one role for one system: a person or a team, and who acts if they left."""

    role: str
    scope: str
    person: PersonRef | None = None
    team: TeamRef | None = None
    acting: PersonRef | None = None

    def label(self) -> str:
        if self.team is not None:
            base = self.team.label()
        elif self.person is not None:
            base = self.person.label()
        else:
            base = "nobody"
        if self.acting is not None:
            base += f", acting: {self.acting.name}"
        return f"{base} — {self.role}"

    def people(self) -> list[PersonRef]:
        """The people who act for this holder: the acting holder, the person, or the team's members."""
        if self.person is not None:
            if not self.person.active and self.acting is not None:
                return [self.acting]
            return [self.person]
        if self.team is not None:
            return [m for m in self.team.members if m.active]
        return []


@dataclass
class RaciResult:
    activity_id: str
    activity_name: str
    notes: str | None
    holders: dict[str, list[Holder]] = field(default_factory=lambda: {k: [] for k in LETTERS})
    warnings: list[str] = field(default_factory=list)

    def people(self, letter: str) -> list[PersonRef]:
        seen: dict[int, PersonRef] = {}
        for holder in self.holders[letter]:
            for person in holder.people():
                seen.setdefault(person.id, person)
        return list(seen.values())


# --------------------------------------------------------------------------- scopes


def scope_chain(system: System, *, session: Session) -> list[tuple[ScopeType, str]]:
    """The scopes covering ``system``, most specific first."""
    chain: list[tuple[ScopeType, str]] = [(ScopeType.SYSTEM, system.key), (ScopeType.SYSTEM, system.name)]
    node_id = system.node_id
    nodes = _node_index(session)
    while node_id:
        node = nodes.get(node_id)
        if node is None:
            break
        level, parent = node
        if level in ("production_line", "process_cell", "production_unit", "storage_zone", "work_cell"):
            chain.append((ScopeType.LINE, node_id))
        elif level == "area":
            chain.append((ScopeType.AREA, node_id))
        node_id = parent
    if system.site_code:
        chain.append((ScopeType.SITE, system.site_code))
    chain.append((ScopeType.GLOBAL, ""))
    return chain


def _node_index(session: Session) -> dict[str, tuple[str, str | None]]:
    cache = session.info.get("_node_index")
    if cache is None:
        rows = session.execute(
            select(HierarchyNode.node_id, HierarchyNode.level, HierarchyNode.parent_id, HierarchyNode.id)
        ).all()
        by_pk = {r.id: r.node_id for r in rows}
        cache = {r.node_id: (r.level, by_pk.get(r.parent_id) if r.parent_id else None) for r in rows}
        session.info["_node_index"] = cache
    return cache


def _scope_label(scope_type: str, scope_key: str) -> str:
    return "global" if scope_type == ScopeType.GLOBAL else f"{scope_type} {scope_key}"


# --------------------------------------------------------------------------- holders


def acting_for(person_id: int, *, session: Session) -> PersonRef | None:
    """Who acts for a person who left (a role assignment naming them as ``acting_for``)."""
    row = session.scalars(
        select(RoleAssignment)
        .where(RoleAssignment.acting_for_id == person_id, RoleAssignment.person_id.is_not(None))
        .options(selectinload(RoleAssignment.person))
        .order_by(RoleAssignment.valid_from.desc())
    ).first()
    if row is None or row.person is None:
        return None
    return PersonRef.of(row.person)


def team_ref(team: Team, *, session: Session) -> TeamRef:
    members = session.scalars(
        select(Person).join(TeamMember, TeamMember.person_id == Person.id).where(TeamMember.team_id == team.id)
        .order_by(Person.display_name)
    ).all()
    return TeamRef(
        id=team.id,
        name=team.name,
        channel=team.channel,
        email=team.email,
        members=tuple(PersonRef.of(p) for p in members),
    )


def person_holder(role: str, scope: str, person: Person, *, session: Session) -> Holder:
    ref = PersonRef.of(person)
    acting = None if person.active else acting_for(person.id, session=session)
    return Holder(role=role, scope=scope, person=ref, acting=acting)


def role_holders(role_name: str, system: System | None, *, session: Session, site_code: str | None = None) -> list[Holder]:
    """Holders of ``role_name`` at the most specific scope covering ``system`` (or a site)."""
    assignments = session.scalars(
        select(RoleAssignment)
        .join(Role)
        .where(Role.name == role_name)
        .options(selectinload(RoleAssignment.person), selectinload(RoleAssignment.team))
    ).all()
    if not assignments:
        return []
    if system is not None:
        chain = scope_chain(system, session=session)
    else:
        chain = ([(ScopeType.SITE, site_code)] if site_code else []) + [(ScopeType.GLOBAL, "")]
    rank = {(str(t), k.casefold()): i for i, (t, k) in reversed(list(enumerate(chain)))}
    best: int | None = None
    chosen: list[RoleAssignment] = []
    for a in assignments:
        if a.valid_to is not None:
            continue
        pos = rank.get((a.scope_type, (a.scope_key or "").casefold()))
        if pos is None:
            continue
        if best is None or pos < best:
            best, chosen = pos, [a]
        elif pos == best:
            chosen.append(a)
    holders = []
    for a in chosen:
        scope = _scope_label(a.scope_type, a.scope_key)
        if a.person is not None:
            holders.append(person_holder(role_name, scope, a.person, session=session))
        elif a.team is not None:
            holders.append(Holder(role=role_name, scope=scope, team=team_ref(a.team, session=session)))
        else:
            holders.append(Holder(role=role_name, scope=scope))
    return holders


def resolve_activity(activity: Activity, system: System, *, session: Session) -> RaciResult:
    result = RaciResult(activity_id=activity.activity_id, activity_name=activity.name, notes=activity.notes)
    entries = session.scalars(
        select(RaciEntry).where(RaciEntry.activity_id == activity.id).options(selectinload(RaciEntry.role))
    ).all()
    letters = with_picked_accountable([(e.letter, e.role.name) for e in entries], activity, session=session)
    for letter, role_name in sorted(letters, key=lambda e: (LETTERS.index(e[0]), e[1])):
        holders = role_holders(role_name, system, session=session)
        if not holders:
            result.warnings.append(Wording("No holder of role '{role}' covers {system}", role=role_name,
                                           system=system.name))
            holders = [Holder(role=role_name, scope="unassigned")]
        result.holders[letter].extend(holders)
        for h in holders:
            if h.person is not None and not h.person.active:
                if h.acting:
                    result.warnings.append(Wording("{role} {name} left the company; acting: {acting}", role=h.role,
                                                   name=h.person.name, acting=h.acting.name))
                else:
                    result.warnings.append(Wording("{role} {name} left the company; nobody acting", role=h.role,
                                                   name=h.person.name))
    accountable = [role for letter, role in letters if letter == "A"]
    if not accountable:
        result.warnings.append(Wording("{activity} has no Accountable role", activity=activity.activity_id))
    elif len(accountable) > 1:
        result.warnings.append(Wording("{activity} has {n} Accountable roles: {roles}", activity=activity.activity_id,
                                       n=len(accountable), roles=", ".join(sorted(accountable))))
    return result


def with_picked_accountable(letters: list[tuple[str, str]], activity: Activity, *,
                            session: Session) -> list[tuple[str, str]]:
    """The (letter, role) pairs of an activity with the Accountable picked in govbot applied: that role is
    the one A, any other role the matrix marks A is Responsible instead."""
    from governance_store import facts

    fact = facts.get(session, table="activities", row_id=activity.id, column=facts.ACCOUNTABLE_ROLE)
    picked = facts.value_of(fact) if fact is not None else None
    if not picked:
        return letters
    out: list[tuple[str, str]] = []
    for letter, role in letters:
        if letter == "A" and role != picked:
            letter = "R"
        if (letter, role) not in out:
            out.append((letter, role))
    if ("A", picked) not in out:
        out.append(("A", picked))
    return out


# --------------------------------------------------------------------------- activities

_LEVEL_RANGE = re.compile(r"level\s*(\d(?:\.5)?)\s*(?:-\s*(\d(?:\.5)?))?", re.IGNORECASE)


def _purdue_value(level: str | None) -> float | None:
    if level is None or level == "":
        return None
    if level.lower() == "cloud":
        return 6.0
    try:
        return float(level)
    except ValueError:
        return None


_ACTIVITIES = select(Activity)  # built once: every answer about a system reads the activities


def change_activity_for(system: System, *, session: Session, emergency: bool = False) -> Activity | None:
    """The change-approval activity that governs ``system`` (data-driven from the RACI matrix).

    Change activities are the matrix rows whose process area or name speaks of
    change; the Purdue range in the name ("OT Level 0-2", "Level 3 site systems")
    decides, and IT/enterprise systems (level 4, 5, cloud) take the IT row.
    """
    activities = session.scalars(_ACTIVITIES).all()
    changes = [
        a for a in activities
        if "change" in (a.process_area or "").lower() and "change" in a.name.lower()
        and "firewall" not in a.name.lower()
    ]
    level = _purdue_value(system.purdue_level)
    is_ot = system.domain == "OT" or (level is not None and level <= 3.5)
    if emergency:
        for a in changes:
            if "emergency" in a.name.lower() and (" ot" in a.name.lower() or not is_ot):
                return a
        return None
    normal = [a for a in changes if "emergency" not in a.name.lower()]
    if is_ot and level is not None:
        best: Activity | None = None
        for a in normal:
            m = _LEVEL_RANGE.search(a.name)
            if not m:
                continue
            lo = float(m.group(1))
            hi = float(m.group(2)) if m.group(2) else lo
            if lo <= level <= hi or (hi == 3 and level == 3.5):
                best = a
                break
        if best is not None:
            return best
    for a in normal:
        low = a.name.lower()
        if "enterprise" in low or re.search(r"\bit\b", low):
            return a
    return normal[0] if normal else None


def find_activity(text: str, *, session: Session, system: System | None = None) -> tuple[Activity | None, list[Activity]]:
    """Match free text ("firmware update", "ACT-07", "patching") to a RACI activity.

    Returns the best activity (or None) and close alternatives.
    """
    activities = session.scalars(select(Activity)).all()
    if not activities:
        return None, []
    q = text.strip()
    for a in activities:
        if a.activity_id.casefold() == q.casefold():
            return a, []
    if not q:
        return None, []
    choices = {a.id: f"{a.name} {a.process_area or ''}" for a in activities}
    ranked = process.extract(q, choices, scorer=fuzz.token_set_ratio, processor=utils.default_process, limit=5)
    by_id = {a.id: a for a in activities}
    scored = [(by_id[key], score) for _name, score, key in ranked if score >= 60]
    if not scored:
        return None, [by_id[key] for _n, _s, key in ranked[:3]]
    if system is not None and len(scored) > 1:
        # Prefer the activity whose Purdue range covers the system when scores tie.
        level = _purdue_value(system.purdue_level)
        top = scored[0][1]
        tied = [a for a, s in scored if s >= top - 3]
        for a in tied:
            m = _LEVEL_RANGE.search(a.name)
            if m and level is not None:
                lo = float(m.group(1))
                hi = float(m.group(2)) if m.group(2) else lo
                if lo <= level <= hi:
                    return a, [x for x, _ in scored if x is not a]
    best = scored[0][0]
    return best, [a for a, _ in scored[1:]]


def systems_of_person(person: Person, *, session: Session) -> dict[str, list[System]]:
    owned = session.scalars(select(System).where(System.owner_id == person.id).order_by(System.name)).all()
    managed = session.scalars(
        select(System).where(System.technical_manager_id == person.id).order_by(System.name)
    ).all()
    groups = {"owner": list(owned), "technical manager": list(managed)}
    departed = select(RoleAssignment.acting_for_id).join(Person, Person.id == RoleAssignment.acting_for_id).where(
        RoleAssignment.person_id == person.id, Person.active.is_(False))
    acting = session.scalars(select(System).where(System.owner_id.in_(departed)).order_by(System.name)).all()
    if acting:
        groups["acting owner (for someone who left)"] = list(acting)
    return groups


def systems_of_team(team: Team, *, session: Session) -> dict[str, list[System]]:
    support = session.scalars(select(System).where(System.support_team_id == team.id).order_by(System.name)).all()
    managed = session.scalars(
        select(System).where(System.managed_by_team_id == team.id).order_by(System.name)
    ).all()
    return {"support group": list(support), "managing group": list(managed)}


def roles_held(person: Person, *, session: Session) -> list[RoleAssignment]:
    team_ids = session.scalars(select(TeamMember.team_id).where(TeamMember.person_id == person.id)).all()
    conds = [RoleAssignment.person_id == person.id]
    if team_ids:
        conds.append(RoleAssignment.team_id.in_(team_ids))
    from sqlalchemy import or_

    return list(
        session.scalars(
            select(RoleAssignment).where(or_(*conds)).options(selectinload(RoleAssignment.role))
        ).all()
    )


def unique_people(holders: Iterable[Holder]) -> list[PersonRef]:
    seen: dict[int, PersonRef] = {}
    for h in holders:
        for p in h.people():
            seen.setdefault(p.id, p)
    return list(seen.values())
