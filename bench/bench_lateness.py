"""Escalation lateness: how long after its due instant an escalation is handed to the chat sender.

Lateness of one escalation = the wall-clock instant the worker calls the
sender's ``send_keyed`` for its outbox message (the message is *handed to the
sender*: what the chat platform then takes is not counted) minus the instant
its timer's escalation was due.  Both are real clock readings: no accelerated
clock is involved.  Time is compressed instead by placing the due instants
closer together than the goal asks for — 10,000 timers due within ``window``
seconds (120 s in the full run: 30 times denser than 10,000 within an hour) —
so the workers are busier than the goal's load, never idler.

Scenarios (each timer: a change of the sample organisation, cloned by
``tests/notifications/due_timers.py``, due for exactly one escalation, level 2
of the sample chain, on a 24x7 clock; the submission's own messages are marked
sent first):

* ``lateness`` ``postgresql x2, 15 s polling``: the design before wake-ups, as
  the baseline — each of two worker processes runs a cycle, then sleeps the
  safety interval (15 s) unless more is due right away — at the goal's
  density (10,000 an hour: 333 timers over 120 s).  At a denser load the
  polling design never sleeps, and stops being the design it stands for.
* ``lateness`` ``postgresql x2``: two worker processes running the real loop of
  ``govbot worker`` (``bot.commands.worker_cmd.run_worker``) with a recording
  sender, at the goal's density (beside the baseline) and with all
  ``size`` timers over the window; timers are moved to their due instants
  (an ``UPDATE``, which notifies) after the workers started.
* ``lateness-burst`` ``postgresql x2``: ``bursts`` bursts of ``burst_size``
  timers due at the same instant, each moved into place a few seconds before
  it is due while the workers sleep (safety interval 15 s): the burst is found
  through ``NOTIFY``, and the row shows how long the last of the burst waits.
* ``lateness`` / ``lateness-burst`` ``sqlite``: one process — the worker loop
  in a thread of the benchmark process (as ``govbot serve`` runs it) and the
  timers moved through the same engine, so the in-process hook wakes it.

Pacing per channel is off (``per_channel_interval=0``): every escalation goes
to the same person here, and pacing would measure Slack's one-message-per-
second rule instead of the worker.  The workers send no weekly digest (an
empty scopes file): the soak benchmark runs digests beside escalations.
Goal: p99 < 1 s in every wake-up row.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import re
import resource
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

NAME = "lateness"
QUICK_SIZES = (500,)
GOAL_SECONDS = 1.0
SAFETY_INTERVAL = 15.0  # GOVBOT_SWEEP_INTERVAL_SECONDS default: the baseline's interval, the new design's cap
ESCALATION = re.compile(r"cr:(\d+):escalate:L2:\d+")


def _rss_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _log(msg: str) -> None:
    print(f"  [lateness] {msg}", flush=True)


class HandoffRecorder:
    """A sender that records when each message was handed to it (wall clock), and sends nothing."""

    platform = "bench"

    def __init__(self) -> None:
        self.handed: dict[str, float] = {}

    def can_reach(self, recipient: Any) -> bool:
        return True

    def send(self, recipient: Any, payload: dict[str, Any]) -> dict[str, Any]:
        return {}

    def send_keyed(self, recipient: Any, payload: dict[str, Any], *, key: str) -> dict[str, Any]:
        self.handed[key] = time.time()
        return {}

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        return ref


# -- stores


def _pg_store() -> tuple[Any, sessionmaker[Session], str] | None:
    from governance_store import db
    from governance_store.importers import import_paths
    from tests.conftest import CORVANE, PG_URL

    if db.connection_problem(PG_URL):
        return None
    schema = f"govbot_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    admin.dispose()
    db.upgrade(PG_URL, schema=schema)
    engine = db.make_engine(PG_URL, schema=schema)
    factory = db.make_session_factory(engine)
    with db.unit_of_work(factory) as session:
        import_paths([CORVANE], session=session)
    return engine, factory, schema


def _sqlite_store(tmp: Path) -> tuple[Any, sessionmaker[Session], str]:
    from governance_store import db
    from governance_store.importers import import_paths
    from tests.conftest import CORVANE

    url = f"sqlite:///{tmp / f'lateness-{uuid.uuid4().hex[:6]}.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    factory = db.make_session_factory(engine)
    with db.unit_of_work(factory) as session:
        import_paths([CORVANE], session=session)
    return engine, factory, url


def _drop_pg(schema: str) -> None:
    from tests.conftest import PG_URL

    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


def _reset(factory: sessionmaker[Session]) -> None:
    from governance_store.models import Approval, AuditEntry, ChangeRequest, OutboxMessage, Timer

    tables = (OutboxMessage, Timer, Approval, ChangeRequest, AuditEntry)
    with factory() as s, s.begin():
        if s.get_bind().dialect.name == "postgresql":
            s.execute(sa.text(f"TRUNCATE {', '.join(m.__table__.name for m in tables)} CASCADE"))
        else:
            for model in tables:
                s.execute(sa.delete(model))


class Timers:
    """``count`` timers, each due for one level-2 escalation, parked in the far future until placed."""

    PARKED = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)

    def __init__(self, factory: sessionmaker[Session], count: int) -> None:
        from governance_store.models import OutboxMessage
        from tests.notifications.due_timers import make_due_timers

        self.factory = factory
        _reset(factory)
        self.ids = make_due_timers(factory, count, start_at="escalate:L2")
        with factory() as s, s.begin():
            s.execute(sa.update(OutboxMessage).values(status="sent"))  # the submission's own pings
        self.place(self.ids, [self.PARKED] * count)
        self.due: dict[int, dt.datetime] = {}

    def place(self, timer_ids: list[int], instants: list[dt.datetime]) -> None:
        """Move timers to fall due at ``instants`` (one transaction, as a rescheduling would)."""
        from tests.notifications.due_timers import fall_due

        self.due = {**getattr(self, "due", {}), **fall_due(self.factory, timer_ids, instants)}

    def escalations_sent(self) -> int:
        from governance_store.models import OutboxMessage

        with self.factory() as s:
            return s.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.status == "sent", OutboxMessage.key.like("%:escalate:L2:%"))) or 0

    def woken(self) -> list[float]:
        """Per escalation: when the sweep that fired it started (its outbox row's ``created_at``) minus due."""
        from governance_store.models import OutboxMessage

        with self.factory() as s:
            rows = s.execute(sa.select(OutboxMessage.key, OutboxMessage.created_at).where(
                OutboxMessage.key.like("%:escalate:L2:%"))).all()
        out = []
        for key, created in rows:
            m = ESCALATION.fullmatch(key)
            if m and int(m.group(1)) in self.due:
                out.append((created - self.due[int(m.group(1))]).total_seconds())
        return out


def _lateness(handed: dict[str, float], due: dict[int, dt.datetime]) -> list[float]:
    out = []
    for key, at in handed.items():
        m = ESCALATION.fullmatch(key)
        if m and int(m.group(1)) in due:
            out.append(at - due[int(m.group(1))].timestamp())
    return sorted(out)


def _per_instant(handed: dict[str, float], due: dict[int, dt.datetime]) -> str:
    """p99 per due instant shared by many timers (the bursts), in order."""
    groups: dict[dt.datetime, list[float]] = {}
    for key, at in handed.items():
        m = ESCALATION.fullmatch(key)
        if m and int(m.group(1)) in due:
            instant = due[int(m.group(1))]
            groups.setdefault(instant, []).append(at - instant.timestamp())
    return ", ".join(f"{_pct(v, 0.99) * 1000:,.0f} ms" for _at, v in sorted(groups.items()) if len(v) > 1)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# -- worker processes (PostgreSQL)


def _polling_loop(worker: Any, stop: threading.Event, interval: float) -> None:
    """The design before wake-ups (``govbot worker`` until now): a cycle, then the interval unless more is due."""
    import contextlib

    from notifications.scheduler import backlog

    while not stop.is_set():
        with contextlib.suppress(Exception):
            worker.cycle(with_digest=False)
        if not backlog(worker.factory, now=worker.clock()).due:
            stop.wait(interval)


def _child(url: str, schema: str | None, design: str, interval: float, out: str, ready: Any, done: Any) -> None:
    import logging

    from bot.bootstrap import build
    from bot.commands.worker_cmd import run_worker
    from bot.settings import Settings

    logging.basicConfig(level=logging.WARNING)
    no_digests = Path(out).with_suffix(".scopes.toml")  # the weekly digest is not what is measured here
    no_digests.write_text("scopes = []\n", encoding="utf-8")
    settings = Settings(_env_file=None, database_url=url, database_schema=schema,  # type: ignore[call-arg]
                        sweep_interval_seconds=interval, outbox_channel_interval_seconds=0,
                        slack_bot_token=None, teams_app_id=None, digest_scopes_file=no_digests)
    container = build(settings)
    sender = HandoffRecorder()
    stop = threading.Event()
    threading.Thread(target=lambda: (done.wait(), stop.set()), daemon=True).start()
    with container.session_factory() as s:
        s.execute(sa.text("select 1"))
    ready.set()
    if design == "wake":
        run_worker(container, stop=stop, senders=[sender])
    else:
        from bot.bootstrap import build_worker

        _polling_loop(build_worker(container, [sender]), stop, interval)
    Path(out).write_text(json.dumps({"handed": sender.handed, "rss_mb": _rss_mb()}), encoding="utf-8")
    container.engine.dispose()


class Replicas:
    """Worker processes on one PostgreSQL schema, each with a recording sender."""

    def __init__(self, schema: str, design: str, tmp: Path, *, count: int = 2,
                 interval: float = SAFETY_INTERVAL) -> None:
        from tests.conftest import PG_URL

        ctx = mp.get_context("spawn")
        self.done = ctx.Event()
        self.outs = [tmp / f"replica-{design}-{i}-{uuid.uuid4().hex[:6]}.json" for i in range(count)]
        readies = [ctx.Event() for _ in range(count)]
        self.procs = [ctx.Process(target=_child, args=(PG_URL, schema, design, interval, str(out), ready, self.done))
                      for out, ready in zip(self.outs, readies, strict=True)]
        for p in self.procs:
            p.start()
        for ready in readies:
            if not ready.wait(120):
                raise RuntimeError("a worker process did not start")
        time.sleep(1.0)  # their loops and LISTEN connections are up

    def finish(self) -> tuple[dict[str, float], list[dict[str, float]], int]:
        """Stop the workers; every key handed over (and how often), per-replica hand-overs, peak RSS."""
        self.done.set()
        for p in self.procs:
            p.join(120)
        handed: dict[str, float] = {}
        shares = []
        rss = 0
        self.twice = 0
        for out in self.outs:
            data = json.loads(out.read_text(encoding="utf-8"))
            self.twice += len(handed.keys() & data["handed"].keys())
            handed.update(data["handed"])
            shares.append(data["handed"])
            rss = max(rss, int(data["rss_mb"]))
        return handed, shares, rss


def _wait_for(timers: Timers, expected: int, deadline: float) -> int:
    sent = 0
    while time.monotonic() < deadline:
        sent = timers.escalations_sent()
        if sent >= expected:
            break
        time.sleep(0.5)
    return sent


def _window(timers: Timers, count: int, window: float) -> list[dt.datetime]:
    t0 = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2 + count / 2000)
    step = window / max(count - 1, 1)
    return [t0 + dt.timedelta(seconds=i * step) for i in range(count)]


def _row(benchmark: str, backend: str, size: int, late: list[float], expected: int, *, woken: list[float],
         baseline: str, notes: str, rss: int, goal: bool = True, twice: int = 0) -> dict[str, Any]:
    p50, p99 = _pct(late, 0.5), _pct(late, 0.99)
    complete = len(late) == expected and not twice
    if goal:
        verdict = f"p99 < {GOAL_SECONDS:.0f} s" + (" (met)" if complete and p99 < GOAL_SECONDS else " (MISSED)")
    else:
        verdict = "- (baseline design)"
    return {
        "benchmark": benchmark, "backend": backend, "size": size,
        "p50_ms": round(p50 * 1000, 1), "p99_ms": round(p99 * 1000, 1), "peak_rss_mb": rss,
        "goal": verdict, "baseline": baseline,
        "notes": f"{len(late):,}/{expected:,} escalations handed over once{'' if not twice else f', {twice} twice'}; "
                 f"max {max(late) * 1000 if late else float('nan'):,.0f} ms; woken (sweep start - due) p99 "
                 f"{_pct(woken, 0.99) * 1000:,.0f} ms; " + notes,
        "lateness_p50_s": p50, "lateness_p99_s": p99,
    }


def _pg_window(store: tuple[Any, sessionmaker[Session], str], tmp: Path, count: int, window: float,
               design: str, interval: float) -> tuple[list[float], list[float], int, int, list[int]]:
    _engine, factory, schema = store
    timers = Timers(factory, count)
    replicas = Replicas(schema, design, tmp, interval=interval)
    try:
        instants = _window(timers, count, window)
        timers.place(timers.ids, instants)
        _wait_for(timers, count, time.monotonic() + window + 2 * interval + 60)
    finally:
        handed, shares, rss = replicas.finish()
    return _lateness(handed, timers.due), timers.woken(), rss, replicas.twice, [len(s) for s in shares]


def _pg_bursts(store: tuple[Any, sessionmaker[Session], str], tmp: Path, bursts: int, size: int,
               gap: float) -> tuple[list[float], list[float], int, int, list[int], str]:
    _engine, factory, schema = store
    timers = Timers(factory, bursts * size)
    replicas = Replicas(schema, "wake", tmp)
    try:
        _bursts(timers, bursts, size, gap)
    finally:
        handed, shares, rss = replicas.finish()
    return (_lateness(handed, timers.due), timers.woken(), rss, replicas.twice, [len(s) for s in shares],
            _per_instant(handed, timers.due))


def _bursts(timers: Timers, bursts: int, size: int, gap: float) -> None:
    """Each burst: ``size`` timers moved (while the workers sleep) to fall due at one instant 3 s later."""
    for b in range(bursts):
        group = timers.ids[b * size:(b + 1) * size]
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
        timers.place(group, [at] * len(group))
        _wait_for(timers, (b + 1) * size, time.monotonic() + 60)
        time.sleep(max(0.0, gap - 3))  # the workers go back to sleep before the next burst


# -- one process (SQLite)


def _in_process(store: tuple[Any, sessionmaker[Session], str],
                run: Any) -> tuple[list[float], list[float], int, str]:
    from notifications.scheduler import Worker

    _engine, factory, _url = store
    sender = HandoffRecorder()
    worker = Worker(factory, [sender], clock=lambda: dt.datetime.now(dt.UTC), interval=SAFETY_INTERVAL,
                    per_channel_interval=0)
    worker.digest_scopes = []  # the weekly digest is not what is measured here
    timers = run(None)
    worker.start()
    try:
        time.sleep(0.5)
        run(timers)
    finally:
        worker.stop()
    handed = dict(sender.handed)
    return _lateness(handed, timers.due), timers.woken(), _rss_mb(), _per_instant(handed, timers.due)


def run(sizes: tuple[int, ...] = (10_000,), *, window: float | None = None, bursts: int | None = None,
        burst_size: int | None = None) -> list[dict[str, Any]]:
    count = max(sizes)
    quick = count <= 1000
    window = window if window is not None else (10.0 if quick else 120.0)
    bursts = bursts if bursts is not None else (1 if quick else 3)
    burst_size = burst_size if burst_size is not None else (200 if quick else 1000)
    baseline_interval = 2.0 if quick else SAFETY_INTERVAL
    gap = 8.0 if quick else 20.0
    # The goal's density (10,000 in an hour) over the window: what the polling design is compared at.
    sparse = max(50, round(window * 10_000 / 3600))
    rows: list[dict[str, Any]] = []
    dense = f"{count:,} due over {window:.0f} s ({count / window * 3600 / 10_000:.0f}x the density of 10k/hour)"
    at_goal = f"{sparse:,} due over {window:.0f} s (the density of 10k/hour)"
    with tempfile.TemporaryDirectory(prefix="govbot-lateness-") as tmp_name:
        tmp = Path(tmp_name)
        pg = _pg_store()
        baseline_text = "no PostgreSQL"
        try:
            if pg is not None:
                _log(f"baseline: 2 processes polling every {baseline_interval:.0f} s, {at_goal}")
                late, woken, rss, twice, shares = _pg_window(pg, tmp, sparse, window, "poll", baseline_interval)
                baseline_text = (f"{baseline_interval:.0f} s polling at 10k/hour: p50 {_pct(late, 0.5):.1f} s, "
                                 f"p99 {_pct(late, 0.99):.1f} s")
                rows.append(_row("lateness", f"postgresql x2, {baseline_interval:.0f} s polling", sparse, late,
                                 sparse, woken=woken, rss=rss, goal=False, twice=twice,
                                 baseline="(this is the baseline)",
                                 notes=f"{at_goal}; 2 worker processes, each a cycle and then {baseline_interval:.0f} s "
                                       f"unless more is due (the design before wake-ups); hand-overs per process "
                                       f"{shares}"))
                _log(rows[-1]["notes"])
                for n, what in ((sparse, at_goal), (count, dense)):
                    _log(f"wake-ups: 2 processes, {what}")
                    late, woken, rss, twice, shares = _pg_window(pg, tmp, n, window, "wake", SAFETY_INTERVAL)
                    rows.append(_row("lateness", "postgresql x2", n, late, n, woken=woken, rss=rss, twice=twice,
                                     baseline=baseline_text,
                                     notes=f"{what}; 2 `govbot worker` loops (LISTEN/NOTIFY, sleep to the next due "
                                           f"instant, safety interval {SAFETY_INTERVAL:.0f} s); hand-overs per "
                                           f"process {shares}"))
                    _log(rows[-1]["notes"])
                _log(f"bursts: {bursts} x {burst_size:,} due at one instant, 2 processes")
                late, woken, rss, twice, shares, each = _pg_bursts(pg, tmp, bursts, burst_size, gap)
                rows.append(_row("lateness-burst", "postgresql x2", bursts * burst_size, late, bursts * burst_size,
                                 woken=woken, rss=rss, twice=twice, baseline=baseline_text,
                                 notes=f"{bursts} burst(s) of {burst_size:,} timers due at the same instant, each "
                                       f"moved into place 3 s before while the workers slept; p99 per burst {each}; "
                                       f"hand-overs per process {shares}"))
                _log(rows[-1]["notes"])
        finally:
            if pg is not None:
                pg[0].dispose()
                _drop_pg(pg[2])
        sqlite = _sqlite_store(tmp)
        try:
            _log(f"SQLite, one process: {dense}")

            def window_run(timers: Timers | None) -> Timers:
                if timers is None:
                    return Timers(sqlite[1], count)
                timers.place(timers.ids, _window(timers, count, window))
                _wait_for(timers, count, time.monotonic() + window + 60)
                return timers

            late, woken, rss, _each = _in_process(sqlite, window_run)
            rows.append(_row("lateness", "sqlite", count, late, count, woken=woken, rss=rss, baseline=baseline_text,
                             notes=f"{dense}; one process: the worker loop in a thread, timers moved through the "
                                   f"same engine (in-process wake-up)"))
            _log(rows[-1]["notes"])

            def burst_run(timers: Timers | None) -> Timers:
                if timers is None:
                    return Timers(sqlite[1], bursts * burst_size)
                _bursts(timers, bursts, burst_size, gap)
                return timers

            late, woken, rss, each = _in_process(sqlite, burst_run)
            rows.append(_row("lateness-burst", "sqlite", bursts * burst_size, late, bursts * burst_size, woken=woken,
                             rss=rss, baseline=baseline_text,
                             notes=f"{bursts} burst(s) of {burst_size:,} due at the same instant; one process; "
                                   f"p99 per burst {each}"))
            _log(rows[-1]["notes"])
        finally:
            sqlite[0].dispose()
    return rows


if __name__ == "__main__":
    for row in run(QUICK_SIZES):
        print(row)
