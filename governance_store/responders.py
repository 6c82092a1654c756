"""Who answers for what: the person behind an owner who left, the Accountable of a system's area, the
holder of a role for a system, and whom an unanswered request escalates to.

Each returns active people from the directory only (``Person`` rows), with a short reason that cards and
the audit trail quote ("acting for Gregory Maddox", "Accountable for changes (ACT-01)").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from governance_store import raci
from governance_store.models import Person, System, Team


@dataclass(frozen=True)
class Responder:
    person: Person
    because: str


def stand_in(person: Person | None, *, session: Session) -> Responder | None:
    """``person`` when active, else the acting holder named for them (their role assignments)."""
    if person is None:
        return None
    if person.active:
        return Responder(person, "")
    ref = raci.acting_for(person.id, session=session)
    acting = session.get(Person, ref.id) if ref is not None else None
    if acting is not None and acting.active:
        return Responder(acting, f"acting for {person.display_name}, who left")
    return None


def _active(refs: list[raci.PersonRef], *, session: Session) -> list[Person]:
    out = []
    for ref in refs:
        person = session.get(Person, ref.id)
        if person is not None and person.active and person not in out:
            out.append(person)
    return out


def role_people(role: str, system: System | None, *, session: Session, site_code: str | None = None) -> list[Person]:
    """Active people holding ``role`` at the most specific scope covering the system (or site); for a team
    holder its manager, else its active members."""
    out: list[Person] = []
    for holder in raci.role_holders(role, system, session=session, site_code=site_code):
        if holder.team is not None:
            team = session.get(Team, holder.team.id)
            manager = team.manager if team is not None else None
            if manager is not None and manager.active:
                people = [manager]
            else:
                people = _active(list(holder.team.members), session=session)
        else:
            people = _active(holder.people(), session=session)
        out += [p for p in people if p not in out]
    return out


def area_accountable(system: System, *, session: Session, fallback_role: str | None = None) -> Responder | None:
    """The Accountable of the system's area: the A of the change activity that governs it (at the most
    specific scope), else the holder of ``fallback_role``."""
    activity = raci.change_activity_for(system, session=session)
    if activity is not None:
        result = raci.resolve_activity(activity, system, session=session)
        people = _active(result.people("A"), session=session)
        if people:
            return Responder(people[0], f"Accountable for changes to {system.name} ({activity.activity_id})")
    if fallback_role:
        people = role_people(fallback_role, system, session=session)
        if people:
            return Responder(people[0], f"{fallback_role} of {system.site_code or 'the organisation'}")
    return None


def manager_of(person: Person | None) -> Person | None:
    manager = person.manager if person is not None else None
    return manager if manager is not None and manager.active else None
