"""Anchoring the audit chain outside the database, on a schedule.

An anchor (:func:`governance_store.audit.anchor`) is one signed line naming the chain head.  The worker
writes one every ``GOVBOT_AUDIT_ANCHOR_MINUTES`` to the log (logger ``govbot.audit.anchor``, INFO) and,
when ``GOVBOT_AUDIT_ANCHOR_FILE`` is set, appends it to that file; ``govbot audit verify --anchor FILE``
then reports any entry an anchor saw that is gone or different, which the chain alone cannot show
(the newest entries deleted, or all of them).  Keep the log and the file where the database's
administrators cannot rewrite them (a log collector, another host, write-once storage).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from governance_store import audit

log = logging.getLogger("govbot.audit.anchor")

JOB_ID = "audit-anchor"


def write_anchor(factory: sessionmaker[Session], *, now: dt.datetime, anchor_file: Path | None = None) -> audit.Anchor:
    """Take an anchor of the committed chain head, log it, and append it to ``anchor_file`` (when given)."""
    with factory() as session:
        taken = audit.anchor(session, now=now)
    log.info("%s", taken.line())
    if anchor_file is not None:
        append_anchor(anchor_file, taken)
    return taken


def append_anchor(path: Path, taken: audit.Anchor) -> None:
    """Append one anchor line and make it durable before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(taken.line() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def anchor_job(factory: sessionmaker[Session], *, clock: Callable[[], dt.datetime], minutes: float,
               anchor_file: Path | None = None) -> tuple[Callable[[], None], dict[str, Any]]:
    """The scheduled anchor as (function, APScheduler ``add_job`` keyword arguments)."""

    def run() -> None:
        try:
            write_anchor(factory, now=clock(), anchor_file=anchor_file)
        except Exception:  # noqa: BLE001 - retried at the next run; the log says why
            log.exception("could not anchor the audit trail")

    first = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=min(60.0, minutes * 60))
    return run, {"trigger": "interval", "seconds": minutes * 60, "id": JOB_ID, "max_instances": 1,
                 "coalesce": True, "next_run_time": first}


def add_anchor_job(scheduler: Any, factory: sessionmaker[Session], *, clock: Callable[[], dt.datetime],
                   minutes: float, anchor_file: Path | None = None) -> Any:
    """Add the scheduled anchor to an APScheduler ``scheduler``; returns the job."""
    func, kwargs = anchor_job(factory, clock=clock, minutes=minutes, anchor_file=anchor_file)
    return scheduler.add_job(func, **kwargs)
