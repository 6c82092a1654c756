"""Runs the configured sources' syncs for the CLI and the worker, on the container's clock."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.sources.registry import Configured
from governance_store.sources.sync import SyncReport, SyncStatus, sync_source

if TYPE_CHECKING:
    from bot.bootstrap import Container

log = logging.getLogger("govbot.sources")


def runner_id() -> str:
    """Who holds a source's lease: host, process and a random tag (unique per process start)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run(container: Container, source: Configured, *, owner: str, dry_run: bool = False,
        full: bool = False) -> SyncReport:
    report = sync_source(source.connector, factory=container.session_factory, clock=container.clock, owner=owner,
                         dry_run=dry_run, full=full, lease_seconds=container.settings.sync_lease_seconds,
                         interval_seconds=source.interval_seconds)
    totals = report.totals()
    if report.status is SyncStatus.FAILED:
        log.warning("%s: sync failed after %.1f s: %s", report.label, report.seconds, report.error)
    elif report.status is SyncStatus.BUSY:
        log.info("%s: another runner is syncing it", report.label)
    else:
        log.info("%s: %s in %.1f s (%d requests): %d added, %d changed, %d removed, %d held", report.label,
                 report.status.value, report.seconds, report.requests, totals["added"], totals["changed"],
                 totals["removed"], totals["held"])
    if report.status is SyncStatus.SYNCED and not dry_run:
        _write_index(container)
    return report


def _write_index(container: Container) -> None:
    """The system index of the store's new state, written once for every process of the host (as after
    ``govbot import``), so no question waits for it."""
    try:
        with container.unit_of_work() as session:
            container.services.catalog.index_for(session)
    except Exception:  # noqa: BLE001 - the first question builds it instead
        log.warning("could not write the system index after the sync", exc_info=True)


def run_all(container: Container, sources: Sequence[Configured], *, owner: str, dry_run: bool = False,
            full: bool = False) -> list[SyncReport]:
    return [run(container, s, owner=owner, dry_run=dry_run, full=full) for s in sources]
