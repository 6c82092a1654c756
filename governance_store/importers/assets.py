"""Network-side inventories: Nozomi Guardian assets and NetBox devices.

Each row is matched to a system by IP or MAC first, then serial (any case), then
asset tag, then host name or alias (any case).  A matched row becomes a sighting
of that system and adds the addresses and host names it knows; the CMDB's own
fields (Purdue level, names, owners) are left alone and the inventory's view is
kept in the sighting's attributes.  A row that matches nothing becomes a system
of its own, outside the CMDB, for the governance lint to report.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from governance_store.importers.cmdb import _Shared
from governance_store.importers.context import (
    Row,
    Run,
    domain_for,
    parse_datetime,
    parse_purdue,
    split_list,
)
from governance_store.importers.csvio import CsvFile
from governance_store.importers.index import Places, Systems, looks_like_ip, norm_ip, norm_mac
from governance_store.importers.org import first_seen
from governance_store.importers.sightings import remove_unseen, upsert_sighting


def _parse_seen(value: str) -> dt.datetime | None:
    """Nozomi times are epoch milliseconds; ISO timestamps are accepted too."""
    if not value:
        return None
    if value.isdigit():
        stamp = int(value)
        return dt.datetime.fromtimestamp(stamp / 1000 if stamp > 10**11 else stamp, tz=dt.UTC)
    return parse_datetime(value, dt.UTC)


def _compact(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v not in (None, "", [], {})}


def _own_system(systems: Systems, key: str, where: tuple[str, int], name: str) -> Any:
    system = systems.get(systems.by_key.get(key))
    if system is None:
        system = systems.state.new(where, key=key, name=name, aliases=[], ips=[], macs=[], hostnames=[],
                                   in_cmdb=False)
    else:
        systems.state.touch(system, where)
    return system


def _set(system: Any, **values: Any) -> None:
    for attr, value in values.items():
        if getattr(system, attr) != value:
            setattr(system, attr, value)


def _custom_fields(text: str) -> dict[str, Any] | str:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"custom_fields: not valid JSON ({exc.msg})"
    return value if isinstance(value, dict) else "custom_fields: expected a JSON object"


def import_nozomi(run: Run, f: CsvFile) -> None:
    systems = Systems.of(run)
    places = Places.of(run)
    interned = run.interned

    def iv(value: str) -> str | None:
        return interned.setdefault(value, value) if value else None

    lists = _Shared(split_list)
    customs = _Shared(_custom_fields)
    levels = _Shared(lambda text: _try(parse_purdue, text))
    seen: dict[str, int] = {}
    seen_ids: set[str] = set()
    appliances: set[str] = set()
    unmatched = 0
    done = 0
    for line, values in f.rows(run.errors):
        done += 1
        if done % 5000 == 0:
            run.progress_rows(f, 5000)
        row = Row(run, f, line, values)
        get = values.get
        nid = get("id", "")
        if not nid:
            row.fail("id is empty")
        elif nid in seen:
            row.fail(f"duplicate id {nid!r} (first on line {seen[nid]})")
            continue
        else:
            seen[nid] = line
        level, problem = levels(get("level", ""))
        if problem:
            row.fail(f"level: {problem}")
        seen_at = row.parse(_parse_seen, "last_activity_time") if get("last_activity_time") else None
        custom = customs(get("custom_fields", ""))
        if isinstance(custom, str):
            row.fail(custom)
        if row.bad:
            continue
        seen_ids.add(nid)
        name = get("name", "")
        ips = [norm_ip(v) for v in lists(get("ip", ""))]
        macs = [norm_mac(v) for v in lists(get("mac_address", ""))]
        hostnames = [name] if name and not looks_like_ip(name) else []
        serial = get("serial_number") or None
        zones = lists(get("zones", ""))
        appliance = iv(get("appliance_hosts", ""))
        if appliance:
            appliances.add(appliance)
        site = custom.get("site") if isinstance(custom.get("site"), str) else None

        system, ambiguous = systems.lookup(ips=ips, macs=macs, serial=serial, names=hostnames)
        if ambiguous:
            run.tally(f"{f.label}: asset {{key}} matches several systems equally well; the first was taken", nid)
        key = f"nozomi:{nid}"
        if system is None:
            src = systems.by_sighting.get(("nozomi", nid))
            if src is not None:
                system = systems.get(src.system_id)
        kind = get("type", "")
        if system is None or system.key == key:
            unmatched += 1
            label = name or (ips[0] if ips else nid)
            system = _own_system(systems, key, row.where, label)
            _set(system, name=label, manufacturer=iv(get("vendor") or get("mac_vendor", "")),
                 model=iv(get("product_name", "")), serial=serial, purdue_level=level,
                 domain=domain_for(level), zone_id=iv(zones[0]) if zones else None,
                 site_code=iv(site) if site and places.site(site) else system.site_code,
                 class_name=iv(kind) if kind not in ("", "-") else None)
            systems.add(system)
        attributes = _compact({
            "name": name, "level": level, "vendor": iv(get("vendor", "")),
            "product_name": iv(get("product_name", "")), "firmware_version": iv(get("firmware_version", "")),
            "serial_number": serial, "os": iv(get("os") or get("os_or_firmware", "")), "type": iv(kind),
            "roles": lists(get("roles", "")), "protocols": lists(get("protocols", "")), "zones": zones,
            "appliance": appliance, "vlan_id": iv(get("vlan_id", "")), "mac_vendor": iv(get("mac_vendor", "")),
            "ips": ips, "macs": macs, "hostnames": hostnames, "custom_fields": custom,
        })
        upsert_sighting(systems, system, "nozomi", nid, row.where, seen_at, attributes)
    run.progress_rows(f, done % 5000)
    if unmatched:
        run.note(f"{f.label}: {unmatched} asset(s) match no CMDB item; kept as systems outside the CMDB")
    if appliances and not any(e.file == f.label for e in run.errors):
        remove_unseen(run, f.label, "nozomi", seen_ids,
                      lambda s: (s.attributes or {}).get("appliance") in appliances)


def _try(fn: Any, text: str) -> tuple[Any, str | None]:
    try:
        return fn(text), None
    except ValueError as exc:
        return None, str(exc)


def import_netbox_devices(run: Run, f: CsvFile) -> None:
    systems = Systems.of(run)
    places = Places.of(run)
    intern = run.intern
    seen: dict[str, int] = {}
    seen_names: set[str] = set()
    sites: set[str] = set()
    unmatched = 0
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        name = row.required("name")
        if first_seen(seen, name, row, "device name") or row.bad:
            continue
        seen_names.add(name)
        ips = [norm_ip(v) for v in (row["primary_ip4"], row["primary_ip6"], row["primary_ip"]) if v]
        ips += [norm_ip(v) for v in split_list(row["ip_addresses"])]
        ips = list(dict.fromkeys(ips))
        serial = row["serial"] or None
        asset_tag = row["asset_tag"] or None
        description = row["description"] or None
        site_name = row["site"] or None
        if site_name:
            sites.add(site_name)
        system, ambiguous = systems.lookup(ips=ips, serial=serial, asset_tag=asset_tag,
                                           names=[n for n in (name, description) if n])
        if ambiguous:
            run.tally(f"{f.label}: device {{key}} matches several systems equally well; the first was taken", name)
        key = f"netbox:{name}"
        if system is None:
            src = systems.by_sighting.get(("netbox", name))
            if src is not None:
                system = systems.get(src.system_id)
        if system is None or system.key == key:
            unmatched += 1
            site = places.site(site_name) if site_name else None
            system = _own_system(systems, key, row.where, name)
            _set(system, name=name, manufacturer=intern(row["manufacturer"] or None),
                 model=intern(row["device_type"] or None), serial=serial, asset_tag=asset_tag,
                 class_name=intern(row["role"] or None), site_code=site.code if site is not None else None)
            systems.add(system)
        attributes = _compact({
            "name": name, "role": intern(row["role"] or None), "device_type": intern(row["device_type"] or None),
            "manufacturer": intern(row["manufacturer"] or None), "site": intern(site_name),
            "location": intern(row["location"] or None), "tenant": intern(row["tenant"] or None),
            "status": intern(row["status"] or None), "serial": serial, "asset_tag": asset_tag,
            "description": description, "ips": ips, "hostnames": [name],
        })
        upsert_sighting(systems, system, "netbox", name, row.where, None, attributes)
    if unmatched:
        run.note(f"{f.label}: {unmatched} device(s) match no CMDB item; kept as systems outside the CMDB")
    if sites and not any(e.file == f.label for e in run.errors):
        remove_unseen(run, f.label, "netbox", seen_names, lambda s: (s.attributes or {}).get("site") in sites)


def netbox_device_system(run: Run, name: str) -> Any:
    systems = Systems.of(run)
    src = systems.by_sighting.get(("netbox", name))
    if src is not None and not src._removed:
        return systems.get(src.system_id)
    system, _problem = systems.find_ref(name)
    return system
