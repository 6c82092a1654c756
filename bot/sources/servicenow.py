"""ServiceNow's Table API through pysnc: users, groups and memberships, the CMDB (``cmdb_ci`` and its
classes, ``cmdb_rel_ci``), change requests and their approvals.

Records are read with ``sysparm_display_value=all``, so every field carries its stored value (sys_ids,
choice codes, UTC times) and its display value (names, labels).  The rows handed to the importers use
sys_ids for people and CIs (unambiguous), names for groups (so a group that does not exist stays
visible to the lint by name), labels for choices, and UTC times with their offset.

Incremental: ``sys_updated_on>=`` the newest update seen, less a day: an encoded query's time is read
in the integration user's time zone, and a day covers every offset, so no change is ever skipped
(records fetched again are recognised as unchanged).  Each run also lists the sys_ids of every table
(``sysparm_fields=sys_id``) so deleted records disappear.  Pages follow ``sysparm_offset`` and
``sysparm_limit`` with ``X-Total-Count``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pysnc
import requests
from pysnc import exceptions as snc_errors

from bot.sources import http
from governance_store.importers.records import RecordFile
from governance_store.sources.fetched import Collection, Fetched, Payload, SourceError

CMDB_FIELDS = ["sys_id", "name", "u_alias", "sys_class_name", "u_site_code", "location", "u_purdue_level", "u_security_zone", "manufacturer", "model_id", "serial_number", "asset_tag", "ip_address", "mac_address", "company", "owned_by", "managed_by", "managed_by_group", "support_group", "assignment_group", "u_business_criticality", "install_status", "operational_status", "discovery_source", "sys_updated_on"]
TABLES: dict[str, tuple[list[str], str]] = {
    "sys_user": (["sys_id", "user_name", "name", "first_name", "last_name", "email", "title", "department", "manager", "active", "time_zone", "company", "employee_number", "sys_updated_on"], ""),
    "sys_user_group": (["sys_id", "name", "manager", "parent", "type", "email", "active", "description", "sys_updated_on"], ""),
    "sys_user_grmember": (["sys_id", "group", "user", "sys_updated_on"], ""),
    "cmdb_rel_ci": (["sys_id", "parent", "type", "child", "sys_updated_on"], ""),
    "change_request": (["sys_id", "number", "short_description", "description", "type", "state", "risk", "impact", "priority", "category", "cmdb_ci", "assignment_group", "assigned_to", "requested_by", "start_date", "end_date", "cab_required", "approval", "sys_created_on", "sys_updated_on"], ""),
    "sysapproval_approver": (["sys_id", "approver", "state", "sysapproval", "source_table", "due_date", "sys_created_on", "sys_updated_on", "comments"], "source_table=change_request"),
}
OVERLAP = dt.timedelta(days=1)
PAGE = 1000
ID_PAGE = 10000


def _parse(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    except (TypeError, ValueError):
        return None


class ServiceNowConnector:
    name = "servicenow"
    label = "ServiceNow"

    def __init__(self, instance: str, user: str, password: str, *, cmdb_tables: Sequence[str] = ("cmdb_ci",),
                 ca_bundle: str | None = None, timeout: float = http.DEFAULT_TIMEOUT,
                 max_wait: float = http.DEFAULT_MAX_WAIT, sleep: http.Sleep = time.sleep, page: int = PAGE) -> None:
        self.password = password
        self.page = page
        self.tables: dict[str, tuple[list[str], str]] = dict(TABLES)
        for table in cmdb_tables:
            self.tables[table] = (CMDB_FIELDS, "")
        self.cmdb_tables = list(cmdb_tables)
        session = http.session(ca_bundle=ca_bundle, timeout=timeout, max_wait=max_wait, sleep=sleep)
        session.auth = (user, password)
        self._status = 0

        def remember(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            self._status = response.status_code

        session.hooks["response"].append(remember)
        try:
            self.client = pysnc.ServiceNowClient(instance, session, auto_retry=False)
        except snc_errors.InstanceException as exc:
            raise SourceError(f"ServiceNow instance {instance!r}: {exc}") from None
        self.instance = self.client.instance

    def secrets(self) -> list[str]:
        return [self.password]

    def fetch(self, cursors: Mapping[str, dict[str, Any]]) -> Fetched:
        fetched = Fetched()
        try:
            for table, (fields, condition) in self.tables.items():
                fetched.collections[table] = self._table(table, fields, condition, cursors.get(table) or {}, fetched)
        except (snc_errors.AuthenticationException, snc_errors.RoleException, snc_errors.NotFoundException,
                snc_errors.RequestException) as exc:
            raise SourceError(f"ServiceNow at {self.instance} refused the request: HTTP {self._status}: "
                              f"{_message(exc)}") from None
        except requests.RequestException as exc:
            raise SourceError(f"ServiceNow at {self.instance} is unreachable: {type(exc).__name__}") from None
        except (KeyError, ValueError) as exc:
            raise SourceError(f"ServiceNow at {self.instance} answered something that is not the Table API: "
                              f"{type(exc).__name__}") from None
        return fetched

    def _query(self, table: str, fields: list[str], conditions: list[str], *, display: bool | str, batch: int) -> Any:
        gr = self.client.GlideRecord(table, batch_size=batch)
        gr.fields = list(fields)
        gr.display_value = display
        query = "^".join(c for c in conditions if c)
        if query:
            gr.add_encoded_query(query)
        gr.query()
        return gr

    def _table(self, table: str, fields: list[str], condition: str, cursor: dict[str, Any],
               fetched: Fetched) -> Collection:
        since = _parse(cursor.get("since", ""))
        conditions = [condition]
        if since is not None:
            conditions.append(f"sys_updated_on>={(since - OVERLAP):%Y-%m-%d %H:%M:%S}")
        gr = self._query(table, fields, conditions, display="all", batch=self.page)
        out = Collection(replace=since is None)
        newest = since
        for _ in gr:
            payload: Payload = {}
            for f in fields:
                value = gr.get_value(f)
                if value is None:
                    continue
                display = gr.get_display_value(f)
                payload[f] = {"value": value, "display_value": display}
            sys_id = str(payload.get("sys_id", {}).get("value") or "")
            if not sys_id:
                continue
            out.upserts[sys_id] = payload
            stamp = _parse(str(payload.get("sys_updated_on", {}).get("value") or ""))
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
        fetched.requests += 1 + len(out.upserts) // self.page
        if since is not None:
            ids = self._query(table, ["sys_id"], [condition], display=False, batch=ID_PAGE)
            out.present = {str(ids.get_value("sys_id")) for _ in ids}
            fetched.requests += 1 + len(out.present) // ID_PAGE
        out.cursor = {"since": f"{newest:%Y-%m-%d %H:%M:%S}"} if newest is not None else dict(cursor)
        return out

    def files(self, records: Mapping[str, Sequence[Payload]]) -> list[RecordFile]:
        cmdb: dict[str, Payload] = {}
        for table in self.cmdb_tables:
            for rec in records.get(table, ()):
                cmdb.setdefault(_v(rec, "sys_id"), rec)
        return servicenow_files({**records, "cmdb_ci": list(cmdb.values())})


def _message(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    if isinstance(arg, dict):
        inner = arg.get("error")
        error: dict[str, Any] = inner if isinstance(inner, dict) else arg
        return str(error.get("message") or error)[:300]
    return str(arg)[:300]


def _v(rec: Payload, field: str) -> str:
    cell = rec.get(field)
    if isinstance(cell, dict):
        return str(cell.get("value") or "")
    return "" if cell is None else str(cell)


def _d(rec: Payload, field: str) -> str:
    cell = rec.get(field)
    if isinstance(cell, dict):
        return str(cell.get("display_value") or cell.get("value") or "")
    return "" if cell is None else str(cell)


def _t(rec: Payload, field: str) -> str:
    """A stored (UTC) date-time as ISO text with its offset, so no importer reads it as local time."""
    stamp = _parse(_v(rec, field))
    return stamp.isoformat() if stamp is not None else ""


def _ref(rec: Payload, *name_fields: str) -> str:
    name = next((_d(rec, f) for f in name_fields if _d(rec, f)), "")
    return f"sys_id={_v(rec, 'sys_id')}" + (f" ({name})" if name else "")


def servicenow_files(records: Mapping[str, Sequence[Payload]]) -> list[RecordFile]:
    """ServiceNow records as the rows of its list exports."""
    users = [(_ref(r, "user_name"), {
        "sys_id": _v(r, "sys_id"), "user_name": _v(r, "user_name"), "name": _d(r, "name"),
        "first_name": _v(r, "first_name"), "last_name": _v(r, "last_name"), "email": _v(r, "email"),
        "title": _d(r, "title"), "department": _d(r, "department"), "manager": _v(r, "manager"),
        "active": _v(r, "active"), "time_zone": _v(r, "time_zone"), "company": _d(r, "company"),
        "employee_number": _v(r, "employee_number"), "sys_updated_on": _t(r, "sys_updated_on"),
    }) for r in records.get("sys_user", ())]
    groups = [(_ref(r, "name"), {
        "sys_id": _v(r, "sys_id"), "name": _v(r, "name"), "manager": _v(r, "manager"), "parent": _d(r, "parent"),
        "type": _d(r, "type"), "email": _v(r, "email"), "active": _v(r, "active"),
        "description": _v(r, "description"),
    }) for r in records.get("sys_user_group", ())]
    members = [(_ref(r), {"sys_id": _v(r, "sys_id"), "group": _v(r, "group"), "user": _v(r, "user")})
               for r in records.get("sys_user_grmember", ())]
    cis = [(_ref(r, "name"), {
        "sys_id": _v(r, "sys_id"), "name": _v(r, "name"), "u_alias": _v(r, "u_alias"),
        "sys_class_name": _d(r, "sys_class_name"), "u_site_code": _v(r, "u_site_code"), "location": _d(r, "location"),
        "u_purdue_level": _v(r, "u_purdue_level"), "u_security_zone": _v(r, "u_security_zone"),
        "manufacturer": _d(r, "manufacturer"), "model_id": _d(r, "model_id"), "serial_number": _v(r, "serial_number"),
        "asset_tag": _v(r, "asset_tag"), "ip_address": _v(r, "ip_address"), "mac_address": _v(r, "mac_address"),
        "company": _d(r, "company"), "owned_by": _v(r, "owned_by"), "managed_by": _v(r, "managed_by"),
        "managed_by_group": _d(r, "managed_by_group"), "support_group": _d(r, "support_group"),
        "assignment_group": _d(r, "assignment_group"), "u_business_criticality": _d(r, "u_business_criticality"),
        "install_status": _d(r, "install_status"), "operational_status": _d(r, "operational_status"),
        "discovery_source": _d(r, "discovery_source"), "sys_updated_on": _t(r, "sys_updated_on"),
    }) for r in records.get("cmdb_ci", ())]
    relations = [(_ref(r), {"sys_id": _v(r, "sys_id"), "parent": _v(r, "parent"), "child": _v(r, "child"),
                            "type": _d(r, "type")}) for r in records.get("cmdb_rel_ci", ())]
    changes = [(_ref(r, "number"), {
        "sys_id": _v(r, "sys_id"), "number": _v(r, "number"), "short_description": _v(r, "short_description"),
        "description": _v(r, "description"), "type": _d(r, "type"), "state": _d(r, "state"), "risk": _d(r, "risk"),
        "impact": _d(r, "impact"), "priority": _d(r, "priority"), "category": _d(r, "category"),
        "cmdb_ci": _v(r, "cmdb_ci"), "assignment_group": _d(r, "assignment_group"),
        "assigned_to": _v(r, "assigned_to"), "requested_by": _v(r, "requested_by"),
        "start_date": _t(r, "start_date"), "end_date": _t(r, "end_date"), "cab_required": _v(r, "cab_required"),
        "approval": _d(r, "approval"), "sys_created_on": _t(r, "sys_created_on"),
        "sys_updated_on": _t(r, "sys_updated_on"),
    }) for r in records.get("change_request", ())]
    approvals = [(_ref(r, "sysapproval"), {
        "sys_id": _v(r, "sys_id"), "approver": _v(r, "approver"), "state": _d(r, "state"),
        "sysapproval": _v(r, "sysapproval"), "source_table": _v(r, "source_table"), "due_date": _t(r, "due_date"),
        "sys_created_on": _t(r, "sys_created_on"), "sys_updated_on": _t(r, "sys_updated_on"),
        "comments": _d(r, "comments"),
    }) for r in records.get("sysapproval_approver", ())]
    return [
        RecordFile("ServiceNow sys_user", "servicenow_sys_user", users, variant="raw"),
        RecordFile("ServiceNow sys_user_group", "servicenow_sys_user_group", groups, variant="raw"),
        RecordFile("ServiceNow sys_user_grmember", "servicenow_sys_user_grmember", members, variant="raw"),
        RecordFile("ServiceNow cmdb_ci", "cmdb_ci", cis, variant="display"),
        RecordFile("ServiceNow cmdb_rel_ci", "cmdb_rel_ci", relations, variant="raw"),
        RecordFile("ServiceNow change_request", "change_request", changes, variant="raw"),
        RecordFile("ServiceNow sysapproval_approver", "sysapproval_approver", approvals, variant="raw"),
    ]
