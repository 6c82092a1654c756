"""Dictionary indexes over the working copy: people, teams, places and systems.

Every lookup an importer makes is a dict access; the indexes are built once per
run from the loaded tables and kept current as importers add records.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from governance_store.folding import name_keys, plain
from governance_store.importers.context import Run, fold, is_sys_id
from governance_store.models import (
    HierarchyNode,
    Person,
    Site,
    System,
    SystemSource,
    Team,
    Zone,
)


def _add(index: dict[str, Any], key: str | None, rid: int) -> None:
    """Multi-valued index stored compactly: one id, or a list when keys collide."""
    if not key:
        return
    have = index.get(key)
    if have is None:
        index[key] = rid
    elif isinstance(have, list):
        if rid not in have:
            have.append(rid)
    elif have != rid:
        index[key] = [have, rid]


def _get(index: dict[str, Any], key: str | None) -> list[int]:
    if not key:
        return []
    have = index.get(key)
    if have is None:
        return []
    return list(have) if isinstance(have, list) else [have]


# --------------------------------------------------------------------------- people


class People:
    def __init__(self, run: Run) -> None:
        self.state = run.table(Person)
        self.by_email: dict[str, int] = {}
        self.by_upn: dict[str, int] = {}
        self.by_aad: dict[str, int] = {}
        self.by_sys_id: dict[str, int] = {}
        self.by_user_name: dict[str, int] = {}
        self.by_name: dict[str, Any] = {}
        # Names without diacritics ("Lucja Wozniak" for "Łucja Woźniak"), for references typed on another keyboard.
        self.by_plain_name: dict[str, Any] = {}
        self.by_netbox_name: dict[str, int] = {}
        for rec in self.state.live():
            self.add(rec)

    @classmethod
    def of(cls, run: Run) -> People:
        if "people" not in run.cache:
            run.cache["people"] = cls(run)
        return run.cache["people"]  # type: ignore[no-any-return]

    def add(self, rec: Any) -> None:
        if rec.email:
            self.by_email[fold(rec.email)] = rec.id
        if rec.upn:
            self.by_upn[fold(rec.upn)] = rec.id
        if rec.aad_object_id:
            self.by_aad[rec.aad_object_id.lower()] = rec.id
        if rec.servicenow_sys_id:
            self.by_sys_id[rec.servicenow_sys_id] = rec.id
        if rec.servicenow_user_name:
            self.by_user_name[fold(rec.servicenow_user_name)] = rec.id
        if rec.display_name:
            _add(self.by_name, fold(rec.display_name), rec.id)
            for key in set(name_keys(rec.display_name)):
                _add(self.by_plain_name, key, rec.id)
        netbox = (rec.sources or {}).get("netbox") or {}
        if netbox.get("name"):
            self.by_netbox_name[fold(netbox["name"])] = rec.id

    def get(self, rid: int | None) -> Any:
        return None if rid is None else self.state.rows.get(rid)

    def by_mail(self, email: str) -> Any:
        rid = self.by_email.get(fold(email)) if email else None
        return self.get(rid)

    def find(self, ref: str) -> tuple[Any, str | None]:
        """A person by sys_id, e-mail, UPN, user name or display name: (record, problem)."""
        if not ref:
            return None, None
        if is_sys_id(ref):
            rec = self.get(self.by_sys_id.get(ref))
            return (rec, None) if rec else (None, f"no ServiceNow user with sys_id {ref}")
        key = fold(ref)
        for index in (self.by_email, self.by_upn, self.by_user_name):
            if key in index:
                return self.get(index[key]), None
        ids = _get(self.by_name, key)
        if not ids:
            ids = sorted({i for k in set(name_keys(ref)) for i in _get(self.by_plain_name, k)})
        if len(ids) == 1:
            return self.get(ids[0]), None
        if len(ids) > 1:
            return None, f"person name {ref!r} is ambiguous ({len(ids)} people)"
        return None, f"unknown person {ref!r}"

    def find_initial_surname(self, ref: str) -> Any:
        """``"G. Maddox"``: the one person whose surname and first initial match."""
        m = re.fullmatch(r"\s*([^\W\d_])\.?\s+(.+?)\s*", ref)
        if not m:
            return None
        initial, surname = plain(m.group(1)), plain(m.group(2).strip())
        hits = []
        for rec in self.state.live():
            sur = plain(rec.surname or (rec.display_name.split()[-1] if rec.display_name else ""))
            given = plain(rec.given_name or (rec.display_name.split()[0] if rec.display_name else ""))
            if sur == surname and given.startswith(initial):
                hits.append(rec)
        return hits[0] if len(hits) == 1 else None


# --------------------------------------------------------------------------- teams


class Teams:
    def __init__(self, run: Run) -> None:
        self.state = run.table(Team)
        self.by_name: dict[str, int] = {}
        self.by_sys_id: dict[str, int] = {}
        self.by_key: dict[str, int] = {}
        for rec in self.state.live():
            self.add(rec)

    @classmethod
    def of(cls, run: Run) -> Teams:
        if "teams" not in run.cache:
            run.cache["teams"] = cls(run)
        return run.cache["teams"]  # type: ignore[no-any-return]

    def add(self, rec: Any) -> None:
        self.by_name[fold(rec.name)] = rec.id
        if rec.servicenow_sys_id:
            self.by_sys_id[rec.servicenow_sys_id] = rec.id
        if rec.team_key:
            self.by_key[fold(rec.team_key)] = rec.id

    def find(self, ref: str) -> Any:
        if not ref:
            return None
        if is_sys_id(ref):
            rid = self.by_sys_id.get(ref)
        else:
            rid = self.by_name.get(fold(ref))
            if rid is None:
                rid = self.by_key.get(fold(ref))
        return None if rid is None else self.state.rows.get(rid)


# --------------------------------------------------------------------------- places

LINE_LEVELS = {"production_line", "process_cell", "production_unit", "storage_zone", "work_center", "unit"}
_LINE_IN_NAME = re.compile(r"(?:\b(?:line|linie)\s*0*(\d{1,2})\b|(?<![A-Za-z0-9])L0*(\d{1,2})(?![0-9A-Za-z]))", re.I)
_LINE_OF_NODE = re.compile(r"\b(?:line|linie)\s*0*(\d{1,2})\b", re.I)


def line_numbers(*texts: str | None) -> list[int]:
    out: list[int] = []
    for text in texts:
        for m in _LINE_IN_NAME.finditer(text or ""):
            n = int(m.group(1) or m.group(2))
            if n not in out:
                out.append(n)
    return out


class Places:
    """Sites, ISA-95 nodes and zones by their codes and names."""

    def __init__(self, run: Run) -> None:
        self.sites = run.table(Site)
        self.nodes = run.table(HierarchyNode)
        self.zones = run.table(Zone)
        self.site_by_code: dict[str, Any] = {}
        self.site_by_name: dict[str, Any] = {}
        self.node_by_id: dict[str, Any] = {}
        self.zone_by_id: dict[str, Any] = {}
        self.cache_areas: tuple[dict[tuple[str, str], Any], dict[tuple[int, int], Any]] | None = None
        self.areas_with_lines: set[int] = set()
        self.area_memo: dict[tuple[str, str], Any] = {}
        for rec in self.sites.live():
            self.add_site(rec)
        for rec in self.nodes.live():
            self.add_node(rec)
        for rec in self.zones.live():
            self.add_zone(rec)

    @classmethod
    def of(cls, run: Run) -> Places:
        if "places" not in run.cache:
            run.cache["places"] = cls(run)
        return run.cache["places"]  # type: ignore[no-any-return]

    def add_site(self, rec: Any) -> None:
        self.site_by_code[fold(rec.code)] = rec
        self.site_by_name[fold(rec.name)] = rec

    def add_node(self, rec: Any) -> None:
        self.node_by_id[fold(rec.node_id)] = rec
        self.cache_areas = None
        self.area_memo = {}

    def add_zone(self, rec: Any) -> None:
        self.zone_by_id[fold(rec.zone_id)] = rec

    def site(self, ref: str) -> Any:
        if not ref:
            return None
        return self.site_by_code.get(fold(ref)) or self.site_by_name.get(fold(ref))

    def node(self, node_id: str) -> Any:
        return self.node_by_id.get(fold(node_id)) if node_id else None

    def _area_tables(self) -> tuple[dict[tuple[str, str], Any], dict[tuple[int, int], Any]]:
        if self.cache_areas is None:
            areas: dict[tuple[str, str], Any] = {}
            lines: dict[tuple[int, int], Any] = {}
            for rec in self.nodes.live():
                if rec.level == "area" and rec.site_code:
                    for label in (rec.name, rec.local_name):
                        if label:
                            areas.setdefault((fold(rec.site_code), fold(label)), rec)
            for rec in self.nodes.live():
                if rec.level in LINE_LEVELS and rec.parent_id is not None:
                    for label in (rec.name, rec.local_name):
                        m = _LINE_OF_NODE.search(label or "")
                        if m:
                            lines.setdefault((rec.parent_id, int(m.group(1))), rec)
            self.areas_with_lines = {parent for parent, _n in lines}
            self.cache_areas = (areas, lines)
        return self.cache_areas

    def node_for(self, site_code: str | None, location: str | None, names: list[str]) -> str | None:
        """The ISA-95 node of a system: the area its location names, then the line its name names."""
        if not site_code or not location:
            return None
        areas, lines = self._area_tables()
        memo = self.area_memo
        try:
            area = memo[(site_code, location)]
        except KeyError:
            area_label = location.rsplit(" - ", 1)[-1] if " - " in location else location
            area = memo[(site_code, location)] = areas.get((fold(site_code), fold(area_label)))
        if area is None:
            return None
        if area.id not in self.areas_with_lines:
            return str(area.node_id)
        for n in line_numbers(*names):
            line = lines.get((area.id, n))
            if line is not None:
                return str(line.node_id)
        return str(area.node_id)


# --------------------------------------------------------------------------- systems

SOURCE_ORDER = {"servicenow": 0, "netbox": 1, "nozomi": 2}


_CANONICAL_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def norm_mac(value: str) -> str:
    if _CANONICAL_MAC.fullmatch(value):
        return value
    hexdigits = re.sub(r"[^0-9a-fA-F]", "", value).lower()
    if len(hexdigits) != 12:
        return value.strip().lower()
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))


def norm_ip(value: str) -> str:
    return value.strip().split("/", 1)[0].strip()


_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def looks_like_ip(value: str) -> bool:
    return bool(_IPV4.fullmatch(value.strip())) or (":" in value and "." not in value and len(value) > 2)


class Systems:
    """Systems and their sightings, indexed by every identifier that can match them."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.state = run.table(System)
        self.sources = run.table(SystemSource)
        self.by_key: dict[str, int] = {}
        self.by_sighting: dict[tuple[str, str], Any] = {}
        self.sightings_of: dict[int, list[Any]] = defaultdict(list)
        self.by_label: dict[str, Any] = {}  # names, aliases and hostnames, case-folded
        self.by_name: dict[str, Any] = {}  # names only
        self.by_ip: dict[str, Any] = {}
        self.by_mac: dict[str, Any] = {}
        self.by_serial: dict[str, Any] = {}
        self.by_asset_tag: dict[str, Any] = {}
        self.dirty: set[int] = set()  # systems whose sightings changed since the last refresh
        for rec in self.state.live():
            self.add(rec)
        for src in self.sources.live():
            self.add_sighting(src)

    @classmethod
    def of(cls, run: Run) -> Systems:
        if "systems" not in run.cache:
            run.cache["systems"] = cls(run)
        return run.cache["systems"]  # type: ignore[no-any-return]

    def get(self, rid: int | None) -> Any:
        return None if rid is None else self.state.rows.get(rid)

    def add(self, rec: Any) -> None:
        rid = rec.id
        self.by_key[rec.key] = rid
        name = rec.name.casefold()
        _add(self.by_name, name, rid)
        labels = self.by_label
        _add(labels, name, rid)
        for alias in rec.aliases or ():
            _add(labels, alias.casefold(), rid)
        if rec.ips or rec.macs or rec.hostnames:
            self.add_identifiers(rec, rec.ips or (), rec.macs or (), rec.hostnames or ())
        if rec.serial:
            _add(self.by_serial, rec.serial.casefold(), rid)
        if rec.asset_tag:
            _add(self.by_asset_tag, rec.asset_tag.casefold(), rid)

    def add_identifiers(self, rec: Any, ips: Any, macs: Any, hostnames: Any) -> None:
        rid = rec.id
        for index, keys in ((self.by_ip, ips), (self.by_mac, macs)):
            for key in keys:
                have = index.get(key)
                if have is None:
                    index[key] = rid
                elif have != rid:
                    _add(index, key, rid)
        for host in hostnames:
            _add(self.by_label, host.casefold(), rid)

    def add_sighting(self, src: Any) -> None:
        self.by_sighting[(src.source, src.external_id)] = src
        self.sightings_of[src.system_id].append(src)

    def move_sighting(self, src: Any, system_id: int) -> None:
        if src.system_id == system_id:
            return
        old = self.sightings_of.get(src.system_id)
        if old and src in old:
            old.remove(src)
        src.system_id = system_id
        self.sightings_of[system_id].append(src)

    def rank(self, rid: int) -> tuple[int, int, int]:
        rec = self.get(rid)
        if rec is None or rec._removed:
            return (9, 9, 0)
        retired = 1 if (rec.install_status or "").lower() == "retired" else 0
        return (0 if rec.in_cmdb else 1, retired, rid if rid > 0 else 10**12 - rid)

    def match(self, tiers: list[list[int]]) -> tuple[Any, bool]:
        """The best system for a sighting: the first tier with a hit decides, later tiers
        only narrow a tie.  Returns (system, ambiguous)."""
        current: set[int] | None = None
        for hits in tiers:
            found = {h for h in hits if (s := self.get(h)) is not None and not s._removed}
            if not found:
                continue
            if current is None:
                current = found
            else:
                narrowed = current & found
                if narrowed:
                    current = narrowed
            if len(current) == 1:
                break
        if not current:
            return None, False
        best = sorted(current, key=self.rank)
        ambiguous = len(best) > 1 and self.rank(best[0])[:2] == self.rank(best[1])[:2]
        return self.get(best[0]), ambiguous

    def lookup(self, *, ips: list[str] = (), macs: list[str] = (), serial: str | None = None,  # type: ignore[assignment]
               asset_tag: str | None = None, names: list[str] = ()) -> tuple[Any, bool]:  # type: ignore[assignment]
        by_net: list[int] = []
        for ip in ips:
            by_net += _get(self.by_ip, ip)
        for mac in macs:
            by_net += _get(self.by_mac, mac)
        tiers = [
            by_net,
            _get(self.by_serial, fold(serial)) if serial else [],
            _get(self.by_asset_tag, fold(asset_tag)) if asset_tag else [],
        ]
        by_name: list[int] = []
        for name in names:
            by_name += _get(self.by_label, fold(name))
        tiers.append(by_name)
        return self.match(tiers)

    def find_ref(self, ref: str) -> tuple[Any, str | None]:
        """A system named in another file: by ServiceNow sys_id, key, name, then alias."""
        if not ref:
            return None, None
        if is_sys_id(ref):
            src = self.by_sighting.get(("servicenow", ref))
            if src is not None and not src._removed:
                return self.get(src.system_id), None
            return None, f"no CMDB item with sys_id {ref}"
        rid = self.by_key.get(ref)
        if rid is not None:
            return self.get(rid), None
        for index in (self.by_name, self.by_label):
            ids = [i for i in _get(index, fold(ref)) if (s := self.get(i)) is not None and not s._removed]
            if len(ids) == 1:
                return self.get(ids[0]), None
            if len(ids) > 1:
                best = sorted(ids, key=self.rank)
                if self.rank(best[0])[:2] != self.rank(best[1])[:2]:
                    return self.get(best[0]), None
                return None, f"system name {ref!r} is ambiguous ({len(ids)} systems)"
        return None, f"unknown system {ref!r}"
