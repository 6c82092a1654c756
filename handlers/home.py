"""A person's home page: what waits for them and what needs fixing on their systems.

Five sections, in this order: pending approvals, what else is asked of them
(systems to confirm as theirs, ownership to accept or approve, governance gaps
assigned to them to fix), open requests they raised, systems they own, and
governance gaps on the systems they look after (owner,
technical manager, data steward, or member or manager of the team that runs or
supports the system).  Platform-neutral: adapters render the returned Reply as
a Slack Home tab, a Teams card or console text.  Gaps are the people and team
gaps (owner or technical manager left, no Accountable owner, a team that does not
exist), worded by :func:`governance_store.lint.system_gaps` as in every answer
about a system; ``govbot lint`` has the complete list.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from governance_store import attestation, gaps, transfers
from governance_store.changes import approvals_waiting_on, imported
from governance_store.lint import OPEN_CHANGE_STATES, system_gaps
from governance_store.models import (
    Attestation,
    ChangeRequest,
    Person,
    RoleAssignment,
    System,
    Team,
    TeamMember,
)
from handlers.reply import Actor, Reply, Section
from handlers.routes import Route, RouteKind
from handlers.services import Services

SECTION_APPROVALS = "My pending approvals"
SECTION_ASKED = "Asked of me"
SECTION_REQUESTS = "My open requests"
SECTION_SYSTEMS = "Systems I own"
SECTION_GAPS = "Governance gaps on my systems"

# Each section lists at most this many rows and then says how many more there are.
LIMIT = 10
# Systems examined for gaps, those nobody owns any more first; the scan also stops once a page is full.
GAP_SCAN = 200


def home_for(actor: Actor, *, session: Session, now: dt.datetime, services: Services | None = None) -> Reply:
    if actor.person_id is None:
        return Reply(
            text="You are not in the governance directory yet, so there is nothing to show here.",
            data={"status": "unknown_person"},
        )
    person = session.get(Person, actor.person_id)
    name = person.display_name if person is not None else actor.display_name
    approvals, n_approvals = _pending_approvals(session, person, now) if person is not None else ("", 0)
    asked, n_asked = _asked_of(session, person) if person is not None else ("", 0)
    requests, n_requests = _open_requests(session, actor.person_id)
    owned, n_owned = _owned_systems(session, actor.person_id)
    gaps, n_gaps = _gaps(session, actor.person_id)
    sections = (
        Section(title=SECTION_APPROVALS, text=approvals or "Nothing waits for your decision."),
        Section(title=SECTION_ASKED, text=asked or "No systems to confirm, no ownership to accept, no gaps to fix."),
        Section(title=SECTION_REQUESTS, text=requests or "You have no open change requests."),
        Section(title=SECTION_SYSTEMS, text=owned or "No system in the catalog names you as owner."),
        Section(title=SECTION_GAPS, text=gaps or "No gaps found on the systems you look after."),
    )
    return Reply(
        text=f"govbot home for {name}",
        sections=sections,
        data={
            "status": "answered",
            "pending_approvals": n_approvals,
            "asked": n_asked,
            "open_requests": n_requests,
            "systems_owned": n_owned,
            "gaps": n_gaps,
        },
    )


def _more(lines: list[str], total: int) -> str:
    if total > len(lines):
        lines = [*lines, f"…and {total - len(lines)} more"]
    return "\n".join(lines)


def _when(value: dt.datetime, person: Person) -> str:
    """A time in the person's own zone when the directory knows it, else in UTC; labelled either way."""
    try:
        zone: dt.tzinfo = ZoneInfo(person.timezone) if person.timezone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _pending_approvals(session: Session, person: Person, now: dt.datetime) -> tuple[str, int]:
    rows = approvals_waiting_on(person, session=session, now=now)
    rows.sort(key=lambda row: (row[1].due_at is None, row[1].due_at or now, row[1].id))
    lines = []
    for change, approval in rows[:LIMIT]:
        line = f"• {change.number}: {change.title}"
        if change.system_name:
            line += f" ({change.system_name})"
        if approval.person_id != person.id and approval.person is not None:
            why = "you are their delegate" if approval.person.active else "left; you act for them"
            line += f", for {approval.person.display_name} ({why})"
        elif approval.acting_for is not None:
            line += f", for {approval.acting_for.display_name} (left; you act for them)"
        if imported(change):
            line += ", decide in ServiceNow"
        elif approval.due_at is not None:
            line += f", due {_when(approval.due_at, person)}"
            if approval.due_at < now:
                line += " (overdue)"
        lines.append(line)
    return _more(lines, len(rows)), len(rows)


def _asked_of(session: Session, person: Person) -> tuple[str, int]:
    """Attestations, ownership requests and tracked gaps that wait on this person, and the command that
    shows each as a card with its buttons."""
    lines: list[str] = []
    pending = attestation.pending_for(person, session=session)
    by_campaign: dict[int, list[Attestation]] = {}
    for att in pending:
        by_campaign.setdefault(att.campaign_id, []).append(att)
    for atts in by_campaign.values():
        due = min(a.due_at for a in atts)
        names = ", ".join(a.system.name for a in atts[:3]) + (", …" if len(atts) > 3 else "")
        lines.append(f"• Confirm {len(atts)} system(s) as yours ({names}) for “{atts[0].campaign.name}”, "
                     f"due {_when(due, person)}: `attest`")
    requests = transfers.waiting_on(person, session=session)
    for req in requests:
        if req.to_id == person.id and req.state == "awaiting_acceptance":
            giver = f" from {req.from_person.display_name}" if req.from_person is not None else ""
            lines.append(f"• Accept ownership of {req.system.name}{giver}: `attest`")
        else:
            lines.append(f"• Approve {req.system.name} going to {req.to_person.display_name}: `attest`")
    assigned = gaps.assigned_to(person, session=session)
    for gap in assigned[:LIMIT]:
        lines.append(f"• Fix: {gap.title} ({gap.subject}): `gaps`")
    total = len(pending) + len(requests) + len(assigned)
    if len(assigned) > LIMIT:
        lines.append(f"…and {len(assigned) - LIMIT} more gaps: `gaps`")
    return "\n".join(lines), total


def _open_requests(session: Session, person_id: int) -> tuple[str, int]:
    rows = session.scalars(
        select(ChangeRequest)
        .where(ChangeRequest.requester_id == person_id, ChangeRequest.state.in_(OPEN_CHANGE_STATES))
        .order_by(ChangeRequest.created_at.desc(), ChangeRequest.id.desc())
    ).all()
    lines = [
        f"• {c.number}: {c.title} ({c.state})" + (f", {c.system_name}" if c.system_name else "") for c in rows[:LIMIT]
    ]
    return _more(lines, len(rows)), len(rows)


def _live(query: Select[tuple[System]]) -> Select[tuple[System]]:
    return query.where(or_(System.install_status.is_(None), System.install_status != "Retired"))


def _owned_systems(session: Session, person_id: int) -> tuple[str, int]:
    """Systems the person owns, and those owned by people who left and for whom they are the acting holder."""
    acting_for = select(RoleAssignment.acting_for_id).where(RoleAssignment.person_id == person_id,
                                                          RoleAssignment.acting_for_id.is_not(None))
    departed = select(Person.id).where(Person.id.in_(acting_for), Person.active.is_(False))
    mine = _live(select(System).where(or_(System.owner_id == person_id, System.owner_id.in_(departed))))
    total = session.scalar(select(func.count()).select_from(mine.subquery())) or 0
    rows = session.scalars(mine.options(selectinload(System.owner)).order_by(System.name).limit(LIMIT)).all()
    lines = []
    for s in rows:
        line = f"• {s.name}" + (f" ({s.site_code})" if s.site_code else "")
        if s.owner_id != person_id and s.owner is not None:
            line += f", acting for {s.owner.display_name} (left)"
        lines.append(line)
    return _more(lines, total), total


def _my_team_ids(session: Session, person_id: int) -> list[int]:
    member = select(TeamMember.team_id).where(TeamMember.person_id == person_id)
    managed = select(Team.id).where(Team.manager_id == person_id)
    return sorted(set(session.scalars(member).all()) | set(session.scalars(managed).all()))


def _gaps(session: Session, person_id: int) -> tuple[str, int]:
    """Gaps (as the governance lint words them) on the systems this person looks after, worst first."""
    teams = _my_team_ids(session, person_id)
    mine = [
        System.owner_id == person_id,
        System.technical_manager_id == person_id,
        System.data_steward_id == person_id,
    ]
    if teams:
        mine += [System.managed_by_team_id.in_(teams), System.support_team_id.in_(teams)]
    owner, manager = aliased(Person), aliased(Person)
    nobody_owns = case((System.owner_id.is_(None), 0), (owner.active.is_(False), 0), else_=1)
    # Only systems that can have a people or team gap are worded by the lint (which is thorough, not cheap).
    may_have_gaps = or_(
        System.owner_id.is_(None),
        owner.active.is_(False),
        manager.active.is_(False),
        and_(System.support_group_name.is_not(None), System.support_team_id.is_(None)),
        and_(System.assignment_group_name.is_not(None), System.assignment_team_id.is_(None)),
        and_(System.managed_by_group_name.is_not(None), System.managed_by_team_id.is_(None)),
    )
    query = (
        _live(
            select(System)
            .outerjoin(owner, System.owner_id == owner.id)
            .outerjoin(manager, System.technical_manager_id == manager.id)
            .where(or_(*mine), may_have_gaps)
        )
        .order_by(nobody_owns, System.name)
        .limit(GAP_SCAN)
    )
    lines: list[str] = []
    for system in session.scalars(query).all():
        gaps = system_gaps(system, session=session)
        if not gaps:
            continue
        if len(lines) == LIMIT:
            # A page is full; the governance lint has the complete list.
            lines.append("…and more: `govbot lint` lists every gap")
            break
        lines.append(f"• {system.name}: " + "; ".join(gaps))
    shown = sum(1 for line in lines if line.startswith("• "))
    return "\n".join(lines), shown


ROUTES = (Route(RouteKind.HOME, "", home_for),)
