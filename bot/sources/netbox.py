"""NetBox through pynetbox: devices, their IP addresses, sites, contacts, contact roles and assignments.

Incremental: each collection is asked for what changed since the newest ``last_updated`` seen (less
a few minutes, for transactions that committed late), and for the ids of all its objects
(``?fields=id``, cheap), so objects deleted in NetBox disappear here too.  The first run, and
``--full``, fetch everything.  Pages follow NetBox's ``limit``/``offset`` and ``next`` links.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import pynetbox
import requests

from bot.sources import http
from governance_store.importers.records import RecordFile
from governance_store.sources.fetched import Collection, Fetched, Payload, SourceError

# collection -> (app, endpoint)
ENDPOINTS: dict[str, tuple[str, str]] = {
    "sites": ("dcim", "sites"),
    "devices": ("dcim", "devices"),
    "ip_addresses": ("ipam", "ip_addresses"),
    "contacts": ("tenancy", "contacts"),
    "contact_roles": ("tenancy", "contact_roles"),
    "contact_assignments": ("tenancy", "contact_assignments"),
}
OVERLAP = dt.timedelta(minutes=5)
PAGE = 500
ID_PAGE = 1000


def _name(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("name") or obj.get("display") or obj.get("model") or "")
    return "" if obj is None else str(obj)


def _value(obj: Any) -> str:
    """A NetBox choice field (``{"value": "active", "label": "Active"}``) or a plain value."""
    if isinstance(obj, dict):
        return str(obj.get("value") or "")
    return "" if obj is None else str(obj)


def _stamp(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _clean(value: Any) -> Any:
    """An object without what changes when *other* objects change (related counts) or with the server's
    address (links), so an unchanged object compares equal to its stored copy."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()
                if not k.endswith("_count") and k not in ("url", "display_url")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class NetBoxConnector:
    name = "netbox"
    label = "NetBox"

    def __init__(self, url: str, token: str, *, ca_bundle: str | None = None, timeout: float = http.DEFAULT_TIMEOUT,
                 max_wait: float = http.DEFAULT_MAX_WAIT, sleep: http.Sleep = time.sleep) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.api = pynetbox.api(self.url, token=token)
        self.api.http_session = http.session(ca_bundle=ca_bundle, timeout=timeout, max_wait=max_wait, sleep=sleep)

    def secrets(self) -> list[str]:
        return [self.token, self.token.split(".", 1)[-1]]

    # ------------------------------------------------------------------ fetching

    def _endpoint(self, collection: str) -> Any:
        app, endpoint = ENDPOINTS[collection]
        return getattr(getattr(self.api, app), endpoint)

    def fetch(self, cursors: Mapping[str, dict[str, Any]]) -> Fetched:
        fetched = Fetched()
        try:
            for collection in ENDPOINTS:
                fetched.collections[collection] = self._collection(collection, cursors.get(collection) or {},
                                                                   fetched)
        except pynetbox.RequestError as exc:
            raise SourceError(f"NetBox at {self.url}: {http.short(exc.req)}") from None
        except requests.RequestException as exc:
            raise SourceError(f"NetBox at {self.url} is unreachable: {type(exc).__name__}") from None
        except pynetbox.ContentError as exc:
            raise SourceError(f"NetBox at {self.url} answered something that is not NetBox's API: {exc}") from None
        return fetched

    def _collection(self, collection: str, cursor: dict[str, Any], fetched: Fetched) -> Collection:
        endpoint = self._endpoint(collection)
        since = _stamp(cursor.get("since"))
        if since is None:
            objects = [_clean(dict(r)) for r in endpoint.all(limit=PAGE)]
            fetched.requests += 1 + len(objects) // PAGE
            out = Collection(replace=True)
        else:
            start = (since - OVERLAP).isoformat()
            objects = [_clean(dict(r)) for r in endpoint.filter(last_updated__gte=start, limit=PAGE)]
            ids = {str(r.id) for r in endpoint.filter(fields="id", limit=ID_PAGE)}
            fetched.requests += 2 + len(objects) // PAGE + len(ids) // ID_PAGE
            out = Collection(present=ids)
        newest = since
        for obj in objects:
            out.upserts[str(obj["id"])] = obj
            stamp = _stamp(obj.get("last_updated"))
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
        out.cursor = {"since": newest.isoformat()} if newest is not None else dict(cursor)
        return out

    # ------------------------------------------------------------------ mapping

    def files(self, records: Mapping[str, Sequence[Payload]]) -> list[RecordFile]:
        return netbox_files(records)


def netbox_files(records: Mapping[str, Sequence[Payload]]) -> list[RecordFile]:
    """NetBox objects as the rows of NetBox's CSV exports (devices, contacts, roles, assignments)."""
    sites = {str(s["id"]): s for s in records.get("sites", ())}
    devices = {str(d["id"]): d for d in records.get("devices", ())}
    addresses: dict[str, list[str]] = defaultdict(list)
    for ip in records.get("ip_addresses", ()):
        assigned = ip.get("assigned_object") or {}
        device = assigned.get("device")
        if isinstance(device, dict) and device.get("id") is not None and ip.get("address"):
            addresses[str(device["id"])].append(str(ip["address"]))

    def ref(obj: Payload) -> str:
        return f"id={obj.get('id')} ({_name(obj) or obj.get('display') or '?'})"

    device_rows = []
    for d in records.get("devices", ()):
        device_type = d.get("device_type") or {}
        primary = {k: (d.get(k) or {}).get("address", "") if isinstance(d.get(k), dict) else "" for k in
                   ("primary_ip4", "primary_ip6")}
        device_rows.append((ref(d), {
            "name": d.get("name") or "", "role": _name(d.get("role") or d.get("device_role")),
            "manufacturer": _name(device_type.get("manufacturer")), "device_type": device_type.get("model") or "",
            "site": _name(d.get("site")), "location": _name(d.get("location")), "tenant": _name(d.get("tenant")),
            "status": _value(d.get("status")), "serial": d.get("serial") or "", "asset_tag": d.get("asset_tag") or "",
            "primary_ip4": primary["primary_ip4"], "primary_ip6": primary["primary_ip6"],
            "description": d.get("description") or "", "platform": _name(d.get("platform")),
            "ip_addresses": ";".join(sorted(addresses.get(str(d["id"]), ()))),
        }))
    contact_rows = []
    for c in records.get("contacts", ()):
        groups = c.get("groups")
        if groups is None:
            groups = [c["group"]] if c.get("group") else []
        contact_rows.append((ref(c), {
            "name": c.get("name") or "", "title": c.get("title") or "", "phone": c.get("phone") or "",
            "email": c.get("email") or "", "groups": ";".join(_name(g) for g in groups),
            "description": c.get("description") or "",
        }))
    role_rows = [(ref(r), {"name": r.get("name") or "", "slug": r.get("slug") or "",
                           "description": r.get("description") or ""}) for r in records.get("contact_roles", ())]
    assignment_rows = []
    for a in records.get("contact_assignments", ()):
        object_type = a.get("object_type") or a.get("content_type") or ""
        target = a.get("object") if isinstance(a.get("object"), dict) else None
        object_id = str(a.get("object_id") or "")
        if target is None or not _name(target):
            target = devices.get(object_id) if object_type == "dcim.device" else sites.get(object_id)
        assignment_rows.append((f"id={a.get('id')}", {
            "object_type": object_type, "object": _name(target) if target else "",
            "contact": _name(a.get("contact")), "role": _name(a.get("role")), "priority": _value(a.get("priority")),
        }))
    return [
        RecordFile("NetBox devices", "netbox_devices", device_rows),
        RecordFile("NetBox contacts", "netbox_contacts", contact_rows),
        RecordFile("NetBox contact roles", "netbox_contact_roles", role_rows),
        RecordFile("NetBox contact assignments", "netbox_contact_assignments", assignment_rows),
    ]
