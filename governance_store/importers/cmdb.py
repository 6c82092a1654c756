"""ServiceNow CMDB: ``cmdb_ci`` list exports (display or raw values) and ``cmdb_rel_ci``.

A display-value export holds labels, names and wall-clock times of the exporting
user; a raw-value export holds choice codes, sys_ids, table names and UTC.  The
same sys_id in both is the same system: display labels win for what both carry
and the raw export only fills what is missing.  The raw export's location,
company and model sys_ids point at tables that are not exported, so they are
ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from governance_store.importers.context import (
    DISPLAY_TZ,
    Row,
    Run,
    domain_for,
    fold,
    is_sys_id,
    parse_datetime,
    parse_numbered_choice,
    parse_purdue,
    split_list,
)
from governance_store.importers.csvio import CsvFile
from governance_store.importers.index import People, Places, Systems, Teams, norm_ip, norm_mac
from governance_store.importers.org import first_seen
from governance_store.importers.removal import remove_missing
from governance_store.importers.sightings import refresh_system, remove_unseen, upsert_sighting
from governance_store.models import SystemRelation

RAW_INSTALL_STATUS = {
    "1": "Installed", "2": "On Order", "3": "In Maintenance", "4": "Pending Install", "5": "Pending Repair",
    "6": "In Stock", "7": "Retired", "8": "Stolen", "100": "Absent",
}
RAW_OPERATIONAL_STATUS = {
    "1": "Operational", "2": "Non-Operational", "3": "Repair in Progress", "4": "DR Standby", "5": "Ready",
    "6": "Retired",
}
# Labels of CMDB tables, used when only a raw export has been seen.
CLASS_LABELS = {
    "cmdb_ci": "Configuration Item", "cmdb_ci_appl": "Application", "cmdb_ci_computer": "Computer",
    "cmdb_ci_hardware": "Hardware", "cmdb_ci_server": "Server", "cmdb_ci_win_server": "Windows Server",
    "cmdb_ci_linux_server": "Linux Server", "cmdb_ci_ip_firewall": "IP Firewall", "cmdb_ci_ip_switch": "IP Switch",
    "cmdb_ci_ip_router": "IP Router", "cmdb_ci_netgear": "Network Gear", "cmdb_ci_ot": "OT Asset",
    "cmdb_ci_ot_plc": "PLC", "cmdb_ci_ot_hmi": "HMI", "cmdb_ci_ot_ews": "EWS",
    "cmdb_ci_ot_historian": "Historian", "cmdb_ci_ot_scada_server": "SCADA Server",
    "cmdb_ci_ot_industrial_drive": "Industrial Drive", "cmdb_ci_ot_industrial_robot": "Industrial Robot",
    "cmdb_ci_ot_industrial_sensor": "Industrial Sensor", "cmdb_ci_ot_rtu": "RTU", "cmdb_ci_ot_dcs": "DCS",
    "cmdb_ci_ot_sis": "SIS", "cmdb_ci_ot_gateway": "OT Gateway", "cmdb_ci_vm_instance": "Virtual Machine Instance",
    "cmdb_ci_cloud_service_account": "Cloud Service Account", "cmdb_ci_service": "Service",
}
REFERENCE_COLUMNS = (
    "owned_by", "managed_by", "managed_by_group", "support_group", "assignment_group", "location", "company",
    "manufacturer", "model_id", "requested_by", "assigned_to", "cmdb_ci", "approver", "sysapproval", "manager",
    "group", "user", "parent", "child",
)
TEAM_COLUMNS = (
    ("managed_by_group", "managed_by_team_id", "managed_by_group_name"),
    ("support_group", "support_team_id", "support_group_name"),
    ("assignment_group", "assignment_team_id", "assignment_group_name"),
)
_SPLIT_ADDR = re.compile(r"[;,\s]+")


def sniff_servicenow(sample: list[dict[str, str]]) -> str:
    """``raw`` when references are sys_ids, choices are codes or classes are table names."""
    raw = display = 0
    for row in sample:
        cls = row.get("sys_class_name", "")
        if cls:
            if cls.startswith("cmdb_"):
                raw += 1
            else:
                display += 1
        for col in ("install_status", "operational_status", "state"):
            v = row.get(col, "")
            if v:
                if v.lstrip("-").isdigit():
                    raw += 1
                else:
                    display += 1
        for col in REFERENCE_COLUMNS:
            v = row.get(col, "")
            if v:
                if is_sys_id(v):
                    raw += 1
                elif not v.isdigit():
                    display += 1
    return "raw" if raw > display else "display"


def _addresses(value: str, norm: Any) -> list[str]:
    out: list[str] = []
    for part in _SPLIT_ADDR.split(value or ""):
        if part:
            v = norm(part)
            if v not in out:
                out.append(v)
    return out


def _status(row: Row, column: str, codes: dict[str, str], raw: bool) -> str | None:
    value = row[column]
    if not value:
        return None
    if raw or value.isdigit():
        label = codes.get(value)
        if label is None:
            row.fail(f"{column}: unknown status code {value!r}")
        return label
    return value


def import_cmdb(run: Run, f: CsvFile) -> None:
    raw = f.variant == "raw"
    tz: dt.tzinfo = dt.UTC if raw else DISPLAY_TZ
    people = People.of(run)
    teams = Teams.of(run)
    places = Places.of(run)
    systems = Systems.of(run)
    display_ids: set[str] = run.cache.setdefault("cmdb_display_ids", set())
    run_ids: set[str] = run.cache.setdefault("cmdb_ids", set())
    zones_known = bool(places.zone_by_id)
    sites_known = bool(places.site_by_code)
    intern = run.intern
    seen: dict[str, int] = {}
    done = 0
    for line, values in f.rows(run.errors):
        done += 1
        if done % 5000 == 0:
            run.progress_rows(f, 5000)
        row = Row(run, f, line, values)
        sys_id = row.required("sys_id")
        name = row.required("name")
        if first_seen(seen, sys_id, row, "sys_id"):
            continue
        purdue = row.parse(parse_purdue, "u_purdue_level")
        crit = row.parse(parse_numbered_choice, "u_business_criticality", 1, 4, "criticality")
        install = _status(row, "install_status", RAW_INSTALL_STATUS, raw)
        operational = _status(row, "operational_status", RAW_OPERATIONAL_STATUS, raw)
        updated = row.parse(parse_datetime, "sys_updated_on", tz)
        owners = {}
        for column, attr in (("owned_by", "owner_id"), ("managed_by", "technical_manager_id")):
            ref = row[column]
            person, problem = people.find(ref)
            if ref and person is None:
                row.fail(f"{column}: {problem}")
            owners[attr] = person.id if person is not None else None
        if row.bad:
            continue

        run_ids.add(sys_id)
        fill_only = raw and sys_id in display_ids
        if not raw:
            display_ids.add(sys_id)
        src = systems.by_sighting.get(("servicenow", sys_id))
        system = systems.get(src.system_id) if src is not None else None
        if system is None:
            key = sys_id
            system = systems.get(systems.by_key.get(key))
            if system is None:
                system = systems.state.new(row.where, key=key, name=name, aliases=[], ips=[], macs=[],
                                           hostnames=[], in_cmdb=True)
        systems.state.touch(system, row.where)

        def put(attr: str, value: Any, system: Any = system, fill_only: bool = fill_only) -> None:
            if fill_only and getattr(system, attr) not in (None, "", []):
                return
            if getattr(system, attr) != value:
                setattr(system, attr, value)

        site_code = intern(row["u_site_code"] or None)
        aliases = split_list(row["u_alias"])
        put("name", name)
        put("aliases", aliases)
        put("site_code", site_code)
        put("purdue_level", purdue)
        put("domain", domain_for(purdue))
        put("zone_id", intern(row["u_security_zone"] or None))
        put("criticality", crit)
        put("serial", row["serial_number"] or None)
        put("asset_tag", row["asset_tag"] or None)
        put("install_status", intern(install))
        put("operational_status", intern(operational))
        put("updated_at", updated)
        put("owner_id", owners["owner_id"])
        put("technical_manager_id", owners["technical_manager_id"])
        if raw:
            label = CLASS_LABELS.get(row["sys_class_name"], row["sys_class_name"]) or None
            if system.class_name is None and label:
                system.class_name = intern(label)
            for column, attr in (("manufacturer", "manufacturer"), ("model_id", "model")):
                value = row[column]
                if value and not is_sys_id(value):
                    put(attr, intern(value))
        else:
            location = intern(row["location"] or None)
            put("class_name", intern(row["sys_class_name"] or None))
            put("location", location)
            put("manufacturer", intern(row["manufacturer"] or None))
            put("model", intern(row["model_id"] or None))
            put("node_id", intern(places.node_for(site_code, location, [name, *aliases])))
        for column, team_attr, name_attr in TEAM_COLUMNS:
            ref = row[column]
            team = teams.find(ref)
            if team is not None:
                put(team_attr, team.id)
                put(name_attr, team.name)
            elif not ref:
                put(team_attr, None)
                put(name_attr, None)
            elif raw:
                # An unknown group sys_id says nothing a name could; keep what is known.
                if getattr(system, name_attr) is None:
                    setattr(system, name_attr, ref)
                if not fill_only:
                    run.tally(f"{f.label}: {column} sys_id {{key}} matches no team ({{n}} row{{s}})", ref)
            else:
                put(team_attr, None)
                put(name_attr, intern(ref))
                run.tally(f"{f.label}: {column} {{key!r}} matches no team ({{n}} row{{s}}); kept as a name", ref)
        if site_code and sites_known and places.site(site_code) is None:
            run.tally(f"{f.label}: u_site_code {{key!r}} is not a known site ({{n}} row{{s}})", site_code)
        zone = row["u_security_zone"]
        if zone and zones_known and fold(zone) not in places.zone_by_id:
            run.tally(f"{f.label}: u_security_zone {{key!r}} is not a known zone ({{n}} row{{s}})", zone)

        attributes = {
            "discovery_source": row["discovery_source"] or None,
            "ips": _addresses(row["ip_address"], norm_ip),
            "macs": _addresses(row["mac_address"], norm_mac),
        }
        if fill_only and src is not None:
            merged = dict(src.attributes or {})
            for k, v in attributes.items():
                if merged.get(k) in (None, "", []):
                    merged[k] = v
            attributes = merged
        upsert_sighting(systems, system, "servicenow", sys_id, row.where,
                        src.seen_at if fill_only and src is not None and src.seen_at else updated, attributes)
        systems.add(system)
        refresh_system(systems, system)
    run.progress_rows(f, done % 5000)


def finish_cmdb(run: Run) -> None:
    files = run.files_of("cmdb_ci", "cmdb_ci_raw")
    if files and not any(e.file in {f.label for f in files} for e in run.errors):
        remove_unseen(run, " + ".join(f.label for f in files), "servicenow", run.cache.get("cmdb_ids", set()))


def relation_kind(value: str) -> str:
    """``Depends on::Used by`` is ``depends_on``: the parent's side of the relation type."""
    parent_side = (value or "Depends on::Used by").split("::", 1)[0]
    return re.sub(r"[^a-z0-9]+", "_", parent_side.strip().lower()).strip("_") or "depends_on"


def import_rel_ci(run: Run, f: CsvFile) -> None:
    systems = Systems.of(run)
    state = run.table(SystemRelation)
    existing = {(r.system_id, r.depends_on_id, r.kind): r for r in state.live()}
    seen: dict[str, int] = {}
    kept: set[int] = set()
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        ends = []
        for column in ("parent", "child"):
            ref = row.required(column)
            system, problem = systems.find_ref(ref)
            if ref and system is None:
                row.fail(f"{column}: {problem}")
            ends.append(system)
        kind = relation_kind(row["type"])
        if row.bad:
            continue
        parent, child = ends
        if parent is child:
            row.fail("parent and child are the same system")
            continue
        if first_seen(seen, f"{parent.id}\x00{child.id}\x00{kind}", row, "relation"):
            continue
        key = (parent.id, child.id, kind)
        rec = state.upsert(existing.get(key), row.where, system_id=parent.id, depends_on_id=child.id,
                           kind=kind, source="servicenow")
        existing[key] = rec
        kept.add(rec.id)
    if not any(e.file == f.label for e in run.errors):
        candidates = [r for r in state.live() if r.source == "servicenow" and r.id > 0]
        gone = [r for r in candidates if r.id not in kept]
        remove_missing(run, f.label, "CMDB relations", gone, len(candidates), state.remove)
