"""A fake ServiceNow Table API over TLS, serving the sample organisation's ServiceNow exports.

Follows the documented Table API: ``GET /api/now/table/{table}`` with basic authentication,
``sysparm_query`` (encoded query: ``field=value``, ``>=``, ``>``, ``<``, ``!=``, ``IN``, ``^`` for AND,
``ORDERBY``/``ORDERBYDESC``), ``sysparm_fields``, ``sysparm_limit``, ``sysparm_offset``,
``sysparm_display_value`` (``true``/``false``/``all``) and ``sysparm_exclude_reference_link``;
answers ``{"result": [...]}`` with ``X-Total-Count`` and, unless ``sysparm_suppress_pagination_header``,
a ``Link`` header (first/prev/next/last).  Malformed calls get ServiceNow's error shape
(``{"error": {"message", "detail"}, "status": "failure"}``): 401 without valid credentials, 400 for an
invalid table, a non-numeric limit or offset, an unknown display-value mode or a query on an unknown
field.  Display CSVs give display values; the stored values (sys_ids, choice codes, UTC times) are
derived the way the instance stores them.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.sources.serve import ThreadedApp

NY = ZoneInfo("America/New_York")
DEFAULT_UPDATED = "2025-06-01 00:00:00"
STATE_CODES = {"New": "-5", "Assess": "-4", "Authorize": "-3", "Scheduled": "-2", "Implement": "-1", "Review": "0",
               "Closed": "3", "Canceled": "4"}
APPROVAL_CODES = {"Requested": "requested", "Approved": "approved", "Rejected": "rejected",
                  "No Longer Required": "not_required", "Not Yet Requested": "not_requested"}
RISK_CODES = {"Very High": "1", "High": "2", "Moderate": "3", "Low": "4"}
# table -> {reference field: (target table, display field of the target)}
REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    "sys_user": {"manager": ("sys_user", "name")},
    "sys_user_group": {"manager": ("sys_user", "name"), "parent": ("sys_user_group", "name")},
    "sys_user_grmember": {"group": ("sys_user_group", "name"), "user": ("sys_user", "name")},
    "cmdb_rel_ci": {"parent": ("cmdb_ci", "name"), "child": ("cmdb_ci", "name")},
    "change_request": {"cmdb_ci": ("cmdb_ci", "name"), "assignment_group": ("sys_user_group", "name"),
                       "assigned_to": ("sys_user", "name"), "requested_by": ("sys_user", "name")},
    "sysapproval_approver": {"approver": ("sys_user", "name"), "sysapproval": ("change_request", "number")},
}
DATE_FIELDS = {"sys_updated_on", "sys_created_on", "start_date", "end_date", "due_date"}
EXTRA_FIELDS = {"sys_updated_on", "sys_created_on", "sys_id"}


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _utc(display: str) -> str:
    if not display:
        return ""
    local = dt.datetime.strptime(display, "%Y-%m-%d %H:%M:%S").replace(tzinfo=NY)
    return f"{local.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"


def _sys_id(*parts: str) -> str:
    return hashlib.md5("\x00".join(parts).encode()).hexdigest()  # noqa: S324 - a test id, not a secret


def _error(status: int, message: str, detail: str | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "detail": detail}, "status": "failure"}, status=status)


class FakeServiceNow(ThreadedApp):
    def __init__(self, folder: Path, *, user: str, password: str, tls: ssl.SSLContext) -> None:
        super().__init__(tls=tls)
        self.user = user
        self.password = password
        # table -> sys_id -> field -> (value, display_value)
        self.tables: dict[str, dict[str, dict[str, tuple[str, str]]]] = {}
        self.now = dt.datetime(2025, 6, 4, 12, 0, tzinfo=dt.UTC)
        self._load(folder)

    # ------------------------------------------------------------------ data

    def _load(self, folder: Path) -> None:
        display = {r["sys_id"]: r for r in _read(folder / "cmdb_ci.csv")}
        raw = {r["sys_id"]: r for r in _read(folder / "cmdb_ci_raw.csv")}
        cis: dict[str, dict[str, tuple[str, str]]] = {}
        for sys_id, d in display.items():
            r = raw.get(sys_id, d)
            rec = {k: (r.get(k, v), v) for k, v in d.items()}
            rec["sys_updated_on"] = (r.get("sys_updated_on", ""), d.get("sys_updated_on", ""))
            rec["sys_created_on"] = rec["sys_updated_on"]
            cis[sys_id] = rec
        self.tables["cmdb_ci"] = cis
        plain = [("sys_user", "servicenow_sys_user.csv"), ("sys_user_group", "servicenow_sys_user_group.csv"),
                 ("sys_user_grmember", "servicenow_sys_user_grmember.csv"), ("cmdb_rel_ci", "cmdb_rel_ci.csv"),
                 ("change_request", "change_request.csv"), ("sysapproval_approver", "sysapproval_approver.csv")]
        rows = {table: _read(folder / name) for table, name in plain}
        for table, records in rows.items():
            out: dict[str, dict[str, tuple[str, str]]] = {}
            for row in records:
                sys_id = row.get("sys_id") or _sys_id(table, *row.values())
                rec = {k: (v, v) for k, v in row.items()}
                rec["sys_id"] = (sys_id, sys_id)
                out[sys_id] = rec
            self.tables[table] = out
        for table in rows:
            for rec in self.tables[table].values():
                self._derive(table, rec)

    def _find(self, table: str, field: str, display: str) -> str:
        for sys_id, rec in self.tables.get(table, {}).items():
            if rec.get(field, ("", ""))[1] == display:
                return sys_id
        return ""

    def _derive(self, table: str, rec: dict[str, tuple[str, str]]) -> None:
        """Stored values from display values: references to sys_ids, times to UTC, choices to codes."""
        for field, (target, name_field) in REFERENCES.get(table, {}).items():
            shown = rec.get(field, ("", ""))[1]
            if shown:
                rec[field] = (self._find(target, name_field, shown), shown)
        for field in DATE_FIELDS:
            if field in rec and field != "sys_updated_on":
                rec[field] = (_utc(rec[field][1]), rec[field][1])
        created = rec.get("sys_created_on", ("", ""))[1]
        updated = rec.get("sys_updated_on", ("", ""))[1] or created or DEFAULT_UPDATED
        rec["sys_updated_on"] = (_utc(updated), updated)
        rec.setdefault("sys_created_on", (_utc(updated), updated))
        if table == "change_request":
            for field, codes in (("state", STATE_CODES), ("risk", RISK_CODES)):
                shown = rec.get(field, ("", ""))[1]
                rec[field] = (codes.get(shown, shown), shown)
            for field in ("impact", "priority"):
                shown = rec.get(field, ("", ""))[1]
                rec[field] = (shown.split(" ", 1)[0], shown)
            shown = rec.get("type", ("", ""))[1]
            rec["type"] = (shown.lower(), shown)
        if table == "sysapproval_approver":
            shown = rec.get("state", ("", ""))[1]
            rec["state"] = (APPROVAL_CODES.get(shown, shown.lower()), shown)

    def _stamp(self) -> tuple[str, str]:
        self.now += dt.timedelta(minutes=1)
        return f"{self.now:%Y-%m-%d %H:%M:%S}", f"{self.now.astimezone(NY):%Y-%m-%d %H:%M:%S}"

    def set(self, table: str, sys_id: str, **fields: tuple[str, str] | str) -> None:
        """Change a record as a user would: the fields given, and ``sys_updated_on``."""
        with self.lock:
            rec = self.tables[table][sys_id]
            for field, value in fields.items():
                rec[field] = value if isinstance(value, tuple) else (value, value)
            rec["sys_updated_on"] = self._stamp()

    def delete(self, table: str, sys_id: str) -> None:
        with self.lock:
            del self.tables[table][sys_id]

    def by(self, table: str, field: str, display: str) -> str:
        return self._find(table, field, display)

    # ------------------------------------------------------------------ API

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_get("/api/now/table/{table}", self.table)
        return application

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.user and password == self.password

    async def table(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "User Not Authenticated", "Required to provide Auth information")
        name = request.match_info["table"]
        with self.lock:
            records = [dict(r) for r in self.tables.get(name, {}).values()] if name in self.tables else None
        if records is None:
            return _error(400, f"Invalid table {name}")
        q = request.query
        mode = q.get("sysparm_display_value", "false").lower()
        if mode not in ("true", "false", "all"):
            return _error(400, f"Invalid value for sysparm_display_value: {mode}")
        try:
            limit = int(q.get("sysparm_limit", "10000"))
            offset = int(q.get("sysparm_offset", "0"))
        except ValueError:
            return _error(400, "Invalid sysparm_limit or sysparm_offset: not a number")
        if limit < 1 or offset < 0:
            return _error(400, "Invalid sysparm_limit or sysparm_offset")
        known = set().union(*(r.keys() for r in records)) | EXTRA_FIELDS if records else EXTRA_FIELDS
        try:
            records = _filter(records, q.get("sysparm_query", ""), known)
        except ValueError as exc:
            return _error(400, "Invalid query", str(exc))
        fields = [f for f in q.get("sysparm_fields", "").split(",") if f] or sorted(known)
        total = len(records)
        page = records[offset:offset + limit]
        links = mode != "false" and q.get("sysparm_exclude_reference_link", "false") != "true"
        result = [self._render(name, r, fields, mode, links, request) for r in page]
        headers = {"X-Total-Count": str(total)}
        if q.get("sysparm_suppress_pagination_header", "false") != "true":
            headers["Link"] = _links(request, limit, offset, total)
        return web.json_response({"result": result}, headers=headers)

    def _render(self, table: str, rec: dict[str, tuple[str, str]], fields: list[str], mode: str, links: bool,
                request: web.Request) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in fields:
            if field not in rec:
                continue
            value, shown = rec[field]
            if mode == "true":
                out[field] = shown
            elif mode == "false":
                out[field] = value
            else:
                cell: dict[str, Any] = {"display_value": shown, "value": value}
                target = REFERENCES.get(table, {}).get(field)
                if links and target and value:
                    cell["link"] = f"{self.base}/api/now/table/{target[0]}/{value}"
                out[field] = cell
        return out


def _links(request: web.Request, limit: int, offset: int, total: int) -> str:
    def url(at: int) -> str:
        params = dict(request.query)
        params["sysparm_offset"] = str(at)
        params["sysparm_limit"] = str(limit)
        return f"<{request.url.with_query(None)}?{urlencode(params)}>"

    last = max(0, (total - 1) // limit * limit)
    parts = [f'{url(0)};rel="first"']
    if offset > 0:
        parts.append(f'{url(max(0, offset - limit))};rel="prev"')
    if offset + limit < total:
        parts.append(f'{url(offset + limit)};rel="next"')
    parts.append(f'{url(last)};rel="last"')
    return ",".join(parts)


def _filter(records: list[dict[str, tuple[str, str]]], query: str, known: set[str]) -> list[dict[str, tuple[str, str]]]:
    order: list[tuple[str, bool]] = []
    conditions = []
    for part in (p for p in query.split("^") if p):
        if part.startswith("ORDERBYDESC"):
            order.append((part[len("ORDERBYDESC"):], True))
            continue
        if part.startswith("ORDERBY"):
            order.append((part[len("ORDERBY"):], False))
            continue
        for op in (">=", "<=", "!=", ">", "<", "IN", "="):
            if op in part:
                field, value = part.split(op, 1)
                if field not in known:
                    raise ValueError(f"unknown field {field!r} in {part!r}")
                conditions.append((field, op, value))
                break
        else:
            raise ValueError(f"cannot read condition {part!r}")

    def keep(rec: dict[str, tuple[str, str]]) -> bool:
        for field, op, value in conditions:
            have = rec.get(field, ("", ""))[0]
            ok = {">=": have >= value, "<=": have <= value, ">": have > value, "<": have < value,
                  "!=": have != value, "=": have == value, "IN": have in value.split(",")}[op]
            if not ok:
                return False
        return True

    out = [r for r in records if keep(r)]
    for field, desc in reversed(order):
        if field not in known:
            raise ValueError(f"unknown field {field!r} to order by")
        out.sort(key=lambda r, f=field: r.get(f, ("", ""))[0], reverse=desc)
    return out
