"""``GET /healthz`` for ``govbot worker``, which has no web host of its own: a small HTTP server in a thread.

200 with ``{"status": "ok", "worker": {...}}`` while the worker's cycles succeed; 503 with
``"status": "degraded"`` and what failed (the database unreachable since when, the next try) while it rides
out an outage (:class:`notifications.health.WorkerHealth`).  Nothing else is served.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


def health_body(worker: Any) -> tuple[int, dict[str, Any]]:
    """The status code and body ``/healthz`` answers for ``worker``."""
    report = worker.health.report()
    last = worker.heartbeat.last_cycle
    body = {"status": "ok" if report["state"] == "ok" else "degraded", "worker": report,
            "last_sweep": last.isoformat() if last else None}
    return (200 if report["state"] == "ok" else 503), body


class HealthServer:
    def __init__(self, worker: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        owner = worker

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server interface
                if self.path.split("?", 1)[0] != "/healthz":
                    self.send_error(404)
                    return
                status, body = health_body(owner)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server interface
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="worker-health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("worker health at http://%s:%d/healthz", self._server.server_address[0], self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
