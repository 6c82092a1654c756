"""Where each live source stands, for ``govbot sources``, ``/metrics`` and the dashboard."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from governance_store.sources.freshness import overdue
from governance_store.sources.names import ORDER, label
from governance_store.sources.state import all_states


@dataclass(frozen=True)
class SourceStatus:
    source: str
    label: str
    configured: bool
    interval_seconds: float | None = None
    last_attempt_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    last_change_at: dt.datetime | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    failures: int = 0
    records: int = 0
    last_duration_seconds: float | None = None
    running: bool = False
    lag_seconds: float | None = None  # since the last success
    overdue: bool = False
    last_report: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> bool:
        return self.last_error is not None

    def as_json(self) -> dict[str, Any]:
        def ts(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {"source": self.source, "label": self.label, "configured": self.configured,
                "interval_seconds": self.interval_seconds, "last_attempt_at": ts(self.last_attempt_at),
                "last_success_at": ts(self.last_success_at), "last_change_at": ts(self.last_change_at),
                "last_error": self.last_error, "last_error_at": ts(self.last_error_at), "failures": self.failures,
                "records": self.records, "lag_seconds": self.lag_seconds, "overdue": self.overdue,
                "running": self.running, "last_duration_seconds": self.last_duration_seconds}


def source_status(*, session: Session, configured: Mapping[str, float], now: dt.datetime) -> list[SourceStatus]:
    """Every source that is configured here or was ever synced, in sync order."""
    states = {s.source: s for s in all_states(session)}
    names = [n.value for n in ORDER if n.value in configured or n.value in states]
    names += sorted(n for n in states if n not in names)
    out = []
    for name in names:
        st = states.get(name)
        interval = configured.get(name) or (st.interval_seconds if st is not None else None)
        if st is None:
            out.append(SourceStatus(source=name, label=label(name), configured=name in configured,
                                    interval_seconds=interval))
            continue
        lag = (now - st.last_success_at).total_seconds() if st.last_success_at else None
        out.append(SourceStatus(
            source=name, label=label(name), configured=name in configured, interval_seconds=interval,
            last_attempt_at=st.last_attempt_at, last_success_at=st.last_success_at, last_change_at=st.last_change_at,
            last_error=st.last_error, last_error_at=st.last_error_at, failures=st.failures or 0,
            records=st.records or 0, last_duration_seconds=st.last_duration_seconds,
            running=st.lease_until is not None and st.lease_until > now, lag_seconds=lag,
            overdue=st.last_attempt_at is not None and overdue(st.last_success_at, interval, now=now),
            last_report=dict(st.last_report or {}),
        ))
    return out
