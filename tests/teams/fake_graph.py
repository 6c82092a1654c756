"""A fake Microsoft Graph and Microsoft identity platform token endpoint, on 127.0.0.1 port 0.

Answers the calls govbot's Teams sender makes the way the real services do:

* ``POST /{tenant}/oauth2/v2.0/token`` (client credentials) → ``{"access_token", "expires_in"}`` for the
  right client id and secret, ``401 invalid_client`` otherwise;
* ``POST /v1.0/users/{id}/teamwork/installedApps`` with ``teamsApp@odata.bind`` → ``201 Created`` the
  first time, ``409 Conflict`` when the app is already installed for the user, ``404`` for a user Graph
  does not know, ``403`` for one the test forbids (the permission missing), ``429`` with ``Retry-After``
  when the test throttles it;
* ``GET /v1.0/users/{id}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '…'`` and
  ``GET …/installedApps/{installation}/chat``;
* ``GET /v1.0/chats/{chat}/messages?$top&$orderby=lastModifiedDateTime desc&$filter=lastModifiedDateTime
  gt …`` → the cards the bot posted in the person's 1:1 conversation (read from the fake Bot Connector),
  newest first, ``$top`` per page (at most 50), ``@odata.nextLink`` for the next page; a group chat's
  messages the same way (the chat id is the conversation id);
* ``GET /v1.0/teams/{group}/channels/{channel}/messages/delta?$top&$filter=lastModifiedDateTime gt …`` → the
  cards the bot posted in that channel (a delta round: ``@odata.nextLink`` pages, the last one carries
  ``@odata.deltaLink``); ``404`` for a team or channel Graph does not know.

Every Graph call must carry a token the token endpoint issued (else ``401``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from aiohttp import web

from tests.teams.fake_connector import FakeConnector

CATALOG_APP_ID = "f2c1c1f8-5f4e-4b8a-9a43-0c6f1d2e3a4b"


@dataclass
class GraphCall:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    status: int = 0


@dataclass
class FakeGraph:
    connector: FakeConnector
    client_id: str
    client_secret: str
    tenant: str
    catalog_app_id: str = CATALOG_APP_ID
    users: set[str] = field(default_factory=set)  # Entra object ids Graph knows
    installed: set[str] = field(default_factory=set)
    forbidden: set[str] = field(default_factory=set)  # installing for them answers 403
    calls: list[GraphCall] = field(default_factory=list)
    page_size_cap: int = 50
    teams: dict[str, set[str]] = field(default_factory=dict)  # team (Microsoft 365 group id) -> channel ids

    def __post_init__(self) -> None:
        self._tokens: set[str] = set()
        self._ids = itertools.count(1)
        self._throttle: list[tuple[str, float]] = []  # (path fragment, retry-after seconds)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> FakeGraph:
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_route("*", "/v1.0/{tail:.*}", self._graph)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def login_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1.0"

    def throttle(self, fragment: str, *, retry_after: float = 2.0, times: int = 1) -> None:
        """The next ``times`` calls whose path contains ``fragment`` answer 429 with ``Retry-After``."""
        self._throttle += [(fragment, retry_after)] * times

    def of(self, kind: str) -> list[GraphCall]:
        return [c for c in self.calls if kind in c.path]

    @staticmethod
    def chat_id(aad: str) -> str:
        return f"19:{aad}_bot@unq.gbl.spaces"

    # ------------------------------------------------------------------ handlers

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.match_info["tenant"] != self.tenant:
            return web.json_response({"error": "invalid_request", "error_description": "AADSTS90002: tenant"},
                                     status=400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret \
                or form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "invalid_client", "error_description": "AADSTS7000215"}, status=401)
        token = f"graph-token-{next(self._ids)}"
        self._tokens.add(token)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    @staticmethod
    def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)

    async def _graph(self, request: web.Request) -> web.Response:
        raw = await request.text()
        call = GraphCall(request.method, request.path, dict(request.query), json.loads(raw) if raw else {})
        self.calls.append(call)
        response = await self._answer(request, call)
        call.status = response.status
        return response

    async def _answer(self, request: web.Request, call: GraphCall) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self._tokens:
            return self._error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        for i, (fragment, wait) in enumerate(self._throttle):
            if fragment in call.path:
                del self._throttle[i]
                return self._error(429, "TooManyRequests", "Too many requests.", {"Retry-After": f"{wait:g}"})
        parts = request.match_info["tail"].split("/")
        if parts[0] == "users" and len(parts) >= 4 and parts[2:4] == ["teamwork", "installedApps"]:
            return self._installed_apps(request.method, parts[1], parts[4:], call)
        if parts[0] == "chats" and len(parts) == 3 and parts[2] == "messages":
            return self._messages(parts[1], call, request)
        if parts[0] == "teams" and len(parts) == 6 and parts[2] == "channels" and parts[4:] == ["messages", "delta"]:
            return self._channel_delta(parts[1], parts[3], call, request)
        return self._error(404, "NotFound", f"Unknown path {request.path}")

    def _installed_apps(self, method: str, user: str, rest: list[str], call: GraphCall) -> web.Response:
        if user not in self.users:
            return self._error(404, "NotFound", f"User '{user}' was not found.")
        if method == "POST" and not rest:
            bind = str(call.body.get("teamsApp@odata.bind") or "")
            if not bind.endswith(f"/appCatalogs/teamsApps/{self.catalog_app_id}"):
                return self._error(400, "BadRequest", "Invalid teamsApp@odata.bind.")
            if user in self.forbidden:
                return self._error(403, "Forbidden", "Missing role permissions on the request. API requires one "
                                   "of 'TeamsAppInstallation.ReadWriteSelfForUser.All'.")
            if user in self.installed:
                return self._error(409, "Conflict", "App is already installed for the user.")
            self.installed.add(user)
            return web.Response(status=201)
        if method == "GET" and not rest:
            wanted = call.query.get("$filter", "")
            found = [{"id": f"inst-{user}", "teamsApp": {"id": self.catalog_app_id, "displayName": "govbot"}}] \
                if user in self.installed and self.catalog_app_id in wanted else []
            return web.json_response({"value": found})
        if method == "GET" and len(rest) == 2 and rest[1] == "chat":
            if user not in self.installed or rest[0] != f"inst-{user}":
                return self._error(404, "NotFound", "Installation not found.")
            return web.json_response({"id": self.chat_id(user), "chatType": "oneOnOne"})
        return self._error(405, "MethodNotAllowed", "Not supported.")

    def _messages(self, chat: str, call: GraphCall, request: web.Request) -> web.Response:
        user = next((u for u in self.users if self.chat_id(u) == chat), None)
        if user is not None:
            conversations = {cid for member, cid in self.connector.conversation_of.items() if member == user}
        elif chat.endswith("@thread.v2"):  # a group chat: Graph's chat id is the Bot Framework conversation id
            conversations = {chat}
        else:
            return self._error(404, "NotFound", "Chat not found.")
        page, more = self._page(conversations, call)
        body: dict[str, Any] = {"@odata.count": len(page), "value": [self._message(c, {"chatId": chat}) for c in page]}
        if more is not None:
            query = {k: v[0] for k, v in parse_qs(request.query_string).items()}
            query["$skiptoken"] = str(more)
            body["@odata.nextLink"] = f"{self.graph_url}/chats/{chat}/messages?{urlencode(query)}"
        return web.json_response(body)

    def _channel_delta(self, team: str, channel: str, call: GraphCall, request: web.Request) -> web.Response:
        if channel not in self.teams.get(team, set()):
            return self._error(404, "NotFound", "Team or channel not found.")
        page, more = self._page({channel}, call)
        identity = {"channelIdentity": {"teamId": team, "channelId": channel}}
        body: dict[str, Any] = {"value": [self._message(c, identity) for c in page]}
        query = {k: v[0] for k, v in parse_qs(request.query_string).items()}
        if more is not None:
            query["$skiptoken"] = str(more)
            body["@odata.nextLink"] = f"{self.graph_url}/teams/{team}/channels/{channel}/messages/delta?{urlencode(query)}"
        else:
            query.pop("$skiptoken", None)
            query["$deltatoken"] = f"d{len(self.calls)}"
            body["@odata.deltaLink"] = f"{self.graph_url}/teams/{team}/channels/{channel}/messages/delta?{urlencode(query)}"
        return web.json_response(body)

    def _page(self, conversations: set[str], call: GraphCall) -> tuple[list[Any], int | None]:
        """The bot's posts in ``conversations`` changed after the ``$filter`` instant, newest first: this page
        and the offset of the next one (``None`` on the last page)."""
        posted = [c for c in self.connector.calls() if c.kind in ("send", "reply") and c.conversation_id in conversations]
        since = None
        flt = call.query.get("$filter", "")
        if flt.startswith("lastModifiedDateTime gt "):
            since = dt.datetime.fromisoformat(flt.removeprefix("lastModifiedDateTime gt ").replace("Z", "+00:00"))
        kept = [c for c in reversed(posted) if since is None or c.when > since]
        top = min(int(call.query.get("$top") or 20), self.page_size_cap)
        skip = int(call.query.get("$skiptoken") or 0)
        return kept[skip:skip + top], (skip + top if skip + top < len(kept) else None)

    def _message(self, c: Any, where: dict[str, Any]) -> dict[str, Any]:
        return {"id": self._activity_id(c), "messageType": "message", **where,
                "createdDateTime": c.when.isoformat().replace("+00:00", "Z"),
                "lastModifiedDateTime": c.when.isoformat().replace("+00:00", "Z"),
                "from": {"application": {"id": self.client_id, "displayName": "govbot"}},
                "attachments": [{"id": f"att-{i}", "contentType": "application/vnd.microsoft.card.adaptive",
                                 "content": json.dumps(card)} for i, card in enumerate(c.cards())]}

    @staticmethod
    def _activity_id(call: Any) -> str:
        return str(call.answer_id)
