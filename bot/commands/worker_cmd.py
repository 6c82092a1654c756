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
import time
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from notifications.outbox import DispatchResult
    from notifications.sweep import SweepResult

log = logging.getLogger("govbot.worker")


def run_worker(container, *, once: bool = False, until_idle: bool = False,  # type: ignore[no-untyped-def]
               max_seconds: float | None = None, stop: threading.Event | None = None) -> int:
    """Run ``Worker.cycle()`` in a loop on the container's clock; return the number of cycles."""
    from bot.bootstrap import build_worker, reroute_departed
    from notifications.scheduler import backlog

    worker = build_worker(container)
    stop = stop or threading.Event()
    started = time.monotonic()
    cycles = 0
    # Running on, the worker's scheduler runs the weekly digests (in their own thread, so that computing
    # them never holds up escalations) and the outbox pruning; this loop runs the cycles.  A single pass
    # (--once, --until-idle) sends the due digests in line.
    inline_digest = once or until_idle
    if not inline_digest:
        worker.start(sweep=False)
    else:
        with contextlib.suppress(Exception):  # logged; the scheduled pass retries when the worker runs on
            reroute_departed(container)
    while not stop.is_set():
        swept: SweepResult | None = None
        sent: DispatchResult | None = None
        with contextlib.suppress(Exception):  # logged by the worker; the next cycle retries
            swept, sent = worker.cycle(with_digest=inline_digest)
        cycles += 1
        if swept is not None and sent is not None and (swept.timers or sent.sent or sent.retried or sent.failed):
            log.info("cycle %d: %d timers, %d fired; %d sent, %d recovered, %d retried, %d failed", cycles,
                     swept.timers, swept.fired, sent.sent, sent.recovered, sent.retried, sent.failed)
        if once:
            break
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            log.info("stopping after %.0f s", max_seconds)
            break
        left = backlog(container.session_factory, now=container.clock())
        if until_idle and left.idle:
            log.info("idle after %d cycles", cycles)
            break
        if not left.due:
            stop.wait(worker.interval)
    worker.stop()
    return cycles


def register(main: click.Group) -> None:
    @main.command("worker")
    @click.option("--once", is_flag=True, help="Run one cycle and exit.")
    @click.option("--until-idle", is_flag=True,
                  help="Exit when nothing is due and no message waits for a retry.")
    @click.option("--max-seconds", type=float, default=None, help="Exit after this long at the latest.")
    @click.option("--log-level", default="INFO", show_default=True,
                  type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
    @click.pass_obj
    def worker_cmd(state, once: bool, until_idle: bool, max_seconds: float | None,  # type: ignore[no-untyped-def]
                   log_level: str) -> None:
        """Sweep SLA timers, send due digests and deliver the outbox, every GOVBOT_SWEEP_INTERVAL_SECONDS."""
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
        run_worker(state.store, once=once, until_idle=until_idle, max_seconds=max_seconds, stop=stop)
