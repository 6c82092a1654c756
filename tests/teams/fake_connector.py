"""A fake Bot Connector service (the ``serviceUrl`` Teams gives a bot), on 127.0.0.1 port 0.

Records what govbot sent, with the headers (``Call.authorization``: the bearer token the bot wrote with; the
fake does not check it, the tests do) and answers like the Bot Framework REST API v3:

* ``POST /v3/conversations/{id}/activities`` and ``.../activities/{replyToId}`` → ``{"id": ...}``
* ``PUT  /v3/conversations/{id}/activities/{activityId}`` → ``{"id": activityId}``
* ``POST /v3/conversations`` (create conversation) → ``{"id", "activityId", "serviceUrl"}``; like Teams, the
  same member gets the same 1:1 conversation back (``conversation_of``)
* ``GET  /v3/conversations/{id}/members/{memberId}`` → a Teams member (404 when unknown)
* ``GET  /v3/teams/{teamId}`` → the team's details (``id``, ``name``, ``aadGroupId``; 404 when unknown)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    method: str
    path: str
    conversation_id: str | None
    activity_id: str | None
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    when: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    answer_id: str | None = None  # the activity id the connector answered with

    @property
    def authorization(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "authorization"), None)

    @property
    def kind(self) -> str:
        if self.method == "POST" and self.path == "/v3/conversations":
            return "create"
        if self.method == "PUT":
            return "update"
        if self.method == "POST" and self.activity_id:
            return "reply"
        if self.method == "POST":
            return "send"
        return self.method.lower()

    def cards(self) -> list[dict[str, Any]]:
        activity = self.body.get("activity") if self.kind == "create" else self.body
        return [a.get("content") or {} for a in (activity or {}).get("attachments") or []
                if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]

    def all_text(self) -> str:
        out: list[str] = [str(self.body.get("text") or "")]

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in ("text", "title", "value") and isinstance(value, str):
                        out.append(value)
                    else:
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(self.cards())
        return "\n".join(out)

    def verbs(self) -> list[str]:
        found: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("type") == "Action.Execute":
                    found.append(node.get("verb"))
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(self.cards())
        return found


class FakeConnector:
    """``token``: the bearer token the bot must write with; any other (or none) gets 401, as from the Bot Connector."""

    def __init__(self, *, token: str | None = None) -> None:
        self.token = token
        self.refused: list[str] = []  # paths called with a wrong or missing token
        self.records: list[Call] = []
        self.members: dict[str, dict[str, Any]] = {}
        self.teams: dict[str, dict[str, Any]] = {}  # Teams team id (19:…) -> its details
        self.conversation_of: dict[str, str] = {}  # member id (29:… or Entra object id) -> 1:1 conversation id
        self.refuse_create: dict[str, int] = {}  # member id -> status to answer a create with (403: not installed)
        self._ids = itertools.count(1)
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._expected: dict[str, asyncio.Future[Call]] = {}
        self.port = 0

    async def start(self) -> FakeConnector:
        self._changed = asyncio.Condition()
        app = web.Application(middlewares=[self._check_token])
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._activity)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._activity)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._activity)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        app.router.add_get("/v3/teams/{tid}", self._team)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def calls(self, kind: str | None = None) -> list[Call]:
        return [c for c in self.records if kind is None or c.kind == kind]

    def posted(self) -> list[Call]:
        return [c for c in self.records if c.kind in ("send", "reply", "update", "create")]

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0,
                       where: Callable[[Call], bool] | None = None) -> list[Call]:
        assert self._changed is not None

        def matching() -> list[Call]:
            return [c for c in self.calls(kind) if where is None or where(c)]

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(matching()) >= count), timeout)
            except TimeoutError:
                raise AssertionError(f"expected {count} x {kind}; saw {[c.kind for c in self.records]}") from None
        return matching()

    @web.middleware
    async def _check_token(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            self.refused.append(request.path)
            return web.json_response({"message": "Authorization has been denied for this request."}, status=401)
        return await handler(request)

    def expect_reply(self, activity_id: str) -> asyncio.Future[Call]:
        """A future for the bot's reply to the activity ``activity_id``, resolved the moment it arrives (load
        tests wait on thousands of replies without scanning the records)."""
        future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        self._expected[activity_id] = future
        return future

    async def _record(self, call: Call) -> None:
        self.records.append(call)
        if call.activity_id is not None and call.kind == "reply":
            future = self._expected.pop(call.activity_id, None)
            if future is not None and not future.done():
                future.set_result(call)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.text()
        if not raw:
            return {}
        import json

        return json.loads(raw)

    async def _activity(self, request: web.Request) -> web.Response:
        received = time.monotonic()  # when the reply reached the connector, before its body is read
        cid = request.match_info["cid"]
        aid = request.match_info.get("aid")
        call = Call(request.method, request.path, cid, aid, await self._body(request), dict(request.headers),
                    at=received)
        call.answer_id = aid if request.method == "PUT" else f"1:{next(self._ids):06d}"
        await self._record(call)
        return web.json_response({"id": call.answer_id})

    async def _create(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        call = Call("POST", request.path, None, None, body, dict(request.headers))
        await self._record(call)
        members = body.get("members") or []
        member = str(members[0].get("id") or members[0].get("aadObjectId") or "") if members else ""
        refused = self.refuse_create.get(member)
        if refused:
            return web.json_response({"error": {"code": "BotNotInConversationRoster",
                                                "message": "The bot is not part of the conversation roster."}},
                                     status=refused)
        n = next(self._ids)
        conversation = self.conversation_of.setdefault(member, f"a:created-{n}") if member else f"a:created-{n}"
        activity = body.get("activity")
        answer: dict[str, Any] = {"id": conversation, "serviceUrl": self.url}
        if activity:
            answer["activityId"] = f"1:{n:06d}"
        return web.json_response(answer, status=201)

    async def _member(self, request: web.Request) -> web.Response:
        call = Call("GET", request.path, request.match_info["cid"], None, {}, dict(request.headers))
        await self._record(call)
        member = self.members.get(request.match_info["mid"])
        if member is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation", "message": "not found"}},
                                     status=404)
        return web.json_response(member)

    async def _team(self, request: web.Request) -> web.Response:
        call = Call("GET", request.path, None, None, {}, dict(request.headers))
        await self._record(call)
        team = self.teams.get(request.match_info["tid"])
        if team is None:
            return web.json_response({"error": {"code": "NotFound", "message": "team not found"}}, status=404)
        return web.json_response(team)
