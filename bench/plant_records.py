"""Resolver records straight from the synthetic plant, without files or a database.

Mirrors what the importer stores for a system: the CMDB name and aliases, the
hostname Nozomi reports for computers and network gear, the IPs and MACs of
both sources, serial and asset tag, and the location words of the ISA-95
node the system sits in (cell, line, area and site names, with German local
names).
"""

from __future__ import annotations

from collections.abc import Iterator

from bench.generate import CMDB, OT, Plant
from governance_store.lookup import SystemRecord, normalize_ip


def node_contexts(plant: Plant) -> dict[str, tuple[str, ...]]:
    """ISA-95 node id -> its own and its ancestors' names and local names (enterprise excluded)."""
    rows = {r[0]: r for r in plant.hierarchy_rows()}
    out: dict[str, tuple[str, ...]] = {}
    for node_id in rows:
        words: list[str] = []
        row = rows.get(node_id)
        while row is not None and row[2] != "enterprise":
            words.extend(w for w in (row[3], row[4]) if w)
            row = rows.get(row[1])
        out[node_id] = tuple(dict.fromkeys(words))
    return out


def iter_records(plant: Plant) -> Iterator[SystemRecord]:
    """One ``SystemRecord`` per generated CMDB row, ids 1..n in file order."""
    contexts = node_contexts(plant)
    site_names = {s.code: s.name for s in plant.sites}
    site_names["CORP"] = "Corporate HQ Columbus / Cloud"
    i_name, i_alias, i_class = CMDB["name"], CMDB["u_alias"], CMDB["sys_class_name"]
    i_site, i_loc, i_serial, i_asset = CMDB["u_site_code"], CMDB["location"], CMDB["serial_number"], CMDB["asset_tag"]
    i_ip, i_mac = CMDB["ip_address"], CMDB["mac_address"]
    o_name, o_ip = OT["name"], OT["ip"]
    corp_context = (site_names["CORP"],)
    for n, system in enumerate(plant.iter_systems(), start=1):
        row, ot = system.cmdb, system.ot
        ip, mac = row[i_ip], row[i_mac]
        ips: tuple[str, ...] = (ip,) if ip else ()
        hostnames: tuple[str, ...] = ()
        if system.ot_matches:
            if ot[o_ip] != ip:
                ips = (*ips, ot[o_ip])
            if normalize_ip(ot[o_name]) is None:
                hostnames = (ot[o_name],)
        alias = row[i_alias]
        yield SystemRecord(
            id=n,
            name=row[i_name],
            aliases=tuple(alias.split("; ")) if alias else (),
            hostnames=hostnames,
            ips=ips,
            macs=(mac,) if mac else (),
            serial=row[i_serial] or None,
            asset_tag=row[i_asset] or None,
            site_code=row[i_site],
            location=row[i_loc] or None,
            class_name=row[i_class] or None,
            context=contexts.get(system.node_id, corp_context) if system.node_id else corp_context,
        )
