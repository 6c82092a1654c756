"""A fake Microsoft identity platform and Graph, serving the sample organisation's Entra ID users.

* ``POST /{tenant}/oauth2/v2.0/token``: client credentials (``grant_type``, ``client_id``,
  ``client_secret``, ``scope`` ending in ``/.default``); a wrong secret gets ``invalid_client`` (401).
* ``GET /v1.0/users/delta`` and ``/v1.0/groups/delta``: pages of ``page_size`` with
  ``@odata.nextLink`` (``$skiptoken``) and, on the last page, ``@odata.deltaLink`` (``$deltatoken``);
  a delta link returns only what changed since it was issued: changed users with their selected
  properties, removed ones as ``{"id", "@removed": {"reason"}}``, and per group the members added or
  removed (``members@delta``).  ``manager`` in ``$select`` adds ``manager@delta``.  ``$filter=id eq '…'``
  on groups.  A missing or unknown token gets 401 ``InvalidAuthenticationToken``; an unknown property in
  ``$select`` 400 ``Request_BadRequest``; a state token it did not issue 410 ``syncStateNotFound``.

Groups are the sample's ServiceNow groups (same names), their members the same people by e-mail.
"""

from __future__ import annotations

import base64
import csv
import json
import secrets
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.sources.serve import ThreadedApp

USER_PROPS = {"id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "jobTitle", "department",
              "companyName", "officeLocation", "city", "country", "usageLocation", "employeeId", "employeeType",
              "userType", "accountEnabled", "createdDateTime", "preferredLanguage", "mobilePhone", "businessPhones",
              "manager"}
GROUP_PROPS = {"id", "displayName", "mailNickname", "description", "members", "mail"}


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _graph_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message,
                                        "innerError": {"request-id": secrets.token_hex(8)}}}, status=status)


class FakeGraph(ThreadedApp):
    def __init__(self, folder: Path, *, tenant: str, client_id: str, client_secret: str, page_size: int = 7) -> None:
        super().__init__()
        self.tenant = tenant
        self.client_id = client_id
        self.client_secret = client_secret
        self.page_size = page_size
        self.tokens: set[str] = set()
        self.version = 1
        self.users: dict[str, dict[str, Any]] = {}
        self.user_version: dict[str, int] = {}
        self.removed: dict[str, int] = {}  # user id -> version it was removed at
        self.groups: dict[str, dict[str, Any]] = {}
        self.group_version: dict[str, int] = {}
        self.member_log: list[tuple[int, str, str, bool]] = []  # (version, group, member, removed)
        self._load(folder)

    # ------------------------------------------------------------------ data

    def _load(self, folder: Path) -> None:
        by_upn: dict[str, str] = {}
        for row in _read(folder / "entra_users.csv"):
            user: dict[str, Any] = {k: v for k, v in row.items() if k in USER_PROPS and v != ""}
            user["accountEnabled"] = row["accountEnabled"].lower() == "true"
            user["businessPhones"] = []
            user["_manager_upn"] = row.get("manager_userPrincipalName") or ""
            self.users[row["id"]] = user
            self.user_version[row["id"]] = self.version
            by_upn[row["userPrincipalName"].lower()] = row["id"]
            if row.get("mail"):
                by_upn.setdefault(row["mail"].lower(), row["id"])
        for user in self.users.values():
            user["_manager"] = by_upn.get(user.pop("_manager_upn").lower(), "")
        people = {r["name"]: r["email"].lower() for r in _read(folder / "servicenow_sys_user.csv")}
        for row in _read(folder / "servicenow_sys_user_group.csv"):
            gid = row["sys_id"][:8] + "-0000-4000-8000-" + row["sys_id"][-12:]
            self.groups[gid] = {"id": gid, "displayName": row["name"], "description": row["description"],
                                "mailNickname": row["name"].replace(" ", "").lower()[:20], "_members": []}
            self.group_version[gid] = self.version
        names = {g["displayName"]: gid for gid, g in self.groups.items()}
        for row in _read(folder / "servicenow_sys_user_grmember.csv"):
            gid = names.get(row["group"])
            uid = by_upn.get(people.get(row["user"], ""))
            if gid and uid and uid not in self.groups[gid]["_members"]:
                self.groups[gid]["_members"].append(uid)
                self.member_log.append((self.version, gid, uid, False))

    def change_user(self, user_id: str, **props: Any) -> None:
        with self.lock:
            self.version += 1
            self.users[user_id].update(props)
            self.user_version[user_id] = self.version

    def remove_user(self, user_id: str) -> None:
        with self.lock:
            self.version += 1
            self.removed[user_id] = self.version
            self.users.pop(user_id)

    def add_member(self, group_id: str, user_id: str) -> None:
        with self.lock:
            self.version += 1
            self.groups[group_id]["_members"].append(user_id)
            self.member_log.append((self.version, group_id, user_id, False))
            self.group_version[group_id] = self.version

    def remove_member(self, group_id: str, user_id: str) -> None:
        with self.lock:
            self.version += 1
            self.groups[group_id]["_members"].remove(user_id)
            self.member_log.append((self.version, group_id, user_id, True))
            self.group_version[group_id] = self.version

    def user_id(self, upn: str) -> str:
        return next(uid for uid, u in self.users.items() if u["userPrincipalName"].lower() == upn.lower())

    def group_id(self, name: str) -> str:
        return next(gid for gid, g in self.groups.items() if g["displayName"] == name)

    # ------------------------------------------------------------------ API

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_post("/{tenant}/oauth2/v2.0/token", self.token)
        application.router.add_get("/v1.0/users/delta", self.users_delta)
        application.router.add_get("/v1.0/groups/delta", self.groups_delta)
        return application

    def is_token(self, request: web.Request) -> bool:
        return request.path.endswith("/oauth2/v2.0/token")

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.match_info["tenant"] != self.tenant:
            return web.json_response({"error": "invalid_request",
                                      "error_description": "AADSTS90002: Tenant not found."}, status=400)
        if form.get("grant_type") != "client_credentials" or not str(form.get("scope", "")).endswith("/.default"):
            return web.json_response({"error": "invalid_request",
                                      "error_description": "AADSTS900144: grant_type or scope is missing or wrong."},
                                     status=400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return web.json_response({"error": "invalid_client",
                                      "error_description": "AADSTS7000215: Invalid client secret provided."},
                                     status=401)
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    def _check(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.tokens:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        return None

    def _state(self, request: web.Request, kind: str, props: set[str]) -> tuple[dict[str, Any] | None, web.Response | None]:
        q = request.query
        token = q.get("$skiptoken") or q.get("$deltatoken")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
                assert state["kind"] == kind
            except Exception:  # noqa: BLE001 - any token we did not issue
                return None, _graph_error(410, "syncStateNotFound", "The delta token is not valid.")
            return state, None
        select = [p for p in q.get("$select", "").split(",") if p] or sorted(props - {"members", "manager"})
        unknown = [p for p in select if p not in props]
        if unknown:
            return None, _graph_error(400, "Request_BadRequest",
                                      f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.{kind}'.")
        ids: list[str] = []
        flt = q.get("$filter", "")
        if flt:
            for clause in flt.split(" or "):
                parts = clause.strip().split(" eq ")
                if len(parts) != 2 or parts[0].strip() != "id":
                    return None, _graph_error(400, "Request_UnsupportedQuery", f"Unsupported filter: {flt}")
                ids.append(parts[1].strip().strip("'"))
        return {"kind": kind, "select": select, "since": 0, "upto": self.version, "offset": 0, "ids": ids}, None

    def _page(self, request: web.Request, state: dict[str, Any], items: list[dict[str, Any]]) -> web.Response:
        offset = state["offset"]
        page = items[offset:offset + self.page_size]
        body: dict[str, Any] = {"@odata.context": f"{self.base}/v1.0/$metadata#{state['kind']}s", "value": page}
        path = f"{self.base}/v1.0/{state['kind']}s/delta"
        if offset + self.page_size < len(items):
            nxt = dict(state, offset=offset + self.page_size)
            body["@odata.nextLink"] = f"{path}?$skiptoken={_encode(nxt)}"
        else:
            delta = dict(state, since=state["upto"], upto=None, offset=0)
            body["@odata.deltaLink"] = f"{path}?$deltatoken={_encode(delta)}"
        return web.json_response(body)

    async def users_delta(self, request: web.Request) -> web.Response:
        denied = self._check(request)
        if denied is not None:
            return denied
        state, problem = self._state(request, "user", USER_PROPS)
        if problem is not None or state is None:
            return problem  # type: ignore[return-value]
        with self.lock:
            if state.get("upto") is None:
                state["upto"] = self.version
            since, upto = state["since"], state["upto"]
            items: list[dict[str, Any]] = []
            for uid, user in self.users.items():
                if since < self.user_version[uid] <= upto:
                    out = {k: user[k] for k in state["select"] if k in user and k != "manager"}
                    out["id"] = uid
                    if "manager" in state["select"] and user.get("_manager"):
                        out["manager@delta"] = [{"@odata.type": "#microsoft.graph.user", "id": user["_manager"]}]
                    items.append(out)
            for uid, at in self.removed.items():
                if since and since < at <= upto:
                    items.append({"id": uid, "@removed": {"reason": "changed"}})
        return self._page(request, state, items)

    async def groups_delta(self, request: web.Request) -> web.Response:
        denied = self._check(request)
        if denied is not None:
            return denied
        state, problem = self._state(request, "group", GROUP_PROPS)
        if problem is not None or state is None:
            return problem  # type: ignore[return-value]
        with self.lock:
            if state.get("upto") is None:
                state["upto"] = self.version
            since, upto = state["since"], state["upto"]
            items = []
            for gid, group in self.groups.items():
                if state["ids"] and gid not in state["ids"]:
                    continue
                if not since < self.group_version[gid] <= upto:
                    continue
                out = {k: group[k] for k in state["select"] if k in group and k != "members"}
                out["id"] = gid
                if "members" in state["select"]:
                    changes = [(uid, removed) for at, g, uid, removed in self.member_log
                               if g == gid and since < at <= upto]
                    if not since:
                        changes = [(uid, False) for uid in group["_members"]]
                    out["members@delta"] = [
                        {"@odata.type": "#microsoft.graph.user", "id": uid, **({"@removed": {"reason": "deleted"}}
                                                                               if removed else {})}
                        for uid, removed in changes]
                items.append(out)
        return self._page(request, state, items)


def _encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
