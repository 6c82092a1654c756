"""A TCP proxy in front of PostgreSQL that a test can cut and restore: a database outage on demand.

Listens on 127.0.0.1 and a free port, in a thread of its own.  While cut, every open connection is
dropped and every new one is closed at once (the client sees "server closed the connection"), as when
the database host goes away; restored, it forwards again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from urllib.parse import urlparse


class DbProxy:
    def __init__(self, target_url: str) -> None:
        parsed = urlparse(target_url.replace("postgresql+psycopg://", "postgresql://"))
        self.target = (parsed.hostname or "127.0.0.1", parsed.port or 5432)
        self._url = target_url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="db-proxy", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.cut_now = False
        self.refused = 0  # connections closed while cut
        self.port = 0

    @property
    def url(self) -> str:
        """The database URL, through the proxy."""
        host, port = self.target
        return self._url.replace(f"{host}:{port}", f"127.0.0.1:{self.port}", 1)

    def start(self) -> DbProxy:
        self._thread.start()

        async def up() -> int:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            return int(self._server.sockets[0].getsockname()[1])

        self.port = asyncio.run_coroutine_threadsafe(up(), self._loop).result(10)
        return self

    def stop(self) -> None:
        async def down() -> None:
            if self._server is not None:
                self._server.close()
            self._drop_all()

        asyncio.run_coroutine_threadsafe(down(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def cut(self) -> None:
        """The database is gone: open connections drop, new ones are closed at once."""
        async def go() -> None:
            self.cut_now = True
            self._drop_all()

        asyncio.run_coroutine_threadsafe(go(), self._loop).result(10)

    def restore(self) -> None:
        async def go() -> None:
            self.cut_now = False

        asyncio.run_coroutine_threadsafe(go(), self._loop).result(10)

    def _drop_all(self) -> None:
        for writer in list(self._open):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._open.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.cut_now:
            self.refused += 1
            client_writer.transport.abort()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._open |= {client_writer, server_writer}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while not self.cut_now:
                    data = await reader.read(65536)
                    if not data:
                        break
                    writer.write(data)
                    await writer.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    writer.transport.abort()
                self._open.discard(writer)

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
