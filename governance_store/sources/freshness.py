"""A live source that stopped syncing is a governance gap: answers are only as fresh as its data.

A source counts as overdue when its last success is older than three of its sync intervals (at
least an hour), or when it has been tried and never succeeded.  Sources never tried are not
reported: they are simply not configured.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy.orm import Session

from governance_store.sources.names import label
from governance_store.sources.state import all_states

MIN_ALLOWED_SECONDS = 3600.0
DEFAULT_INTERVAL_SECONDS = 3600.0


class _Report(Protocol):
    def add(self, code: str, severity: str, title: str, subject: str, *evidence: str,
            system_ids: tuple[int, ...] = ()) -> None: ...


def overdue(last_success: dt.datetime | None, interval: float | None, *, now: dt.datetime) -> bool:
    allowed = max(3 * (interval or DEFAULT_INTERVAL_SECONDS), MIN_ALLOWED_SECONDS)
    return last_success is None or (now - last_success).total_seconds() > allowed


def stale_sources(report: _Report, *, session: Session, now: dt.datetime) -> None:
    for st in all_states(session):
        if st.last_attempt_at is None or not overdue(st.last_success_at, st.interval_seconds, now=now):
            continue
        name = label(st.source)
        error = [f"last error: {st.last_error}"] if st.last_error else []
        if st.last_success_at is None:
            report.add("SOURCE_NOT_SYNCED", "high", "Live source has never synced", name,
                       f"{name} has never synced successfully ({st.failures} failed run(s))", *error)
            continue
        hours = int((now - st.last_success_at).total_seconds() // 3600)
        report.add("SOURCE_NOT_SYNCED", "high", "Live source not synced", name,
                   f"{name} not synced for {hours} h (last success {st.last_success_at:%Y-%m-%d %H:%M} UTC); "
                   "answers use its last good data", *error)
