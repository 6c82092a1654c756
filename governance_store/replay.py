"""Signed requests already answered, remembered across replicas until their signature window closes.

A request signed by the chat platform stays valid for a few minutes (Slack: five), so whoever captures one
(a proxy log, a browser extension, a shared terminal) could send it again.  The edge remembers a
fingerprint of each signed request it accepted (and the id of each event it handled) in this table; a
second arrival, on any replica, finds the row and is acknowledged without running again.  Rows expire
with the signature window and are purged.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance_store.models import SeenRequest


def first_time(session: Session, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
    """Remember ``key`` until ``expires_at``; ``False`` when it is already remembered (and not expired).

    Two replicas racing for the same key: the primary key lets exactly one insert win."""
    try:
        with session.begin_nested():
            session.add(SeenRequest(key=key, expires_at=expires_at))
            session.flush()
        return True
    except IntegrityError:
        # Remembered before: still valid means a repeat; expired (not purged yet) is taken over atomically.
        taken = session.execute(update(SeenRequest).where(SeenRequest.key == key, SeenRequest.expires_at <= now)
                                .values(expires_at=expires_at).execution_options(synchronize_session=False))
        return bool(getattr(taken, "rowcount", 0))


def forget(session: Session, key: str) -> None:
    """Forget ``key`` (handling it failed: a genuine retry must go through)."""
    session.execute(delete(SeenRequest).where(SeenRequest.key == key))


def purge(session: Session, *, now: dt.datetime) -> int:
    """Delete what has expired; the number of rows deleted."""
    result = session.execute(delete(SeenRequest).where(SeenRequest.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
