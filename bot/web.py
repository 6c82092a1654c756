"""govbot's one web host: a single aiohttp application for every HTTP entry point.

Routes today:

* ``POST /slack/events``: slash commands, Events API and interactivity (HTTP mode);
  :mod:`bot.slack.edge` verifies the signature before anything is parsed, answers a replay once and
  refuses an unreadable body, then bolt runs (and verifies again).
* ``GET /healthz``: 200 with JSON when the database answers, 503 otherwise.

Extension points: everything else is a :class:`WebMount`, an object with
``mount(app)`` that adds its routes (and, if it needs them, ``on_startup`` /
``on_cleanup`` hooks) to the application.  The Teams adapter mounts
``POST /api/messages`` and the dashboard mounts its pages this way::

    create_app(container, mounts=[TeamsMount(...), DashboardMount(...)])

``serve(container, slack=…, mounts=…, worker=…)`` runs the host with what the composition root
(:mod:`bot.bootstrap`) built, and Socket Mode when an ``xapp-`` app token is set; ``govbot serve``
and ``govbot demo`` call it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from bot import http_security
from bot.slack import edge
from bot.slack.app import SlackAdapter
from bot.turn import error_reply, new_error_id

if TYPE_CHECKING:
    from bot.bootstrap import Container

log = logging.getLogger(__name__)

CONTAINER: web.AppKey[Container] = web.AppKey("container")
SLACK = web.AppKey("slack", SlackAdapter)
REPLAY_GUARD = web.AppKey("slack_replay_guard", edge.ReplayGuard)


class _Monitored(Protocol):
    """What ``/healthz`` reads of the notification worker (``notifications.scheduler.Worker``)."""

    @property
    def alive(self) -> bool: ...

    heartbeat: Any


WORKER = web.AppKey("worker", _Monitored)

SLACK_EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
HEALTH_TIMEOUT_SECONDS = 5.0


class WebMount(Protocol):
    """Something that adds routes to the host: the Teams adapter, the dashboard, metrics."""

    def mount(self, app: web.Application) -> None: ...


def create_app(
    container: Container,
    *,
    slack: SlackAdapter | None = None,
    slack_http: bool = True,
    mounts: Iterable[WebMount] = (),
    worker: Any = None,
    host: str | None = None,
) -> web.Application:
    """The aiohttp application.  ``slack_http=False`` (Socket Mode) leaves ``/slack/events`` out.

    ``worker`` (a :class:`notifications.scheduler.Worker`) is reported by ``/healthz``.  ``host``: the
    address the host binds (default ``GOVBOT_HOST``), one of the host names pages answer to.  Every response,
    whichever mount answers it, gets the security headers, the Host allow-list and the trusted-proxy handling
    of :mod:`bot.http_security`.
    """
    settings = container.settings
    policy = http_security.HostPolicy.build(configured=settings.allowed_hosts, public_host=settings.public_host(),
                                            bind_host=host or settings.host)
    proxies = http_security.TrustedProxies.parse(settings.trusted_proxies)
    app = web.Application(middlewares=[http_security.middleware(policy, proxies)])
    app.on_response_prepare.append(http_security.add_security_headers)
    app[CONTAINER] = container
    if worker is not None:
        app[WORKER] = worker
    app.router.add_get(HEALTH_PATH, healthz)
    adapter = slack
    if adapter is not None:
        app[SLACK] = adapter
        edge.quiet_bolt_logger(adapter.bolt.logger)
        if adapter.verifier is not None:
            app[REPLAY_GUARD] = edge.ReplayGuard(container.session_factory, clock=adapter.verifier.clock.now)
        app.on_startup.append(_start_slack)
        app.on_cleanup.append(_stop_slack)
        if slack_http:
            if adapter.http_enabled:
                app.router.add_post(SLACK_EVENTS_PATH, slack_events)
            else:
                log.warning("GOVBOT_SLACK_SIGNING_SECRET is not set: %s is not served", SLACK_EVENTS_PATH)
    for mount in mounts:
        mount.mount(app)
    return app


async def _start_slack(app: web.Application) -> None:
    await app[SLACK].start()


async def _stop_slack(app: web.Application) -> None:
    await app[SLACK].close()


async def slack_events(request: web.Request) -> web.StreamResponse:
    """Authenticate, refuse replays and malformed bodies (:mod:`bot.slack.edge`), then hand the request to
    bolt and its answer back."""
    adapter = request.app[SLACK]
    if adapter.verifier is None:
        return edge.unauthorised()
    return await edge.handle(request, verifier=adapter.verifier, guard=request.app[REPLAY_GUARD],
                             dispatch=_dispatch_to_bolt)


async def _dispatch_to_bolt(request: web.Request) -> web.StreamResponse:
    adapter = request.app[SLACK]
    bolt_request = await to_bolt_request(request)
    try:
        bolt_response = await adapter.bolt.async_dispatch(bolt_request)
    except Exception:
        error_id = new_error_id()
        log.exception("error_id=%s while dispatching a Slack request", error_id)
        return web.json_response({"response_type": "ephemeral", "text": error_reply(error_id).text})
    return await to_aiohttp_response(bolt_response)


async def healthz(request: web.Request) -> web.Response:
    container = request.app[CONTAINER]

    def ping() -> None:
        with container.engine.connect() as conn:
            conn.execute(sa.text("select 1"))

    slack = request.app.get(SLACK)
    body: dict[str, Any] = {"slack": "on" if slack is not None else "off"}
    worker = request.app.get(WORKER)
    if worker is not None:
        body["scheduler"] = "alive" if worker.alive else "stopped"
        last = worker.heartbeat.last_cycle
        body["last_sweep"] = last.isoformat() if last else None
        health = getattr(worker, "health", None)
        if health is not None:  # ok, or riding out an outage (what failed, since when, the next try)
            body["worker"] = health.report()
    try:
        await asyncio.wait_for(asyncio.to_thread(ping), timeout=HEALTH_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - any failure means the store is unreachable
        log.warning("health check: database unreachable: %s", exc)
        return web.json_response({"status": "unavailable", "database": type(exc).__name__, **body}, status=503)
    if worker is not None and not worker.alive:
        return web.json_response({"status": "unavailable", "database": "ok", **body}, status=503)
    if body.get("worker", {}).get("state") == "degraded":
        return web.json_response({"status": "degraded", "database": "ok", **body}, status=503)
    return web.json_response({"status": "ok", "database": "ok", **body})


async def serve(
    container: Container,
    *,
    slack: SlackAdapter | None = None,
    mounts: Iterable[WebMount] = (),
    worker: Any = None,
    host: str | None = None,
    port: int | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[Sequence[Any]], None] | None = None,
) -> None:
    """Run the web host with what it is given until ``stop`` is set (or SIGINT/SIGTERM).

    ``slack``: the adapter (Socket Mode when ``GOVBOT_SLACK_APP_TOKEN`` is set, else HTTP at
    ``/slack/events``); ``mounts``: Teams, the dashboard, the web chat …; ``worker``: the notification
    worker to start (and report on ``/healthz``)."""
    from bot.slack.socket_mode import GovbotSocketModeHandler

    settings = container.settings
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    if app_token and not app_token.startswith("xapp-"):
        raise SystemExit("GOVBOT_SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    socket_mode = bool(slack is not None and app_token)
    if worker is not None and not worker.alive:
        worker.start()
    app = create_app(container, slack=slack, slack_http=not socket_mode, mounts=mounts, worker=worker,
                     host=host or settings.host)
    http_security.redact_log_handlers()  # no ?token= or ?pass= value reaches a log
    runner = web.AppRunner(app, handle_signals=False, access_log_class=http_security.RedactingAccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, host or settings.host, settings.port if port is None else port)
    await site.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    handler: GovbotSocketModeHandler | None = None
    try:
        if socket_mode and slack is not None and app_token:
            handler = GovbotSocketModeHandler(slack, app_token)
            await handler.connect_async()
            log.info("Slack: Socket Mode connected")
        elif slack is not None:
            log.info("Slack: HTTP mode at %s", SLACK_EVENTS_PATH)
        if slack is not None:
            processes = slack.runner.processes
            log.info("the core answers in %s", f"{processes} worker processes" if processes else "threads")
        log.info("govbot is serving on %s", ", ".join(str(a) for a in runner.addresses))
        if on_ready is not None:
            on_ready(runner.addresses)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        if handler is not None:
            await handler.close_async()
        await runner.cleanup()
        if worker is not None:
            worker.stop()
