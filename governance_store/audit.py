"""Append-only, hash-chained audit trail.

Each entry's hash covers its content and the previous entry's hash, so editing
or deleting any row breaks the chain from that point on; ``verify`` finds it.
Appends are serialised (a PostgreSQL transaction-level advisory lock; SQLite has
a single writer anyway) so two concurrent writers can never fork the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from governance_store.models import AuditEntry, Person
from governance_store.spreadsheet import csv_text

GENESIS = "0" * 64
ACTOR_MAX = 254  # ``AuditEntry.actor`` holds this many characters; longer chat names are cut, never refused
_LOCK_KEY = 0x60B07A0D  # any constant shared by every writer of the audit log


def _digest(prev_hash: str, *, at: dt.datetime, actor: str, platform: str, action: str, object_type: str,
            object_key: str, data: dict[str, Any]) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "platform": platform,
            "action": action,
            "object_type": object_type,
            "object_key": object_key,
            "data": data,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def try_lock(session: Session) -> bool:
    """Take the audit log's lock if nobody holds it (as ``lock``); whether it was taken.  Always on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}))


def lock(session: Session) -> None:
    """Take the audit log's lock until the end of the transaction (appends take it anyway).

    A transaction that will append entries after locking other rows takes it
    first: chat turns append before they change anything else, so locking rows
    and then waiting for this lock can deadlock with them."""
    _lock(session)


def record_many(session: Session, entries: Iterable[tuple[dt.datetime, str, str, str, dict[str, Any]]], *,
                actor_label: str = "govbot", platform: str = "system") -> None:
    """Append several entries (at, action, object_type, object_key, data) by govbot itself, in order,
    with one look-up of the chain head and one multi-row insert; used by sweeps that write many entries
    per transaction.  Pending ORM changes are flushed before the lock is taken, so the lock is held
    only for the head look-up and the insert (and until commit)."""
    session.flush()
    _lock(session)
    prev = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    rows = []
    for at, action, object_type, object_key, data in entries:
        row = _entry(prev, at=at, actor_id=None, actor=actor_label, platform=platform, action=action,
                     object_type=object_type, object_key=object_key, data=data)
        rows.append(row)
        prev = row["hash"]
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def _entry(prev: str, *, at: dt.datetime, actor_id: int | None, actor: str, platform: str, action: str,
           object_type: str, object_key: str, data: dict[str, Any] | None) -> dict[str, Any]:
    """The column values of one chained entry."""
    payload = json.loads(json.dumps(data or {}, default=str))
    at = at.astimezone(dt.UTC)
    return {
        "at": at, "actor_id": actor_id, "actor": actor, "platform": platform, "action": action,
        "object_type": object_type, "object_key": object_key, "data": payload, "prev_hash": prev,
        "hash": _digest(prev, at=at, actor=actor, platform=platform, action=action, object_type=object_type,
                        object_key=object_key, data=payload),
    }


def record(
    session: Session,
    *,
    at: dt.datetime,
    action: str,
    object_type: str,
    object_key: str,
    actor: Person | None = None,
    actor_label: str | None = None,
    platform: str = "system",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction."""
    _lock(session)
    prev = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    label = (actor_label or (f"{actor.display_name} <{actor.email}>" if actor is not None else "govbot"))[:ACTOR_MAX]
    entry = AuditEntry(**_entry(prev, at=at, actor_id=actor.id if actor is not None else None, actor=label,
                                platform=platform, action=action, object_type=object_type, object_key=object_key,
                                data=data))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Problem:
    entry_id: int
    reason: str

    def __str__(self) -> str:
        return f"audit entry {self.entry_id}: {self.reason}"


def verify(session: Session) -> list[Problem]:
    """Recompute the chain; report edited rows, deleted rows and broken links."""
    problems: list[Problem] = []
    prev = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        if entry.prev_hash != prev:
            problems.append(Problem(entry.id, "previous hash does not match: an entry before it was deleted or edited"))
        expected = _digest(
            entry.prev_hash, at=entry.at, actor=entry.actor, platform=entry.platform, action=entry.action,
            object_type=entry.object_type, object_key=entry.object_key, data=entry.data,
        )
        if expected != entry.hash:
            problems.append(Problem(entry.id, "content does not match its hash: the entry was edited"))
        prev = entry.hash
    return problems


def history(session: Session, *, object_type: str, object_key: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_key == object_key)
            .order_by(AuditEntry.id)
        ).all()
    )


EXPORT_FIELDS = ("id", "at", "actor", "platform", "action", "object_type", "object_key", "data", "prev_hash", "hash")


def _rows(entries: Iterable[AuditEntry]) -> Iterable[dict[str, Any]]:
    for e in entries:
        yield {
            "id": e.id, "at": e.at.isoformat(), "actor": e.actor, "platform": e.platform, "action": e.action,
            "object_type": e.object_type, "object_key": e.object_key, "data": e.data,
            "prev_hash": e.prev_hash, "hash": e.hash,
        }


def export(session: Session, *, fmt: str) -> str:
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    if fmt == "json":
        return json.dumps(list(_rows(entries)), ensure_ascii=False, indent=2)
    if fmt == "csv":
        rows = (
            [json.dumps(row["data"], ensure_ascii=False, sort_keys=True) if name == "data" else row[name]
             for name in EXPORT_FIELDS]
            for row in _rows(entries)
        )
        return csv_text(EXPORT_FIELDS, rows)
    raise ValueError(f"unknown export format {fmt!r}; use csv or json")
