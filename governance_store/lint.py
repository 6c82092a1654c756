"""Governance lint: the gaps that make plants lose weeks, each with its evidence.

Every finding has a stable ``key`` so reports can tell which gaps are new and
which were resolved since the last run.  Source disagreements the importer
reconciles (Purdue level per source, naming, serial case, export time zones,
inactive NetBox contacts) are deliberately not findings.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session, defer, selectinload

from governance_store import facts
from governance_store.models import (
    Activity,
    Approval,
    ApprovalState,
    ChangeRequest,
    ChatIdentity,
    EscalationChain,
    Person,
    RaciEntry,
    RoleAssignment,
    System,
    SystemSource,
    Team,
)
from governance_store.wording import N_, Wording, joined

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
OPEN_CHANGE_STATES = ("draft", "submitted", "approved", "scheduled")
NETWORK_SOURCES = ("nozomi", "netbox")  # sources that see devices on the network


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    title: str
    subject: str
    evidence: tuple[str, ...] = ()
    system_ids: tuple[int, ...] = ()
    key: str = ""
    # The people the finding is about (someone who left, someone chat cannot reach): who fixes it follows.
    person_ids: tuple[int, ...] = ()

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("person_ids")
        data["evidence"] = list(self.evidence)
        data["system_ids"] = list(self.system_ids)
        return data


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)

    def add(self, code: str, severity: str, title: str, subject: str, *evidence: str, system_ids: tuple[int, ...] = (),
            person_ids: tuple[int, ...] = ()) -> None:
        self.findings.append(
            Finding(code, severity, title, subject, tuple(evidence), system_ids, key=f"{code}:{subject}",
                    person_ids=person_ids)
        )

    def by_code(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]

    def for_system(self, system_id: int) -> list[Finding]:
        return [f for f in self.findings if system_id in f.system_ids]

    def sorted(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.code, f.subject))


def normalised_name(name: str) -> str:
    """Name key for near-duplicate detection: case, separators, umlauts and leading zeros ignored."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    tokens = re.findall(r"[a-z]+|\d+", text)
    return " ".join(str(int(t)) if t.isdigit() else t for t in tokens)


def _acting_text(person: Person, acting: dict[int, Person]) -> str:
    who = acting.get(person.id)
    return Wording("acting holder: {name}", name=who.display_name) if who else Wording("nobody is named as acting holder")


def run_lint(*, session: Session, now: dt.datetime | None = None) -> LintReport:
    """Every governance gap in the store.  ``now`` (default: the wall clock) dates the live sources'
    freshness."""
    from governance_store.sources.freshness import stale_sources

    report = LintReport()
    stale_sources(report, session=session, now=now or dt.datetime.now(dt.UTC))
    systems = session.scalars(
        select(System).options(selectinload(System.owner), selectinload(System.technical_manager),
                               defer(System.aliases), defer(System.macs), defer(System.hostnames))
    ).all()
    # Which sources saw each system, as plain pairs (at 100k systems, loading every sighting's attributes
    # as objects costs more than the rest of the lint together); attributes only where a finding quotes them.
    sources: dict[int, set[str]] = defaultdict(set)
    for system_id, source in session.execute(select(SystemSource.system_id, SystemSource.source)):
        sources[system_id].add(source)
    first_seen: dict[int, dict[str, Any]] = {}
    for system_id, attributes in session.execute(
        select(SystemSource.system_id, SystemSource.attributes).join(System)
        .where(SystemSource.source.in_(NETWORK_SOURCES),
               or_(System.in_cmdb.is_(False), func.lower(System.install_status) == "retired"))
        .order_by(SystemSource.source, SystemSource.id)
    ):
        first_seen.setdefault(system_id, attributes or {})
    people = {p.id: p for p in session.scalars(select(Person)).all()}
    acting: dict[int, Person] = {}
    for ra in session.scalars(select(RoleAssignment).where(RoleAssignment.acting_for_id.is_not(None))).all():
        if ra.person_id and ra.acting_for_id:
            acting[ra.acting_for_id] = people[ra.person_id]

    live_cmdb = [s for s in systems if s.in_cmdb and not s.retired]
    # Decisions people made in govbot (an asset known or rogue, not duplicates, reached by e-mail only,
    # the one Accountable of an activity): what they settled is no longer a gap.
    disposition = facts.decisions(session, facts.ASSET_DISPOSITION)
    not_duplicates = facts.decisions(session, facts.NOT_DUPLICATE_OF)
    chat_exempt = facts.decisions(session, facts.CHAT_EXEMPT)
    picked = facts.decisions(session, facts.ACCOUNTABLE_ROLE)

    # Systems without an Accountable owner.
    for s in live_cmdb:
        if s.owner_id is None and s.technical_manager_id is None and s.managed_by_team_id is None:
            support = s.support_group_name or (s.support_team.name if s.support_team else None)
            report.add(
                "NO_ACCOUNTABLE_OWNER", "high", "System has no Accountable owner", s.name,
                "owned_by, managed_by and managed_by_group are empty",
                f"only support group set: {support}" if support else "no support group either",
                system_ids=(s.id,),
            )

    # Owners and technical managers who left.
    for s in systems:
        if s.retired:
            continue
        for label, person in (("owner", s.owner), ("technical manager", s.technical_manager)):
            if person is not None and not person.active:
                left = f" on {person.left_on.isoformat()}" if person.left_on else ""
                report.add(
                    "DEPARTED_OWNER", "high", f"System {label} left the company", f"{s.name} ({label})",
                    f"{person.display_name} left{left}", _acting_text(person, acting), system_ids=(s.id,),
                    person_ids=(person.id,),
                )

    # Team managers who left.
    for team in session.scalars(select(Team).options(selectinload(Team.manager))).all():
        if team.manager is not None and not team.manager.active:
            report.add(
                "DEPARTED_TEAM_MANAGER", "medium", "Team manager left the company", team.name,
                f"manager {team.manager.display_name} is inactive", _acting_text(team.manager, acting),
                person_ids=(team.manager.id,),
            )

    # Escalation targets who left, and team targets that do not exist.
    team_names = {t.name.casefold() for t in session.scalars(select(Team)).all()}
    people_by_name = defaultdict(list)
    for p in people.values():
        people_by_name[p.display_name.casefold()].append(p)
    for chain in session.scalars(select(EscalationChain).options(selectinload(EscalationChain.levels))).all():
        for level in chain.levels:
            for target in level.targets:
                if "{" in target:
                    continue
                if level.target_type == "person":
                    for p in people_by_name.get(target.casefold(), []):
                        if not p.active:
                            report.add(
                                "DEPARTED_ESCALATION_TARGET", "high", "Escalation target left the company",
                                f"{chain.chain_id} level {level.level}",
                                f"{p.display_name} is inactive", _acting_text(p, acting), person_ids=(p.id,),
                            )
                    if not people_by_name.get(target.casefold()):
                        report.add(
                            "UNKNOWN_PERSON", "medium", "Escalation names a person not in the directory",
                            f"{chain.chain_id} level {level.level}", f"'{target}' matches nobody",
                        )
                elif level.target_type == "team" and target.casefold() not in team_names:
                    report.add(
                        "UNKNOWN_TEAM", "medium", "Reference to a team that does not exist",
                        f"{chain.chain_id} level {level.level}", f"team '{target}' is not in the directory",
                    )
        for group in chain.applies_to_groups:
            if group.casefold() not in team_names:
                report.add(
                    "UNKNOWN_TEAM", "medium", "Reference to a team that does not exist",
                    f"{chain.chain_id} applies to '{group}'", f"team '{group}' is not in the directory",
                )

    # Pending approvals held by someone who left.
    pending = session.scalars(
        select(Approval)
        .join(ChangeRequest)
        .where(Approval.state == ApprovalState.REQUESTED.value, ChangeRequest.state.in_(OPEN_CHANGE_STATES))
        .options(selectinload(Approval.person), selectinload(Approval.change))
    ).all()
    for ap in pending:
        if ap.person is not None and not ap.person.active:
            report.add(
                "DEPARTED_APPROVER", "high", "Pending approval waits on someone who left",
                f"{ap.change.number} ({ap.person.display_name})",
                f"{ap.person.display_name} is inactive; the change stalls", _acting_text(ap.person, acting),
                system_ids=(ap.change.system_id,) if ap.change.system_id else (), person_ids=(ap.person.id,),
            )

    # Role holders who left or teams that do not exist.
    for ra in session.scalars(
        select(RoleAssignment).options(selectinload(RoleAssignment.person), selectinload(RoleAssignment.role))
    ).all():
        if ra.valid_to is not None:
            continue
        if ra.person is not None and not ra.person.active:
            report.add(
                "DEPARTED_ROLE_HOLDER", "high", "Role holder left the company",
                f"{ra.role.name}@{ra.scope_key or 'GLOBAL'}", f"{ra.person.display_name} is inactive",
                _acting_text(ra.person, acting), person_ids=(ra.person.id,),
            )
        if ra.person_id is None and ra.team_id is None:
            report.add(
                "UNKNOWN_TEAM", "medium", "Role assigned to a holder that does not exist",
                f"{ra.role.name}@{ra.scope_key or 'GLOBAL'}", f"'{ra.holder_name}' is not in the directory",
            )

    # System references to teams that do not exist.
    dangling: dict[str, list[System]] = defaultdict(list)
    for s in systems:
        for name, team_id in (
            (s.support_group_name, s.support_team_id),
            (s.assignment_group_name, s.assignment_team_id),
            (s.managed_by_group_name, s.managed_by_team_id),
        ):
            if name and team_id is None and s not in dangling[name]:
                dangling[name].append(s)
    for name, affected in sorted(dangling.items()):
        report.add(
            "UNKNOWN_TEAM", "medium", "Reference to a team that does not exist", name,
            f"'{name}' is not in the group directory",
            "referenced by " + ", ".join(sorted(s.name for s in affected)),
            system_ids=tuple(s.id for s in sorted(affected, key=lambda s: s.name)),
        )

    # RACI: zero or several Accountables.
    for act in session.scalars(
        select(Activity).options(selectinload(Activity.entries).selectinload(RaciEntry.role))
    ).all():
        accountable = sorted(e.role.name for e in act.entries if e.letter == "A")
        if picked.get(act.id):
            accountable = [str(picked[act.id])]
        if not accountable:
            report.add(
                "ACTIVITY_NO_ACCOUNTABLE", "high", "Activity has no Accountable", act.activity_id,
                act.name, "no role is marked A",
            )
        elif len(accountable) > 1:
            report.add(
                "ACTIVITY_MULTIPLE_ACCOUNTABLE", "high", "Activity has several Accountables", act.activity_id,
                act.name, "A: " + ", ".join(accountable),
            )

    # Near-duplicate systems: the same serial, or the same normalised name.
    by_serial: dict[str, list[System]] = defaultdict(list)
    by_name: dict[str, list[System]] = defaultdict(list)
    for s in systems:
        if s.retired:
            continue
        if s.serial:
            by_serial[s.serial.strip().casefold()].append(s)
        by_name[normalised_name(s.name)].append(s)
    groups: dict[frozenset[int], tuple[list[System], list[str]]] = {}
    for same in by_serial.values():
        if len(same) > 1:
            groups.setdefault(frozenset(s.id for s in same), (same, []))[1].append(f"same serial {same[0].serial}")
    for name, same in by_name.items():
        if len(same) > 1 and name:
            groups.setdefault(frozenset(s.id for s in same), (same, []))[1].append("near-identical names")
    for ids, (members, _reasons) in list(groups.items()):
        if all(set(ids) - {s.id} <= set(not_duplicates.get(s.id) or ()) for s in members):
            del groups[ids]  # people said these are different systems
    for members, reasons in groups.values():
        ordered = sorted(members, key=lambda s: (not s.ips, s.name))
        sparse = [s.name for s in ordered[1:] if not s.ips and not s.zone_id]
        evidence = ["; ".join(reasons)] + [f"{s.name}: source {', '.join(sorted(sources[s.id])) or 'none'}" for s in ordered]
        if sparse:
            evidence.append("no IP, zone or Purdue level on " + ", ".join(sparse))
        report.add(
            "DUPLICATE_SYSTEM", "medium", "Near-duplicate systems", " / ".join(s.name for s in ordered),
            *evidence, system_ids=tuple(s.id for s in ordered),
        )

    # Seen by OT monitoring but missing from the CMDB; retired but still seen.
    for s in systems:
        seen = sorted(sources[s.id] & set(NETWORK_SOURCES))
        if not s.in_cmdb and seen and disposition.get(s.id) == "rogue":
            report.add(
                "ROGUE_ASSET_SEEN", "high", "Asset marked rogue is still on the network", f"{', '.join(s.ips) or s.name}",
                f"{s.name} at {s.site_code or 'unknown site'} in zone {s.zone_id or '?'}", f"seen by {', '.join(seen)}",
                system_ids=(s.id,),
            )
        elif not s.in_cmdb and seen and disposition.get(s.id) != "known":
            attrs = first_seen.get(s.id, {})
            what = " ".join(str(x) for x in (attrs.get("vendor"), attrs.get("product_name")) if x) or s.name
            report.add(
                "NOT_IN_CMDB", "high", "Asset seen on the network but missing from the CMDB",
                f"{', '.join(s.ips) or s.name}",
                f"{what} at {s.site_code or 'unknown site'} in zone {s.zone_id or '?'}",
                "protocols: " + str(attrs.get("protocols") or "?"),
                f"reported by {', '.join(seen)}", system_ids=(s.id,),
            )
        if s.retired and seen:
            report.add(
                "RETIRED_BUT_SEEN", "high", "Retired in the CMDB but still seen on the network",
                s.name, f"install status {s.install_status}", f"seen by {', '.join(seen)} at {', '.join(s.ips)}",
                system_ids=(s.id,),
            )

    # People chat cannot reach, and chat accounts that match nobody.
    joined = set(
        session.scalars(
            select(ChatIdentity.person_id).where(
                ChatIdentity.person_id.is_not(None), ChatIdentity.deleted.is_(False)
            )
        ).all()
    )
    any_chat = session.scalar(select(ChatIdentity.id).limit(1)) is not None
    if any_chat:
        for p in sorted(people.values(), key=lambda p: p.display_name):
            if p.active and p.id not in joined and not chat_exempt.get(p.id):
                report.add(
                    "UNREACHABLE_IN_CHAT", "medium", "Person cannot be reached in chat", p.display_name,
                    f"no chat account matches {p.email}", person_ids=(p.id,),
                )
        for ident in session.scalars(
            select(ChatIdentity).where(
                ChatIdentity.person_id.is_(None), ChatIdentity.is_bot.is_(False), ChatIdentity.deleted.is_(False)
            )
        ).all():
            report.add(
                "UNMATCHED_CHAT_IDENTITY", "medium", "Chat account matches no directory person",
                f"{ident.platform}:{ident.external_id}",
                f"{ident.display_name or ident.handle} uses {ident.email or 'no e-mail'}, which no directory has",
            )
    # Facts confirmed in govbot that a later import disagreed with.
    for fact in facts.disagreements(session):
        subject = fact.label.split(":", 1)[0].strip()
        report.add(
            "IMPORT_DISAGREES", "medium", "An import disagrees with a fact confirmed in govbot", subject,
            f"govbot: {fact.label.split(':', 1)[-1].strip()} ({fact.how} {fact.confirmed_at:%Y-%m-%d})",
            f"the import of {fact.disagreed_at:%Y-%m-%d} says: {fact.import_label or 'something else'}",
            system_ids=(fact.system_id,) if fact.system_id else (),
        )
    return report


# Built once: every answer about a system runs it.
_SERIAL_TWINS = select(System.name).where(System.id != bindparam("id"),
                                          System.serial.in_(bindparam("serials", expanding=True)))


# Who left, with the date where the directory has it, and without.
OWNER = (N_("Owner {name} left the company on {date}"), N_("Owner {name} left the company"))
TECHNICAL_MANAGER = (N_("Technical manager {name} left the company on {date}"),
                     N_("Technical manager {name} left the company"))


def system_gaps(system: System, *, session: Session) -> list[str]:
    """The governance gaps on one system, cheap enough to show in every answer about it."""
    gaps: list[str] = []
    acting: dict[int, Person] = {}
    for label, person in ((OWNER, system.owner), (TECHNICAL_MANAGER, system.technical_manager)):
        if person is not None and not person.active:
            if not acting:
                for ra in session.scalars(
                    select(RoleAssignment).where(RoleAssignment.acting_for_id.is_not(None))
                    .options(selectinload(RoleAssignment.person))
                ).all():
                    if ra.person is not None and ra.acting_for_id is not None:
                        acting[ra.acting_for_id] = ra.person
            left = Wording(label[0], name=person.display_name, date=person.left_on) if person.left_on \
                else Wording(label[1], name=person.display_name)
            gaps.append(joined(left, _acting_text(person, acting)))
    if system.in_cmdb and not system.retired and system.owner_id is None and system.technical_manager_id is None \
            and system.managed_by_team_id is None:
        gaps.append(Wording("No Accountable owner: owned_by, managed_by and managed_by_group are empty in the CMDB"))
    for name, team_id in (
        (system.support_group_name, system.support_team_id),
        (system.assignment_group_name, system.assignment_team_id),
        (system.managed_by_group_name, system.managed_by_team_id),
    ):
        if name and team_id is None:
            gaps.append(Wording("Team '{team}' does not exist in the group directory", team=name))
            break
    if system.serial:
        serial = system.serial.strip()
        # Exact variants use the serial index; sources differ only in letter case.
        twins = session.scalars(_SERIAL_TWINS, {"id": system.id, "serials": sorted({serial, serial.upper(),
                                                                                      serial.lower()})}).all()
        if twins:
            gaps.append(Wording("Near-duplicate: {systems} has the same serial {serial}", systems=", ".join(twins),
                                serial=system.serial))
    seen = sorted({s.source for s in system.sources if s.source in ("nozomi", "netbox")})
    if system.retired and seen:
        gaps.append(Wording("Retired in the CMDB but still seen on the network by {sources}", sources=", ".join(seen)))
    if not system.in_cmdb and seen:
        gaps.append(Wording("Not in the CMDB: only seen by {sources}", sources=", ".join(seen)))
    return gaps
