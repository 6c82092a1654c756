"""A fake Slack for tests: the Web API, ``response_url`` hooks and a Socket Mode websocket.

Both servers bind 127.0.0.1 on port 0 and record every request, so tests assert
on what govbot *sent* to Slack:

    fake = FakeSlack(); await fake.start()
    client = AsyncWebClient(token="xoxb-...", base_url=fake.api_url)
    ...
    [call] = await fake.wait_for("chat.postMessage")
    assert call.body["thread_ts"] == "1605853844.000800"

Answers follow Slack's documented shapes (``ok``, ``ts``, ``channel``,
``users_not_found``).  ``fail_next`` makes the next calls answer 429 with
``Retry-After`` (or 500), as Slack does under load.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

DEFAULT_RATELIMITED = {
    "status": 429,
    "headers": {"Content-Type": "application/json;charset=utf-8", "Retry-After": "30"},
    "body": {"ok": False, "error": "ratelimited"},
}


@dataclass
class Call:
    method: str  # Web API method ("chat.postMessage") or "response_url"
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 200
    at: float = field(default_factory=time.monotonic)

    @property
    def token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ") if auth else self.body.get("token")

    def blocks(self) -> list[dict[str, Any]]:
        raw = self.body.get("blocks") or (self.body.get("view") or {}).get("blocks") or []
        return json.loads(raw) if isinstance(raw, str) else list(raw)

    def view(self) -> dict[str, Any]:
        raw = self.body.get("view") or {}
        return json.loads(raw) if isinstance(raw, str) else dict(raw)

    def all_text(self) -> str:
        """Every visible string of the message or view: fallback text, blocks, fields, buttons."""
        out: list[str] = [str(self.body.get("text") or "")]

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "text" and isinstance(value, str):
                        out.append(value)
                    else:
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(self.blocks())
        return "\n".join(out)

    def action_ids(self) -> list[str]:
        ids: list[str] = []
        for block in self.blocks():
            for element in block.get("elements") or []:
                if element.get("action_id"):
                    ids.append(element["action_id"])
            accessory = block.get("accessory") or {}
            if accessory.get("action_id"):
                ids.append(accessory["action_id"])
        return ids

    def buttons(self) -> list[dict[str, Any]]:
        out = []
        for block in self.blocks():
            for element in block.get("elements") or []:
                if element.get("type") == "button":
                    out.append(element)
            if (block.get("accessory") or {}).get("type") == "button":
                out.append(block["accessory"])
        return out


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    method: str | None


class FakeSlack:
    """Slack's Web API at ``api_url`` and ``response_url`` hooks at ``hook_url(...)``."""

    def __init__(self, *, bot_user_id: str = "U0BE241202A", bot_id: str = "B0GOVBOT01", team_id: str = "T04CRVBEV"):
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.records: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.not_in_channel: set[str] = set()
        self.socket_url: str | None = None
        self._failures: list[_Failure] = []
        self._refusals: list[tuple[str, str]] = []
        self._ts = itertools.count(1)
        self._last_ts = 0.0
        self.history_pages = 0  # conversations.history pages served
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel -> posted messages, oldest first
        self._stall: tuple[str, int] | None = None
        self._stalled = 0
        self._release: asyncio.Event | None = None
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._expected: dict[str, asyncio.Future[Call]] = {}
        self.port = 0

    # ------------------------------------------------------------------ server

    async def start(self) -> FakeSlack:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/hooks/{tail:.*}", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def hook_url(self, name: str = "commands") -> str:
        """A fresh ``response_url`` that lands on this fake."""
        return f"http://127.0.0.1:{self.port}/hooks/{name}/{self.team_id}/{next(self._ts)}/secret"

    # ------------------------------------------------------------------ set-up helpers

    def add_user(self, user_id: str, *, email: str | None, real_name: str, template: dict[str, Any] | None = None,
                 deleted: bool = False, is_bot: bool = False) -> dict[str, Any]:
        """A Slack user for ``users.info`` / ``users.lookupByEmail``, in the shape of ``template``."""
        user = copy.deepcopy(template) if template else {"profile": {}}
        user.update({"id": user_id, "name": (email or real_name).split("@")[0], "real_name": real_name,
                     "team_id": self.team_id, "deleted": deleted, "is_bot": is_bot})
        profile = dict(user.get("profile") or {})
        profile.update({"real_name": real_name, "display_name": real_name.split()[0], "team": self.team_id})
        if email:
            profile["email"] = email
        else:
            profile.pop("email", None)
        user["profile"] = profile
        self.users[user_id] = user
        return user

    def fail_next(self, count: int = 1, *, status: int = 429, retry_after: str | None = "0",
                  payload: dict[str, Any] | None = None, method: str | None = None) -> None:
        """The next ``count`` calls (of ``method``, or any) answer ``status``; 429 carries ``Retry-After``."""
        template = payload or (DEFAULT_RATELIMITED if status == 429 else
                               {"status": status, "headers": {}, "body": {"ok": False, "error": "fatal_error"}})
        headers = dict(template.get("headers") or {})
        if status == 429 and retry_after is not None:
            headers = {k: v for k, v in headers.items() if k.lower() != "retry-after"}
            headers["Retry-After"] = retry_after
        for _ in range(count):
            self._failures.append(_Failure(status, headers, dict(template.get("body") or {}), method))

    def stall_after(self, count: int, *, method: str = "chat.postMessage") -> None:
        """Accept the ``count``-th successful call of ``method`` (it is recorded and stored) but hold
        its answer, and every later call's, until ``release()``: a client killed meanwhile never learns
        that Slack took the message."""
        self._stall = (method, count)
        self._stalled = 0
        self._release = asyncio.Event()

    @property
    def stalled(self) -> bool:
        return self._stall is not None and self._stalled >= self._stall[1]

    def release(self) -> None:
        self._stall = None
        if self._release is not None:
            self._release.set()

    def refuse_next(self, method: str, error: str) -> None:
        """The next call of ``method`` answers HTTP 200 ``{"ok": false, "error": error}`` (e.g. expired_trigger_id)."""
        self._refusals.append((method, error))

    # ------------------------------------------------------------------ assertions

    def calls(self, method: str | None = None, *, ok_only: bool = True) -> list[Call]:
        """Recorded calls (``ok_only``: leave out the ones answered with an injected HTTP failure)."""
        return [c for c in self.records if (method is None or c.method == method) and (not ok_only or c.status == 200)]

    def posted(self) -> list[Call]:
        """Everything that put a message in front of a user (any of the ways Slack allows)."""
        kinds = {"chat.postMessage", "chat.postEphemeral", "chat.update", "response_url", "views.publish"}
        return [c for c in self.calls() if c.method in kinds]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0,
                       where: Callable[[Call], bool] | None = None) -> list[Call]:
        """Wait until ``count`` successful calls of ``method`` were recorded; return them."""
        assert self._changed is not None

        def matching() -> list[Call]:
            return [c for c in self.calls(method) if where is None or where(c)]

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(matching()) >= count), timeout)
            except TimeoutError:
                seen = [(c.method, c.status) for c in self.records]
                raise AssertionError(f"expected {count} x {method} within {timeout}s; saw {seen}") from None
        return matching()

    def expect(self, path: str) -> asyncio.Future[Call]:
        """A future for the next successful call to ``path`` (e.g. a ``response_url``'s path), resolved the
        moment the fake records it: load tests wait on thousands of answers without scanning the records."""
        future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        self._expected[path] = future
        return future

    async def settle(self, quiet: float = 0.2, timeout: float = 5.0) -> None:
        """Wait until no call has arrived for ``quiet`` seconds (to assert that nothing *else* was sent)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.records[-1].at if self.records else 0.0
            if time.monotonic() - last >= quiet:
                return
            await asyncio.sleep(quiet / 4)

    async def _record(self, call: Call) -> None:
        self.records.append(call)
        if call.status == 200:
            future = self._expected.pop(call.path, None)
            if future is not None and not future.done():
                future.set_result(call)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    def _take_failure(self, method: str) -> _Failure | None:
        for i, failure in enumerate(self._failures):
            if failure.method in (None, method):
                return self._failures.pop(i)
        return None

    # ------------------------------------------------------------------ handlers

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.query)
        raw = await request.text()
        if not raw:
            return body
        if request.content_type == "application/json":
            body.update(json.loads(raw))
        else:
            body.update(dict(parse_qsl(raw, keep_blank_values=True)))
        return body

    async def _hook(self, request: web.Request) -> web.Response:
        received = time.monotonic()  # when the answer reached Slack, before its body is read
        call = Call("response_url", request.path, await self._body(request), dict(request.headers), at=received)
        failure = self._take_failure("response_url")
        if failure is not None:
            call.status = failure.status
            await self._record(call)
            return self._failure_response(failure)
        await self._record(call)
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        received = time.monotonic()
        call = Call(method, request.path, await self._body(request), dict(request.headers), at=received)
        failure = self._take_failure(method)
        if failure is not None:
            call.status = failure.status
            await self._record(call)
            return self._failure_response(failure)
        refusal = next((r for r in self._refusals if r[0] == method), None)
        if refusal is not None:
            self._refusals.remove(refusal)
            answer: dict[str, Any] = {"ok": False, "error": refusal[1]}
        else:
            answer = self._answer(method, call)
        await self._record(call)
        if self._stall is not None and method == self._stall[0] and answer.get("ok"):
            self._stalled += 1
            if self._stalled >= self._stall[1] and self._release is not None:
                await self._release.wait()
        return web.json_response(answer)

    @staticmethod
    def _failure_response(failure: _Failure) -> web.Response:
        headers = dict(failure.headers)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json;charset=utf-8"
        return web.Response(status=failure.status, body=json.dumps(failure.body).encode(), headers=headers)

    def _next_ts(self) -> str:
        """A message timestamp as Slack makes them: the server's clock, unique within the conversation."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _history(self, body: dict[str, Any]) -> dict[str, Any]:
        """``conversations.history`` as Slack answers it: newest first, between ``oldest`` and ``latest``
        (exclusive unless ``inclusive``), ``limit`` per page (default 100, at most 999), and a ``cursor`` for
        the next (older) page in ``response_metadata.next_cursor`` while ``has_more``."""
        def number(name: str, default: float) -> float:
            raw = body.get(name)
            return float(raw) if raw not in (None, "") else default

        inclusive = str(body.get("inclusive", "")).lower() in ("1", "true")
        oldest, latest = number("oldest", 0.0), number("latest", float("inf"))
        newest_first = list(reversed(self.history.get(str(body.get("channel")), [])))
        kept = [m for m in newest_first
                if (oldest <= float(m["ts"]) if inclusive else oldest < float(m["ts"]))
                and (float(m["ts"]) <= latest if inclusive else float(m["ts"]) < latest)]
        start = int(str(body.get("cursor") or "0").removeprefix("next_ts_") or 0) if body.get("cursor") else 0
        limit = min(int(body.get("limit") or 100), 999)
        page = kept[start:start + limit]
        if str(body.get("include_all_metadata", "")).lower() not in ("1", "true"):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(kept)
        self.history_pages += 1
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": f"next_ts_{start + limit}" if more else ""}}

    def _answer(self, method: str, call: Call) -> dict[str, Any]:
        body = call.body
        if method == "auth.test":
            return {"ok": True, "url": "https://corvane.slack.example/", "team": "Corvane", "user": "govbot",
                    "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                    "is_enterprise_install": False}
        if method == "chat.postMessage":
            channel = str(body.get("channel"))
            if channel in self.not_in_channel:
                return {"ok": False, "error": "not_in_channel"}
            ts = self._next_ts()
            message = {"bot_id": self.bot_id, "type": "message", "text": body.get("text", ""),
                       "user": self.bot_user_id, "ts": ts, "team": self.team_id}
            if body.get("thread_ts"):
                message["thread_ts"] = body["thread_ts"]
            metadata = body.get("metadata")
            if metadata:
                message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
            self.history.setdefault(channel, []).append(message)
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "conversations.open":
            users = str(body.get("users") or "")
            return {"ok": True, "channel": {"id": users}} if users else {"ok": False, "error": "users_list_not_supplied"}
        if method == "conversations.history":
            return self._history(body)
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts"), "text": body.get("text", "")}
        if method == "chat.delete":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        if method in ("views.open", "views.publish", "views.update"):
            view = body.get("view") or {}
            view = json.loads(view) if isinstance(view, str) else dict(view)
            view.setdefault("id", f"V{next(self._ts):08d}")
            return {"ok": True, "view": view}
        if method == "users.info":
            user = self.users.get(str(body.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        if method == "users.lookupByEmail":
            wanted = str(body.get("email", "")).lower()
            for user in self.users.values():
                if str((user.get("profile") or {}).get("email", "")).lower() == wanted:
                    return {"ok": True, "user": user}
            return {"ok": False, "error": "users_not_found"}
        if method == "apps.connections.open":
            if not (call.token or "").startswith("xapp-"):
                return {"ok": False, "error": "invalid_auth"}
            if self.socket_url is None:
                return {"ok": False, "error": "socket_mode_not_enabled"}
            return {"ok": True, "url": self.socket_url}
        return {"ok": False, "error": "unknown_method"}


class FakeSocketMode:
    """Slack's Socket Mode endpoint: sends ``hello`` on connect, then whatever the test sends; records acks."""

    def __init__(self, *, hello: dict[str, Any] | None = None) -> None:
        self.hello = hello or {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A111"}}
        self.acks: list[dict[str, Any]] = []
        self.connections = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> FakeSocketMode:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link"

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        await ws.send_str(json.dumps(self.hello))
        await self._notify()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    if "envelope_id" in data:
                        self.acks.append(data)
                        await self._notify()
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
            await self._notify()
        return ws

    async def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        assert self._changed is not None
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                raise AssertionError(f"timed out waiting for {what}; acks={self.acks}") from None

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        await self._wait(lambda: self.connections >= count and bool(self._sockets), timeout, f"{count} connections")

    async def send(self, message: dict[str, Any]) -> None:
        """Send to the newest live connection (an envelope, or ``disconnect``)."""
        await self.wait_connected()
        await self._sockets[-1].send_str(json.dumps(message))

    def acks_for(self, envelope_id: str) -> list[dict[str, Any]]:
        return [a for a in self.acks if a.get("envelope_id") == envelope_id]

    async def wait_for_ack(self, envelope_id: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        await self._wait(lambda: len(self.acks_for(envelope_id)) >= count, timeout, f"ack of {envelope_id}")
        return self.acks_for(envelope_id)
