"""Each source's sync state row: the lease that lets one runner at a time sync it, and the outcome.

The lease is a row update, not a lock held open: ``acquire`` sets ``lease_owner`` and
``lease_until`` only when nobody holds an unexpired lease, in one short committed transaction, so
two replicas (or a scheduled run and ``govbot sync`` by hand) never sync the same source at once, and
a runner that died frees the source when its lease runs out.  The run's final transaction checks the
lease again before it writes (``FOR UPDATE`` on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance_store.models import SourceSync


def row(session: Session, source: str, *, lock: bool = False) -> SourceSync:
    """The state row of ``source``, created on first use."""
    query = sa.select(SourceSync).where(SourceSync.source == source)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    found = session.scalars(query).one_or_none()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(SourceSync(source=source, cursors={}, failures=0, records=0, last_report={}))
            session.flush()
    except IntegrityError:
        pass  # another runner created it meanwhile
    return session.scalars(query).one()


def acquire(session: Session, source: str, *, owner: str, now: dt.datetime, seconds: float) -> bool:
    """Take the lease of ``source`` for ``seconds`` unless someone else holds an unexpired one."""
    row(session, source)
    result = session.execute(
        sa.update(SourceSync)
        .where(SourceSync.source == source,
               sa.or_(SourceSync.lease_until.is_(None), SourceSync.lease_until <= now,
                      SourceSync.lease_owner == owner))
        .values(lease_owner=owner, lease_until=now + dt.timedelta(seconds=seconds), last_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, source: str, *, owner: str) -> None:
    session.execute(
        sa.update(SourceSync).where(SourceSync.source == source, SourceSync.lease_owner == owner)
        .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False)
    )


def still_holds(session: Session, source: str, *, owner: str, now: dt.datetime) -> bool:
    state = row(session, source, lock=True)
    return state.lease_owner == owner and state.lease_until is not None and state.lease_until > now


def succeeded(session: Session, source: str, *, now: dt.datetime, cursors: dict[str, Any], changed: bool,
              report: dict[str, Any], records: int, seconds: float, interval: float | None) -> None:
    state = row(session, source)
    state.cursors = cursors
    state.last_success_at = now
    if changed:
        state.last_change_at = now
    state.last_error = None
    state.failures = 0
    state.last_report = report
    state.records = records
    state.last_duration_seconds = seconds
    if interval is not None:
        state.interval_seconds = interval


def failed(session: Session, source: str, *, now: dt.datetime, error: str, seconds: float,
           interval: float | None) -> None:
    state = row(session, source)
    state.last_error = error[:2000]
    state.last_error_at = now
    state.failures = (state.failures or 0) + 1
    state.last_duration_seconds = seconds
    if interval is not None:
        state.interval_seconds = interval


def all_states(session: Session) -> list[SourceSync]:
    return list(session.scalars(sa.select(SourceSync).order_by(SourceSync.source)))
