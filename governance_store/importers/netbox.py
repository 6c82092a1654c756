"""NetBox's contact model: contacts, contact roles and their assignments to devices and sites."""

from __future__ import annotations

from typing import Any

from governance_store.importers.assets import netbox_device_system
from governance_store.importers.context import Row, Run, fold, split_list
from governance_store.importers.csvio import CsvFile
from governance_store.importers.index import People, Places
from governance_store.importers.org import first_seen
from governance_store.importers.people import apply_profile, new_person, set_source
from governance_store.importers.removal import remove_missing
from governance_store.models import SystemContact

PRIORITIES = {"primary", "secondary", "tertiary", "inactive"}


def import_contacts(run: Run, f: CsvFile) -> None:
    people = People.of(run)
    contacts: dict[str, dict[str, Any]] = run.cache.setdefault("netbox_contacts", {})
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        name = row.required("name")
        if first_seen(seen, name, row, "contact name") or row.bad:
            continue
        email = row["email"] or None
        person = None
        if email:
            person = people.by_mail(email)
            if person is None:
                person = new_person(people, row, email, name)
            else:
                people.state.touch(person, row.where)
            apply_profile(person, "netbox", {"display_name": name, "title": row["title"] or None,
                                             "phone": row["phone"] or None})
            groups = split_list(row["groups"].replace(",", ";"))
            set_source(person, "netbox", {"name": name, "groups": groups})
            people.add(person)
        contacts[fold(name)] = {"name": name, "person": person, "phone": row["phone"] or None, "email": email}


def import_contact_roles(run: Run, f: CsvFile) -> None:
    roles: set[str] = run.cache.setdefault("netbox_roles", set())
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        name = row.required("name")
        if first_seen(seen, name, row, "role name") or row.bad:
            continue
        roles.add(fold(name))
        if row["slug"]:
            roles.add(fold(row["slug"]))


def import_contact_assignments(run: Run, f: CsvFile) -> None:
    people = People.of(run)
    places = Places.of(run)
    state = run.table(SystemContact)
    existing = {(r.system_id, r.site_code if r.system_id is None else None, fold(r.contact_name), fold(r.role)): r
                for r in state.live()}
    known_names = {fold(r.contact_name): r for r in state.live()}
    contacts: dict[str, dict[str, Any]] = run.cache.get("netbox_contacts", {})
    roles: set[str] = run.cache.get("netbox_roles", set())
    seen: dict[str, int] = {}
    kept: set[int] = set()
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        object_type = row.required("object_type").lower()
        obj = row.required("object")
        contact_name = row.required("contact")
        role = row.required("role")
        priority = row["priority"].lower() or None
        if priority is not None and priority not in PRIORITIES:
            row.fail(f"priority: invalid value {row['priority']!r} (expected {', '.join(sorted(PRIORITIES))})")
        if role and roles and fold(role) not in roles:
            row.fail(f"role: unknown contact role {role!r}")
        contact = contacts.get(fold(contact_name))
        if contact is None and contact_name:
            person = people.get(people.by_netbox_name.get(fold(contact_name)))
            if person is not None:
                contact = {"name": contact_name, "person": person, "phone": person.phone, "email": person.email}
            elif fold(contact_name) in known_names:
                old = known_names[fold(contact_name)]
                contact = {"name": old.contact_name, "person": people.get(old.person_id), "phone": old.phone,
                           "email": old.email}
            else:
                row.fail(f"contact: unknown NetBox contact {contact_name!r}")
        system = None
        site_code = None
        if object_type == "dcim.device":
            system = netbox_device_system(run, obj) if obj else None
            if obj and system is None:
                row.fail(f"object: unknown NetBox device {obj!r}")
            elif system is not None:
                site_code = system.site_code
        elif object_type == "dcim.site":
            site = places.site(obj)
            if obj and site is None:
                row.fail(f"object: unknown site {obj!r}")
            elif site is not None:
                site_code = site.code
        elif object_type:
            run.tally(f"{f.label}: assignments to {{key}} objects are not used ({{n}} row{{s}})", object_type)
            continue
        if row.bad:
            continue
        assert contact is not None
        key = (system.id if system is not None else None, site_code if system is None else None,
               fold(contact["name"]), fold(role))
        if first_seen(seen, repr(key), row, "assignment"):
            continue
        person = contact["person"]
        rec = state.upsert(
            existing.get(key), row.where, system_id=system.id if system is not None else None,
            site_code=site_code, contact_name=contact["name"], person_id=person.id if person is not None else None,
            role=role, priority=priority, phone=contact["phone"], email=contact["email"],
        )
        existing[key] = rec
        kept.add(rec.id)
    if not any(e.file == f.label for e in run.errors):
        candidates = [r for r in state.live() if r.id > 0]
        gone = [r for r in candidates if r.id not in kept]
        remove_missing(run, f.label, "NetBox contact assignments", gone, len(candidates), state.remove)
