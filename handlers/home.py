"""A person's home page: what waits for them and what needs fixing on their systems.

Four sections, in this order: pending approvals, open requests they raised,
systems they own, and governance gaps on the systems they look after (owner,
technical manager, data steward, or member or manager of the team that runs or
supports the system).  Platform-neutral: adapters render the returned Reply as
a Slack Home tab, a Teams card or console text.  Gaps are the people and team
gaps (owner or technical manager left, no Accountable owner, a team that does not
exist), worded by :func:`governance_store.lint.system_gaps` as in every answer
about a system; ``govbot lint`` has the complete list.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from governance_store.lint import OPEN_CHANGE_STATES, system_gaps
from governance_store.models import (
    Approval,
    ApprovalState,
    ChangeRequest,
    ParticipantKind,
    Person,
    System,
    Team,
    TeamMember,
)
from handlers.reply import Actor, Reply, Section

SECTION_APPROVALS = "My pending approvals"
SECTION_REQUESTS = "My open requests"
SECTION_SYSTEMS = "Systems I own"
SECTION_GAPS = "Governance gaps on my systems"

# Each section lists at most this many rows and then says how many more there are.
LIMIT = 10
# Systems examined for gaps, those nobody owns any more first; the scan also stops once a page is full.
GAP_SCAN = 200


def home_for(actor: Actor, *, session: Session, now: dt.datetime) -> Reply:
    if actor.person_id is None:
        return Reply(
            text="You are not in the governance directory yet, so there is nothing to show here.",
            data={"status": "unknown_person"},
        )
    person = session.get(Person, actor.person_id)
    name = person.display_name if person is not None else actor.display_name
    approvals, n_approvals = _pending_approvals(session, actor.person_id, now)
    requests, n_requests = _open_requests(session, actor.person_id)
    owned, n_owned = _owned_systems(session, actor.person_id)
    gaps, n_gaps = _gaps(session, actor.person_id)
    sections = (
        Section(title=SECTION_APPROVALS, text=approvals or "Nothing waits for your decision."),
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
            "open_requests": n_requests,
            "systems_owned": n_owned,
            "gaps": n_gaps,
        },
    )


def _more(lines: list[str], total: int) -> str:
    if total > len(lines):
        lines = [*lines, f"…and {total - len(lines)} more"]
    return "\n".join(lines)


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _pending_approvals(session: Session, person_id: int, now: dt.datetime) -> tuple[str, int]:
    rows = session.scalars(
        select(Approval)
        .where(
            Approval.person_id == person_id,
            Approval.state == ApprovalState.REQUESTED.value,
            Approval.kind == ParticipantKind.APPROVER.value,
        )
        .options(selectinload(Approval.change))
        .order_by(Approval.due_at.is_(None), Approval.due_at, Approval.id)
    ).all()
    lines = []
    for approval in rows[:LIMIT]:
        change = approval.change
        line = f"• {change.number}: {change.title}"
        if change.system_name:
            line += f" ({change.system_name})"
        if approval.due_at is not None:
            line += f", due {_when(approval.due_at)}"
            if approval.due_at < now:
                line += " (overdue)"
        lines.append(line)
    return _more(lines, len(rows)), len(rows)


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
    mine = _live(select(System).where(System.owner_id == person_id))
    total = session.scalar(select(func.count()).select_from(mine.subquery())) or 0
    rows = session.scalars(mine.order_by(System.name).limit(LIMIT)).all()
    lines = [f"• {s.name}" + (f" ({s.site_code})" if s.site_code else "") for s in rows]
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
