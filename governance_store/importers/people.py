"""Directories: ServiceNow users, Entra ID users and Slack members, joined by e-mail.

A person's profile fields come from the most authoritative directory that knows
them (Entra, then ServiceNow, then NetBox); a less authoritative one only fills
gaps.  Each directory's own facts are kept under ``Person.sources[directory]``,
and a person is inactive as soon as any directory says so.
"""

from __future__ import annotations

from typing import Any

from babel import Locale, UnknownLocaleError

from governance_store.importers.context import Row, Run, fold, parse_bool
from governance_store.importers.csvio import CsvFile
from governance_store.importers.errors import RowError
from governance_store.importers.index import People
from governance_store.importers.org import first_seen
from governance_store.importers.removal import remove_missing
from governance_store.models import ChatIdentity

PRIORITY = {"entra": 3, "servicenow": 2, "netbox": 1}


def language_tag(value: str) -> str | None:
    """A directory's language (``pl-PL``, ``es_MX``, ``de``) as a BCP 47 tag; ``None`` when empty."""
    if not value:
        return None
    tag = value.strip().replace("_", "-")
    try:
        Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"unknown language {value!r} (expected e.g. en-US, pl-PL, es)") from None
    return tag


def apply_profile(person: Any, source: str, fields: dict[str, Any]) -> None:
    """Set profile fields from ``source``; below a more authoritative directory, only fill gaps."""
    mine = PRIORITY.get(source, 0)
    others = [PRIORITY.get(s, 0) for s in (person.sources or {}) if s != source]
    fill_only = bool(others) and max(others) > mine
    for name, value in fields.items():
        if value is None or value == "":
            continue
        if fill_only and getattr(person, name) not in (None, ""):
            continue
        setattr(person, name, value)


def set_source(person: Any, source: str, facts: dict[str, Any]) -> None:
    """Record one directory's facts about a person (copy-on-write: the loaded value stays intact)."""
    sources = dict(person.sources or {})
    sources[source] = facts
    person.sources = sources
    person.active = all(s.get("active", True) is not False for s in sources.values() if isinstance(s, dict))


def new_person(people: People, row: Row, email: str, display_name: str) -> Any:
    rec = people.state.new(row.where, email=email.strip(), display_name=display_name, sources={}, active=True)
    return rec


def _pending_manager(run: Run, person: Any, source: str, ref: str, row: Row) -> None:
    run.cache.setdefault("managers", {}).setdefault(person.id, {})[source] = (ref, row.where)


def import_sys_user(run: Run, f: CsvFile) -> None:
    people = People.of(run)
    seen_ids: dict[str, int] = {}
    seen_mail: dict[str, int] = {}
    skipped = 0
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        sys_id = row.required("sys_id")
        email = row["email"]
        active = row.parse(parse_bool, "active")
        name = row["name"] or " ".join(p for p in (row["first_name"], row["last_name"]) if p)
        if first_seen(seen_ids, sys_id, row, "sys_id") or first_seen(seen_mail, email, row, "email"):
            continue
        if row.bad:
            continue
        if not email:
            skipped += 1
            continue
        person = people.get(people.by_sys_id.get(sys_id)) or people.by_mail(email)
        if person is None:
            person = new_person(people, row, email, name or email)
        else:
            people.state.touch(person, row.where)
        apply_profile(person, "servicenow", {
            "display_name": name or None, "given_name": row["first_name"] or None,
            "surname": row["last_name"] or None, "title": row["title"] or None,
            "department": row["department"] or None, "company": row["company"] or None,
            "employee_id": row["employee_number"] or None, "timezone": row["time_zone"] or None,
            "preferred_language": row.parse(language_tag, "preferred_language"),
        })
        person.servicenow_sys_id = sys_id
        person.servicenow_user_name = row["user_name"] or None
        set_source(person, "servicenow", {
            "sys_id": sys_id, "user_name": row["user_name"] or None,
            "active": active is not False, "manager": row["manager"] or None,
        })
        people.add(person)
        _pending_manager(run, person, "servicenow", row["manager"], row)
    if skipped:
        run.note(f"{f.label}: {skipped} user(s) without an e-mail address skipped")


def guest_mail(upn: str) -> str:
    """``jane_example.com#EXT#@tenant.onmicrosoft.com`` is jane@example.com."""
    local = upn.split("#EXT#", 1)[0]
    if "_" in local:
        user, _, domain = local.rpartition("_")
        return f"{user}@{domain}"
    return upn


def import_entra(run: Run, f: CsvFile) -> None:
    people = People.of(run)
    seen_ids: dict[str, int] = {}
    seen_upn: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        oid = row.required("id")
        upn = row.required("userprincipalname")
        enabled = row.parse(parse_bool, "accountenabled")
        if first_seen(seen_ids, oid, row, "id") or first_seen(seen_upn, upn, row, "userPrincipalName"):
            continue
        if row.bad:
            continue
        guest = "#EXT#" in upn.upper() or row["usertype"].lower() == "guest"
        mail = row["mail"] or (guest_mail(upn) if "#EXT#" in upn.upper() else upn)
        person = (
            people.get(people.by_aad.get(oid.lower()))
            or people.by_mail(mail)
            or people.get(people.by_upn.get(fold(upn)))
        )
        display = row["displayname"] or mail
        if person is None:
            person = new_person(people, row, mail, display)
        else:
            people.state.touch(person, row.where)
        apply_profile(person, "entra", {
            "display_name": row["displayname"] or None, "given_name": row["givenname"] or None,
            "surname": row["surname"] or None, "title": row["jobtitle"] or None,
            "department": row["department"] or None, "company": row["companyname"] or None,
            "employee_id": row["employeeid"] or None,
            "preferred_language": row.parse(language_tag, "preferredlanguage"),
        })
        person.upn = upn
        person.aad_object_id = oid
        person.is_guest = guest
        set_source(person, "entra", {
            "id": oid, "upn": upn, "active": enabled is not False,
            "user_type": row["usertype"] or None, "employee_type": row["employeetype"] or None,
            "office": row["officelocation"] or None,
            "manager_upn": row["manager_userprincipalname"] or None,
            "preferred_language": row["preferredlanguage"] or None,
        })
        people.add(person)
        _pending_manager(run, person, "entra", row["manager_userprincipalname"], row)


def finish_managers(run: Run) -> None:
    """Second pass: managers, once every person of the run exists.  Entra's manager wins."""
    pending: dict[int, dict[str, tuple[str, tuple[str, int]]]] = run.cache.pop("managers", {})
    if not pending:
        return
    people = People.of(run)
    for pid, by_source in pending.items():
        person = people.get(pid)
        if person is None:
            continue
        sources = person.sources or {}
        candidates: list[tuple[str, tuple[str, int] | None]] = []
        for source, key in (("entra", "manager_upn"), ("servicenow", "manager")):
            if source in by_source:
                candidates.append(by_source[source])
            elif (sources.get(source) or {}).get(key):
                candidates.append((sources[source][key], None))
        chosen: tuple[str, tuple[str, int] | None] | None = next(
            ((ref, where) for ref, where in candidates if ref), None)
        if chosen is None:
            if candidates:
                person.manager_id = None
            continue
        ref, at = chosen
        manager, problem = people.find(ref)
        if manager is None:
            if at is not None:
                run.errors.append(RowError(at[0], at[1], f"manager: {problem}"))
            continue
        if manager is not person:
            person.manager_id = manager.id


def import_slack(run: Run, f: CsvFile) -> None:
    people = People.of(run)
    state = run.table(ChatIdentity)
    existing = {(r.platform, r.external_id): r for r in state.live()}
    seen: dict[str, int] = {}
    workspaces: set[str] = set()
    seen_ids: set[str] = set()
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        uid = row.required("id")
        deleted = row.parse(parse_bool, "deleted") or False
        is_bot = row.parse(parse_bool, "is_bot") or False
        restricted = bool(row.parse(parse_bool, "is_restricted")) or bool(row.parse(parse_bool, "is_ultra_restricted"))
        if first_seen(seen, uid, row, "id") or row.bad:
            continue
        if uid == "USLACKBOT":
            is_bot = True
        email = row["profile.email"] or row["email"] or None
        workspace = row["team_id"] or None
        if workspace:
            workspaces.add(workspace)
        seen_ids.add(uid)
        person = None if is_bot or not email else people.by_mail(email)
        rec = state.upsert(
            existing.get(("slack", uid)), row.where,
            platform="slack", external_id=uid, workspace_id=workspace,
            person_id=person.id if person is not None else None, email=email,
            handle=row["name"] or None,
            display_name=row["real_name"] or row["profile.real_name"] or row["profile.display_name"] or None,
            deleted=deleted, is_bot=is_bot, is_restricted=restricted, timezone=row["tz"] or None,
        )
        existing[("slack", uid)] = rec
        if person is not None:
            people.state.touch(person)
            set_source(person, "slack", {"id": uid, "handle": row["name"] or None, "active": not deleted})
            if not person.timezone and row["tz"]:
                person.timezone = row["tz"]
    if workspaces:
        gone = [
            r for r in state.live()
            if r.platform == "slack" and r.workspace_id in workspaces and r.external_id not in seen_ids and r.id > 0
        ]
        in_scope = sum(1 for r in state.live() if r.platform == "slack" and r.workspace_id in workspaces and r.id > 0)
        remove_missing(run, f.label, "Slack accounts", gone, in_scope, state.remove)
