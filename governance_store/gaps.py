"""Gaps become work: every governance lint finding is a tracked gap with someone who can fix it.

:func:`sync` runs the lint and reconciles the tracked gaps with what it found: a new finding opens a gap
and routes it (:class:`GapRouter`), a finding no longer found closes its gap, and a closed gap found
again reopens.  Who fixes what, by default (role names from the policy's ``routing``):

=============================  ==========================================================================
finding                        routed to
=============================  ==========================================================================
system without an owner        the OT Engineering Lead of the system (Purdue 0-3), else the IT owner role
owner / manager who left       the acting holder named for them, to confirm the takeover
two Accountables, none         the RACI owner role
asset not in the CMDB, rogue   the OT security lead of the asset's site
retired but seen, duplicate    the system's owner (or their acting holder), else the area's Accountable
chat account / unreachable     the person's manager (who can vouch for their chat account)
import disagrees               the system's owner (or their acting holder), else whoever confirmed it
=============================  ==========================================================================

and anything else to the RACI owner.  When nobody holds the role, the Accountable of the system's area
takes it; a gap with nobody at all stays unassigned (the dashboard lists it).

The fixes (:func:`fix`) change the store in one click and close the gap at once; the next sync verifies
it: a finding that is still there reopens its gap.  Every fix and every refusal is in the audit trail.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from governance_store import audit, facts, transfers
from governance_store.lint import Finding, LintReport, run_lint
from governance_store.models import (
    Activity,
    ChatIdentity,
    EscalationChain,
    EscalationLevel,
    GapState,
    OwnershipRequestKind,
    Person,
    RaciEntry,
    System,
    Team,
    TrackedGap,
)
from governance_store.ownership_policy import OwnershipPolicy
from governance_store.responders import area_accountable, manager_of, role_people, stand_in


class Fix(StrEnum):
    TAKE_OVER = "take_over"  # an owner who left: the acting holder takes the system over
    OWN = "own"  # a system without an owner: "I'll own it" (a claim)
    PICK_ACCOUNTABLE = "pick"  # an activity with no or several Accountables: this role is the A
    MANAGE_TEAM = "manage_team"  # a team manager who left: the acting holder manages the team
    REPLACE_TARGET = "replace_target"  # an escalation target who left: the acting holder is reached instead
    KNOWN = "known"  # an asset not in the CMDB belongs (register it)
    ROGUE = "rogue"  # an asset not in the CMDB is rogue (take it off the network)
    RETIRE_DUPLICATE = "retire_dup"  # a near-duplicate record is retired
    NOT_DUPLICATES = "not_dups"  # they are different systems
    BACK_IN_SERVICE = "in_service"  # retired in the CMDB but still in use
    DISCONNECTING = "disconnecting"  # retired and being taken off the network (the gap stays until it is)
    USE_TEAM = "use_team"  # an unknown team name: use this team instead
    LINK_CHAT = "link_chat"  # a chat account belongs to this person
    EMAIL_ONLY = "email_only"  # this person is reached by e-mail, not in chat
    KEEP_GOVBOT = "keep"  # an import disagrees: keep govbot's value
    TAKE_IMPORT = "take_import"  # an import disagrees: the import is right


@dataclass(frozen=True)
class Assignment:
    person: Person | None
    because: str


@dataclass(frozen=True)
class Option:
    """One way to fix a gap in a click: shown as a button."""

    fix: Fix
    label: str
    arg: str = ""
    closes: bool = True


class GapError(Exception):
    """A fix that cannot be applied as asked."""


class NotAllowed(GapError):
    """Someone other than the gap's assignee tried to fix it (already in the audit trail)."""


# --------------------------------------------------------------------------- routing


class GapRouter:
    """Who fixes each finding (memoised for one sync)."""

    def __init__(self, *, session: Session, policy: OwnershipPolicy) -> None:
        self.session = session
        self.policy = policy
        self._roles: dict[tuple[str, int | None], list[Person]] = {}

    def _role(self, role: str, system: System | None) -> Person | None:
        key = (role, system.id if system is not None else None)
        if key not in self._roles:
            self._roles[key] = role_people(role, system, session=self.session)
        people = self._roles[key]
        return people[0] if people else None

    def _system(self, finding: Finding, index: int = 0) -> System | None:
        return self.session.get(System, finding.system_ids[index]) if len(finding.system_ids) > index else None

    def _person(self, finding: Finding) -> Person | None:
        return self.session.get(Person, finding.person_ids[0]) if finding.person_ids else None

    def _raci_owner(self) -> Assignment:
        role = self.policy.routing.raci_owner_role
        person = self._role(role, None)
        return Assignment(person, f"{role}, who owns the RACI matrix" if person else "")

    def _accountable(self, system: System | None) -> Assignment:
        if system is None:
            return self._raci_owner()
        found = area_accountable(system, session=self.session, fallback_role=self.policy.routing.approver_fallback_role)
        return Assignment(found.person, found.because) if found is not None else self._raci_owner()

    def _owner(self, system: System | None) -> Assignment:
        holder = stand_in(system.owner, session=self.session) if system is not None else None
        if holder is not None:
            because = f"owner of {system.name}" if not holder.because else f"{holder.because} (owner of {system.name})"  # type: ignore[union-attr]
            return Assignment(holder.person, because)
        return self._accountable(system)

    def _acting(self, person: Person | None, what: str, system: System | None = None) -> Assignment:
        holder = stand_in(person, session=self.session) if person is not None else None
        if holder is not None and holder.person.id != (person.id if person else None):
            return Assignment(holder.person, f"acting holder for {person.display_name} ({what})")  # type: ignore[union-attr]
        manager = manager_of(person)
        if manager is not None:
            return Assignment(manager, f"manager of {person.display_name}, who left ({what})")  # type: ignore[union-attr]
        return self._accountable(system) if system is not None else self._raci_owner()

    def route(self, finding: Finding) -> Assignment:
        code = finding.code
        system = self._system(finding)
        if code == "NO_ACCOUNTABLE_OWNER":
            ot = system is not None and (system.domain == "OT" or (system.purdue_level or "") in ("0", "1", "2", "3"))
            role = self.policy.routing.no_owner_ot_role if ot else self.policy.routing.no_owner_it_role
            person = self._role(role, system)
            if person is not None:
                return Assignment(person, f"{role} of {system.site_code if system else 'the organisation'} "
                                          "(the system has no owner)")
            return self._accountable(system)
        if code in ("DEPARTED_OWNER", "DEPARTED_TEAM_MANAGER", "DEPARTED_ESCALATION_TARGET", "DEPARTED_ROLE_HOLDER",
                    "DEPARTED_APPROVER"):
            return self._acting(self._person(finding), "to confirm the takeover", system)
        if code in ("ACTIVITY_NO_ACCOUNTABLE", "ACTIVITY_MULTIPLE_ACCOUNTABLE", "UNKNOWN_PERSON"):
            return self._raci_owner()
        if code == "UNKNOWN_TEAM":
            return self._accountable(system) if system is not None else self._raci_owner()
        if code in ("NOT_IN_CMDB", "ROGUE_ASSET_SEEN"):
            role = self.policy.routing.security_lead_role
            person = self._role(role, system)
            if person is not None:
                return Assignment(person, f"{role} of {system.site_code if system else 'the organisation'}")
            return self._accountable(system)
        if code in ("RETIRED_BUT_SEEN", "DUPLICATE_SYSTEM", "IMPORT_DISAGREES"):
            return self._owner(system)
        if code in ("UNREACHABLE_IN_CHAT", "UNMATCHED_CHAT_IDENTITY"):
            person = self._person(finding) if code == "UNREACHABLE_IN_CHAT" else self._chat_owner(finding)
            manager = manager_of(person)
            if manager is not None and person is not None:
                return Assignment(manager, f"manager of {person.display_name}")
            return self._raci_owner()
        return self._accountable(system) if system is not None else self._raci_owner()

    def _chat_owner(self, finding: Finding) -> Person | None:
        """The directory person an unmatched chat account most likely belongs to (same name)."""
        ident = chat_identity(self.session, finding.subject)
        return person_named(self.session, ident.display_name if ident else None)


def chat_identity(session: Session, subject: str) -> ChatIdentity | None:
    platform, _, external = subject.partition(":")
    return session.scalar(select(ChatIdentity).where(ChatIdentity.platform == platform,
                                                     ChatIdentity.external_id == external))


def person_named(session: Session, name: str | None) -> Person | None:
    if not name:
        return None
    found = session.scalars(select(Person).where(func.lower(Person.display_name) == name.strip().lower(),
                                                 Person.active.is_(True))).all()
    return found[0] if len(found) == 1 else None


# --------------------------------------------------------------------------- syncing with the lint


@dataclass
class SyncResult:
    opened: list[TrackedGap] = field(default_factory=list)
    reopened: list[TrackedGap] = field(default_factory=list)
    closed: list[TrackedGap] = field(default_factory=list)
    reassigned: list[TrackedGap] = field(default_factory=list)

    @property
    def new_work(self) -> list[TrackedGap]:
        return self.opened + self.reopened + self.reassigned


def _site(finding: Finding, session: Session) -> str | None:
    for system_id in finding.system_ids:
        system = session.get(System, system_id)
        if system is not None and system.site_code:
            return system.site_code
    return None


_SYNC_LOCK_KEY = 0x6A95C0DE  # any constant shared by every process that syncs the tracked gaps


def sync(*, session: Session, now: dt.datetime, policy: OwnershipPolicy, report: LintReport | None = None) -> SyncResult:
    """Reconcile the tracked gaps with the governance lint (run now unless ``report`` is given).

    Replicas run this on the same schedule: on PostgreSQL a transaction-level advisory lock makes them take
    turns, so the second one sees the gaps the first opened instead of opening them again.  On SQLite the
    same comes from taking the database's write lock before reading anything."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SYNC_LOCK_KEY})
    else:
        session.execute(text("UPDATE tracked_gaps SET id = id WHERE 1 = 0"))
    report = report if report is not None else run_lint(session=session)
    router = GapRouter(session=session, policy=policy)
    found = {f.key: f for f in report.findings}
    tracked = {g.key: g for g in session.scalars(select(TrackedGap)).all()}
    result = SyncResult()
    entries: list[tuple[dt.datetime, str, str, str, dict[str, Any]]] = []
    for key, finding in found.items():
        gap = tracked.get(key[:500])
        if gap is None:
            who = router.route(finding)
            gap = TrackedGap(key=key[:500], code=finding.code, severity=finding.severity, title=finding.title[:300],
                             subject=finding.subject[:500], evidence=list(finding.evidence),
                             system_ids=list(finding.system_ids), site_code=_site(finding, session),
                             assignee_id=who.person.id if who.person else None, assigned_because=who.because,
                             state=GapState.OPEN.value, opened_at=now, last_seen_at=now, reopened=0)
            session.add(gap)
            result.opened.append(gap)
            entries.append((now, "gap.opened", "gap", finding.subject[:80],
                            {"code": finding.code, "assignee": who.person.email if who.person else None,
                             "because": who.because}))
            continue
        gap.last_seen_at = now
        gap.evidence, gap.system_ids = list(finding.evidence), list(finding.system_ids)
        if gap.state == GapState.CLOSED.value:
            who = router.route(finding)
            gap.state, gap.closed_at, gap.reopened = GapState.OPEN.value, None, gap.reopened + 1
            gap.assignee_id, gap.assigned_because = (who.person.id if who.person else None), who.because
            why = "the fix did not remove it" if gap.fix else "found again"
            gap.fix, gap.fixed_by_id = None, None
            result.reopened.append(gap)
            entries.append((now, "gap.reopened", "gap", gap.subject[:80],
                            {"code": gap.code, "why": why, "assignee": who.person.email if who.person else None}))
            continue
        assignee = session.get(Person, gap.assignee_id) if gap.assignee_id else None
        if assignee is None or not assignee.active:
            who = router.route(finding)
            if who.person is not None and who.person.id != gap.assignee_id:
                gap.assignee_id, gap.assigned_because = who.person.id, who.because
                result.reassigned.append(gap)
                entries.append((now, "gap.reassigned", "gap", gap.subject[:80],
                                {"code": gap.code, "assignee": who.person.email, "because": who.because}))
    for key, gap in tracked.items():
        if key in found or gap.state != GapState.OPEN.value:
            continue
        if any(k[:500] == key for k in found):
            continue
        gap.state, gap.closed_at = GapState.CLOSED.value, now
        result.closed.append(gap)
        entries.append((now, "gap.closed", "gap", gap.subject[:80], {"code": gap.code, "fix": gap.fix}))
    session.flush()
    if entries:
        audit.record_many(session, entries)
    return result


# --------------------------------------------------------------------------- one-click fixes


def options(gap: TrackedGap, *, session: Session) -> list[Option]:
    """The fixes offered on a gap's card (those that need no typing)."""
    code = gap.code
    systems = [s for s in (session.get(System, i) for i in gap.system_ids) if s is not None]
    if gap.state != GapState.OPEN.value:
        return []
    if code == "DEPARTED_OWNER":
        return [Option(Fix.TAKE_OVER, "I take it over")]
    if code == "NO_ACCOUNTABLE_OWNER":
        return [Option(Fix.OWN, "I'll own it")]
    if code in ("ACTIVITY_MULTIPLE_ACCOUNTABLE", "ACTIVITY_NO_ACCOUNTABLE"):
        activity = session.scalar(select(Activity).where(Activity.activity_id == gap.subject))
        if activity is None:
            return []
        entries = session.scalars(select(RaciEntry).where(RaciEntry.activity_id == activity.id)).all()
        wanted = "A" if code == "ACTIVITY_MULTIPLE_ACCOUNTABLE" else "R"
        roles = sorted({e.role.name for e in entries if e.letter == wanted}) or sorted({e.role.name for e in entries})
        return [Option(Fix.PICK_ACCOUNTABLE, f"Accountable: {r}"[:75], r) for r in roles[:6]]
    if code == "DEPARTED_TEAM_MANAGER":
        return [Option(Fix.MANAGE_TEAM, "I manage the team now")]
    if code == "DEPARTED_ESCALATION_TARGET":
        return [Option(Fix.REPLACE_TARGET, "Reach me instead")]
    if code == "NOT_IN_CMDB":
        return [Option(Fix.KNOWN, "Known: add to the CMDB"), Option(Fix.ROGUE, "Rogue: remove it")]
    if code == "DUPLICATE_SYSTEM" and len(systems) > 1:
        return [*(Option(Fix.RETIRE_DUPLICATE, f"Retire {s.name}"[:75], str(s.id)) for s in systems[1:4]),
                Option(Fix.NOT_DUPLICATES, "Not duplicates")]
    if code == "RETIRED_BUT_SEEN":
        return [Option(Fix.BACK_IN_SERVICE, "Still in service"),
                Option(Fix.DISCONNECTING, "Being disconnected", closes=False)]
    if code == "UNKNOWN_TEAM" and systems:
        return [Option(Fix.USE_TEAM, f"Use {t.name}"[:75], str(t.id)) for t in team_candidates(gap, systems, session=session)]
    if code in ("UNMATCHED_CHAT_IDENTITY", "UNREACHABLE_IN_CHAT"):
        out = [Option(Fix.LINK_CHAT, f"Link {ident.platform} account {ident.handle or ident.external_id} to "
                      f"{person.display_name}"[:75], f"{ident.id}.{person.id}")
               for ident, person in chat_links(gap, session=session)]
        if code == "UNREACHABLE_IN_CHAT":
            out.append(Option(Fix.EMAIL_ONLY, "Reach by e-mail only"))
        return out
    if code == "IMPORT_DISAGREES":
        return [Option(Fix.KEEP_GOVBOT, "Keep govbot's value"), Option(Fix.TAKE_IMPORT, "Take the import's value")]
    return []


def team_candidates(gap: TrackedGap, systems: list[System], *, session: Session) -> list[Team]:
    """Existing teams that the unknown name most likely meant: the systems' site first, then by name."""
    sites = {s.site_code for s in systems if s.site_code}
    teams = session.scalars(select(Team).where(Team.active.is_(True))).all()
    scored = sorted(teams, key=lambda t: (t.site_code not in sites, -fuzz.token_set_ratio(t.name, gap.subject), t.name))
    return scored[:3]


def chat_links(gap: TrackedGap, *, session: Session) -> list[tuple[ChatIdentity, Person]]:
    """Unmatched chat accounts and the directory person they most likely belong to (the same name)."""
    if gap.code == "UNMATCHED_CHAT_IDENTITY":
        ident = chat_identity(session, gap.subject)
        person = person_named(session, ident.display_name if ident else None)
        return [(ident, person)] if ident is not None and person is not None else []
    person = person_named(session, gap.subject)
    if person is None:
        return []
    idents = session.scalars(select(ChatIdentity).where(
        ChatIdentity.person_id.is_(None), ChatIdentity.is_bot.is_(False), ChatIdentity.deleted.is_(False),
        func.lower(ChatIdentity.display_name) == person.display_name.lower())).all()
    return [(i, person) for i in idents]


def may_fix(gap: TrackedGap, actor: Person, *, session: Session) -> bool:
    if gap.assignee_id == actor.id:
        return True
    assignee = session.get(Person, gap.assignee_id) if gap.assignee_id else None
    holder = stand_in(assignee, session=session) if assignee is not None and not assignee.active else None
    return holder is not None and holder.person.id == actor.id


@dataclass(frozen=True)
class Fixed:
    gap: TrackedGap
    message: str
    closed: bool
    transfer: transfers.Step | None = None


def _load(gap_id: int, *, session: Session) -> TrackedGap:
    query = select(TrackedGap).where(TrackedGap.id == gap_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    gap = session.scalars(query.execution_options(populate_existing=True)).first()
    if gap is None:
        raise GapError("That gap does not exist any more")
    return gap


def fix(gap_id: int, how: Fix, *, arg: str = "", actor: Person, session: Session, now: dt.datetime, platform: str,
        policy: OwnershipPolicy) -> Fixed:
    """Apply one fix; raises :class:`NotAllowed` (audited) or :class:`GapError`."""
    gap = _load(gap_id, session=session)
    if not may_fix(gap, actor, session=session):
        audit.record(session, at=now, actor=actor, platform=platform, action="gap.fix.refused", object_type="gap",
                     object_key=gap.subject[:80], data={"reason": "not assigned", "fix": how.value})
        who = gap.assignee.display_name if gap.assignee else "nobody yet"
        raise NotAllowed(f"This gap is assigned to {who}, not to you")
    if gap.state != GapState.OPEN.value:
        when = f" on {gap.closed_at:%Y-%m-%d}" if gap.closed_at else ""
        by = f" by {gap.fixed_by.display_name}" if gap.fixed_by else ""
        raise GapError(f"This gap was already closed{when}{by}")
    offered = {(o.fix, o.arg) for o in options(gap, session=session)}
    if (how, arg) not in offered and how not in (Fix.KEEP_GOVBOT, Fix.TAKE_IMPORT):
        raise GapError("That fix does not apply to this gap (any more)")
    applied = _APPLY[how](gap, arg, actor=actor, session=session, now=now, platform=platform, policy=policy)
    message, closes, step = applied
    audit.record(session, at=now, actor=actor, platform=platform, action="gap.fixed", object_type="gap",
                 object_key=gap.subject[:80], data={"code": gap.code, "fix": how.value, "arg": arg, "closes": closes})
    if closes:
        gap.state, gap.closed_at, gap.fix, gap.fixed_by_id = GapState.CLOSED.value, now, how.value, actor.id
        session.flush()
    return Fixed(gap, message, closes, step)


Applied = tuple[str, bool, transfers.Step | None]


def _system(gap: TrackedGap, session: Session, index: int = 0) -> System:
    system = session.get(System, gap.system_ids[index]) if len(gap.system_ids) > index else None
    if system is None:
        raise GapError("The system this gap is about is no longer in the catalog")
    return system


def _ownership(kind: OwnershipRequestKind, gap: TrackedGap, actor: Person, *, session: Session, now: dt.datetime,
               platform: str, policy: OwnershipPolicy) -> Applied:
    system = _system(gap, session)
    try:
        step = transfers.request(system, kind=kind, to=actor, actor=actor, session=session, now=now,
                                 platform=platform, policy=policy, gap_id=gap.id)
    except transfers.OwnershipError as exc:
        raise GapError(str(exc)) from None
    return step.message, step.completed, step


def _take_over(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
               policy: OwnershipPolicy) -> Applied:
    return _ownership(OwnershipRequestKind.TAKEOVER, gap, actor, session=session, now=now, platform=platform,
                      policy=policy)


def _own(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
         policy: OwnershipPolicy) -> Applied:
    return _ownership(OwnershipRequestKind.CLAIM, gap, actor, session=session, now=now, platform=platform,
                      policy=policy)


def _pick(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
          policy: OwnershipPolicy) -> Applied:
    activity = session.scalar(select(Activity).where(Activity.activity_id == gap.subject))
    if activity is None:
        raise GapError(f"Activity {gap.subject} is no longer in the RACI matrix")
    facts.confirm(session, table="activities", row_id=activity.id, column=facts.ACCOUNTABLE_ROLE, value=arg,
                  label=f"{activity.activity_id} Accountable: {arg}", how=facts.How.PICKED, by=actor, now=now)
    return f"{arg} is now the one Accountable for {activity.activity_id} ({activity.name}).", True, None


def _manage_team(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
                 policy: OwnershipPolicy) -> Applied:
    team = session.scalar(select(Team).where(Team.name == gap.subject))
    if team is None:
        raise GapError(f"The team {gap.subject} no longer exists")
    team.manager_id = actor.id
    facts.confirm(session, table="teams", row_id=team.id, column="manager_id", value=actor.id,
                  label=f"{team.name} manager: {actor.display_name}", how=facts.How.TOOK_OVER, by=actor, now=now)
    return f"You manage {team.name} now.", True, None


def _replace_target(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
                    policy: OwnershipPolicy) -> Applied:
    chain_id, _, level_no = gap.subject.rpartition(" level ")
    level = session.scalar(select(EscalationLevel).join(EscalationChain).where(
        EscalationChain.chain_id == chain_id, EscalationLevel.level == int(level_no or 0)))
    departed = {p.display_name.casefold() for p in session.scalars(select(Person).where(Person.active.is_(False)))}
    if level is None:
        raise GapError(f"{gap.subject} is no longer in the escalation chains")
    targets = [actor.display_name if t.casefold() in departed else t for t in level.targets]
    level.targets = list(dict.fromkeys(targets))
    facts.confirm(session, table="escalation_levels", row_id=level.id, column="targets", value=level.targets,
                  label=f"{gap.subject} reaches: {', '.join(level.targets)}", how=facts.How.TOOK_OVER, by=actor,
                  now=now)
    return f"{gap.subject} reaches {', '.join(level.targets)} now.", True, None


def _disposition(value: str) -> Any:
    def apply(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
              policy: OwnershipPolicy) -> Applied:
        system = _system(gap, session)
        facts.confirm(session, table="systems", row_id=system.id, column=facts.ASSET_DISPOSITION, value=value,
                      label=f"{system.name} on the network: {value}", how=facts.How.DECIDED, by=actor, now=now,
                      system_id=system.id)
        if value == "known":
            return (f"{system.name} is marked as known; `govbot export changes` lists it for the CMDB.", True, None)
        return (f"{system.name} is marked rogue; govbot reports it until the network no longer sees it.", True, None)

    return apply


def _retire_duplicate(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime,
                      platform: str, policy: OwnershipPolicy) -> Applied:
    system = session.get(System, int(arg)) if arg.isdigit() else None
    if system is None or system.id not in gap.system_ids:
        raise GapError("That system is not part of this gap")
    system.install_status = "Retired"
    system.updated_at = now
    facts.confirm(session, table="systems", row_id=system.id, column="install_status", value="Retired",
                  label=f"{system.name} install status: Retired (duplicate)", how=facts.How.RETIRED, by=actor, now=now,
                  system_id=system.id)
    return f"{system.name} is retired as a duplicate.", True, None


def _not_duplicates(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
                    policy: OwnershipPolicy) -> Applied:
    ids = [int(i) for i in gap.system_ids]
    for system_id in ids:
        system = session.get(System, system_id)
        if system is None:
            continue
        others = sorted(set(ids) - {system_id})
        facts.confirm(session, table="systems", row_id=system_id, column=facts.NOT_DUPLICATE_OF, value=others,
                      label=f"{system.name} is not a duplicate", how=facts.How.DECIDED, by=actor, now=now,
                      system_id=system_id)
    return "Noted: these are different systems.", True, None


def _in_service(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
                policy: OwnershipPolicy) -> Applied:
    system = _system(gap, session)
    system.install_status = "Installed"
    system.updated_at = now
    facts.confirm(session, table="systems", row_id=system.id, column="install_status", value="Installed",
                  label=f"{system.name} install status: Installed", how=facts.How.RESTORED, by=actor, now=now,
                  system_id=system.id)
    return f"{system.name} is back in service (install status Installed).", True, None


def _disconnecting(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
                   policy: OwnershipPolicy) -> Applied:
    system = _system(gap, session)
    facts.confirm(session, table="systems", row_id=system.id, column=facts.RETIREMENT_ACKNOWLEDGED, value=True,
                  label=f"{system.name}: being disconnected", how=facts.How.DECIDED, by=actor, now=now,
                  system_id=system.id)
    return (f"Noted: {system.name} is being disconnected. The gap closes when the network no longer sees it.",
            False, None)


def _use_team(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
              policy: OwnershipPolicy) -> Applied:
    team = session.get(Team, int(arg)) if arg.isdigit() else None
    if team is None:
        raise GapError("That team does not exist")
    changed = []
    for system_id in gap.system_ids:
        system = session.get(System, system_id)
        if system is None:
            continue
        for name_attr, id_attr in (("support_group_name", "support_team_id"),
                                   ("assignment_group_name", "assignment_team_id"),
                                   ("managed_by_group_name", "managed_by_team_id")):
            if getattr(system, name_attr) == gap.subject and getattr(system, id_attr) is None:
                setattr(system, name_attr, team.name)
                setattr(system, id_attr, team.id)
                for column, value in ((name_attr, team.name), (id_attr, team.id)):
                    facts.confirm(session, table="systems", row_id=system.id, column=column, value=value,
                                  label=f"{system.name} {name_attr.removesuffix('_name').replace('_', ' ')}: {team.name}",
                                  how=facts.How.PICKED, by=actor, now=now, system_id=system.id)
                changed.append(system.name)
        system.updated_at = now
    return f"{', '.join(dict.fromkeys(changed)) or 'Nothing'} now use {team.name}.", True, None


def _link_chat(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
               policy: OwnershipPolicy) -> Applied:
    ident_id, _, person_id = arg.partition(".")
    links = {(i.id, p.id): (i, p) for i, p in chat_links(gap, session=session)}
    pair = links.get((int(ident_id), int(person_id))) if ident_id.isdigit() and person_id.isdigit() else None
    if pair is None:
        raise GapError("That chat account is no longer unmatched")
    ident, person = pair
    ident.person_id = person.id
    facts.confirm(session, table="chat_identities", row_id=ident.id, column="person_id", value=person.id,
                  label=f"{ident.platform} account {ident.handle or ident.external_id}: {person.display_name}",
                  how=facts.How.LINKED, by=actor, now=now)
    return f"The {ident.platform} account {ident.handle or ident.external_id} is {person.display_name}'s now.", True, None


def _email_only(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
                policy: OwnershipPolicy) -> Applied:
    person = person_named(session, gap.subject)
    if person is None:
        raise GapError(f"{gap.subject} is not an active person in the directory")
    facts.confirm(session, table="people", row_id=person.id, column=facts.CHAT_EXEMPT, value=True,
                  label=f"{person.display_name}: reached by e-mail", how=facts.How.DECIDED, by=actor, now=now)
    return f"Noted: {person.display_name} is reached by e-mail ({person.email}), not in chat.", True, None


def _disagreement(gap: TrackedGap, session: Session) -> Any:
    from governance_store.models import ConfirmedFact

    subject = gap.subject
    for fact in session.scalars(select(ConfirmedFact).where(ConfirmedFact.disagreed_at.is_not(None))).all():
        if fact.label.split(":", 1)[0].strip() == subject:
            return fact
    raise GapError("The import no longer disagrees")


def _keep(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
          policy: OwnershipPolicy) -> Applied:
    fact = _disagreement(gap, session)
    fact.value = {**fact.value, "settled": fact.import_label}
    fact.disagreed_at = None
    return f"govbot keeps {fact.label.split(':', 1)[-1].strip()}; `govbot export changes` tells the CMDB.", True, None


def _take_import(gap: TrackedGap, arg: str, *, actor: Person, session: Session, now: dt.datetime, platform: str,
                 policy: OwnershipPolicy) -> Applied:
    from governance_store.importers.precedence import PERSON_COLUMNS, TEAM_COLUMNS

    fact = _disagreement(gap, session)
    table = next((t for t in (System, Team, ChatIdentity, EscalationLevel) if t.__tablename__ == fact.table_name), None)
    row = session.get(table, fact.row_id) if table is not None else None
    remembered = fact.import_value or {}
    if row is None or remembered.get("removed"):
        facts.forget(session, fact)
        return "govbot follows the import again for it.", True, None
    value = remembered.get("v")
    if fact.column_name in PERSON_COLUMNS and remembered.get("email"):
        person = session.scalar(select(Person).where(func.lower(Person.email) == str(remembered["email"]).lower()))
        value = person.id if person is not None else None
    elif fact.column_name in TEAM_COLUMNS and remembered.get("name"):
        team = session.scalar(select(Team).where(Team.name == remembered["name"]))
        value = team.id if team is not None else None
    setattr(row, fact.column_name, value)
    label = fact.import_label
    facts.forget(session, fact)
    return f"{gap.subject} is {label} now, as the import says.", True, None


_APPLY: dict[Fix, Any] = {
    Fix.TAKE_OVER: _take_over, Fix.OWN: _own, Fix.PICK_ACCOUNTABLE: _pick, Fix.MANAGE_TEAM: _manage_team,
    Fix.REPLACE_TARGET: _replace_target, Fix.KNOWN: _disposition("known"), Fix.ROGUE: _disposition("rogue"),
    Fix.RETIRE_DUPLICATE: _retire_duplicate, Fix.NOT_DUPLICATES: _not_duplicates, Fix.BACK_IN_SERVICE: _in_service,
    Fix.DISCONNECTING: _disconnecting, Fix.USE_TEAM: _use_team, Fix.LINK_CHAT: _link_chat,
    Fix.EMAIL_ONLY: _email_only, Fix.KEEP_GOVBOT: _keep, Fix.TAKE_IMPORT: _take_import,
}


def assigned_to(person: Person, *, session: Session) -> list[TrackedGap]:
    return list(session.scalars(select(TrackedGap).where(TrackedGap.assignee_id == person.id,
                                                         TrackedGap.state == GapState.OPEN.value)
                                .order_by(TrackedGap.opened_at, TrackedGap.id)).all())


def close_ownership_gap(step: transfers.Step, *, session: Session, now: dt.datetime) -> TrackedGap | None:
    """A takeover or claim that came from a gap and completed later (after approval) closes the gap."""
    gap = session.get(TrackedGap, step.request.gap_id) if step.completed and step.request.gap_id else None
    if gap is not None and gap.state == GapState.OPEN.value:
        gap.state, gap.closed_at, gap.fixed_by_id = GapState.CLOSED.value, now, step.request.to_id
        gap.fix = Fix.TAKE_OVER.value if step.request.kind == OwnershipRequestKind.TAKEOVER.value else Fix.OWN.value
    return gap
