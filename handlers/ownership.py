"""Ownership answers: who owns a system, its RACI, who to call, its SLA, its dependencies,
and what a person or team owns."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

from rapidfuzz import fuzz, process, utils
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from governance_store import chains, raci
from governance_store.hours import local_time, parse_hours
from governance_store.lint import system_gaps
from governance_store.models import (
    Conduit,
    HierarchyNode,
    Person,
    Site,
    SlaPolicy,
    System,
    SystemContact,
    SystemRelation,
    Team,
    Zone,
)
from handlers import catalog
from handlers.parse import Intent
from handlers.reply import Button, Choice, Field, Reply, Section
from handlers.routes import Route, RouteKind
from handlers.services import Services

SystemHandler = Callable[..., Reply]
CRITICALITY = {1: "1 - most critical", 2: "2 - somewhat critical", 3: "3 - less critical", 4: "4 - not critical"}


# --------------------------------------------------------------------------- shared pieces


def system_json(system: System) -> dict[str, Any]:
    return {
        "name": system.name,
        "site": system.site_code,
        "purdue_level": system.purdue_level,
        "criticality": system.criticality,
        "zone": system.zone_id,
        "class": system.class_name,
        "location": system.location,
    }


def person_json(person: Person | None, acting: raci.PersonRef | None = None) -> dict[str, Any] | None:
    if person is None:
        return None
    data: dict[str, Any] = {"name": person.display_name, "email": person.email, "active": person.active}
    if acting is not None:
        data["acting"] = acting.as_json()
    return data


def _people_json(people: list[raci.PersonRef]) -> list[dict[str, object]]:
    return [p.as_json() for p in people]


def _base_data(intent: Intent, status: str) -> dict[str, Any]:
    return {
        "status": status, "intent": intent.name, "system": None, "owner": None,
        "accountable": [], "responsible": [], "consulted": [], "informed": [], "candidates": [], "warnings": [],
    }


def unresolved(intent: Intent, resolved: catalog.Resolved, verb: str) -> Reply:
    """Several plausible systems (choices), or none ("did you mean ...")."""
    res = resolved.resolution
    if res.status == "ambiguous":
        data = _base_data(intent, "ambiguous")
        data["candidates"] = catalog.candidates_json(res)
        return Reply(
            text=f"Several systems match “{intent.subject}”. Which one do you mean?",
            choices=catalog.choices_for(res, verb),
            data=data,
        )
    data = _base_data(intent, "not_found")
    data["candidates"] = catalog.candidates_json(res)
    if res.matches:
        names = ", ".join(m.name for m in res.matches[:5])
        text = f"I don't know a system called “{intent.subject}”. Did you mean: {names}?"
        return Reply(text=text, choices=catalog.choices_for(res, verb), data=data)
    return Reply(
        text=f"I don't know a system called “{intent.subject}”, and nothing comes close. "
        "Try its name, alias, hostname, IP address, serial or asset tag.",
        data=data,
    )


def about_system(verb: str) -> Callable[[SystemHandler], Callable[..., Reply]]:
    """Resolve the question's subject first: ambiguous or unknown subjects get choices or "did you mean"."""

    def wrap(fn: SystemHandler) -> Callable[..., Reply]:
        @functools.wraps(fn)
        def handler(intent: Intent, *, session: Session, now: dt.datetime, services: Services) -> Reply:
            resolved = services.catalog.resolve(intent.subject, session=session)
            if resolved.system is None:
                return unresolved(intent, resolved, verb)
            return fn(intent, resolved.system, session=session, now=now)

        return handler

    return wrap


def _site(system: System, *, session: Session) -> Site | None:
    if not system.site_code:
        return None
    return session.scalar(select(Site).where(Site.code == system.site_code))


def _location_path(system: System, *, session: Session) -> str:
    names: list[str] = []
    node_id = system.node_id
    seen = set()
    while node_id and node_id not in seen:
        seen.add(node_id)
        node = session.scalar(select(HierarchyNode).where(HierarchyNode.node_id == node_id))
        if node is None or node.level in ("enterprise", "site"):
            break
        label = node.name if not node.local_name or node.local_name == node.name else f"{node.name} ({node.local_name})"
        names.append(label)
        parent = session.get(HierarchyNode, node.parent_id) if node.parent_id else None
        node_id = parent.node_id if parent else None
    return " › ".join(reversed(names)) or (system.location or "—")


def _zone_text(system: System, *, session: Session) -> str:
    if not system.zone_id:
        return "—"
    zone = session.scalar(select(Zone).where(Zone.zone_id == system.zone_id))
    if zone is None:
        return system.zone_id
    sl = f", SL-T {zone.sl_target}" if zone.sl_target is not None else ""
    return f"{zone.zone_id} {zone.name}{sl}"


def _purdue_text(level: str | None) -> str:
    if not level:
        return "—"
    return "cloud" if level == "cloud" else f"Level {level}"


def _person_line(person: Person | None, *, session: Session) -> tuple[str, raci.PersonRef | None]:
    if person is None:
        return "— (not set)", None
    if person.active:
        return f"{person.display_name} <{person.email}>", None
    acting = raci.acting_for(person.id, session=session)
    left = f" {person.left_on.isoformat()}" if person.left_on else ""
    line = f"{person.display_name} (left{left})"
    if acting:
        line += f" → acting: {acting.name} <{acting.email}>"
    return line, acting


def _team_line(system: System) -> str:
    if system.support_team is not None:
        return system.support_team.name
    if system.support_group_name:
        return f"{system.support_group_name} (no such team in the directory)"
    return "— (not set)"


def _holders_text(holders: list[raci.Holder]) -> str:
    if not holders:
        return "—"
    return "\n".join(h.label() for h in holders)


def _system_buttons(system: System, *, exclude: str = "") -> tuple[Button, ...]:
    ref = f"#{system.id}"
    all_buttons = [
        ("who", "Owner", f"who {ref}"),
        ("raci", "RACI for changes", f"raci {ref}"),
        ("call", "Who to call", f"call {ref}"),
        ("sla", "SLA", f"sla {ref}"),
        ("deps", "Dependencies", f"deps {ref}"),
    ]
    return tuple(Button(label, "govbot.run", value) for key, label, value in all_buttons if key != exclude)


def _header(system: System) -> str:
    alias = f" — {system.aliases[0]}" if system.aliases else ""
    return f"{system.name}{alias}"


# --------------------------------------------------------------------------- who owns X


@about_system("who")
def who_owns(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    site = _site(system, session=session)
    owner_line, owner_acting = _person_line(system.owner, session=session)
    tm_line, _ = _person_line(system.technical_manager, session=session)
    activity = raci.change_activity_for(system, session=session)
    result = raci.resolve_activity(activity, system, session=session) if activity else None
    warnings = system_gaps(system, session=session)
    if result is not None:
        warnings += [w for w in result.warnings if w not in warnings and "left the company" not in w]
    else:
        warnings.append("No change-approval activity in the RACI matrix covers this system")

    sources = ", ".join(sorted({s.source for s in system.sources})) or "—"
    fields = [
        Field("Owner", owner_line),
        Field("Technical manager", tm_line),
        Field("Support group", _team_line(system)),
        Field(
            f"Accountable for changes ({result.activity_id})" if result else "Accountable for changes",
            _holders_text(result.holders["A"]) if result else "—",
        ),
        Field("Criticality", CRITICALITY.get(system.criticality or 0, "—")),
        Field("Purdue level · zone", f"{_purdue_text(system.purdue_level)} · {_zone_text(system, session=session)}"),
        Field("Site · location", f"{site.name if site else system.site_code or '—'} · {_location_path(system, session=session)}"),
        Field("Class · sources", f"{system.class_name or '—'} · {sources}"),
    ]
    data = _base_data(intent, "answered")
    data["system"] = system_json(system)
    data["owner"] = person_json(system.owner, owner_acting)
    data["technical_manager"] = person_json(system.technical_manager)
    data["support_group"] = system.support_team.name if system.support_team else system.support_group_name
    if result is not None:
        data["activity"] = {"id": result.activity_id, "name": result.activity_name}
        for letter, key in raci.LETTER_NAMES.items():
            data[key] = _people_json(result.people(letter))
    data["warnings"] = warnings
    owner_name = system.owner.display_name if system.owner else "nobody"
    return Reply(
        text=f"{system.name} is owned by {owner_name}.",
        sections=(Section(title=_header(system), fields=tuple(fields)),),
        buttons=_system_buttons(system, exclude="who"),
        warnings=tuple(warnings),
        data=data,
    )


# --------------------------------------------------------------------------- RACI


def raci_answer(intent: Intent, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    subject, activity_text = intent.subject, intent.activity
    resolved = services.catalog.resolve(subject, session=session)
    if resolved.system is None and not intent.explicit_activity:
        # "raci PLC-FIL-L3-07 firmware update": the longest prefix naming a system wins.
        words = subject.split()
        for cut in range(len(words) - 1, 0, -1):
            head = " ".join(words[:cut])
            attempt = services.catalog.resolve(head, session=session)
            if attempt.system is not None and attempt.resolution.status == "exact":
                resolved, activity_text = attempt, " ".join(words[cut:])
                break
    if resolved.system is None:
        return unresolved(intent, resolved, "raci")
    system = resolved.system
    alternatives: list[Any] = []
    if activity_text:
        activity, alternatives = raci.find_activity(activity_text, session=session, system=system)
        if activity is None:
            data = _base_data(intent, "not_found")
            data["system"] = system_json(system)
            names = "; ".join(f"{a.activity_id} {a.name}" for a in alternatives)
            return Reply(
                text=f"No RACI activity matches “{activity_text}”." + (f" Did you mean: {names}?" if names else ""),
                buttons=tuple(Button(a.activity_id, "govbot.run", f"raci #{system.id} | {a.activity_id}") for a in alternatives),
                data=data,
            )
    else:
        activity = raci.change_activity_for(system, session=session)
        if activity is None:
            data = _base_data(intent, "not_found")
            data["system"] = system_json(system)
            return Reply(text=f"The RACI matrix has no change activity that covers {system.name}.", data=data)
    result = raci.resolve_activity(activity, system, session=session)
    return _raci_reply(intent, system, result, alternatives, session=session)


def _raci_reply(intent: Intent, system: System, result: raci.RaciResult, alternatives: list[Any], *, session: Session) -> Reply:
    letters = [intent.letter] if intent.letter else list(raci.LETTERS)
    fields = []
    for letter in letters:
        holders = result.holders[letter]
        fields.append(Field(f"{letter} — {raci.LETTER_NAMES[letter].capitalize()}", _holders_text(holders)))
    for letter in letters:
        for holder in result.holders[letter]:
            if holder.team is not None and holder.team.members:
                members = ", ".join(m.label() for m in holder.team.members)
                fields.append(Field(f"{holder.team.name} members", members))
    if result.notes:
        fields.append(Field("Notes", result.notes))
    data = _base_data(intent, "answered")
    data["system"] = system_json(system)
    data["activity"] = {"id": result.activity_id, "name": result.activity_name}
    data["owner"] = person_json(system.owner, raci.acting_for(system.owner.id, session=session) if system.owner and not system.owner.active else None)
    for letter, key in raci.LETTER_NAMES.items():
        data[key] = _people_json(result.people(letter))
    data["warnings"] = list(result.warnings)
    buttons = tuple(
        Button(f"{a.activity_id}", "govbot.run", f"raci #{system.id} | {a.activity_id}") for a in alternatives[:3]
    ) + _system_buttons(system, exclude="raci")
    if intent.letter:
        who = ", ".join(h.label() for h in result.holders[intent.letter]) or "nobody"
        text = f"{raci.LETTER_NAMES[intent.letter].capitalize()} for {result.activity_id} on {system.name}: {who}"
    else:
        text = f"RACI for {result.activity_id} {result.activity_name} on {system.name}"
    return Reply(
        text=text,
        sections=(Section(title=f"{result.activity_id} {result.activity_name} — {system.name}", fields=tuple(fields)),),
        buttons=buttons,
        warnings=tuple(result.warnings),
        data=data,
    )


@about_system("raci")
def accountable(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    """"Who is accountable / responsible for X", "who approves changes to X": the change activity."""
    activity = raci.change_activity_for(system, session=session)
    if activity is None:
        data = _base_data(intent, "not_found")
        data["system"] = system_json(system)
        return Reply(text=f"The RACI matrix has no change activity that covers {system.name}.", data=data)
    result = raci.resolve_activity(activity, system, session=session)
    letter = intent.letter or "A"
    reply = _raci_reply(Intent(intent.name, intent.subject, letter=letter), system, result, [], session=session)
    if intent.name == "approves":
        people = ", ".join(p.name for p in result.people("A")) or "nobody"
        reply = Reply(
            text=f"Changes to {system.name} are approved under {result.activity_id} by: {people}",
            sections=reply.sections, buttons=reply.buttons, warnings=reply.warnings, data=reply.data,
        )
    return reply


@about_system("steward")
def steward(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    hint = "quality LIMS data stewardship" if "lims" in f"{system.name} {system.class_name} {' '.join(system.aliases)}".lower() \
        else "data stewardship process data historian"
    activity, _ = raci.find_activity(hint, session=session, system=system)
    if activity is None:
        data = _base_data(intent, "not_found")
        return Reply(text="The RACI matrix has no data-stewardship activity.", data=data)
    result = raci.resolve_activity(activity, system, session=session)
    reply = _raci_reply(Intent("steward", intent.subject), system, result, [], session=session)
    owners = ", ".join(h.label() for h in result.holders["A"]) or "nobody"
    custodians = ", ".join(h.label() for h in result.holders["R"]) or "nobody"
    return Reply(
        text=f"Data owner (A) for {system.name}: {owners}. Stewards/custodians (R): {custodians}.",
        sections=reply.sections, buttons=reply.buttons, warnings=reply.warnings, data=reply.data,
    )


# --------------------------------------------------------------------------- who do I call


@about_system("call")
def call(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    site = _site(system, session=session)
    fields: list[Field] = []
    warnings: list[str] = []
    fields.append(Field("Support group", _team_line(system)))
    if system.support_team is not None:
        ref = raci.team_ref(system.support_team, session=session)
        members = ", ".join(m.label() for m in ref.members) or "no members"
        fields.append(Field("Members", members + (f" · {ref.email}" if ref.email else "")))
    if site is not None:
        local = local_time(now, site.timezone)
        hours = parse_hours(site.business_hours)
        state = "within" if hours.is_open(local) else "outside"
        fields.append(Field(f"Local time at {site.name}", f"{local:%a %H:%M %Z} ({state} business hours {hours.describe()})"))
        if site.oncall_channel:
            fields.append(Field("On-call channel", site.oncall_channel))
    chain = chains.chain_for_system(system, session=session)
    levels_json: list[dict[str, Any]] = []
    if chain is None:
        warnings.append("No escalation chain covers this system's support group")
    else:
        for lvl in chains.resolve_chain(chain, system, session=session):
            who = "; ".join(h.label().replace(" — team", "").replace(" — person", "") for h in lvl.holders) or "nobody"
            how = ", ".join(lvl.channels) or "—"
            fields.append(Field(f"{chain.chain_id} level {lvl.level} (after {lvl.after_minutes} min, {lvl.hours})", f"{who} · {how}"))
            warnings.extend(lvl.problems)
            levels_json.append({"level": lvl.level, "after_minutes": lvl.after_minutes,
                                "people": _people_json(lvl.people()), "channels": list(lvl.channels)})
    rank = case({"primary": 0, "secondary": 1, "tertiary": 2}, value=SystemContact.priority, else_=3)
    contacts = session.scalars(
        select(SystemContact).where(SystemContact.system_id == system.id, SystemContact.priority != "inactive")
        .order_by(rank, SystemContact.role, SystemContact.contact_name)
    ).all()
    for c in contacts:
        fields.append(Field(f"NetBox {c.role} contact ({c.priority})", " · ".join(x for x in (c.contact_name, c.phone, c.email) if x)))
    warnings = system_gaps(system, session=session) + [w for w in warnings]
    data = _base_data(intent, "answered")
    data["system"] = system_json(system)
    data["owner"] = person_json(system.owner)
    data["escalation"] = levels_json
    data["warnings"] = warnings
    return Reply(
        text=f"For {system.name} call {_team_line(system)}" + (f" ({site.oncall_channel})" if site and site.oncall_channel else ""),
        sections=(Section(title=f"Who to call about {system.name}", fields=tuple(fields)),),
        buttons=_system_buttons(system, exclude="call"),
        warnings=tuple(warnings),
        data=data,
    )


# --------------------------------------------------------------------------- SLA


@about_system("sla")
def sla(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    data = _base_data(intent, "answered")
    data["system"] = system_json(system)
    if system.criticality is None:
        data["warnings"] = ["No business criticality in the CMDB, so no SLA policy applies"]
        return Reply(
            text=f"{system.name} has no business criticality in the CMDB, so no SLA policy applies.",
            warnings=tuple(data["warnings"]), buttons=_system_buttons(system, exclude="sla"), data=data,
        )
    policies = session.scalars(
        select(SlaPolicy).where(SlaPolicy.criticality == system.criticality).order_by(SlaPolicy.priority)
    ).all()
    site = _site(system, session=session)
    hours = parse_hours(site.business_hours if site else None)
    fields = []
    for p in policies:
        schedule = "24x7" if p.schedule == "24x7" else f"business hours ({hours.describe()} {site.timezone if site else 'UTC'})"
        fields.append(Field(
            f"Priority {p.priority} ({p.policy_id})",
            f"respond within {_minutes(p.response_minutes)}, resolve within {p.resolution_hours} h · {schedule} · "
            f"notify at {', '.join(str(x) for x in p.notify_at_pct)} %",
        ))
    data["sla"] = [
        {"policy": p.policy_id, "priority": p.priority, "response_minutes": p.response_minutes,
         "resolution_hours": p.resolution_hours, "schedule": p.schedule}
        for p in policies
    ]
    return Reply(
        text=f"SLA for {system.name} (criticality {CRITICALITY.get(system.criticality, system.criticality)})",
        sections=(Section(title=f"SLA — {system.name} · {CRITICALITY.get(system.criticality, '')}", fields=tuple(fields)),),
        buttons=_system_buttons(system, exclude="sla"),
        data=data,
    )


def _minutes(m: int) -> str:
    if m < 60:
        return f"{m} min"
    if m % 60 == 0:
        return f"{m // 60} h"
    return f"{m // 60} h {m % 60} min"


# --------------------------------------------------------------------------- dependencies


@about_system("deps")
def deps(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    upstream = session.scalars(
        select(System).join(SystemRelation, SystemRelation.depends_on_id == System.id)
        .where(SystemRelation.system_id == system.id).order_by(System.name)
    ).all()
    downstream = session.scalars(
        select(System).join(SystemRelation, SystemRelation.system_id == System.id)
        .where(SystemRelation.depends_on_id == system.id).order_by(System.name)
    ).all()
    conduits = session.scalars(select(Conduit).where(Conduit.enforced_by_system_id == system.id)).all()
    fields = []
    if intent.name in ("deps", "depends_on_me"):
        fields.append(Field(f"Depend on {system.name}", _system_list(downstream)))
    if intent.name in ("deps", "my_dependencies"):
        fields.append(Field(f"{system.name} depends on", _system_list(upstream)))
    if conduits:
        fields.append(Field("Enforces conduits", "\n".join(
            f"{c.conduit_id}: {c.from_zone} → {c.to_zone} ({c.allowed_traffic})" for c in conduits
        )))
    data = _base_data(intent, "answered")
    data["system"] = system_json(system)
    data["depends_on"] = [s.name for s in upstream]
    data["used_by"] = [s.name for s in downstream]
    data["conduits"] = [c.conduit_id for c in conduits]
    if intent.name == "depends_on_me":
        text = f"{len(downstream)} system(s) depend on {system.name}" + (f": {', '.join(s.name for s in downstream)}" if downstream else ".")
    elif intent.name == "my_dependencies":
        text = f"{system.name} depends on {len(upstream)} system(s)" + (f": {', '.join(s.name for s in upstream)}" if upstream else ".")
    else:
        text = f"Dependencies of {system.name}: {len(upstream)} upstream, {len(downstream)} downstream"
    return Reply(
        text=text,
        sections=(Section(title=f"Dependencies — {system.name}", fields=tuple(fields)),),
        buttons=_system_buttons(system, exclude="deps"),
        data=data,
    )


def _system_list(systems: Sequence[System]) -> str:
    if not systems:
        return "none recorded"
    return "\n".join(f"{s.name} ({s.site_code or '—'}, {s.class_name or '—'})" for s in systems)


# --------------------------------------------------------------------------- what does P own


def owns(intent: Intent, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    query = intent.subject.strip()
    people = session.scalars(select(Person)).all()
    teams = session.scalars(select(Team)).all()
    exact_person = next(
        (p for p in people if query.casefold() in (p.email.casefold(), p.display_name.casefold(), (p.upn or "").casefold())),
        None,
    )
    exact_team = next((t for t in teams if t.name.casefold() == query.casefold()), None)
    data = _base_data(intent, "answered")
    if exact_person is None and exact_team is None:
        pool = {("p", p.id): p.display_name for p in people} | {("t", t.id): t.name for t in teams}
        ranked = process.extract(query, pool, scorer=fuzz.WRatio, processor=utils.default_process, limit=5)
        strong = [r for r in ranked if r[1] >= 85]
        if len(strong) == 1 or (strong and strong[0][1] - (strong[1][1] if len(strong) > 1 else 0) >= 8):
            kind, ident = strong[0][2]
            exact_person = session.get(Person, ident) if kind == "p" else None
            exact_team = session.get(Team, ident) if kind == "t" else None
        else:
            shown = strong or [r for r in ranked if r[1] >= 50]
            data["status"] = "ambiguous" if len(strong) > 1 else "not_found"
            data["candidates"] = [{"name": r[0], "site": None, "score": round(r[1], 1)} for r in shown]
            if not shown:
                return Reply(text=f"I don't know a person or team called “{query}”.", data=data)
            return Reply(
                text=f"Whom do you mean by “{query}”?" if strong else f"I don't know “{query}”. Did you mean: {', '.join(r[0] for r in shown)}?",
                choices=tuple(Choice(label=r[0], detail="", value=f"owns {r[0]}", score=r[1]) for r in shown),
                data=data,
            )
    fields: list[Field] = []
    if exact_person is not None:
        groups = raci.systems_of_person(exact_person, session=session)
        for label, systems in groups.items():
            fields.append(Field(f"As {label} ({len(systems)})", _system_list(systems)))
        held = raci.roles_held(exact_person, session=session)
        if held:
            fields.append(Field("Roles", "\n".join(
                f"{ra.role.name} @ {ra.scope_key or 'GLOBAL'}" + (f" (via team {ra.holder_name})" if ra.team_id else "")
                for ra in held
            )))
        subject = exact_person.label()
        data["person"] = person_json(exact_person)
        data["systems"] = {k: [s.name for s in v] for k, v in groups.items()}
        warnings = [] if exact_person.active else [f"{exact_person.display_name} left the company; their systems need a new owner"]
    else:
        assert exact_team is not None
        groups = raci.systems_of_team(exact_team, session=session)
        for label, systems in groups.items():
            fields.append(Field(f"As {label} ({len(systems)})", _system_list(systems)))
        subject = exact_team.name
        data["team"] = exact_team.name
        data["systems"] = {k: [s.name for s in v] for k, v in groups.items()}
        warnings = []
    total = len({s.id for v in groups.values() for s in v})
    data["warnings"] = warnings
    return Reply(
        text=f"{subject} is recorded on {total} system(s).",
        sections=(Section(title=f"What {subject} owns", fields=tuple(fields)),),
        warnings=tuple(warnings),
        data=data,
    )


def find_person(session: Session, text: str) -> Person | None:
    t = text.strip().casefold()
    return session.scalar(
        select(Person).where(or_(func.lower(Person.email) == t, func.lower(Person.display_name) == t, func.lower(Person.upn) == t))
    )


ROUTES = tuple(Route(RouteKind.INTENT, name, handler) for name, handler in (
    ("who_owns", who_owns),
    ("raci", raci_answer),
    ("accountable", accountable),
    ("responsible", accountable),
    ("approves", accountable),
    ("steward", steward),
    ("call", call),
    ("sla", sla),
    ("deps", deps),
    ("depends_on_me", deps),
    ("my_dependencies", deps),
    ("owns", owns),
))
