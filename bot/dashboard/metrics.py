"""``GET /metrics``: Prometheus text exposition, written by hand.

Request counts by route and a latency histogram come from a middleware that
times every request; answer latency is observed around every core call the
web chat makes; the rest (pending approvals, outbox depth, escalations,
digest runs, scheduler liveness) is read at scrape time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.dashboard import queries

if TYPE_CHECKING:
    from bot.bootstrap import Container

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS = web.AppKey("govbot_metrics", object)


class Histogram:
    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.total = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.total += 1
        self.sum += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items()) + "}"


class Registry:
    """The process's counters and histograms (thread-safe: core calls run in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.request_latency: dict[str, Histogram] = defaultdict(Histogram)
        self.answer_latency: dict[str, Histogram] = defaultdict(Histogram)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            self.request_latency[route].observe(seconds)

    @contextmanager
    def answering(self, kind: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.answer_latency[kind].observe(time.perf_counter() - start)

    def render_histograms(self, name: str, help_text: str, label: str, data: dict[str, Histogram]) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        for key, h in sorted(data.items()):
            for bound, count in zip(BUCKETS, h.counts, strict=True):
                lines.append(f"{name}_bucket{_labels({label: key, 'le': repr(bound)})} {count}")
            lines.append(f"{name}_bucket{_labels({label: key, 'le': '+Inf'})} {h.total}")
            lines.append(f"{name}_sum{_labels({label: key})} {h.sum:.6f}")
            lines.append(f"{name}_count{_labels({label: key})} {h.total}")
        return lines

    def render(self, gauges: dict[str, Any]) -> str:
        with self._lock:
            lines = ["# HELP govbot_http_requests_total HTTP requests by route and status.",
                     "# TYPE govbot_http_requests_total counter"]
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(f"govbot_http_requests_total{_labels({'method': method, 'route': route, 'status': status})} {n}")
            lines += self.render_histograms("govbot_http_request_duration_seconds", "Time to answer an HTTP request.",
                                            "route", self.request_latency)
            lines += self.render_histograms("govbot_answer_duration_seconds",
                                            "Time the core takes to answer a question or a click.",
                                            "kind", self.answer_latency)
        for name, (kind, help_text, value) in gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            if isinstance(value, dict):
                for label_value, v in value.items():
                    lines.append(f"{name}{_labels({'source': label_value})} {v}")
            elif isinstance(value, list):  # (labels, value) pairs
                for labels, v in value:
                    lines.append(f"{name}{_labels(labels)} {v}")
            else:
                lines.append(f"{name} {value}")
        return "\n".join(lines) + "\n"


def route_of(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info is not None and info.route is not None else None
    if resource is None:
        return "unmatched"
    return resource.canonical


def timing_middleware(registry: Registry) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def timed(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            registry.request(request.method, route_of(request), status, time.perf_counter() - start)

    return timed


class MetricsMount:
    """Adds ``GET /metrics`` and the request-timing middleware."""

    def __init__(self, container: Container, registry: Registry | None = None, *, host: str | None = None) -> None:
        from bot.dashboard import auth

        self.container = container
        self.registry = registry or Registry()
        self.host = host or container.settings.host
        secret = container.settings.dashboard_token
        self.token = secret.get_secret_value() if secret is not None else None
        auth.required_token(self.host, self.token, public_url=container.settings.public_url)

    def mount(self, app: web.Application) -> None:
        from bot.dashboard import auth, holders

        auth.install(app, host=self.host, token=self.token, clock=self.container.clock,
                     still_allowed=holders.still_allowed(self.container), public_url=self.container.settings.public_url)
        app[METRICS] = self.registry
        app.middlewares.append(timing_middleware(self.registry))
        app.router.add_get("/metrics", self.metrics)

    def gauges(self, worker: Any) -> dict[str, Any]:
        with self.container.unit_of_work() as session:
            pending = queries.pending_approvals(session=session)
            depth = queries.outbox_pending(session=session)
            audited = queries.escalations_in_audit(session=session)
            digests = queries.digest_runs(session=session)
            from bot.dashboard.ownership_page import gauges as ownership_gauges

            ownership = ownership_gauges(session=session, now=self.container.clock(),
                                         policy=self.container.services.ownership)
        fired: dict[str, int] = {"audit_log": audited}
        alive = 0
        if worker is not None:
            fired["worker"] = worker.heartbeat.escalations_fired
            alive = 1 if worker.alive else 0
        from bot.dashboard.sources import gauges as source_gauges

        return {
            **source_gauges(self.container),
            "govbot_pending_approvals": ("gauge", "Approvals waiting for a decision.", pending),
            "govbot_outbox_pending": ("gauge", "Outbox messages waiting to be delivered.", depth),
            "govbot_escalations_fired_total": (
                "counter", "SLA steps (reminders, breaches, escalation levels) fired by this process's worker "
                "since start (source=worker); escalations recorded in the audit log (source=audit_log).", fired),
            "govbot_digest_runs_total": ("counter", "Weekly digest runs recorded.", digests),
            "govbot_scheduler_alive": ("gauge", "1 when the notification scheduler runs in this process.", alive),
            **ownership,
        }

    async def metrics(self, request: web.Request) -> web.Response:
        from bot.web import WORKER

        worker = request.app.get(WORKER)
        gauges = await asyncio.to_thread(self.gauges, worker)
        return web.Response(body=self.registry.render(gauges).encode(), headers={"Content-Type": CONTENT_TYPE})
