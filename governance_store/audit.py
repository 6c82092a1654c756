"""Append-only, keyed, hash-chained audit trail with anchors kept outside the database.

Each entry carries a gap-free sequence number (``seq``: 1, 2, 3, …) and an HMAC-SHA256 (``hash``) over
every other column (id, seq, time, actor id and label, platform, action, object, data, the previous
entry's hash and the key id) under a key that is not in the database (:mod:`governance_store.audit_keys`).
So, for someone who can write to the database but does not hold the key:

* an edited entry no longer matches its HMAC, and recomputing it needs the key;
* a deleted entry leaves a hole in the sequence, and the next entry's link to its predecessor breaks;
* deleting the newest entries, or all of them, leaves a shorter chain that is consistent in itself:
  that is what **anchors** are for.  An anchor is one signed line naming the chain head at a moment
  (``govbot-audit-anchor v1 at=… seq=… head=… key=… mac=…``); the worker writes one on a schedule to the
  log and the anchor file, each weekly digest carries one, and ``govbot audit anchor`` prints one on
  demand.  ``verify`` given anchors reports every entry an anchor saw that is gone or different.

Appends are serialised (a PostgreSQL transaction-level advisory lock; SQLite has a single writer) so two
concurrent writers can never fork the chain, and the unique ``seq`` makes a fork impossible anyway.
Entries written before entries were keyed (``key_id`` NULL) keep their plain SHA-256 chain; they are
accepted only as the first entries, sealed by a keyed entry that chains onto them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from governance_store.audit_keys import AuditKeyring, keyring
from governance_store.models import AuditEntry, Person
from governance_store.spreadsheet import csv_text

GENESIS = "0" * 64
ACTOR_MAX = 254  # ``AuditEntry.actor`` holds this many characters; longer chat names are cut, never refused
_LOCK_KEY = 0x60B07A0D  # any constant shared by every writer of the audit log
_VERSION = 2  # the keyed format; unkeyed entries are version 1


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _legacy_digest(prev_hash: str, *, at: dt.datetime, actor: str, platform: str, action: str, object_type: str,
                   object_key: str, data: dict[str, Any]) -> str:
    """The unkeyed SHA-256 of entries written before entries were keyed."""
    body = json.dumps(
        {"prev": prev_hash, "at": _iso(at), "actor": actor, "platform": platform, "action": action,
         "object_type": object_type, "object_key": object_key, "data": data},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _body(row: dict[str, Any]) -> bytes:
    """What the HMAC covers: every column of the entry except the HMAC itself."""
    return json.dumps(
        {"v": _VERSION, "id": row["id"], "seq": row["seq"], "key": row["key_id"], "prev": row["prev_hash"],
         "at": _iso(row["at"]), "actor_id": row["actor_id"], "actor": row["actor"], "platform": row["platform"],
         "action": row["action"], "object_type": row["object_type"], "object_key": row["object_key"],
         "data": row["data"]},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    ).encode("utf-8")


def _columns(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "seq": entry.seq, "key_id": entry.key_id, "prev_hash": entry.prev_hash, "at": entry.at,
            "actor_id": entry.actor_id, "actor": entry.actor, "platform": entry.platform, "action": entry.action,
            "object_type": entry.object_type, "object_key": entry.object_key, "data": entry.data}


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


@dataclass(frozen=True)
class Head:
    id: int
    seq: int
    hash: str


def chain_head(session: Session) -> Head:
    row = session.execute(
        select(AuditEntry.id, AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    return Head(row.id, row.seq, row.hash) if row is not None else Head(0, 0, GENESIS)


def next_entry(head: Head, keys: AuditKeyring, *, at: dt.datetime, actor_id: int | None, actor: str, platform: str,
           action: str, object_type: str, object_key: str, data: dict[str, Any] | None) -> dict[str, Any]:
    """The column values of the entry that follows ``head``, signed with the current key (bulk loaders that
    write entries themselves, such as the benchmarks, use this and :func:`chain_head`)."""
    row = {
        "id": head.id + 1, "seq": head.seq + 1, "key_id": keys.current_id, "prev_hash": head.hash,
        "at": at.astimezone(dt.UTC), "actor_id": actor_id, "actor": actor, "platform": platform, "action": action,
        "object_type": object_type, "object_key": object_key,
        "data": json.loads(json.dumps(data or {}, default=str)),
    }
    row["hash"] = keys.mac(_body(row))
    return row


def record_many(session: Session, entries: Iterable[tuple[dt.datetime, str, str, str, dict[str, Any]]], *,
                actor_label: str = "govbot", platform: str = "system") -> None:
    """Append several entries (at, action, object_type, object_key, data) by govbot itself, in order,
    with one look-up of the chain head and one multi-row insert; used by sweeps that write many entries
    per transaction.  Pending ORM changes are flushed before the lock is taken, so the lock is held
    only for the head look-up and the insert (and until commit)."""
    keys = keyring(session)
    session.flush()
    _lock(session)
    head = chain_head(session)
    rows = []
    for at, action, object_type, object_key, data in entries:
        row = next_entry(head, keys, at=at, actor_id=None, actor=actor_label, platform=platform, action=action,
                     object_type=object_type, object_key=object_key, data=data)
        rows.append(row)
        head = Head(row["id"], row["seq"], row["hash"])
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


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
    keys = keyring(session)
    _lock(session)
    head = chain_head(session)
    label = (actor_label or (f"{actor.display_name} <{actor.email}>" if actor is not None else "govbot"))[:ACTOR_MAX]
    entry = AuditEntry(**next_entry(head, keys, at=at, actor_id=actor.id if actor is not None else None, actor=label,
                                platform=platform, action=action, object_type=object_type, object_key=object_key,
                                data=data))
    session.add(entry)
    session.flush()
    return entry


def seal_unkeyed(session: Session, *, now: dt.datetime) -> AuditEntry | None:
    """When the newest entry was hashed without a key (written before entries were keyed), append a keyed
    entry that chains onto it, so those entries can no longer be rewritten unnoticed."""
    newest = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    if newest is None or newest.key_id is not None:
        return None
    count = session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.key_id.is_(None))) or 0
    return record(session, at=now, action="audit.keyed", object_type="audit", object_key="chain",
                  data={"unkeyed_entries": count, "through_seq": newest.seq})


# --------------------------------------------------------------------------- anchors

ANCHOR_TAG = "govbot-audit-anchor v1"
_ANCHOR = re.compile(
    r"govbot-audit-anchor v1 at=(?P<at>\S+) seq=(?P<seq>[0-9]{1,18}) head=(?P<head>[0-9a-f]{64}) "
    r"key=(?P<key>[A-Za-z0-9_-]{1,32}) mac=(?P<mac>[0-9a-f]{64})"
)


@dataclass(frozen=True)
class Anchor:
    """The chain head at a moment, signed: kept outside the database, it proves what the trail held then."""

    at: dt.datetime
    seq: int
    head: str
    key_id: str
    mac: str
    source: str = field(default="", compare=False)

    def _signed(self) -> bytes:
        at = self.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{ANCHOR_TAG}|{at}|{self.seq}|{self.head}|{self.key_id}".encode()

    def line(self) -> str:
        at = self.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{ANCHOR_TAG} at={at} seq={self.seq} head={self.head} key={self.key_id} mac={self.mac}"

    def where(self) -> str:
        at = self.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"the anchor of {at}" + (f" ({self.source})" if self.source else "")


def anchor(session: Session, *, now: dt.datetime) -> Anchor:
    """A signed anchor of the chain head as committed now."""
    keys = keyring(session)
    head = chain_head(session)
    unsigned = Anchor(at=now.replace(microsecond=0), seq=head.seq, head=head.hash, key_id=keys.current_id, mac="")
    mac = keys.mac(unsigned._signed())
    assert mac is not None
    return Anchor(at=unsigned.at, seq=unsigned.seq, head=unsigned.head, key_id=unsigned.key_id, mac=mac)


def parse_anchors(lines: Iterable[str], *, source: str = "") -> list[Anchor]:
    """Every anchor line in ``lines`` (an anchor file, a log, a digest pasted into a file), in order."""
    found = []
    for number, line in enumerate(lines, start=1):
        for m in _ANCHOR.finditer(line):
            try:
                at = dt.datetime.strptime(m["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            except ValueError:
                continue
            found.append(Anchor(at=at, seq=int(m["seq"]), head=m["head"], key_id=m["key"], mac=m["mac"],
                                source=f"{source}:{number}" if source else f"line {number}"))
    return found


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Problem:
    """What is wrong, at the entry (``seq``) where it starts; ``last`` ends a range of missing entries."""

    seq: int
    reason: str
    last: int | None = None

    def __str__(self) -> str:
        if self.last is not None and self.last != self.seq:
            return f"audit entries #{self.seq}–#{self.last}: {self.reason}"
        return f"audit entry #{self.seq}: {self.reason}"


@dataclass
class Verification:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    unkeyed: int = 0
    anchors_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(session: Session, *, anchors: Sequence[Anchor] = ()) -> list[Problem]:
    """Recompute the chain (and compare it with ``anchors``); the problems found, in chain order."""
    return check(session, anchors=anchors).problems


def check(session: Session, *, anchors: Sequence[Anchor] = ()) -> Verification:
    """Walk the whole chain once: holes in the sequence, broken links, entries that do not match their
    HMAC (edited, or re-hashed without the key), entries signed by a key not in the keyring; then every
    anchor: its signature, and whether the entry it names is still there with the same hash."""
    keys = keyring(session)
    result = Verification()
    problems = result.problems
    prev, expected, keyed_seen = GENESIS, 1, False
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(1000):
        result.entries += 1
        gap = entry.seq > expected
        if gap:
            problems.append(Problem(expected, "missing: deleted from the database", last=entry.seq - 1))
        elif entry.seq < expected:
            problems.append(Problem(entry.seq, "sequence number out of order: the entry was edited"))
        if entry.key_id is None:
            result.unkeyed += 1
            if keyed_seen:
                problems.append(Problem(entry.seq, "hashed without a key after keyed entries: it was rewritten "
                                                   "by someone without the audit key"))
            elif _legacy_digest(entry.prev_hash, at=entry.at, actor=entry.actor, platform=entry.platform,
                                action=entry.action, object_type=entry.object_type, object_key=entry.object_key,
                                data=entry.data) != entry.hash:
                problems.append(Problem(entry.seq, "content does not match its hash: the entry was edited"))
        else:
            keyed_seen = True
            mac = keys.mac(_body(_columns(entry)), key=entry.key_id)
            if mac is None:
                problems.append(Problem(entry.seq, f"signed with audit key {entry.key_id}, which is not configured "
                                                   "(add it to GOVBOT_AUDIT_PREVIOUS_KEYS to check it)"))
            elif mac != entry.hash:
                problems.append(Problem(entry.seq, "content does not match its HMAC: the entry was edited or "
                                                   "re-hashed without the audit key"))
        if entry.prev_hash != prev and not gap:
            problems.append(Problem(entry.seq, "link to the previous entry is broken: an entry before it was "
                                               "edited or replaced"))
        prev, expected = entry.hash, max(expected, entry.seq + 1)
        result.head_seq, result.head_hash = entry.seq, entry.hash
    if result.unkeyed and not keyed_seen:
        problems.append(Problem(1, "hashed without a key and sealed by no keyed entry: anyone with the database "
                                   "could have rewritten them (run `govbot db upgrade` with the audit key set)",
                                last=result.head_seq))
    for a in anchors:
        problems.extend(_check_anchor(session, keys, a, result))
        result.anchors_checked += 1
    return result


def _check_anchor(session: Session, keys: AuditKeyring, a: Anchor, seen: Verification) -> list[Problem]:
    mac = keys.mac(a._signed(), key=a.key_id)
    if mac is None:
        return [Problem(a.seq, f"{a.where()} is signed with audit key {a.key_id}, which is not configured")]
    if mac != a.mac:
        return [Problem(a.seq, f"{a.where()} does not match its signature: the anchor was edited or forged")]
    if a.seq == 0:
        return []
    if a.seq > seen.head_seq:
        if seen.entries == 0:
            return [Problem(1, f"missing: the audit trail is empty, but {a.where()} saw {a.seq} entries", last=a.seq)]
        return [Problem(seen.head_seq + 1, f"missing: the newest entries were deleted ({a.where()} saw entries "
                                           f"up to #{a.seq})", last=a.seq)]
    found = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == a.seq))
    if found is None:
        return []  # a hole in the sequence: reported by the walk
    if found != a.head:
        return [Problem(a.seq, f"differs from {a.where()}: the trail was rewritten at or before this entry")]
    return []


def history(session: Session, *, object_type: str, object_key: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_key == object_key)
            .order_by(AuditEntry.seq)
        ).all()
    )


EXPORT_FIELDS = ("seq", "id", "at", "actor_id", "actor", "platform", "action", "object_type", "object_key", "data",
                 "prev_hash", "key_id", "hash")


def _rows(entries: Iterable[AuditEntry]) -> Iterable[dict[str, Any]]:
    for e in entries:
        yield {
            "seq": e.seq, "id": e.id, "at": e.at.isoformat(), "actor_id": e.actor_id, "actor": e.actor,
            "platform": e.platform, "action": e.action, "object_type": e.object_type, "object_key": e.object_key,
            "data": e.data, "prev_hash": e.prev_hash, "key_id": e.key_id, "hash": e.hash,
        }


def export(session: Session, *, fmt: str) -> str:
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
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
