"""Signed requests already answered, remembered across replicas until their signature window closes.

A request signed by the chat platform stays valid for a few minutes (Slack: five), so whoever captures one
(a proxy log, a browser extension, a shared terminal) could send it again.  The edge remembers a
fingerprint of each signed request it accepted (and the id of each event it handled) in this table; a
second arrival, on any replica, finds the row and is acknowledged without running again.  Rows expire
with the signature window and are purged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from governance_store.models import SeenRequest


def claim_many(session: Session, keys: Mapping[str, dt.datetime], *, now: dt.datetime) -> set[str]:
    """Remember each key until its instant, in one statement; the keys that were not remembered yet.

    A key remembered before and still valid is a repeat (left out of the answer); one that has expired but
    is not purged yet is taken over.  Two replicas racing for the same key: the primary key lets exactly one
    of them insert it (the other's conflict sees the row, still valid, and leaves it)."""
    if not keys:
        return set()
    table: Table = SeenRequest.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = insert(table).values([{"key": key, "expires_at": until} for key, until in keys.items()])
    statement = rows.on_conflict_do_update(
        index_elements=[table.c.key], set_={"expires_at": rows.excluded.expires_at},
        where=table.c.expires_at <= now,
    ).returning(table.c.key)
    return set(session.connection().execute(statement).scalars())


def forget(session: Session, key: str) -> None:
    """Forget ``key`` (handling it failed: a genuine retry must go through)."""
    session.execute(delete(SeenRequest).where(SeenRequest.key == key))


def purge(session: Session, *, now: dt.datetime) -> int:
    """Delete what has expired; the number of rows deleted."""
    result = session.execute(delete(SeenRequest).where(SeenRequest.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
