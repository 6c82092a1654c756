"""Entra ID through Microsoft Graph: users (with ``accountEnabled``, manager, department,
``preferredLanguage``) and group members, with delta queries.

Graph is called over its documented REST API with ``requests`` (see the README for why not
msgraph-sdk): an app-only token from the tenant's token endpoint (client credentials), then
``/users/delta`` and ``/groups/delta``, following ``@odata.nextLink`` to the ``@odata.deltaLink`` that
the next run starts from.  A delta round reports only what changed: users changed since the last
round (a removed user comes back as ``@removed`` and is kept, disabled), and per group the members
added or removed (``members@delta``).  A delta link Graph no longer accepts (410 Gone,
``syncStateNotFound``) starts a full round.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from bot.sources import http
from governance_store.importers.records import RecordFile
from governance_store.sources.fetched import Collection, Fetched, Payload, SourceError

USER_FIELDS = ("id,userPrincipalName,displayName,givenName,surname,mail,jobTitle,department,companyName,"
               "officeLocation,city,country,usageLocation,employeeId,employeeType,userType,accountEnabled,"
               "createdDateTime,preferredLanguage,mobilePhone,businessPhones,manager")
GROUP_FIELDS = "id,displayName,mailNickname,description,members"
RESYNC_CODES = {"syncStateNotFound", "resyncRequired", "syncStateInvalid"}
MAX_PAGES = 100_000


class _Resync(Exception):
    pass


def merge_user(before: Payload | None, new: Payload) -> Payload:
    """A delta entry over the stored user: new values win, a user no longer removed loses ``@removed``."""
    merged = dict(before or {})
    merged.update(new)
    if "@removed" not in new:
        merged.pop("@removed", None)
    return merged


def merge_group(before: Payload | None, new: Payload) -> Payload:
    """A group's delta entry over the stored group: members added and removed in order
    (``members@delta``), other values replaced."""
    merged = dict(before or {})
    members = list(merged.get("members") or [])
    for key, value in new.items():
        if key != "members@delta":
            merged[key] = value
    for m in new.get("members@delta") or ():
        if not isinstance(m, dict) or not m.get("id"):
            continue
        member = str(m["id"])
        if "@removed" in m:
            members = [x for x in members if x != member]
        elif member not in members:
            members.append(member)
    merged["members"] = members
    if "@removed" not in new:
        merged.pop("@removed", None)
    return merged


def combine(first: Payload, again: Payload) -> Payload:
    """The same object twice in one delta round (Graph splits a group's members over pages)."""
    merged = {**first, **again}
    if "members@delta" in first or "members@delta" in again:
        merged["members@delta"] = list(first.get("members@delta") or []) + list(again.get("members@delta") or [])
    return merged


class EntraConnector:
    name = "entra"
    label = "Entra ID"

    def __init__(self, tenant_id: str, client_id: str, client_secret: str, *,
                 graph_url: str = "https://graph.microsoft.com/v1.0",
                 login_url: str = "https://login.microsoftonline.com", group_ids: Sequence[str] = (),
                 ca_bundle: str | None = None, timeout: float = http.DEFAULT_TIMEOUT,
                 max_wait: float = http.DEFAULT_MAX_WAIT, sleep: http.Sleep = time.sleep) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.graph_url = graph_url.rstrip("/")
        self.login_url = login_url.rstrip("/")
        self.group_ids = list(group_ids)
        self.http = http.session(ca_bundle=ca_bundle, timeout=timeout, max_wait=max_wait, sleep=sleep)
        self._token: str | None = None
        self._token_until = 0.0

    def secrets(self) -> list[str]:
        return [self.client_secret] + ([self._token] if self._token else [])

    # ------------------------------------------------------------------ HTTP

    def _scope(self) -> str:
        parts = urlsplit(self.graph_url)
        return f"{parts.scheme}://{parts.netloc}/.default"

    def _access_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_until:
            return self._token
        url = f"{self.login_url}/{quote(self.tenant_id, safe='')}/oauth2/v2.0/token"
        response = self.http.post(url, data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret,
            "scope": self._scope(),
        })
        if response.status_code != 200:
            raise SourceError(f"Entra ID token endpoint refused the app's credentials: {_graph_error(response)}")
        body = response.json()
        self._token = str(body["access_token"])
        self._token_until = time.monotonic() + max(60.0, float(body.get("expires_in", 3600)) - 300)
        return self._token

    def _get(self, url: str, fetched: Fetched) -> dict[str, Any]:
        response = self.http.get(url, headers={"Authorization": f"Bearer {self._access_token()}",
                                               "Accept": "application/json"})
        fetched.requests += 1
        if response.status_code == 401:
            self._token = None
            response = self.http.get(url, headers={"Authorization": f"Bearer {self._access_token()}",
                                                   "Accept": "application/json"})
            fetched.requests += 1
        if response.status_code == 410 or (response.status_code == 400 and _graph_code(response) in RESYNC_CODES):
            raise _Resync
        if response.status_code != 200:
            raise SourceError(f"Microsoft Graph refused {urlsplit(url).path}: {_graph_error(response)}")
        body = response.json()
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise SourceError(f"Microsoft Graph answered {urlsplit(url).path} without a value list")
        return body

    def _round(self, start: str, fetched: Fetched) -> tuple[dict[str, Payload], str]:
        """One delta round: every page up to the delta link; an object seen twice is combined."""
        upserts: dict[str, Payload] = {}
        url = start
        for _ in range(MAX_PAGES):
            body = self._get(url, fetched)
            for item in body["value"]:
                if not isinstance(item, dict) or not item.get("id"):
                    continue
                key = str(item["id"])
                upserts[key] = combine(upserts[key], item) if key in upserts else item
            if body.get("@odata.nextLink"):
                url = str(body["@odata.nextLink"])
                continue
            if body.get("@odata.deltaLink"):
                return upserts, str(body["@odata.deltaLink"])
            raise SourceError("Microsoft Graph ended a delta round without a delta link")
        raise SourceError("Microsoft Graph kept paging past any reasonable size")

    # ------------------------------------------------------------------ fetch

    def fetch(self, cursors: Mapping[str, dict[str, Any]]) -> Fetched:
        try:
            try:
                return self._fetch(cursors)
            except _Resync:
                fetched = self._fetch({})
                fetched.full = True
                return fetched
        except _Resync:
            raise SourceError("Microsoft Graph refused a fresh delta round") from None
        except requests.RequestException as exc:
            raise SourceError(f"Microsoft Graph is unreachable: {type(exc).__name__}") from None
        except (KeyError, ValueError) as exc:
            raise SourceError(f"Microsoft Graph answered something unexpected: {type(exc).__name__}") from None

    def _fetch(self, cursors: Mapping[str, dict[str, Any]]) -> Fetched:
        fetched = Fetched()
        user_link = (cursors.get("users") or {}).get("delta_link")
        start = user_link or f"{self.graph_url}/users/delta?$select={USER_FIELDS}"
        users, link = self._round(start, fetched)
        fetched.collections["users"] = Collection(upserts=users, replace=not user_link,
                                                  merge=merge_user if user_link else None,
                                                  cursor={"delta_link": link})
        group_link = (cursors.get("groups") or {}).get("delta_link")
        start = group_link or f"{self.graph_url}/groups/delta?$select={GROUP_FIELDS}" + self._group_filter()
        groups, link = self._round(start, fetched)
        # A full round's members@delta list every member; stored as the member list.
        normalised = groups if group_link else {k: merge_group(None, v) for k, v in groups.items()}
        fetched.collections["groups"] = Collection(upserts=normalised, replace=not group_link,
                                                   merge=merge_group if group_link else None,
                                                   cursor={"delta_link": link})
        return fetched

    def _group_filter(self) -> str:
        if not self.group_ids:
            return ""
        clause = " or ".join(f"id eq '{g}'" for g in self.group_ids)
        return "&$filter=" + quote(clause, safe="'= ")

    def files(self, records: Mapping[str, Sequence[Payload]]) -> list[RecordFile]:
        return entra_files(records)


def _graph_code(response: requests.Response) -> str:
    try:
        return str((response.json().get("error") or {}).get("code") or "")
    except (ValueError, AttributeError):
        return ""


def _graph_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return http.short(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"HTTP {response.status_code} {error.get('code', '')}: {str(error.get('message', ''))[:200]}"
    if isinstance(error, str):  # the token endpoint: {"error": "invalid_client", "error_description": ...}
        return f"HTTP {response.status_code} {error}"
    return http.short(response)


def entra_files(records: Mapping[str, Sequence[Payload]]) -> list[RecordFile]:
    """Graph users and groups as rows of an Entra users export and of group memberships."""
    users = {str(u["id"]): u for u in records.get("users", ())}

    def manager_upn(user: Payload) -> str:
        managers = [m for m in user.get("manager@delta") or () if isinstance(m, dict) and "@removed" not in m]
        manager = user.get("manager") if isinstance(user.get("manager"), dict) else None
        ref = str((managers[0] if managers else manager or {}).get("id") or "")
        return str(users.get(ref, {}).get("userPrincipalName") or "")

    user_rows = []
    for u in users.values():
        if not u.get("userPrincipalName"):
            continue  # only ever seen as removed: nothing to say about them
        removed = "@removed" in u
        phones = u.get("businessPhones") or []
        user_rows.append((f"id={u['id']} ({u.get('userPrincipalName')})", {
            "id": u["id"], "userPrincipalName": u.get("userPrincipalName"), "displayName": u.get("displayName"),
            "givenName": u.get("givenName"), "surname": u.get("surname"), "mail": u.get("mail"),
            "jobTitle": u.get("jobTitle"), "department": u.get("department"), "companyName": u.get("companyName"),
            "officeLocation": u.get("officeLocation"), "city": u.get("city"), "country": u.get("country"),
            "usageLocation": u.get("usageLocation"), "employeeId": u.get("employeeId"),
            "employeeType": u.get("employeeType"), "userType": u.get("userType"),
            # A user deleted from the directory has left, whatever the last known flag said.
            "accountEnabled": False if removed else u.get("accountEnabled"),
            "createdDateTime": u.get("createdDateTime"), "manager_userPrincipalName": manager_upn(u),
            "preferredLanguage": u.get("preferredLanguage"), "mobilePhone": u.get("mobilePhone"),
            "businessPhones": ";".join(str(p) for p in phones) if isinstance(phones, list) else phones,
        }))
    member_rows = []
    for g in records.get("groups", ()):
        if "@removed" in g or not g.get("displayName"):
            continue
        for member in g.get("members") or ():
            user = users.get(str(member))
            if user is None:
                continue  # devices, service principals and nested groups are not people
            member_rows.append((f"group id={g['id']} member id={member}", {
                "group_id": g["id"], "group": g["displayName"], "member_id": member,
                "member_userPrincipalName": user.get("userPrincipalName") or "",
            }))
    return [
        RecordFile("Entra ID users", "entra_users", user_rows),
        RecordFile("Entra ID group members", "entra_group_members", member_rows),
    ]
