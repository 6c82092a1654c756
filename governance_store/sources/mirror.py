"""The last good copy of every record of a source (``source_records``), brought up to date by a run.

Records are keyed by (source, collection, external id), so fetching the same record twice, or
repeating a run after a crash, updates one row and never adds a second one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance_store.models import SourceRecord
from governance_store.sources.fetched import Collection, Fetched, Payload

CHUNK = 500


@dataclass
class MirrorDiff:
    """What a run changes in the stored records, per collection."""

    added: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    changed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    removed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[int, Payload]] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    # Payloads that differ from the stored ones (new and changed), by collection and id.
    fresh: dict[str, dict[str, Payload]] = field(default_factory=lambda: defaultdict(dict))
    gone: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @property
    def empty(self) -> bool:
        return not (self.inserts or self.updates or self.deletes)

    def summary(self) -> dict[str, dict[str, int]]:
        names = sorted(set(self.added) | set(self.changed) | set(self.removed))
        return {n: {"added": self.added.get(n, 0), "changed": self.changed.get(n, 0),
                    "removed": self.removed.get(n, 0)} for n in names}


def _ids(session: Session, source: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    rows = session.execute(sa.select(SourceRecord.collection, SourceRecord.external_id, SourceRecord.id)
                           .where(SourceRecord.source == source))
    for collection, external_id, rid in rows:
        out[collection][external_id] = rid
    return out


def _payloads(session: Session, ids: list[int]) -> dict[int, Payload]:
    out: dict[int, Payload] = {}
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        for rid, payload in session.execute(sa.select(SourceRecord.id, SourceRecord.payload)
                                            .where(SourceRecord.id.in_(chunk))):
            out[rid] = payload
    return out


def diff(session: Session, source: str, fetched: Fetched) -> MirrorDiff:
    """Compare what a run fetched with the stored records (reads only)."""
    stored = _ids(session, source)
    result = MirrorDiff()
    if fetched.full:
        for collection in stored:
            fetched.collections.setdefault(collection, Collection())
        for delta in fetched.collections.values():
            delta.replace = True
    for collection, delta in fetched.collections.items():
        existing = stored.get(collection, {})
        if delta.replace:
            gone = set(existing) - set(delta.upserts)
        elif delta.present is not None:
            gone = set(existing) - delta.present
        else:
            gone = set()
        gone |= delta.removed & set(existing)
        gone -= set(delta.upserts)
        for external_id in sorted(gone):
            result.deletes.append(existing[external_id])
            result.removed[collection] += 1
            result.gone[collection].add(external_id)
        old = _payloads(session, [existing[e] for e in delta.upserts if e in existing])
        for external_id, payload in delta.upserts.items():
            rid = existing.get(external_id)
            before = old.get(rid) if rid is not None else None
            after = delta.merge(before, payload) if delta.merge is not None else payload
            if rid is None:
                result.inserts.append({"source": source, "collection": collection, "external_id": external_id,
                                       "payload": after})
                result.added[collection] += 1
                result.fresh[collection][external_id] = after
            elif before != after:
                result.updates.append((rid, after))
                result.changed[collection] += 1
                result.fresh[collection][external_id] = after
    return result


def write(session: Session, result: MirrorDiff, *, now: dt.datetime) -> None:
    """Store what ``diff`` found (in the caller's transaction)."""
    table: sa.Table = SourceRecord.__table__  # type: ignore[assignment]
    for i in range(0, len(result.deletes), CHUNK):
        session.execute(sa.delete(table).where(table.c.id.in_(result.deletes[i:i + CHUNK])))
    if result.inserts:
        rows = [{**r, "fetched_at": now} for r in result.inserts]
        for i in range(0, len(rows), CHUNK):
            session.execute(sa.insert(table), rows[i:i + CHUNK])
    if result.updates:
        stmt = sa.update(table).where(table.c.id == sa.bindparam("_pk"))
        params = [{"_pk": rid, "payload": payload, "fetched_at": now} for rid, payload in result.updates]
        for i in range(0, len(params), CHUNK):
            session.execute(stmt, params[i:i + CHUNK])
    session.flush()


def records(session: Session, source: str, *, pending: MirrorDiff | None = None) -> dict[str, list[Payload]]:
    """Every stored record of ``source`` by collection (ordered by id), with ``pending`` changes applied
    when they were not written (a dry run)."""
    out: dict[str, dict[str, Payload]] = defaultdict(dict)
    rows = session.execute(sa.select(SourceRecord.collection, SourceRecord.external_id, SourceRecord.payload)
                           .where(SourceRecord.source == source).order_by(SourceRecord.id))
    for collection, external_id, payload in rows:
        out[collection][external_id] = payload
    if pending is not None:
        for collection, gone in pending.gone.items():
            for external_id in gone:
                out[collection].pop(external_id, None)
        for collection, fresh in pending.fresh.items():
            out[collection].update(fresh)
    return {c: list(v.values()) for c, v in out.items()}


def count(session: Session, source: str) -> int:
    return session.scalar(sa.select(sa.func.count(SourceRecord.id)).where(SourceRecord.source == source)) or 0
