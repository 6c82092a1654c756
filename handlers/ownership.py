"""Ownership answers: who owns a system, its RACI, who to call, its SLA, its dependencies,
and what a person or team owns."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

from rapidfuzz import fuzz, process, utils
from sqlalchemy import bindparam, case, func, literal, or_, select
from sqlalchemy.orm import Session

from governance_store import chains, raci
from governance_store.calendar import holiday_support, site_hours
from governance_store.folding import name_keys, plain
from governance_store.hours import local_time
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
from handlers.i18n import N_, Translator, translator
from handlers.parse import Intent
from handlers.reply import Button, Choice, Field, Reply, Section, echo
from handlers.routes import Route, RouteKind
from handlers.services import Services

SystemHandler = Callable[..., Reply]
CRITICALITY = {1: N_("1 - most critical"), 2: N_("2 - somewhat critical"), 3: N_("3 - less critical"),
               4: N_("4 - not critical")}
IDENTIFIER_KINDS = {"ip": N_("IP address"), "mac": N_("MAC address"), "serial": N_("serial number"),
                    "asset_tag": N_("asset tag")}


def _criticality(t: Translator, value: int | None) -> str:
    return t(CRITICALITY[value]) if value in CRITICALITY else "—"


def tr(intent: Intent) -> Translator:
    return translator(intent.locale)


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
        "locale": tr(intent).locale,
    }


def unresolved(intent: Intent, resolved: catalog.Resolved, verb: str) -> Reply:
    """Several plausible systems (choices), or none ("did you mean ...")."""
    t = tr(intent)
    res = resolved.resolution
    if res.status == "ambiguous":
        data = _base_data(intent, "ambiguous")
        data["candidates"] = catalog.candidates_json(res)
        return Reply(
            text=t("Several systems match “{subject}”. Which one do you mean?", subject=echo(intent.subject)),
            choices=catalog.choices_for(res, verb),
            data=data,
        )
    data = _base_data(intent, "not_found")
    data["candidates"] = catalog.candidates_json(res)
    if res.matches and res.matches[0].identifier:
        kind = res.matches[0].matched_on
        nearest = ", ".join(f"{m.identifier} ({m.name})" for m in res.matches[:5])
        text = t("No system has the {kind} “{subject}”. The nearest I know: {nearest}.",
                 kind=t(IDENTIFIER_KINDS.get(kind, kind)), subject=echo(intent.subject), nearest=nearest)
        return Reply(text=text, choices=catalog.choices_for(res, verb), data=data)
    if res.matches:
        names = ", ".join(m.name for m in res.matches[:5])
        text = t("I don't know a system called “{subject}”. Did you mean: {names}?", subject=echo(intent.subject),
                 names=names)
        return Reply(text=text, choices=catalog.choices_for(res, verb), data=data)
    return Reply(
        text=t("I don't know a system called “{subject}”, and nothing comes close. "
               "Try its name, alias, hostname, IP address, serial or asset tag.", subject=echo(intent.subject)),
        data=data,
    )


def about_system(verb: str) -> Callable[[SystemHandler], Callable[..., Reply]]:
    """Resolve the question's subject first: ambiguous or unknown subjects get choices or "did you mean".

    When the router left the answer's language open, the language of the system's site decides."""

    def wrap(fn: SystemHandler) -> Callable[..., Reply]:
        @functools.wraps(fn)
        def handler(intent: Intent, *, session: Session, now: dt.datetime, services: Services) -> Reply:
            resolved = services.catalog.resolve(intent.subject, session=session)
            if resolved.system is None:
                return unresolved(intent, resolved, verb)
            if not intent.locale:
                intent = dataclasses.replace(intent, locale=site_locale(_site(resolved.system, session=session)))
            return fn(intent, resolved.system, session=session, now=now)

        return handler

    return wrap


def site_locale(site: Site | None) -> str:
    from handlers.i18n import choose_locale

    return choose_locale(site.language if site else None) or "en"


def _site(system: System, *, session: Session) -> Site | None:
    if not system.site_code:
        return None
    # Asked for more than once in a turn (the answer's language, then the answer): one query per unit of work.
    sites: dict[str, Site | None] = session.info.setdefault("ownership.sites", {})
    if system.site_code not in sites:
        sites[system.site_code] = session.scalar(_SITE, {"code": system.site_code})
    return sites[system.site_code]


_SITE = select(Site).where(Site.code == bindparam("code"))
_ZONE = select(Zone).where(Zone.zone_id == bindparam("zone"))


def _node_chain_statement() -> Any:
    nodes = HierarchyNode.__table__
    anchor = select(nodes.c.id, nodes.c.parent_id, literal(0).label("depth")).where(
        nodes.c.node_id == bindparam("node_id"))
    chain = anchor.cte("chain", recursive=True)
    step = select(nodes.c.id, nodes.c.parent_id, (chain.c.depth + 1).label("depth")) \
        .join(chain, nodes.c.id == chain.c.parent_id).where(chain.c.depth < _MAX_DEPTH)
    chain = chain.union_all(step)
    return select(HierarchyNode).join(chain, HierarchyNode.id == chain.c.id).order_by(chain.c.depth)


_MAX_DEPTH = 32  # far deeper than ISA-95's enterprise / site / area / line / cell
_NODE_CHAIN = _node_chain_statement()


def _node_chain(node_id: str, *, session: Session) -> list[HierarchyNode]:
    """The node and its ancestors, nearest first, in one query (a cycle in the data ends the walk)."""
    return list(session.scalars(_NODE_CHAIN, {"node_id": node_id}))


def _location_path(system: System, *, session: Session) -> str:
    names: list[str] = []
    seen = set()
    for node in _node_chain(system.node_id, session=session) if system.node_id else ():
        if node.node_id in seen or node.level in ("enterprise", "site"):
            break
        seen.add(node.node_id)
        label = node.name if not node.local_name or node.local_name == node.name else f"{node.name} ({node.local_name})"
        names.append(label)
    return " › ".join(reversed(names)) or (system.location or "—")


def _zone_text(system: System, *, session: Session) -> str:
    if not system.zone_id:
        return "—"
    zone = session.scalar(_ZONE, {"zone": system.zone_id})
    if zone is None:
        return system.zone_id
    sl = f", SL-T {zone.sl_target}" if zone.sl_target is not None else ""
    return f"{zone.zone_id} {zone.name}{sl}"


def _purdue_text(t: Translator, level: str | None) -> str:
    if not level:
        return "—"
    return t("cloud") if level == "cloud" else t("Level {level}", level=level)


def _left(t: Translator, left_on: dt.date | str | None) -> str:
    if left_on is None:
        return t("left")
    day = dt.date.fromisoformat(left_on) if isinstance(left_on, str) else left_on
    return t("left {date}", date=t.date(day))


def _person_line(t: Translator, person: Person | None, *, session: Session) -> tuple[str, raci.PersonRef | None]:
    if person is None:
        return t("— (not set)"), None
    if person.active:
        return f"{person.display_name} <{person.email}>", None
    acting = raci.acting_for(person.id, session=session)
    line = f"{person.display_name} ({_left(t, person.left_on)})"
    if acting:
        line += " → " + t("acting: {name}", name=f"{acting.name} <{acting.email}>")
    return line, acting


def _team_line(t: Translator, system: System) -> str:
    if system.support_team is not None:
        return system.support_team.name
    if system.support_group_name:
        return t("{name} (no such team in the directory)", name=system.support_group_name)
    return t("— (not set)")


def _person_label(t: Translator, person: raci.PersonRef) -> str:
    return person.name if person.active else f"{person.name} ({_left(t, person.left_on)})"


def _holder_label(t: Translator, holder: raci.Holder) -> str:
    if holder.team is not None:
        base = holder.team.label()
    elif holder.person is not None:
        base = _person_label(t, holder.person)
    else:
        base = t("nobody")
    if holder.acting is not None:
        base += ", " + t("acting: {name}", name=holder.acting.name)
    return f"{base} — {holder.role}"


def _holders_text(t: Translator, holders: list[raci.Holder]) -> str:
    if not holders:
        return "—"
    return "\n".join(_holder_label(t, h) for h in holders)


def _system_buttons(t: Translator, system: System, *, exclude: str = "") -> tuple[Button, ...]:
    ref = f"#{system.id}"
    all_buttons = [
        ("who", t("Owner"), f"who {ref}"),
        ("raci", t("RACI for changes"), f"raci {ref}"),
        ("call", t("Who to call"), f"call {ref}"),
        ("sla", t("SLA"), f"sla {ref}"),
        ("deps", t("Dependencies"), f"deps {ref}"),
    ]
    return tuple(Button(label, "govbot.run", value) for key, label, value in all_buttons if key != exclude)


def _header(system: System) -> str:
    alias = f" — {system.aliases[0]}" if system.aliases else ""
    return f"{system.name}{alias}"


# --------------------------------------------------------------------------- who owns X


def owner_headline(t: Translator, system: System, acting: raci.PersonRef | None) -> str:
    """Who to go to: the owner, or, when the owner has left, whoever acts for them first."""
    owner = system.owner
    if owner is None:
        return t("{system} has no owner on record.", system=system.name)
    if owner.active:
        return t("{system} is owned by {owner}.", system=system.name, owner=owner.display_name)
    if acting is not None:
        if owner.left_on:
            return t("{system} is owned by {acting} (acting for {owner}, who left on {date}).", system=system.name,
                     acting=acting.name, owner=owner.display_name, date=t.date(owner.left_on))
        return t("{system} is owned by {acting} (acting for {owner}, who left).", system=system.name,
                 acting=acting.name, owner=owner.display_name)
    if owner.left_on:
        return t("{system} is owned by {owner}, who left on {date}; nobody acts for them.", system=system.name,
                 owner=owner.display_name, date=t.date(owner.left_on))
    return t("{system} is owned by {owner}, who left; nobody acts for them.", system=system.name,
             owner=owner.display_name)


@about_system("who")
def who_owns(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    t = tr(intent)
    site = _site(system, session=session)
    owner_line, owner_acting = _person_line(t, system.owner, session=session)
    tm_line, _ = _person_line(t, system.technical_manager, session=session)
    activity = raci.change_activity_for(system, session=session)
    result = raci.resolve_activity(activity, system, session=session) if activity else None
    warnings = system_gaps(system, session=session)
    if result is not None:
        warnings += [w for w in result.warnings if w not in warnings and "left the company" not in w]
    else:
        warnings.append(t("No change-approval activity in the RACI matrix covers this system"))

    sources = ", ".join(sorted({s.source for s in system.sources})) or "—"
    fields = [
        Field(t("Owner"), owner_line),
        Field(t("Technical manager"), tm_line),
        Field(t("Support group"), _team_line(t, system)),
        Field(
            t("Accountable for changes ({activity})", activity=result.activity_id) if result
            else t("Accountable for changes"),
            _holders_text(t, result.holders["A"]) if result else "—",
        ),
        Field(t("Criticality"), _criticality(t, system.criticality)),
        Field(t("Purdue level · zone"),
              f"{_purdue_text(t, system.purdue_level)} · {_zone_text(system, session=session)}"),
        Field(t("Site · location"),
              f"{site.name if site else system.site_code or '—'} · {_location_path(system, session=session)}"),
        Field(t("Class · sources"), f"{system.class_name or '—'} · {sources}"),
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
    return Reply(
        text=owner_headline(t, system, owner_acting),
        sections=(Section(title=_header(system), fields=tuple(fields)),),
        buttons=_system_buttons(t, system, exclude="who"),
        warnings=tuple(t.say(w) for w in warnings),
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
    if intent.explicit_activity and intent.whole and (
        resolved.system is None or raci.find_activity(activity_text, session=session)[0] is None
    ):
        # "who must be consulted for the historian in Regensburg": no activity, one system after all.
        whole = services.catalog.resolve(intent.whole, session=session)
        if whole.system is not None:
            resolved, activity_text = whole, ""
    if resolved.system is None:
        return unresolved(intent, resolved, "raci")
    system = resolved.system
    if not intent.locale:
        intent = dataclasses.replace(intent, locale=site_locale(_site(system, session=session)))
    t = tr(intent)
    alternatives: list[Any] = []
    if activity_text:
        activity, alternatives = raci.find_activity(activity_text, session=session, system=system)
        if activity is None:
            data = _base_data(intent, "not_found")
            data["system"] = system_json(system)
            names = "; ".join(f"{a.activity_id} {a.name}" for a in alternatives)
            text = t("No RACI activity matches “{activity}”.", activity=echo(activity_text))
            if names:
                text += " " + t("Did you mean: {names}?", names=names)
            return Reply(
                text=text,
                buttons=tuple(Button(a.activity_id, "govbot.run", f"raci #{system.id} | {a.activity_id}") for a in alternatives),
                data=data,
            )
    else:
        activity = raci.change_activity_for(system, session=session)
        if activity is None:
            data = _base_data(intent, "not_found")
            data["system"] = system_json(system)
            return Reply(text=t("The RACI matrix has no change activity that covers {system}.", system=system.name),
                         data=data)
    result = raci.resolve_activity(activity, system, session=session)
    return _raci_reply(intent, system, result, alternatives, session=session)


LETTER_LABELS = {"R": N_("Responsible"), "A": N_("Accountable"), "C": N_("Consulted"), "I": N_("Informed")}


def _raci_reply(intent: Intent, system: System, result: raci.RaciResult, alternatives: list[Any], *, session: Session) -> Reply:
    t = tr(intent)
    letters = [intent.letter] if intent.letter else list(raci.LETTERS)
    fields = []
    for letter in letters:
        holders = result.holders[letter]
        fields.append(Field(f"{letter} — {t(LETTER_LABELS[letter])}", _holders_text(t, holders)))
    for letter in letters:
        for holder in result.holders[letter]:
            if holder.team is not None and holder.team.members:
                members = ", ".join(_person_label(t, m) for m in holder.team.members)
                fields.append(Field(t("{team} members", team=holder.team.name), members))
    if result.notes:
        fields.append(Field(t("Notes"), result.notes))
    data = _base_data(intent, "answered")
    data["system"] = system_json(system)
    data["activity"] = {"id": result.activity_id, "name": result.activity_name}
    data["owner"] = person_json(system.owner, raci.acting_for(system.owner.id, session=session) if system.owner and not system.owner.active else None)
    for letter, key in raci.LETTER_NAMES.items():
        data[key] = _people_json(result.people(letter))
    data["warnings"] = list(result.warnings)
    buttons = tuple(
        Button(f"{a.activity_id}", "govbot.run", f"raci #{system.id} | {a.activity_id}") for a in alternatives[:3]
    ) + _system_buttons(t, system, exclude="raci")
    if intent.letter:
        who = ", ".join(_holder_label(t, h) for h in result.holders[intent.letter]) or t("nobody")
        text = t("{role} for {activity} on {system}: {who}", role=t(LETTER_LABELS[intent.letter]),
                 activity=result.activity_id, system=system.name, who=who)
    else:
        text = t("RACI for {activity} {name} on {system}", activity=result.activity_id, name=result.activity_name,
                 system=system.name)
    return Reply(
        text=text,
        sections=(Section(title=f"{result.activity_id} {result.activity_name} — {system.name}", fields=tuple(fields)),),
        buttons=buttons,
        warnings=tuple(t.say(w) for w in result.warnings),
        data=data,
    )


@about_system("raci")
def accountable(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    """"Who is accountable / responsible for X", "who approves changes to X": the change activity."""
    t = tr(intent)
    activity = raci.change_activity_for(system, session=session)
    if activity is None:
        data = _base_data(intent, "not_found")
        data["system"] = system_json(system)
        return Reply(text=t("The RACI matrix has no change activity that covers {system}.", system=system.name),
                     data=data)
    result = raci.resolve_activity(activity, system, session=session)
    letter = intent.letter or "A"
    reply = _raci_reply(dataclasses.replace(intent, letter=letter), system, result, [], session=session)
    if intent.name == "approves":
        people = ", ".join(p.name for p in result.people("A")) or t("nobody")
        reply = Reply(
            text=t("Changes to {system} are approved under {activity} by: {people}", system=system.name,
                   activity=result.activity_id, people=people),
            sections=reply.sections, buttons=reply.buttons, warnings=reply.warnings, data=reply.data,
        )
    return reply


@about_system("steward")
def steward(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    t = tr(intent)
    hint = "quality LIMS data stewardship" if "lims" in f"{system.name} {system.class_name} {' '.join(system.aliases)}".lower() \
        else "data stewardship process data historian"
    activity, _ = raci.find_activity(hint, session=session, system=system)
    if activity is None:
        data = _base_data(intent, "not_found")
        return Reply(text=t("The RACI matrix has no data-stewardship activity."), data=data)
    result = raci.resolve_activity(activity, system, session=session)
    reply = _raci_reply(dataclasses.replace(intent, letter=""), system, result, [], session=session)
    owners = ", ".join(_holder_label(t, h) for h in result.holders["A"]) or t("nobody")
    custodians = ", ".join(_holder_label(t, h) for h in result.holders["R"]) or t("nobody")
    return Reply(
        text=t("Data owner (A) for {system}: {owners}. Stewards/custodians (R): {custodians}.", system=system.name,
               owners=owners, custodians=custodians),
        sections=reply.sections, buttons=reply.buttons, warnings=reply.warnings, data=reply.data,
    )


# --------------------------------------------------------------------------- who do I call


def _holiday_text(t: Translator, site: Site, shutdown_days: int) -> str:
    known, known_subdivision = holiday_support(site.country, site.holiday_subdivision)
    if not site.country:
        text = t("none (the site has no country)")
    elif not known:
        text = t("none: the holidays package has no calendar for {country}", country=site.country)
    elif known_subdivision:
        text = t("public holidays of {place}", place=f"{site.country}-{site.holiday_subdivision}")
    elif site.region:
        text = t("national public holidays of {country} (no calendar for the region {region})",
                 country=site.country, region=site.region)
    else:
        text = t("national public holidays of {country}", country=site.country)
    if shutdown_days:
        text += " · " + t.plural("{n} plant shutdown day", "{n} plant shutdown days", shutdown_days)
    return text


@about_system("call")
def call(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    from governance_store.calendar import for_site, shutdowns_of

    t = tr(intent)
    site = _site(system, session=session)
    fields: list[Field] = []
    warnings: list[str] = []
    fields.append(Field(t("Support group"), _team_line(t, system)))
    if system.support_team is not None:
        ref = raci.team_ref(system.support_team, session=session)
        members = ", ".join(_person_label(t, m) for m in ref.members) or t("no members")
        fields.append(Field(t("Members"), members + (f" · {ref.email}" if ref.email else "")))
    if site is not None:
        local = local_time(now, site.timezone)
        hours, problem = site_hours(site)
        if problem:
            warnings.append(problem)
        shutdowns = shutdowns_of(site.code, session=session)
        calendar = for_site(site, shutdowns=shutdowns)
        holiday = calendar.holiday_name(local.date())
        if calendar.is_open(now):
            state = t("within business hours {hours}", hours=hours.describe(t.locale))
        elif holiday:
            state = t("outside business hours {hours}; today is {holiday}", hours=hours.describe(t.locale),
                      holiday=holiday)
        else:
            state = t("outside business hours {hours}", hours=hours.describe(t.locale))
        fields.append(Field(t("Local time at {site}", site=site.name), f"{t.weekday_time(local)} ({state})"))
        fields.append(Field(t("Holidays"), _holiday_text(t, site, len(shutdowns))))
        if site.oncall_channel:
            fields.append(Field(t("On-call channel"), site.oncall_channel))
    chain = chains.chain_for_system(system, session=session)
    levels_json: list[dict[str, Any]] = []
    if chain is None:
        warnings.append(t("No escalation chain covers this system's support group"))
    else:
        for lvl in chains.resolve_chain(chain, system, session=session):
            who = "; ".join(_holder_label(t, h).replace(" — team", "").replace(" — person", "")
                            for h in lvl.holders) or t("nobody")
            how = ", ".join(lvl.channels) or "—"
            clock = t("business hours") if lvl.hours == "business" else lvl.hours
            fields.append(Field(t("{chain} level {level} (after {minutes} min, {hours})", chain=chain.chain_id,
                                  level=lvl.level, minutes=lvl.after_minutes, hours=clock), f"{who} · {how}"))
            warnings.extend(lvl.problems)
            levels_json.append({"level": lvl.level, "after_minutes": lvl.after_minutes,
                                "people": _people_json(lvl.people()), "channels": list(lvl.channels)})
    rank = case({"primary": 0, "secondary": 1, "tertiary": 2}, value=SystemContact.priority, else_=3)
    contacts = session.scalars(
        select(SystemContact).where(SystemContact.system_id == system.id, SystemContact.priority != "inactive")
        .order_by(rank, SystemContact.role, SystemContact.contact_name)
    ).all()
    for c in contacts:
        fields.append(Field(t("NetBox {role} contact ({priority})", role=c.role, priority=c.priority or "—"),
                            " · ".join(x for x in (c.contact_name, c.phone, c.email) if x)))
    warnings = system_gaps(system, session=session) + warnings
    data = _base_data(intent, "answered")
    data["system"] = system_json(system)
    data["owner"] = person_json(system.owner)
    data["escalation"] = levels_json
    data["warnings"] = warnings
    channel = f" ({site.oncall_channel})" if site and site.oncall_channel else ""
    return Reply(
        text=t("For {system} call {team}", system=system.name, team=_team_line(t, system)) + channel,
        sections=(Section(title=t("Who to call about {system}", system=system.name), fields=tuple(fields)),),
        buttons=_system_buttons(t, system, exclude="call"),
        warnings=tuple(t.say(w) for w in warnings),
        data=data,
    )


# --------------------------------------------------------------------------- SLA


@about_system("sla")
def sla(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    t = tr(intent)
    data = _base_data(intent, "answered")
    data["system"] = system_json(system)
    if system.criticality is None:
        data["warnings"] = [t("No business criticality in the CMDB, so no SLA policy applies")]
        return Reply(
            text=t("{system} has no business criticality in the CMDB, so no SLA policy applies.", system=system.name),
            warnings=tuple(data["warnings"]), buttons=_system_buttons(t, system, exclude="sla"), data=data,
        )
    policies = session.scalars(
        select(SlaPolicy).where(SlaPolicy.criticality == system.criticality).order_by(SlaPolicy.priority)
    ).all()
    site = _site(system, session=session)
    hours, problem = site_hours(site)
    warnings = [problem] if problem else []
    fields = []
    for p in policies:
        schedule = "24x7" if p.schedule == "24x7" else t(
            "business hours ({hours} {timezone})", hours=hours.describe(t.locale),
            timezone=site.timezone if site else "UTC")
        fields.append(Field(
            t("Priority {priority} ({policy})", priority=p.priority, policy=p.policy_id),
            t("respond within {response}, resolve within {resolution} h · {schedule} · notify at {percents} %",
              response=_minutes(t, p.response_minutes), resolution=p.resolution_hours, schedule=schedule,
              percents=", ".join(str(x) for x in p.notify_at_pct)),
        ))
    data["sla"] = [
        {"policy": p.policy_id, "priority": p.priority, "response_minutes": p.response_minutes,
         "resolution_hours": p.resolution_hours, "schedule": p.schedule}
        for p in policies
    ]
    data["warnings"] = warnings
    crit = _criticality(t, system.criticality)
    return Reply(
        text=t("SLA for {system} (criticality {criticality})", system=system.name, criticality=crit),
        sections=(Section(title=f"SLA — {system.name} · {crit}", fields=tuple(fields)),),
        buttons=_system_buttons(t, system, exclude="sla"),
        warnings=tuple(t.say(w) for w in warnings),
        data=data,
    )


def _minutes(t: Translator, m: int) -> str:
    if m < 60:
        return t("{m} min", m=m)
    if m % 60 == 0:
        return t("{h} h", h=m // 60)
    return t("{h} h {m} min", h=m // 60, m=m % 60)


# --------------------------------------------------------------------------- dependencies


@about_system("deps")
def deps(intent: Intent, system: System, *, session: Session, now: dt.datetime) -> Reply:
    t = tr(intent)
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
        fields.append(Field(t("Depend on {system}", system=system.name), _system_list(t, downstream)))
    if intent.name in ("deps", "my_dependencies"):
        fields.append(Field(t("{system} depends on", system=system.name), _system_list(t, upstream)))
    if conduits:
        fields.append(Field(t("Enforces conduits"), "\n".join(
            f"{c.conduit_id}: {c.from_zone} → {c.to_zone} ({c.allowed_traffic})" for c in conduits
        )))
    data = _base_data(intent, "answered")
    data["system"] = system_json(system)
    data["depends_on"] = [s.name for s in upstream]
    data["used_by"] = [s.name for s in downstream]
    data["conduits"] = [c.conduit_id for c in conduits]
    if intent.name == "depends_on_me":
        text = t.plural("{n} system depends on {system}", "{n} systems depend on {system}", len(downstream),
                        system=system.name)
        text += (": " + ", ".join(s.name for s in downstream)) if downstream else "."
    elif intent.name == "my_dependencies":
        text = t.plural("{system} depends on {n} system", "{system} depends on {n} systems", len(upstream),
                        system=system.name)
        text += (": " + ", ".join(s.name for s in upstream)) if upstream else "."
    else:
        text = t("Dependencies of {system}: {up} upstream, {down} downstream", system=system.name,
                 up=len(upstream), down=len(downstream))
    return Reply(
        text=text,
        sections=(Section(title=t("Dependencies — {system}", system=system.name), fields=tuple(fields)),),
        buttons=_system_buttons(t, system, exclude="deps"),
        data=data,
    )


def _system_list(t: Translator, systems: Sequence[System]) -> str:
    if not systems:
        return t("none recorded")
    return "\n".join(f"{s.name} ({s.site_code or '—'}, {s.class_name or '—'})" for s in systems)


# --------------------------------------------------------------------------- what does P own

ROLE_LABELS = {"owner": N_("owner"), "technical manager": N_("technical manager"),
               "support group": N_("support group"), "managing group": N_("managing group")}


def _fold_name(text: str) -> str:
    return utils.default_process(plain(text))


def owns(intent: Intent, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    t = tr(intent)
    query = intent.subject.strip()
    people = session.scalars(select(Person)).all()
    teams = session.scalars(select(Team)).all()
    keys = set(name_keys(query))
    exact_person = next(
        (p for p in people if query.casefold() in (p.email.casefold(), (p.upn or "").casefold())
         or keys & set(name_keys(p.display_name))),
        None,
    )
    exact_team = next((t_ for t_ in teams if keys & set(name_keys(t_.name))), None)
    data = _base_data(intent, "answered")
    if exact_person is None and exact_team is None:
        pool = {("p", p.id): p.display_name for p in people} | {("t", t_.id): t_.name for t_ in teams}
        ranked = process.extract(query, pool, scorer=fuzz.WRatio, processor=_fold_name, limit=5)
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
                return Reply(text=t("I don't know a person or team called “{name}”.", name=echo(query)), data=data)
            return Reply(
                text=t("Whom do you mean by “{name}”?", name=echo(query)) if strong
                else t("I don't know “{name}”. Did you mean: {names}?", name=echo(query), names=", ".join(r[0] for r in shown)),
                choices=tuple(Choice(label=r[0], detail="", value=f"owns {r[0]}", score=r[1]) for r in shown),
                data=data,
            )
    fields: list[Field] = []
    if exact_person is not None:
        groups = raci.systems_of_person(exact_person, session=session)
        for label, systems in groups.items():
            fields.append(Field(t("As {role} ({n})", role=t(ROLE_LABELS.get(label, label)), n=len(systems)),
                                _system_list(t, systems)))
        held = raci.roles_held(exact_person, session=session)
        if held:
            fields.append(Field(t("Roles"), "\n".join(
                f"{ra.role.name} @ {ra.scope_key or 'GLOBAL'}"
                + (" " + t("(via team {team})", team=ra.holder_name) if ra.team_id else "")
                for ra in held
            )))
        subject = exact_person.label()
        data["person"] = person_json(exact_person)
        data["systems"] = {k: [s.name for s in v] for k, v in groups.items()}
        warnings = [] if exact_person.active else [
            t("{name} left the company; their systems need a new owner", name=exact_person.display_name)]
    else:
        assert exact_team is not None
        groups = raci.systems_of_team(exact_team, session=session)
        for label, systems in groups.items():
            fields.append(Field(t("As {role} ({n})", role=t(ROLE_LABELS.get(label, label)), n=len(systems)),
                                _system_list(t, systems)))
        subject = exact_team.name
        data["team"] = exact_team.name
        data["systems"] = {k: [s.name for s in v] for k, v in groups.items()}
        warnings = []
    total = len({s.id for v in groups.values() for s in v})
    data["warnings"] = warnings
    return Reply(
        text=t.plural("{subject} is recorded on {n} system.", "{subject} is recorded on {n} systems.", total,
                      subject=subject),
        sections=(Section(title=t("What {subject} owns", subject=subject), fields=tuple(fields)),),
        warnings=tuple(t.say(w) for w in warnings),
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
