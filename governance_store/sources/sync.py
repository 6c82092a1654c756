"""One sync run of one live source, all or nothing.

1. *Lease* (short committed transaction): one runner per source, across processes and replicas.
2. *Fetch*, outside any transaction: what changed since the stored cursors (connector's job).
3. *Apply* (one unit of work): the stored records are brought up to date, the whole source is rebuilt
   from them as rows of its export kinds and run through the same importers, validation and
   reconciliation as ``govbot import``; facts confirmed in govbot are held; the cursors advance; the
   catalog learns that the store changed.  Any error rolls all of it back: the store keeps the last
   good data, and the cursors stay where they were, so the next run fetches the same changes again
   (records are keyed by their ids: nothing is doubled).
4. *Outcome* (short transaction): success, or the error, for ``/metrics``, the dashboard and the lint.

A dry run fetches and computes the same report, then rolls everything back (cursors included).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from governance_store.db import unit_of_work
from governance_store.importers.errors import COUNT_KEYS, ImportFailed
from governance_store.importers.records import RecordFile
from governance_store.importers.run import import_files
from governance_store.models import ImportRun
from governance_store.sources import mirror, state
from governance_store.sources.fetched import Connector, SourceError
from governance_store.sources.held import confirmed_facts

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 1800.0
SHOWN_ERRORS = 10


class SyncStatus(enum.StrEnum):
    SYNCED = "synced"        # changes written
    UNCHANGED = "unchanged"  # nothing new at the source
    DRY_RUN = "dry_run"      # computed, nothing written
    FAILED = "failed"        # nothing written; the last good data stays
    BUSY = "busy"            # another runner holds the source


@dataclass
class SyncReport:
    source: str
    label: str
    status: SyncStatus
    dry_run: bool = False
    records: dict[str, dict[str, int]] = field(default_factory=dict)  # per collection: added/changed/removed
    counts: dict[str, dict[str, int]] = field(default_factory=dict)   # per table: added/changed/removed/unchanged
    held: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    requests: int = 0
    seconds: float = 0.0

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(("added", "changed", "removed", "held"), 0)
        for per_table in self.counts.values():
            for key in ("added", "changed", "removed"):
                out[key] += per_table.get(key, 0)
        out["held"] = sum(self.held.values())
        return out

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "status": self.status.value, "dry_run": self.dry_run,
                "records": self.records, "counts": self.counts, "held": self.held, "totals": self.totals(),
                "notes": self.notes, "error": self.error, "requests": self.requests,
                "seconds": round(self.seconds, 3)}


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _describe(exc: ImportFailed, files: list[RecordFile]) -> str:
    by_label = {f.label: f for f in files}
    lines = []
    for error in exc.errors[:SHOWN_ERRORS]:
        f = by_label.get(error.file)
        lines.append(f.describe(error) if f is not None else str(error))
    more = f"; and {len(exc.errors) - SHOWN_ERRORS} more" if len(exc.errors) > SHOWN_ERRORS else ""
    return f"{len(exc.errors)} record(s) did not validate; nothing was synced: " + "; ".join(lines) + more


class _DryRun(Exception):
    """Raised to roll a dry run back."""


def sync_source(
    connector: Connector,
    *,
    factory: sessionmaker[Session],
    clock: Callable[[], dt.datetime],
    owner: str,
    dry_run: bool = False,
    full: bool = False,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    interval_seconds: float | None = None,
) -> SyncReport:
    """Sync ``connector``'s source into the store.  ``full`` refetches everything and reconciles even
    when nothing changed.  Never raises for a source problem: the report says what happened."""
    name, label = connector.name, connector.label
    started = time.monotonic()
    report = SyncReport(source=name, label=label, status=SyncStatus.FAILED, dry_run=dry_run)
    with unit_of_work(factory) as session:
        if not state.acquire(session, name, owner=owner, now=clock(), seconds=lease_seconds):
            report.status = SyncStatus.BUSY
            report.notes.append(f"{label} is being synced by another runner")
            return report
    try:
        with factory() as session:
            cursors = {} if full else dict(state.row(session, name).cursors or {})
            session.rollback()
        fetched = connector.fetch(cursors)
        report.requests = fetched.requests
        if full:
            fetched.full = True
        try:
            with unit_of_work(factory) as session:
                _apply(connector, fetched, report, session=session, now=clock(), owner=owner, dry_run=dry_run,
                       force=full or not cursors, started=started, interval=interval_seconds)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            report.status = SyncStatus.DRY_RUN
    except Exception as exc:  # noqa: BLE001 - every failure is reported and recorded, never raised
        if isinstance(exc, SourceError | _LeaseLost):
            message = str(exc)
        else:
            log.exception("%s sync failed", label)
            message = f"{type(exc).__name__}: {exc}"
        report.status = SyncStatus.FAILED
        report.error = redact(message, connector.secrets())
        log.warning("%s sync failed: %s", label, report.error)
    finally:
        report.seconds = time.monotonic() - started
        with unit_of_work(factory) as session:
            if report.status is SyncStatus.FAILED and not dry_run:
                state.failed(session, name, now=clock(), error=report.error or "failed",
                             seconds=report.seconds, interval=interval_seconds)
            state.release(session, name, owner=owner)
    return report


class _LeaseLost(Exception):
    pass


def _apply(connector: Connector, fetched: Any, report: SyncReport, *, session: Session, now: dt.datetime,
           owner: str, dry_run: bool, force: bool, started: float, interval: float | None) -> None:
    name = connector.name
    if not dry_run and not state.still_holds(session, name, owner=owner, now=now):
        raise _LeaseLost(f"{connector.label}: the sync lease ran out before the run finished; nothing was written")
    cursors = dict(state.row(session, name).cursors or {})
    if fetched.full:
        cursors = {}
    for collection, delta in fetched.collections.items():
        if delta.cursor is not None:
            cursors[collection] = delta.cursor
    diff = mirror.diff(session, name, fetched)
    report.records = diff.summary()
    changed = False
    if not diff.empty or force:
        if not dry_run:
            mirror.write(session, diff, now=now)
        records = mirror.records(session, name, pending=diff if dry_run else None)
        files = connector.files(records)
        try:
            result = import_files(files, session=session, dry_run=dry_run,  # type: ignore[arg-type]
                                  holds=confirmed_facts(session=session, source=name), now=now)
        except ImportFailed as exc:
            raise SourceError(_describe(exc, files)) from None
        report.counts = {k: {c: v.get(c, 0) for c in COUNT_KEYS} for k, v in result.counts.items()}
        report.held = dict(result.held)
        report.notes = list(result.notes)
        changed = result.changed_anything
        if changed and not dry_run:
            session.add(ImportRun(started_at=now, finished_at=now, files=[f.label for f in files],
                                  summary={"source": name, "counts": result.counts, "held": result.held,
                                           "notes": result.notes, "records": report.records}))
    report.status = SyncStatus.SYNCED if changed else SyncStatus.UNCHANGED
    if not dry_run:
        state.succeeded(session, name, now=now, cursors=cursors, changed=changed, records=mirror.count(session, name),
                        report={"records": report.records, "totals": report.totals(), "notes": report.notes[:20]},
                        seconds=time.monotonic() - started, interval=interval)
