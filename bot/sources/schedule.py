"""Each configured source syncs on its own schedule in the worker.

APScheduler only wakes the job (its in-memory job store is per process); the job takes the source's
lease in the database, so of several replicas one syncs each source at a time and the others skip.
``add_source_jobs`` adds one interval job per configured source (id ``sync:<source>``) to the
scheduler it is given; the first run starts shortly after the worker does.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot.sources import runner
from bot.sources.registry import Configured, configured_sources

if TYPE_CHECKING:
    from bot.bootstrap import Container

log = logging.getLogger("govbot.sources")

FIRST_RUN_DELAY = dt.timedelta(seconds=5)


def job_id(source: str) -> str:
    return f"sync:{source}"


def source_jobs(container: Container, sources: Sequence[Configured] | None = None, *,
                owner: str | None = None) -> list[tuple[Callable[[], object], dict[str, Any]]]:
    """(job, ``add_job`` keyword arguments) for each configured source."""
    configured = list(configured_sources(container.settings) if sources is None else sources)
    me = owner or runner.runner_id()
    jobs: list[tuple[Callable[[], object], dict[str, Any]]] = []
    for i, source in enumerate(configured):
        def job(source: Configured = source) -> None:
            try:
                runner.run(container, source, owner=me)
            except Exception:  # noqa: BLE001 - a failing source must never stop the scheduler
                log.exception("%s: the sync job failed", source.connector.label)

        # Staggered first runs, so the sources do not all start in the same second.
        first = dt.datetime.now(dt.UTC) + FIRST_RUN_DELAY * (i + 1)
        jobs.append((job, {"trigger": "interval", "seconds": source.interval_seconds,
                           "id": job_id(source.connector.name), "max_instances": 1, "coalesce": True,
                           "next_run_time": first}))
    return jobs


def add_source_jobs(scheduler: Any, container: Container, sources: Sequence[Configured] | None = None, *,
                    owner: str | None = None) -> list[str]:
    """Add the sync jobs to ``scheduler`` (an APScheduler scheduler); returns their ids."""
    ids = []
    for func, kwargs in source_jobs(container, sources, owner=owner):
        scheduler.add_job(func, **kwargs)
        ids.append(str(kwargs["id"]))
    if ids:
        log.info("live sources scheduled: %s", ", ".join(ids))
    return ids
