"""Sweep benchmark: N due SLA timers -> time until every escalation is queued.

* ``sweep`` rows: N changes each due for one escalation (level 2 of the sample
  chain) are swept at once by ``notifications.sweep.sweep`` (claims 100 timers
  per transaction with ``SKIP LOCKED`` on PostgreSQL, lookups shared per sweep,
  outbox rows and audit entries written in bulk).  On SQLite and PostgreSQL in
  one process, and on PostgreSQL by two processes at once.
  Baseline (same run): the per-timer design, one ``SELECT … LIMIT 1 FOR UPDATE
  SKIP LOCKED`` and one transaction per timer with nothing shared between
  timers, timed on a sample of the same timers and reported per 10k.

How late escalations are handed to the sender is ``bench_lateness.py``.

Goal (PostgreSQL): 10k escalations queued in under 10 s (judged on the rate
when fewer timers are swept).

Data: the sample organisation (``examples/corvane``) with one change submitted
through the core and cloned (``tests/notifications/due_timers.py``).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

NAME = "sweep"
QUICK_SIZES = (500,)
GOAL_SECONDS = 10.0
BASELINE_SAMPLE = 300


def _rss_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _sqlite_store(tmp: Path) -> tuple[Any, sessionmaker[Session], tuple[str, str | None]]:
    from governance_store import db
    from governance_store.importers import import_paths
    from tests.conftest import CORVANE

    url = f"sqlite:///{tmp / f'sweep-{uuid.uuid4().hex[:6]}.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    factory = db.make_session_factory(engine)
    with db.unit_of_work(factory) as session:
        import_paths([CORVANE], session=session)
    return engine, factory, (url, None)


def _pg_store() -> tuple[Any, sessionmaker[Session], tuple[str, str | None]] | None:
    from governance_store import db
    from governance_store.importers import import_paths
    from tests.conftest import CORVANE, PG_URL

    try:
        admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        schema = f"govbot_bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
        admin.dispose()
    except Exception:  # noqa: BLE001 - no PostgreSQL: those rows are left out
        return None
    db.upgrade(PG_URL, schema=schema)
    engine = db.make_engine(PG_URL, schema=schema)
    factory = db.make_session_factory(engine)
    with db.unit_of_work(factory) as session:
        import_paths([CORVANE], session=session)
    return engine, factory, (PG_URL, schema)


def _drop_pg(schema: str | None) -> None:
    from tests.conftest import PG_URL

    if schema:
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


def _reset(factory: sessionmaker[Session]) -> None:
    from governance_store.models import Approval, AuditEntry, ChangeRequest, OutboxMessage, Timer

    tables = (OutboxMessage, Timer, Approval, ChangeRequest, AuditEntry)
    with factory() as s, s.begin():
        if s.get_bind().dialect.name == "postgresql":
            names = ", ".join(f'"{m.__table__.name}"' for m in tables)
            s.execute(sa.text(f"TRUNCATE {names} CASCADE"))
        else:
            for model in tables:
                s.execute(sa.delete(model))


def _queued(factory: sessionmaker[Session]) -> int:
    from governance_store.models import OutboxMessage

    with factory() as s:
        return s.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")) or 0


def _naive(factory: sessionmaker[Session], now: dt.datetime, count: int) -> float:
    """The per-timer design: one claim query and one transaction per timer, nothing shared."""
    from governance_store.models import Timer
    from notifications.sweep import advance

    started = time.perf_counter()
    for _ in range(count):
        with factory() as session, session.begin():
            query = sa.select(Timer).where(Timer.state == "pending", Timer.due_at <= now)
            query = query.order_by(Timer.due_at, Timer.id).limit(1)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            timer = session.scalars(query).first()
            if timer is None:
                break
            advance(timer, session=session, now=now)
    return time.perf_counter() - started


def _child(target: tuple[str, str | None], now: dt.datetime, go: Any, out: Any) -> None:
    from governance_store import db
    from notifications.sweep import sweep

    engine = db.make_engine(target[0], schema=target[1])
    factory = db.make_session_factory(engine)
    with factory() as s:
        s.execute(sa.text("select 1"))
    go.wait()
    started = time.time()
    result = sweep(factory, now=now, limit=10**9)
    out.put((started, time.time(), result.timers, result.fired))
    engine.dispose()


def _two_processes(target: tuple[str, str | None], now: dt.datetime) -> tuple[float, list[int]]:
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_child, args=(target, now, go, out)) for _ in range(2)]
    for p in procs:
        p.start()
    time.sleep(3.0)  # both connected and waiting
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return max(r[1] for r in results) - min(r[0] for r in results), [r[2] for r in results]


def _sweep_rows(backend: str, store: tuple[Any, sessionmaker[Session], tuple[str, str | None]],
                size: int) -> list[dict[str, Any]]:
    from notifications.sweep import sweep
    from tests.notifications.due_timers import at_edt, make_due_timers

    _engine, factory, target = store
    now = at_edt(14, 16)
    rows = []

    # Baseline on a sample of the same kind of timers.
    sample = min(size, BASELINE_SAMPLE)
    _reset(factory)
    make_due_timers(factory, sample, start_at="escalate:L2")
    naive_s = _naive(factory, now, sample)
    naive_per_10k = naive_s / sample * 10_000

    _reset(factory)
    make_due_timers(factory, size, start_at="escalate:L2")
    started = time.perf_counter()
    result = sweep(factory, now=now, limit=10**9)
    took = time.perf_counter() - started
    assert result.timers == size and result.fired == size, result
    queued = _queued(factory)
    goal = f"10k in < {GOAL_SECONDS:.0f} s" if backend == "postgresql" else "-"
    if backend == "postgresql":
        goal += " (met)" if took * 10_000 / size < GOAL_SECONDS else " (MISSED)"
    rows.append({
        "benchmark": "sweep", "backend": backend, "size": size, "median_s": round(took, 2), "p99_ms": None,
        "peak_rss_mb": _rss_mb(), "goal": goal,
        "baseline": f"per-timer claim + transaction: {naive_s / sample * 1000:.1f} ms/timer, ~{naive_per_10k:.0f} s per 10k "
                    f"(sample {sample})",
        "notes": f"1 process; {size / took:,.0f} timers/s; {queued:,} outbox rows queued; escalations: {result.fired:,}",
        "naive_s_per_10k": naive_per_10k,
    })

    if backend == "postgresql":
        _reset(factory)
        make_due_timers(factory, size, start_at="escalate:L2")
        wall, shares = _two_processes(target, now)
        assert sum(shares) == size, shares
        assert _queued(factory) == size
        rows.append({
            "benchmark": "sweep", "backend": "postgresql x2", "size": size, "median_s": round(wall, 2),
            "p99_ms": None, "peak_rss_mb": _rss_mb(),
            "goal": f"10k in < {GOAL_SECONDS:.0f} s" + (" (met)" if wall * 10_000 / size < GOAL_SECONDS else " (MISSED)"),
            "baseline": "1 process: see the row above",
            "notes": f"2 processes, SKIP LOCKED batches; timers per process {shares}; every timer once "
                     f"({size:,} outbox rows); audit appends serialise on one lock",
        })
    return rows


def run(sizes: tuple[int, ...] = (10_000,)) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        stores = [("sqlite", _sqlite_store(Path(tmp)))]
        pg = _pg_store()
        if pg is not None:
            stores.append(("postgresql", pg))
        try:
            for backend, store in stores:
                for size in sizes:
                    rows += _sweep_rows(backend, store, size)
        finally:
            for _backend, (engine, _factory, target) in stores:
                engine.dispose()
                _drop_pg(target[1])
    return rows
