"""Sightings: one source's view of a system, and what a system learns from all of them."""

from __future__ import annotations

from typing import Any

from governance_store.importers.context import Run
from governance_store.importers.index import SOURCE_ORDER, Systems
from governance_store.importers.removal import remove_missing


def refresh_system(systems: Systems, system: Any) -> None:
    """Addresses and host names of a system are the union of what its sightings report,
    the CMDB first; a system is in the CMDB while ServiceNow reports it."""
    live = [s for s in systems.sightings_of.get(system.id, ()) if not s._removed]
    if not live:
        return
    name = (system.name or "").casefold()
    if len(live) == 1:
        attrs = live[0].attributes or {}
        ips = list(attrs.get("ips") or ())
        macs = list(attrs.get("macs") or ())
        hosts = [h for h in attrs.get("hostnames") or () if h.casefold() != name]
    else:
        live.sort(key=lambda s: (SOURCE_ORDER.get(s.source, 9), s.external_id))
        ips, macs, hosts = [], [], []
        for src in live:
            attrs = src.attributes or {}
            for value in attrs.get("ips") or ():
                if value not in ips:
                    ips.append(value)
            for value in attrs.get("macs") or ():
                if value not in macs:
                    macs.append(value)
            for value in attrs.get("hostnames") or ():
                if value not in hosts and value.casefold() != name:
                    hosts.append(value)
    if ips != system.ips:
        system.ips = ips
    if macs != system.macs:
        system.macs = macs
    if hosts != system.hostnames:
        system.hostnames = hosts
    in_cmdb = any(s.source == "servicenow" for s in live)
    if system.in_cmdb != in_cmdb:
        system.in_cmdb = in_cmdb


def refresh_dirty(systems: Systems) -> None:
    """Refresh every system whose sightings changed since the last refresh."""
    dirty, systems.dirty = systems.dirty, set()
    for rid in dirty:
        system = systems.get(rid)
        if system is not None and not system._removed:
            refresh_system(systems, system)


def upsert_sighting(systems: Systems, system: Any, source: str, external_id: str,
                    where: tuple[str, int], seen_at: Any, attributes: dict[str, Any]) -> Any:
    systems.dirty.add(system.id)
    systems.add_identifiers(system, attributes.get("ips") or (), attributes.get("macs") or (),
                            attributes.get("hostnames") or ())
    src = systems.by_sighting.get((source, external_id))
    if src is None:
        src = systems.sources.new(where, system_id=system.id, source=source, external_id=external_id,
                                  seen_at=seen_at, attributes=attributes)
        systems.add_sighting(src)
        return src
    systems.sources.touch(src, where)
    if src.system_id != system.id:
        old = systems.get(src.system_id)
        systems.move_sighting(src, system.id)
        if old is not None:
            drop_if_unseen(systems, old)
    src.seen_at = seen_at
    if attributes != src.attributes:
        src.attributes = attributes
    return src


def drop_if_unseen(systems: Systems, system: Any) -> None:
    """A system that no source reports any more is removed; otherwise it is refreshed."""
    live = [s for s in systems.sightings_of.get(system.id, ()) if not s._removed]
    if live:
        refresh_system(systems, system)
    elif systems.sightings_of.get(system.id) is not None:
        systems.state.remove(system)


def remove_unseen(run: Run, label: str, source: str, seen: set[str], in_scope: Any = None) -> None:
    """After a full export of ``source``: its earlier sightings that the export lacks go away."""
    systems = Systems.of(run)
    candidates = [
        s for (src_name, _ext), s in systems.by_sighting.items()
        if src_name == source and s.id > 0 and not s._removed and (in_scope is None or in_scope(s))
    ]
    gone = [s for s in candidates if s.external_id not in seen]
    what = {"servicenow": "CMDB items", "nozomi": "OT inventory assets", "netbox": "NetBox devices"}[source]
    if not remove_missing(run, label, what, gone, len(candidates), systems.sources.remove):
        return
    for src in gone:
        system = systems.get(src.system_id)
        if system is not None:
            drop_if_unseen(systems, system)
