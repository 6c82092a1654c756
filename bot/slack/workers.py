"""Where the synchronous core runs: a thread of this process, or a pool of worker processes.

The adapter describes each piece of background work as a :class:`Job`, a small
picklable value, and :func:`answer` runs it: resolve the Slack user to a person
and call the core, inside one unit of work.  ``answer`` returns ``None`` when the
user is not (yet) linked to anyone in the directory.

Why processes: the core is CPU-bound Python.  In a thread it competes with the
event loop for the GIL, and every acknowledgement Slack waits for gets slower
the busier the core is.  Worker processes (spawned, each with its own engine and
catalog index, started at a lower priority) leave the event loop alone, so acks
stay fast under load and answers use every CPU.  Threads remain for tests and
small installations (``core_processes=0``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.slack import translate
from bot.slack.sender import SlackProfile
from governance_store import identity
from handlers.dashboard import DashboardLinks
from handlers.reply import Action, Actor, Command, Reply

if TYPE_CHECKING:
    from bot.bootstrap import Container
    from bot.slack.app import Core

log = logging.getLogger(__name__)

PLATFORM = "slack"


@dataclass(frozen=True)
class Job:
    """One question or click to answer: ``kind`` is command, message, action or home."""

    kind: str
    user_id: str
    team_id: str | None = None
    text: str = ""
    slash: bool = False
    bot_user_id: str | None = None
    action_id: str = ""
    value: str = ""
    inputs: tuple[tuple[str, str], ...] = ()


def answer(container: Container, core: Core, job: Job, profile: SlackProfile | None = None) -> Reply | None:
    """Run ``job`` as the person behind its Slack user; ``None`` when that person is unknown."""
    with container.unit_of_work() as session:
        person = identity.person_for_chat(session, platform=PLATFORM, external_id=job.user_id)
        if person is None and profile is not None and profile.email:
            person = identity.person_by_email(session, profile.email)
            if person is not None:
                identity.link_chat_identity(
                    session,
                    platform=PLATFORM,
                    external_id=job.user_id,
                    person=person,
                    email=profile.email,
                    display_name=profile.real_name or profile.display_name,
                    handle=profile.handle,
                    workspace_id=job.team_id or profile.team_id,
                    timezone=profile.timezone,
                    is_bot=profile.is_bot,
                )
        if person is None:
            return None
        actor = Actor(person_id=person.id, display_name=person.display_name, platform=PLATFORM, email=person.email)
        now = container.clock()
        if job.kind == "home":
            return core.home_for(actor, session=session, now=now)
        if job.kind == "action":
            click = Action(action_id=job.action_id, value=job.value, actor=actor, inputs=dict(job.inputs))
            return core.handle_action(click, session=session, now=now)
        text = job.text
        if job.kind == "message":
            names = {}
            for uid in translate.mentioned_users(text):
                if uid != job.bot_user_id:
                    other = identity.person_for_chat(session, platform=PLATFORM, external_id=uid)
                    if other is not None:
                        names[uid] = other.display_name
            text = translate.message_text(text, bot_user_id=job.bot_user_id, names=names)
        return core.handle_command(Command(text=text, actor=actor, slash=job.slash), session=session, now=now)


def refuse(container: Container, core: Core, job: Job, profile: SlackProfile | None = None) -> None:
    """``job`` came from a Slack user who is not in the directory: let the core refuse and audit what
    they tried (nothing else runs for them).  Home tab views need no refusal."""
    if core.handle_unknown is None or job.kind == "home":
        return
    name = (profile.real_name or profile.display_name) if profile is not None else None
    actor = Actor(person_id=None, display_name=f"{name} ({job.user_id})" if name else job.user_id,
                  platform=PLATFORM, email=profile.email if profile is not None else None)
    request: Command | Action
    if job.kind == "action":
        request = Action(action_id=job.action_id, value=job.value, actor=actor, inputs=dict(job.inputs))
    else:
        text = job.text
        if job.kind == "message":
            text = translate.message_text(text, bot_user_id=job.bot_user_id)
        request = Command(text=text, actor=actor, slash=job.slash)
    with container.unit_of_work() as session:
        core.handle_unknown(request, session=session, now=container.clock())


# --------------------------------------------------------------------------- worker processes

_worker_container: Container | None = None
_worker_core: Core | None = None


def _start_worker(database_url: str, database_schema: str | None, nice: int,
                  links: DashboardLinks | None = None) -> None:
    """Runs once in each worker process: its own engine, the core, a warm catalog index."""
    global _worker_container, _worker_core
    from bot.bootstrap import build
    from bot.settings import Settings
    from bot.slack.app import default_core

    with contextlib.suppress(OSError, AttributeError):
        os.nice(nice)
    settings = Settings(database_url=database_url, database_schema=database_schema)
    _worker_container = build(settings)
    if links is not None:
        # The same dashboard links as the parent's settings, which may not all come from the environment.
        _worker_container.dashboard_links = links  # type: ignore[misc]
    _worker_core = default_core()
    try:
        from handlers import catalog

        with _worker_container.session_factory() as session:
            catalog.index_for(session)
    except Exception:  # noqa: BLE001 - warming is an optimisation; the first question builds it otherwise
        log.warning("could not warm the catalog index in a worker", exc_info=True)


def _answer_in_worker(job: Job, profile: SlackProfile | None) -> Reply | None:
    assert _worker_container is not None and _worker_core is not None, "worker not started"
    return answer(_worker_container, _worker_core, job, profile)


def _refuse_in_worker(job: Job, profile: SlackProfile | None) -> None:
    assert _worker_container is not None and _worker_core is not None, "worker not started"
    refuse(_worker_container, _worker_core, job, profile)


class CoreRunner:
    """Runs jobs off the event loop: in ``threads`` threads, or in ``processes`` worker processes."""

    def __init__(self, container: Container, core: Core, *, threads: int = 1, processes: int = 0,
                 nice: int = 10) -> None:
        self.container = container
        self.core = core
        self.processes = processes
        self._nice = nice
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, threads),
                                                              thread_name_prefix="govbot-core")
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _process_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            settings = self.container.settings
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(settings.database_url, settings.database_schema, self._nice,
                          self.container.dashboard_links),
            )
        return self._pool

    def start(self) -> None:
        """Start the worker processes now (rather than on the first question)."""
        if self.processes:
            pool = self._process_pool()
            for _ in range(self.processes):
                pool.submit(os.getpid)

    async def run(self, job: Job, profile: SlackProfile | None = None) -> Reply | None:
        if not self.processes:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._threads, answer, self.container, self.core, job, profile)
        return await self._in_worker(_answer_in_worker, job, profile)

    async def refuse(self, job: Job, profile: SlackProfile | None = None) -> None:
        """Run :func:`refuse` for a user who is not in the directory."""
        if not self.processes:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._threads, refuse, self.container, self.core, job, profile)
            return
        await self._in_worker(_refuse_in_worker, job, profile)

    async def _in_worker(self, fn: Callable[[Job, SlackProfile | None], Any], job: Job,
                         profile: SlackProfile | None) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._process_pool(), fn, job, profile)
        except concurrent.futures.process.BrokenProcessPool:
            log.error("a core worker process died; starting a new pool and trying once more")
            broken, self._pool = self._pool, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            return await loop.run_in_executor(self._process_pool(), fn, job, profile)

    def close(self) -> None:
        self._threads.shutdown(wait=False)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def default_processes() -> int:
    """Worker processes for ``govbot serve``: one per CPU, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def check_process_mode(container: Container, core: Core) -> None:
    """Worker processes run the default core on the wall clock; refuse anything else rather than ignore it."""
    from bot.bootstrap import utc_now
    from bot.slack.app import default_core

    if container.clock is not utc_now:
        raise ValueError("core worker processes use the wall clock; run the core in threads to use another")
    if core != default_core():
        raise ValueError("core worker processes run the default core; run a custom core in threads")


