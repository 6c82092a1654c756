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
from governance_store.importers.sightings import remove_unseen, upsert_sighting
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
    if not value:
        return []
    out: list[str] = []
    for part in _SPLIT_ADDR.split(value):
        if part:
            v = norm(part)
            if v not in out:
                out.append(v)
    return out


class _Shared:
    """Parsed values shared by every row with the same text (lists are never edited in place)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.values: dict[str, Any] = {}

    def __call__(self, text: str) -> Any:
        try:
            return self.values[text]
        except KeyError:
            value = self.values[text] = self.fn(text)
            return value


class _Memo:
    """Parsed values of one column by raw text: exports repeat the same few values endlessly."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn = fn
        self.args = args
        self.values: dict[str, tuple[Any, str | None]] = {}

    def __call__(self, row: Row, column: str) -> Any:
        text = row.values.get(column, "")
        hit = self.values.get(text)
        if hit is None:
            try:
                hit = (self.fn(text, *self.args), None)
            except ValueError as exc:
                hit = (None, f"{column}: {exc}")
            self.values[text] = hit
        if hit[1] is not None:
            row.fail(hit[1])
        return hit[0]


def _status_parser(codes: dict[str, str], raw: bool) -> Any:
    def parse(value: str) -> str | None:
        if not value:
            return None
        if raw or value.isdigit():
            label = codes.get(value)
            if label is None:
                raise ValueError(f"unknown status code {value!r}")
            return label
        return value

    return parse


def import_cmdb(run: Run, f: CsvFile) -> None:
    raw = f.variant == "raw"
    tz: dt.tzinfo = dt.UTC if raw or "sys_updated_on" not in f.columns else run.display_tz(f, "sys_updated_on")
    people = People.of(run)
    teams = Teams.of(run)
    places = Places.of(run)
    systems = Systems.of(run)
    state = systems.state
    display_ids: set[str] = run.cache.setdefault("cmdb_display_ids", set())
    run_ids: set[str] = run.cache.setdefault("cmdb_ids", set())
    zones_known = bool(places.zone_by_id)
    sites_known = bool(places.site_by_code)
    interned = run.interned
    purdue_of = _Memo(parse_purdue)
    crit_of = _Memo(parse_numbered_choice, 1, 4, "criticality")
    install_of = _Memo(_status_parser(RAW_INSTALL_STATUS, raw))
    operational_of = _Memo(_status_parser(RAW_OPERATIONAL_STATUS, raw))
    person_of: dict[str, tuple[Any, str | None]] = {}
    team_of: dict[str, Any] = {}
    alias_lists = _Shared(split_list)
    seen: dict[str, int] = {}
    done = 0
    for line, values in f.rows(run.errors):
        done += 1
        if done % 5000 == 0:
            run.progress_rows(f, 5000)
        row = Row(run, f, line, values)
        get = values.get
        sys_id = get("sys_id", "")
        name = get("name", "")
        if not sys_id:
            row.fail("sys_id is empty")
        if not name:
            row.fail("name is empty")
        if sys_id in seen:
            row.fail(f"duplicate sys_id {sys_id!r} (first on line {seen[sys_id]})")
            continue
        if sys_id:
            seen[sys_id] = line
        purdue = purdue_of(row, "u_purdue_level")
        crit = crit_of(row, "u_business_criticality")
        install = install_of(row, "install_status")
        operational = operational_of(row, "operational_status")
        updated = row.parse(parse_datetime, "sys_updated_on", tz)
        owner_ids = []
        for column in ("owned_by", "managed_by"):
            ref = get(column, "")
            found = person_of.get(ref)
            if found is None:
                found = person_of[ref] = people.find(ref)
            if ref and found[0] is None:
                row.fail(f"{column}: {found[1]}")
            owner_ids.append(found[0].id if found[0] is not None else None)
        if row.bad:
            continue

        run_ids.add(sys_id)
        fill_only = raw and sys_id in display_ids
        if not raw:
            display_ids.add(sys_id)
        site_code = get("u_site_code") or None
        if site_code:
            site_code = interned.setdefault(site_code, site_code)
        zone = get("u_security_zone") or None
        if zone:
            zone = interned.setdefault(zone, zone)
        aliases = alias_lists(get("u_alias", ""))
        fields: dict[str, Any] = {
            "name": name, "aliases": aliases, "site_code": site_code, "purdue_level": purdue,
            "domain": domain_for(purdue), "zone_id": zone, "criticality": crit,
            "serial": get("serial_number") or None, "asset_tag": get("asset_tag") or None,
            "install_status": install, "operational_status": operational, "updated_at": updated,
            "owner_id": owner_ids[0], "technical_manager_id": owner_ids[1],
        }
        if raw:
            for column, attr in (("manufacturer", "manufacturer"), ("model_id", "model")):
                value = get(column, "")
                if value and not is_sys_id(value):
                    fields[attr] = interned.setdefault(value, value)
        else:
            location = get("location") or None
            if location:
                location = interned.setdefault(location, location)
            node = places.node_for(site_code, location, [name, *aliases])
            cls = get("sys_class_name") or None
            fields["class_name"] = interned.setdefault(cls, cls) if cls else None
            fields["location"] = location
            man = get("manufacturer") or None
            fields["manufacturer"] = interned.setdefault(man, man) if man else None
            model = get("model_id") or None
            fields["model"] = interned.setdefault(model, model) if model else None
            fields["node_id"] = interned.setdefault(node, node) if node else None
        keep_names: dict[str, str] = {}
        for column, team_attr, name_attr in TEAM_COLUMNS:
            ref = get(column, "")
            team = team_of.get(ref, False)
            if team is False:
                team = team_of[ref] = teams.find(ref)
            if team is not None:
                fields[team_attr] = team.id
                fields[name_attr] = team.name
            elif not ref:
                fields[team_attr] = None
                fields[name_attr] = None
            elif raw:
                # An unknown group sys_id says nothing a name could; keep what is known.
                keep_names[name_attr] = ref
                if not fill_only:
                    run.tally(f"{f.label}: {column} sys_id {{key}} matches no team ({{n}} row{{s}})", ref)
            else:
                fields[team_attr] = None
                fields[name_attr] = interned.setdefault(ref, ref)
                run.tally(f"{f.label}: {column} {{key!r}} matches no team ({{n}} row{{s}}); kept as a name", ref)
        if site_code and sites_known and places.site(site_code) is None:
            run.tally(f"{f.label}: u_site_code {{key!r}} is not a known site ({{n}} row{{s}})", site_code)
        if zone and zones_known and fold(zone) not in places.zone_by_id:
            run.tally(f"{f.label}: u_security_zone {{key!r}} is not a known zone ({{n}} row{{s}})", zone)

        src = systems.by_sighting.get(("servicenow", sys_id))
        system = systems.get(src.system_id) if src is not None else None
        if system is None:
            system = systems.get(systems.by_key.get(sys_id))
        if system is None:
            if raw:
                label = CLASS_LABELS.get(get("sys_class_name", ""), get("sys_class_name", "")) or None
                fields["class_name"] = interned.setdefault(label, label) if label else None
            fields.update(keep_names)
            system = state.new(row.where, key=sys_id, ips=[], macs=[], hostnames=[], in_cmdb=True, **fields)
        else:
            state.touch(system, row.where)
            for attr, value in fields.items():
                current = getattr(system, attr)
                if current == value or (fill_only and current not in (None, "", [])):
                    continue
                setattr(system, attr, value)
            for attr, value in keep_names.items():
                if getattr(system, attr) is None:
                    setattr(system, attr, value)
            if raw and system.class_name is None:
                label = CLASS_LABELS.get(get("sys_class_name", ""), get("sys_class_name", "")) or None
                system.class_name = interned.setdefault(label, label) if label else None

        attributes = {
            "discovery_source": get("discovery_source") or None,
            "ips": _addresses(get("ip_address", ""), norm_ip),
            "macs": _addresses(get("mac_address", ""), norm_mac),
        }
        seen_at = updated
        if fill_only and src is not None:
            merged = dict(src.attributes or {})
            for k, v in attributes.items():
                if merged.get(k) in (None, "", []):
                    merged[k] = v
            attributes = merged
            seen_at = src.seen_at or updated
        upsert_sighting(systems, system, "servicenow", sys_id, row.where, seen_at, attributes)
        systems.add(system)
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
