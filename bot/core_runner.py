"""Where turns run: a thread of this process, or a pool of worker processes.

Why processes: the core is CPU-bound Python.  In a thread it competes with the event loop for the
GIL, and every acknowledgement a platform waits for gets slower the busier the core is.  Worker
processes (each with its own engine, started at a lower priority) leave the event loop alone, so
acknowledgements stay fast under load and answers use every CPU.  Threads remain for tests and small
installations (``processes=0``).

Where the platform allows it, workers are forked from a *fork server* that has already imported the core
(``multiprocessing``'s ``forkserver``: a clean, single-threaded process started once), so a new worker is
ready in milliseconds instead of importing everything again; the catalog index is mapped from the
host's shared file (:mod:`governance_store.index_file`), not built per worker.  Elsewhere they are
spawned.

A worker process is given the whole settings object and builds its own container with the same
composition root (:func:`bot.bootstrap.build`), so it answers exactly as this process would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.turn import ChatUser, Remember, Request, error_reply, new_error_id
from handlers.reply import Reply

if TYPE_CHECKING:
    from bot.bootstrap import Container
    from bot.settings import Settings

log = logging.getLogger(__name__)

_worker: Container | None = None

# What a worker imports before it can answer: loaded once in the fork server, inherited by every worker.
PRELOAD = ("bot.bootstrap", "bot.core_runner", "bot.turn", "governance_store.index_file", "handlers.catalog",
           "handlers.ownership", "handlers.changes", "handlers.home", "handlers.dashboard")


def _context() -> multiprocessing.context.BaseContext:
    """Fork server where there is one (Linux, macOS), else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Workers never use BLAS; a fork server whose numpy started a BLAS thread pool would fork it broken.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def _start_worker(build: Callable[[Settings], Container], settings: Settings, nice: int) -> None:
    """Runs once in each worker process: its own container (the composition root's ``build``), a warm
    catalog index."""
    global _worker
    with contextlib.suppress(OSError, AttributeError):
        os.nice(nice)
    _worker = build(settings)
    try:
        with _worker.session_factory() as session:
            _worker.services.catalog.index_for(session)
    except Exception:  # noqa: BLE001 - warming is an optimisation; the first question builds it otherwise
        log.warning("could not warm the catalog index in a worker", exc_info=True)


def _run_in_worker(user: ChatUser, request: Request, final: bool, remember: Remember | None) -> Reply | None:
    if _worker is None:
        raise RuntimeError("core worker process not started")
    return _worker.pipeline.run(user, request, final=final, remember=remember)


class CoreRunner:
    """Runs turns off the event loop: in ``threads`` threads, or in ``processes`` worker processes."""

    def __init__(self, container: Container, *, threads: int = 1, processes: int = 0, nice: int = 10) -> None:
        if processes:
            check_process_mode(container)
        self.container = container
        self.processes = processes
        self._nice = nice
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, threads),
                                                              thread_name_prefix="govbot-core")
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _process_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=_context(),
                initializer=_start_worker,
                initargs=(*self.container.for_worker_process(), self._nice),
            )
        return self._pool

    def start(self) -> None:
        """Start the worker processes now (rather than on the first question)."""
        if self.processes:
            pool = self._process_pool()
            for _ in range(self.processes):
                pool.submit(os.getpid)

    async def run(self, user: ChatUser, request: Request, *, final: bool = True,
                  remember: Remember | None = None) -> Reply | None:
        """The pipeline's reply (``None``: not linked yet and ``final`` is false)."""
        loop = asyncio.get_running_loop()
        if not self.processes:
            return await loop.run_in_executor(self._threads, self._run_here, user, request, final, remember)
        try:
            return await loop.run_in_executor(self._process_pool(), _run_in_worker, user, request, final, remember)
        except concurrent.futures.process.BrokenProcessPool:
            log.error("a core worker process died; starting a new pool and trying once more")
            broken, self._pool = self._pool, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            return await loop.run_in_executor(self._process_pool(), _run_in_worker, user, request, final, remember)

    async def observe(self, user: ChatUser, remember: Remember) -> None:
        """:meth:`bot.turn.Pipeline.observe` in a thread of this process."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._threads, self.container.pipeline.observe, user, remember)

    def _run_here(self, user: ChatUser, request: Request, final: bool, remember: Remember | None) -> Reply | None:
        return self.container.pipeline.run(user, request, final=final, remember=remember)

    def close(self) -> None:
        self._threads.shutdown(wait=False)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def default_processes() -> int:
    """Worker processes for ``govbot serve``: one per CPU, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def check_process_mode(container: Container) -> None:
    """Worker processes build the default container on the wall clock; refuse anything else rather than
    ignore it."""
    if not container.wall_clock:
        raise ValueError("core worker processes use the wall clock; run the core in threads to use another")
    if container.router_overridden:
        raise ValueError("core worker processes run the default use cases; run a custom router in threads")


async def answer(runner: CoreRunner, user: ChatUser, request: Request, *,
                 find_email: Callable[[], Awaitable[ChatUser | None]] | None = None,
                 remember: Remember | None = None) -> Reply:
    """Run a turn; when the account is not linked to anyone yet, ask the platform who it is (``find_email``
    returns the account with its e-mail, or ``None``) and run it again.  Never raises."""
    try:
        reply = await runner.run(user, request, final=find_email is None, remember=remember)
        if reply is None and find_email is not None:
            user = await find_email() or user
            reply = await runner.run(user, request, final=True, remember=remember)
        if reply is None:
            raise RuntimeError("a final turn gave no reply")
        return reply
    except Exception:
        error_id = new_error_id()
        log.exception("error_id=%s while answering %s user %s", error_id, user.platform, user.account_id)
        return error_reply(error_id)
