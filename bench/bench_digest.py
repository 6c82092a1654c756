"""Digest benchmark: a weekly digest computed over a year of change history.

Data: the sample organisation plus N change requests spread over 52 weeks on
its systems (submitted, decided 1–72 h later or still pending, with their
approvals and audit entries), inserted in bulk.  Measured: building one digest
(``notifications.digest.collect`` + ``render``) for a site scope and for
everything, median of 5 runs.  Baseline (same run): the same figures computed
the naive way, one query per change for its approvals.
Goal: a digest in under 2 s on a year of history, so the weekly job never
holds up the sweep.
"""

from __future__ import annotations

import datetime as dt
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

NAME = "digest"
QUICK_SIZES = (500,)
GOAL_SECONDS = 2.0
MONDAY = dt.datetime(2025, 6, 9, 12, 0, tzinfo=dt.UTC)


def _rss_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _history(factory: Any, n: int) -> None:
    from governance_store.models import Approval, AuditEntry, ChangeRequest, Person, System

    rng = random.Random(7)
    with factory() as s, s.begin():
        systems = s.scalars(sa.select(System).where(System.in_cmdb.is_(True))).all()
        people = s.scalars(sa.select(Person).where(Person.active.is_(True))).all()
        changes, approvals, audits = [], [], []
        for i in range(n):
            system = rng.choice(systems)
            submitted = MONDAY - dt.timedelta(days=rng.uniform(0, 364))
            decided = submitted + dt.timedelta(hours=rng.uniform(1, 72)) if rng.random() < 0.9 else None
            changes.append({
                "number": f"HIST{i:07d}", "title": f"Change {i}", "change_type": "normal",
                "state": "approved" if decided else "submitted", "risk": "moderate", "system_id": system.id,
                "system_name": system.name, "requester_id": rng.choice(people).id, "created_at": submitted,
                "submitted_at": submitted, "decided_at": decided, "origin": "govbot", "version": 1,
                "cab_required": False, "process_safety": False,
            })
        s.execute(sa.insert(ChangeRequest), changes)
        ids = s.execute(sa.select(ChangeRequest.id, ChangeRequest.number, ChangeRequest.submitted_at,
                                  ChangeRequest.decided_at).where(ChangeRequest.number.like("HIST%"))).all()
        for cid, number, submitted, decided in ids:
            approvals.append({"change_id": cid, "kind": "approver", "person_id": rng.choice(people).id,
                              "role_name": "OT Engineering Lead", "state": "approved" if decided else "requested",
                              "requested_at": submitted, "decided_at": decided})
            if rng.random() < 0.1:
                audits.append({"at": submitted + dt.timedelta(hours=4), "actor": "govbot", "platform": "system",
                               "action": "change.escalated", "object_type": "change", "object_key": number,
                               "data": {"level": rng.randint(1, 3)}, "prev_hash": "0" * 64,
                               "hash": f"{cid:064x}", "id": len(audits) + 1, "seq": len(audits) + 1})
        s.execute(sa.insert(Approval), approvals)
        if audits:
            s.execute(sa.insert(AuditEntry), audits)


def _naive(factory: Any, scope: Any) -> float:
    """One query per change for its approvals: the obvious way to write the same report."""
    from governance_store.models import Approval, ChangeRequest, System

    start = time.perf_counter()
    with factory() as s:
        week = MONDAY - dt.timedelta(days=7)
        rows = s.scalars(sa.select(ChangeRequest).where(ChangeRequest.state != "draft")).all()
        cycles = []
        for cr in rows:
            system = s.get(System, cr.system_id) if cr.system_id else None
            if not scope.matches(system, cr):
                continue
            s.scalars(sa.select(Approval).where(Approval.change_id == cr.id)).all()
            if cr.decided_at and week <= cr.decided_at < MONDAY:
                cycles.append((cr.decided_at - cr.submitted_at).total_seconds())
        statistics.median(cycles) if cycles else None
    return time.perf_counter() - start


def _rows(backend: str, factory: Any, n: int) -> list[dict[str, Any]]:
    from notifications import digest

    out = []
    for scope_name in ("site:US-FDL", "all"):
        scope = digest.DigestScope(scope_name)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            with factory() as s:
                data = digest.collect(scope, session=s, now=MONDAY, week_start=MONDAY - dt.timedelta(days=7))
                digest.render(data, scope)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        naive = _naive(factory, scope)
        met = "met" if median < GOAL_SECONDS else "MISSED"
        out.append({
            "benchmark": "digest", "backend": backend, "size": n, "median_s": round(median, 3),
            "p99_ms": None, "peak_rss_mb": _rss_mb(), "goal": f"< {GOAL_SECONDS:.0f} s ({met})",
            "baseline": f"one query per change: {naive:.2f} s",
            "notes": f"scope {scope_name}; a year of history ({n} requests); median of 5",
        })
    return out


def run(sizes: tuple[int, ...] = (5_000,)) -> list[dict[str, Any]]:
    from governance_store import db
    from governance_store.importers import import_paths
    from tests.conftest import CORVANE, PG_URL

    rows: list[dict[str, Any]] = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'digest.db'}"
            db.upgrade(url)
            engine = db.make_engine(url)
            factory = db.make_session_factory(engine)
            with db.unit_of_work(factory) as s:
                import_paths([CORVANE], session=s)
            _history(factory, n)
            rows += _rows("sqlite", factory, n)
            engine.dispose()
        schema = f"bench_digest_{n}"
        admin = sa.create_engine(PG_URL)
        try:
            with admin.begin() as conn:
                conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
                conn.execute(sa.text(f'create schema "{schema}"'))
        except sa.exc.OperationalError:
            admin.dispose()
            continue
        try:
            db.upgrade(PG_URL, schema=schema)
            engine = db.make_engine(PG_URL, schema=schema)
            factory = db.make_session_factory(engine)
            with db.unit_of_work(factory) as s:
                import_paths([CORVANE], session=s)
            _history(factory, n)
            rows += _rows("postgresql", factory, n)
            engine.dispose()
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
            admin.dispose()
    return rows
