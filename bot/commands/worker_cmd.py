"""``govbot worker``: the notification worker alone (SLA sweep, digests, outbox delivery), without a web host.

Run as many replicas as you like against one PostgreSQL database: timers and
messages are claimed with ``FOR UPDATE SKIP LOCKED``, so no leader is needed.
On SQLite run one process (SQLite has one writer).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from notifications.outbox import DispatchResult, Sender
    from notifications.sweep import SweepResult

log = logging.getLogger("govbot.worker")


def run_worker(container, *, once: bool = False, until_idle: bool = False,  # type: ignore[no-untyped-def]
               max_seconds: float | None = None, stop: threading.Event | None = None,
               senders: list[Sender] | None = None, health_port: int | None = None) -> int:
    """Run the worker's loop (``Worker.run``) on the container's clock; return the number of cycles.

    The loop never ends because the database is away: a failed cycle backs off and tries again
    (``worker.health``); ``health_port`` serves that state at ``/healthz``.  ``senders`` replaces the chat
    platforms of the settings (benchmarks hand in a recording one).
    """
    from bot.bootstrap import build_worker, reroute_departed
    from bot.health_server import HealthServer
    from notifications import outbox
    from notifications.health import guarded

    worker = build_worker(container) if senders is None else build_worker(container, senders)
    server = HealthServer(worker, host=container.settings.worker_health_host, port=health_port).start() \
        if health_port is not None else None
    # A platform configured (or back) since the last run: every message waiting for someone is tried again.
    guarded(worker.health, lambda: outbox.wake_all(container.session_factory, now=container.clock()))
    # Running on, the worker's scheduler runs the weekly digests (in their own thread, so that computing
    # them never holds up escalations) and the outbox pruning; this thread runs the cycles.  A single pass
    # (--once, --until-idle) sends the due digests in line.
    if not (once or until_idle):
        worker.start(sweep=False)
    else:
        with contextlib.suppress(Exception):  # logged; the scheduled pass retries when the worker runs on
            reroute_departed(container)

    def logged(number: int, swept: SweepResult, sent: DispatchResult) -> None:
        if swept.timers or sent.sent or sent.retried or sent.failed:
            log.info("cycle %d: %d timers, %d fired; %d sent, %d recovered, %d retried, %d failed", number,
                     swept.timers, swept.fired, sent.sent, sent.recovered, sent.retried, sent.failed)

    try:
        return worker.run(stop=stop or threading.Event(), once=once, until_idle=until_idle,
                          max_seconds=max_seconds, on_cycle=logged)
    finally:
        worker.stop()
        if server is not None:
            server.stop()


def register(main: click.Group) -> None:
    @main.command("worker")
    @click.option("--once", is_flag=True, help="Run one cycle and exit.")
    @click.option("--until-idle", is_flag=True,
                  help="Exit when nothing is due and no message waits for a retry.")
    @click.option("--max-seconds", type=float, default=None, help="Exit after this long at the latest.")
    @click.option("--health-port", type=int, default=None,
                  help="Answer GET /healthz on this port (default GOVBOT_WORKER_HEALTH_PORT; 0: any free port).")
    @click.option("--log-level", default="INFO", show_default=True,
                  type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
    @click.pass_obj
    def worker_cmd(state, once: bool, until_idle: bool, max_seconds: float | None,  # type: ignore[no-untyped-def]
                   health_port: int | None, log_level: str) -> None:
        """Sweep SLA timers, send due digests and deliver the outbox when they fall due."""
        from bot.commands.audit_cmd import require_audit_key
        from bot.commands.digest_cmd import configured_scopes

        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
        require_audit_key(state.store)  # production refuses to start without the audit key
        configured_scopes(state.store)  # a bad GOVBOT_DIGEST_SCOPES_FILE stops here, with file and entry
        stop = threading.Event()

        def _stop(signum: int, _frame: object) -> None:
            log.info("signal %d: finishing the current cycle", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        port = health_port if health_port is not None else state.store.settings.worker_health_port
        run_worker(state.store, once=once, until_idle=until_idle, max_seconds=max_seconds, stop=stop,
                   health_port=port)
