"""Escalation chains: which chain covers a system, and who each level reaches today."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from governance_store.models import EscalationChain, EscalationLevel, Person, System, Team
from governance_store.raci import Holder, PersonRef, person_holder, role_holders, team_ref
from governance_store.wording import Wording


@dataclass(frozen=True)
class LevelTargets:
    level: int
    after_minutes: int
    hours: str
    channels: tuple[str, ...]
    holders: tuple[Holder, ...]
    problems: tuple[str, ...]

    def people(self) -> list[PersonRef]:
        seen: dict[int, PersonRef] = {}
        for h in self.holders:
            for p in h.people():
                seen.setdefault(p.id, p)
        return list(seen.values())


def chain_for_system(system: System, *, session: Session) -> EscalationChain | None:
    """The chain whose support groups include the system's support group, site-specific first."""
    group = system.support_group_name or (system.support_team.name if system.support_team else None)
    if not group:
        return None
    chains = session.scalars(select(EscalationChain).options(selectinload(EscalationChain.levels))).all()
    matching = [c for c in chains if group.casefold() in (g.casefold() for g in c.applies_to_groups)]
    matching.sort(key=lambda c: (c.site_code != system.site_code, c.site_code == "*", c.chain_id))
    for chain in matching:
        if chain.site_code in ("*", system.site_code):
            return chain
    return None


_PLACEHOLDER = re.compile(r"\{ci\.(?P<attr>[a-z_]+)(?:\|(?P<default>[^}]+))?\}")


def _expand(target: str, system: System | None) -> str:
    def sub(m: re.Match[str]) -> str:
        value: str | None = None
        if system is not None:
            if m["attr"] == "site":
                value = system.site_code
            elif m["attr"] == "support_group":
                value = system.support_group_name or (system.support_team.name if system.support_team else None)
        return value or m["default"] or ""

    return _PLACEHOLDER.sub(sub, target)


def resolve_level(level: EscalationLevel, system: System | None, *, session: Session) -> LevelTargets:
    holders: list[Holder] = []
    problems: list[str] = []
    for raw in level.targets:
        target = _expand(raw, system).strip()
        if not target:
            problems.append(Wording("level {level}: '{target}' resolves to nothing for this system",
                                    level=level.level, target=raw))
            continue
        if level.target_type == "team":
            team = session.scalar(select(Team).where(func.lower(Team.name) == target.lower()))
            if team is None:
                problems.append(Wording("level {level}: team '{team}' does not exist", level=level.level, team=target))
                continue
            holders.append(Holder(role="team", scope=f"level {level.level}", team=team_ref(team, session=session)))
        elif level.target_type == "person":
            person = session.scalar(select(Person).where(func.lower(Person.display_name) == target.lower()))
            if person is None:
                problems.append(Wording("level {level}: '{target}' is not in the directory", level=level.level,
                                        target=target))
                continue
            holder = person_holder("person", f"level {level.level}", person, session=session)
            if not person.active:
                if holder.acting:
                    problems.append(Wording("level {level}: {name} left the company; {acting} acts", level=level.level,
                                            name=person.display_name, acting=holder.acting.name))
                else:
                    problems.append(Wording("level {level}: {name} left the company; nobody acts for them",
                                            level=level.level, name=person.display_name))
            holders.append(holder)
        else:
            role, _, scope = target.partition("@")
            site = None if scope.upper() in ("", "GLOBAL") else scope
            found = role_holders(role.strip(), None, session=session, site_code=site)
            if not found:
                problems.append(Wording("level {level}: nobody holds {role}@{scope}", level=level.level,
                                        role=role.strip(), scope=scope or "GLOBAL"))
            holders.extend(found)
    channels = tuple(c.strip() for c in level.channels if c.strip())
    return LevelTargets(level.level, level.after_minutes, level.hours, channels, tuple(holders), tuple(problems))


def resolve_chain(chain: EscalationChain, system: System | None, *, session: Session) -> list[LevelTargets]:
    return [resolve_level(lvl, system, session=session) for lvl in sorted(chain.levels, key=lambda x: x.level)]


def channel_of(level: LevelTargets) -> str | None:
    for c in level.channels:
        if c.startswith("slack_channel:"):
            return c.split(":", 1)[1]
    return None
