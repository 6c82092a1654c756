"""Runs an aiohttp application on 127.0.0.1, port 0, in a thread of its own (the connectors are
synchronous clients), optionally over TLS, and records every request it answers."""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Failure:
    status: int
    retry_after: str | None
    body: Any


class ThreadedApp:
    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.seen: list[Seen] = []
        self.failures: list[Failure] = []
        self.down = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.lock = threading.Lock()

    def app(self) -> web.Application:
        raise NotImplementedError

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> ThreadedApp:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                application = self.app()
                application.middlewares.append(self._middleware)
                self._runner = web.AppRunner(application, access_log=None, shutdown_timeout=0.2)
                await self._runner.setup()
                site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
                await site.start()
                self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

            loop.run_until_complete(boot())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def fail_next(self, count: int = 1, *, status: int = 429, retry_after: str | None = "0", body: Any = None) -> None:
        with self.lock:
            self.failures += [Failure(status, retry_after, body) for _ in range(count)]

    def requests(self, path_part: str = "") -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if path_part in s.path]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        seen = Seen(request.method, request.path, dict(request.query), dict(request.headers))
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            seen.body = dict(await request.post())
        with self.lock:
            self.seen.append(seen)
            if self.down:
                seen.status = 503
                return web.json_response({"error": "service unavailable"}, status=503)
            failure = self.failures.pop(0) if self.failures and not self.is_token(request) else None
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            seen.status = failure.status
            return web.json_response(failure.body or {"error": "throttled"}, status=failure.status, headers=headers)
        response = await handler(request)
        seen.status = response.status
        return response

    def is_token(self, request: web.Request) -> bool:
        """Requests a failure schedule skips (the token endpoint of an identity provider)."""
        return False
