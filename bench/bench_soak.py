"""Soak: an hour (``--soak-seconds``) of mixed traffic on PostgreSQL with two ``govbot worker`` replicas.

Set-up: the sample organisation (``examples/corvane``) in a fresh PostgreSQL
schema, everyone linked to Slack, the SLA targets shortened to
``SLA_MINUTES`` on a 24x7 clock and the escalation levels to a fifteenth of
their delay, so that reminders, breaches, escalation levels and their repeats
happen within minutes.  Two real ``govbot worker`` processes (default
settings: 15 s safety interval, 1 s pacing per channel, 120 s lease) deliver
to the fake Slack Web API of ``tests/slack/fake_slack.py``, served on
127.0.0.1 by this process, which records every call.

Traffic, driven through the turn pipeline (``bot.turn``, as every chat surface
runs a turn: the Slack account resolved to a person, one unit of work, the use
case) from a few threads of this process:

* questions: ``who owns <system>`` (and its alias or a typo), ``QUESTIONS_PER_SECOND``;
* change requests: preview and submit every ``CHANGE_EVERY_SECONDS``; of those,
  half are approved by their approvers after 20-90 s, a tenth rejected, the
  rest left undecided (reminders, breach, escalations) and withdrawn after 4 to
  12 minutes, or left running until the end;
* digests: the weekly digest job (``notifications.digest.run_due``) for one more
  earlier ISO week, every ``DIGEST_EVERY_SECONDS`` (the workers send this week's);
* at the end every open change is withdrawn and the outbox drained.

Reported: p50/p99 per operation (the turn's time for questions, change
previews and submissions, approvals, rejections and withdrawals; the digest
job's; for messages, the time
from being due — the event's due instant for reminders and escalations, the
queueing for the rest — to Slack receiving them); RSS of both workers and of
this process over time (growth from the first to the last quarter of the run);
database size growth; and every outbox row against what the fake Slack
received: zero lost (a row not delivered, or delivered but never posted) and
zero duplicated (a key posted twice).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import json
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

NAME = "soak"
QUICK_SIZES = (60,)
DEFAULT_SECONDS = 3600
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
BOT_TOKEN = "xoxb-4242-1234-govbotsoak"
SLA_MINUTES = 2
QUESTIONS_PER_SECOND = 2.0
CHANGE_EVERY_SECONDS = 12.0
DIGEST_EVERY_SECONDS = 300.0
ESCALATION_GOAL_S = 1.0
RSS_GROWTH_GOAL = 0.10
SEED = 11
# Message keys the sweep writes, with the SLA event they belong to.
SWEPT = re.compile(r"cr:(\d+):(?:sla:)?(warn:\d+|breach|escalate:L\d+(?::repeat:\d+)?|consult_reminder|consult_overdue)"
                   r"(?::|$)")


def _log(msg: str) -> None:
    print(f"  [soak] {msg}", flush=True)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _rss_mb(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


# -- the store


class Store:
    def __init__(self) -> None:
        from governance_store import db
        from governance_store.importers import import_paths
        from tests.conftest import CORVANE, PG_URL
        from tests.notifications.due_timers import link_everyone_to_slack

        self.url = PG_URL
        self.schema = f"govbot_soak_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'create schema "{self.schema}"'))
        admin.dispose()
        db.upgrade(PG_URL, schema=self.schema)
        self.engine = db.make_engine(PG_URL, schema=self.schema, pool_size=10)
        self.factory: sessionmaker[Session] = db.make_session_factory(self.engine)
        with db.unit_of_work(self.factory) as session:
            import_paths([CORVANE], session=session)
        self.slack_ids = link_everyone_to_slack(self.factory)  # person id -> Slack user id
        with self.factory() as s, s.begin():  # minutes instead of hours, around the clock
            s.execute(sa.text("update sla_policies set response_minutes = :m, schedule = '24x7'"), {"m": SLA_MINUTES})
            s.execute(sa.text("update escalation_levels set after_minutes = after_minutes / 15, hours = '24x7'"))

    def size_bytes(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text(
                "select coalesce(sum(pg_total_relation_size(c.oid)), 0) from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace where n.nspname = :s and c.relkind = 'r'"),
                {"s": self.schema}).scalar() or 0)

    def drop(self) -> None:
        self.engine.dispose()
        admin = sa.create_engine(self.url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{self.schema}" cascade'))
        admin.dispose()


# -- the fake Slack, served by a thread of this process


class Slack:
    def __init__(self) -> None:
        from tests.slack.fake_slack import FakeSlack

        self.loop = asyncio.new_event_loop()
        self.fake = FakeSlack()
        threading.Thread(target=self.loop.run_forever, name="fake-slack", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(30)
        self.wall_offset = time.time() - time.monotonic()  # Call.at is monotonic

    def calls(self, method: str) -> list[Any]:
        return asyncio.run_coroutine_threadsafe(self._calls(method), self.loop).result(60)

    async def _calls(self, method: str) -> list[Any]:
        return self.fake.calls(method)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


AUDIT_KEY = "soak-audit-key-" + "0" * 32  # the workers and the chat turns sign the one audit trail alike

# -- two `govbot worker` processes


class Workers:
    def __init__(self, store: Store, slack: Slack, tmp: Path, count: int = 2) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBOT_")}
        env.update({
            "PYTHONPATH": str(ROOT), "GOVBOT_DATABASE_URL": store.url, "GOVBOT_DATABASE_SCHEMA": store.schema,
            "GOVBOT_SLACK_BOT_TOKEN": BOT_TOKEN, "GOVBOT_SLACK_API_URL": slack.fake.api_url,
            "GOVBOT_AUDIT_KEY": AUDIT_KEY,  # as in production: the audit trail is signed with a key of its own
        })
        self.logs = [tmp / f"worker{i}.log" for i in range(count)]
        self.procs = []
        for log in self.logs:
            with log.open("wb") as out:
                self.procs.append(subprocess.Popen(  # noqa: S603 - our own CLI
                    [sys.executable, "-c", "from bot.cli import main; main()", "worker"], cwd=tmp, env=env,
                    stdout=out, stderr=out))

    def rss(self) -> list[float]:
        return [_rss_mb(p.pid) if p.poll() is None else float("nan") for p in self.procs]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> list[int | None]:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = []
        for p in self.procs:
            try:
                codes.append(p.wait(60))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(None)
        return codes


# -- the traffic


class Driver:
    """Chat turns through the turn pipeline, timed; follow-ups (approvals, withdrawals) on a schedule."""

    def __init__(self, store: Store, *, rng: random.Random) -> None:
        from bot.bootstrap import build
        from bot.settings import Settings
        from governance_store.models import Person, System

        self.factory = store.factory
        # The composition root's pipeline, as Slack's adapter runs it: the account resolved to a person,
        # one unit of work, the use case, one error reply for any failure.
        self.container = build(Settings(_env_file=None, database_url=store.url,  # type: ignore[call-arg]
                                        database_schema=store.schema, audit_key=AUDIT_KEY))
        self.rng = rng
        self.stop = threading.Event()
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.changes: list[int] = []
        self.digest_weeks = 0
        self.digest_done: dict[str, float] = {}  # ISO week -> when its job finished (wall clock)
        self._lock = threading.Lock()
        self._later: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        with self.factory() as s:
            people = s.scalars(sa.select(Person.id).where(Person.active.is_(True)).order_by(Person.id)).all()
            self.systems = [(n, (a or [None])[0]) for n, a in s.execute(
                sa.select(System.name, System.aliases).where(System.in_cmdb.is_(True)).order_by(System.id)).all()]
        self.people = [pid for pid in people if pid in store.slack_ids]
        self.slack_ids = store.slack_ids

    def turn(self, op: str, person_id: int, request: Any) -> Any:
        """One chat turn from the person's Slack account, timed; its reply (None when it failed)."""
        from bot.turn import ChatUser

        user = ChatUser(platform="slack", account_id=self.slack_ids[person_id])
        started = time.perf_counter()
        reply = self.container.pipeline.answer(user, request)
        self.timings[op].append(time.perf_counter() - started)
        status = reply.data.get("status")
        if status == "error":
            self.errors[f"{op}: error reply {reply.data.get('error_id')}"] += 1
            return None
        if status == "refused":
            self.refused[f"{op}: {(reply.text or '')[:60]}"] += 1
            return None
        return reply

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        with self._lock:
            self._seq += 1
            heapq.heappush(self._later, (time.monotonic() + delay, self._seq, fn))

    # -- operations

    def question(self) -> None:
        from bot.turn import Ask

        name, alias = self.rng.choice(self.systems)
        roll = self.rng.random()
        subject = alias if roll < 0.2 and alias else (name[:-1] + "x" if roll < 0.35 else name)
        self.turn("question", self.rng.choice(self.people), Ask(f"who owns {subject}"))

    def change(self) -> None:
        from bot.turn import Ask, Click

        requester = self.rng.choice(self.people)
        name, _alias = self.rng.choice(self.systems)
        title = self.rng.choice(["Firmware update", "Parameter change", "Patch the HMI", "Replace a switch"])
        preview = self.turn("change preview", requester, Ask(f'change {name} "{title}"'))
        button = next((b for b in preview.buttons if b.action_id == "cr.submit"), None) if preview else None
        if button is None:
            if preview is not None:
                self.refused[f"change preview: {(preview.text or '')[:60]}"] += 1
            return
        if self.turn("change submit", requester, Click("cr.submit", button.value)) is None:
            return
        cid = int(button.value)
        self.changes.append(cid)
        fate = self.rng.random()
        if fate < 0.5:
            self.later(self.rng.uniform(20, 90), lambda: self.decide(cid, "cr.approve", "approve"))
        elif fate < 0.6:
            self.later(self.rng.uniform(20, 90), lambda: self.decide(cid, "cr.reject", "reject"))
        elif fate < 0.85:
            self.later(self.rng.uniform(240, 720), lambda: self.withdraw(cid, requester))
        # else: left undecided, escalating, until the end

    def decide(self, cid: int, action_id: str, op: str) -> None:
        """Each pending approver in turn clicks, until the request is decided (a rejection: the first)."""
        from bot.turn import Click
        from governance_store.models import Approval

        inputs = (("reason", "Conflicts with the trial batch."),) if action_id == "cr.reject" else ()
        for _ in range(5):
            with self.factory() as s:
                waiting = s.scalars(sa.select(Approval.person_id).where(
                    Approval.change_id == cid, Approval.kind == "approver", Approval.state == "requested",
                    Approval.person_id.is_not(None)).order_by(Approval.id)).first()
            if waiting is None or waiting not in self.slack_ids:
                return
            if self.turn(op, waiting, Click(action_id, str(cid), inputs)) is None or action_id == "cr.reject":
                return

    def withdraw(self, cid: int, requester: int) -> None:
        from bot.turn import Click

        self.turn("withdraw", requester, Click("cr.withdraw", str(cid)))

    def digest(self) -> None:
        from notifications import digest

        self.digest_weeks += 1
        # An earlier week's Monday, 20:00 UTC (every scope's digest time has passed there, none was sent; the
        # workers send this week's): its messages are due at once.
        today = dt.datetime.now(dt.UTC)
        monday = (today - dt.timedelta(days=today.weekday(), weeks=self.digest_weeks)).replace(
            hour=20, minute=0, second=0, microsecond=0)
        started = time.perf_counter()
        try:
            digest.run_due(self.factory, None, now=monday)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            self.errors[f"digest: {type(exc).__name__}"] += 1
            return
        self.timings["digest job"].append(time.perf_counter() - started)
        year, week, _day = monday.isocalendar()
        self.digest_done[f"{year}-W{week:02d}"] = time.time()

    # -- threads

    def _every(self, period: float, fn: Callable[[], None], *, first: float = 0.0) -> None:
        next_at = time.monotonic() + first
        while not self.stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                return
            fn()
            next_at += self.rng.expovariate(1 / period) if period < 5 else period

    def _follow_ups(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                due = self._later[0][0] <= time.monotonic() if self._later else False
                fn = heapq.heappop(self._later)[2] if due else None
            if fn is not None:
                fn()
            else:
                self.stop.wait(0.2)

    def start(self, *, digest_every: float) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._every, args=(1 / QUESTIONS_PER_SECOND, self.question), daemon=True),
            threading.Thread(target=self._every, args=(CHANGE_EVERY_SECONDS, self.change), daemon=True),
            threading.Thread(target=self._every, args=(digest_every, self.digest), kwargs={"first": digest_every / 2},
                             daemon=True),
            threading.Thread(target=self._follow_ups, daemon=True),
        ]
        for t in threads:
            t.start()
        return threads

    def withdraw_open(self) -> int:
        """Withdraw every change still waiting for a decision (as people tidy up); how many."""
        from governance_store.models import ChangeRequest

        with self.factory() as s:
            open_ = s.execute(sa.select(ChangeRequest.id, ChangeRequest.requester_id).where(
                ChangeRequest.id.in_(self.changes), ChangeRequest.state == "submitted")).all()
        for cid, requester_id in open_:
            if requester_id in self.slack_ids:
                self.withdraw(cid, requester_id)
        return len(open_)


# -- the outcome


def _drain(store: Store, deadline: float) -> int:
    from governance_store.models import OutboxMessage

    left = -1
    while time.monotonic() < deadline:
        with store.factory() as s:
            left = s.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.status.in_(("pending", "sending")),
                OutboxMessage.next_attempt_at <= dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))) or 0
        if not left:
            return 0
        time.sleep(1.0)
    return left


def _week(key: str) -> str | None:
    m = re.search(r":(\d{4}-W\d{2}):", key)
    return m.group(1) if m else None


def _due_instants(store: Store) -> dict[tuple[int, str], dt.datetime]:
    from governance_store.models import ChangeRequest, Timer
    from notifications import sla

    out: dict[tuple[int, str], dt.datetime] = {}
    with store.factory() as s:
        for timer in s.scalars(sa.select(Timer).where(Timer.change_id.is_not(None))).all():
            cr = s.get(ChangeRequest, timer.change_id)
            if cr is None:
                continue
            for ev in sla.events(timer, cr, session=s):
                out.setdefault((cr.id, ev.key), ev.at)
    return out


def _reconcile(store: Store, slack: Slack, digest_done: dict[str, float], *, until: float) -> dict[str, Any]:
    """Every outbox row against what Slack received; latencies of the messages queued or due before
    ``until`` (the end of the traffic: the withdrawals that tidy up afterwards come all at once)."""
    from governance_store.models import OutboxMessage

    posts: Counter[str] = Counter()
    received: dict[str, float] = {}
    for call in slack.calls("chat.postMessage"):
        meta = (call.body.get("metadata") or {})
        if isinstance(meta, str):
            meta = json.loads(meta)
        data = meta.get("event_payload") or {}
        if meta.get("event_type") == "govbot_outbox" and not data.get("part"):
            posts[data["key"]] += 1
            received.setdefault(data["key"], call.at + slack.wall_offset)
    updates_at_slack = len(slack.calls("chat.update"))
    with store.factory() as s:
        rows = s.execute(sa.select(OutboxMessage.key, OutboxMessage.kind, OutboxMessage.status,
                                   OutboxMessage.created_at)).all()
    due = _due_instants(store)
    states = Counter((kind, status) for _key, kind, status, _created in rows)
    sent = {key for key, kind, status, _c in rows if kind == "message" and status == "sent"}
    lost = sorted(k for k in sent if not posts[k]) + sorted(
        key for key, _kind, status, _c in rows if status in ("pending", "sending", "failed"))
    duplicated = sorted(k for k, n in posts.items() if n > 1)
    unknown = sorted(set(posts) - {key for key, *_ in rows})
    late: dict[str, list[float]] = defaultdict(list)
    fired: dict[str, list[float]] = defaultdict(list)
    for key, kind, _status, created in rows:
        late_queued = created.timestamp() > until and not key.startswith("digest:")  # digests: created_at is Monday
        if kind != "message" or key not in received or late_queued:
            continue
        m = SWEPT.match(key)
        if m and (int(m.group(1)), m.group(2)) in due:
            op = "reminder" if m.group(2).startswith(("warn", "consult_reminder")) else "escalation"
            at = due[(int(m.group(1)), m.group(2))]
            if at.timestamp() > until:
                continue
            late[op].append(received[key] - at.timestamp())
            fired[op].append((created - at).total_seconds())  # the sweep's instant: the worker's reaction
        elif key.startswith("digest:") and (week := _week(key)) in digest_done:
            # Its created_at is the job's (earlier) Monday: measured from the end of the job instead.
            late["digest delivered"].append(max(0.0, received[key] - digest_done[week]))
        else:
            kind_of = ("change card" if re.match(r"cr:\d+:(approver|consulted|informed|requester):", key)
                       else "notice" if ":notice:" in key else "other message")
            late[f"{kind_of} delivered"].append(received[key] - created.timestamp())
    sent_updates = states[("update", "sent")]
    return {"states": {f"{k}/{s}": n for (k, s), n in sorted(states.items())}, "lost": lost,
            "duplicated": duplicated, "unknown": unknown, "late": late, "fired": fired, "posts": sum(posts.values()),
            "updates_at_slack": updates_at_slack, "updates_sent": sent_updates}


def _growth(samples: list[float]) -> float:
    """Mean of the last quarter over the mean of the first quarter (after warm-up), minus 1."""
    values = [v for v in samples if v == v]
    if len(values) < 4:
        return float("nan")
    quarter = max(1, len(values) // 4)
    first, last = statistics.mean(values[:quarter]), statistics.mean(values[-quarter:])
    return last / first - 1


def run(sizes: tuple[int, ...] = (DEFAULT_SECONDS,), *, soak_seconds: float | None = None) -> list[dict[str, Any]]:
    from governance_store import db
    from tests.conftest import PG_URL

    seconds = float(soak_seconds if soak_seconds is not None else max(sizes))
    problem = db.connection_problem(PG_URL)
    if problem:
        raise RuntimeError(f"the soak needs PostgreSQL at {PG_URL}: {problem}")
    digest_every = min(DIGEST_EVERY_SECONDS, max(seconds / 4, 20.0))
    sample_every = max(5.0, seconds / 60)
    rng = random.Random(SEED)
    store = Store()
    slack = Slack()
    samples: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="govbot-soak-") as tmp_name:
        tmp = Path(tmp_name)
        workers = Workers(store, slack, tmp)
        try:
            size_start = store.size_bytes()
            driver = Driver(store, rng=rng)
            time.sleep(3.0)  # the workers are up
            _log(f"{seconds:.0f} s of traffic: {QUESTIONS_PER_SECOND:g} questions/s, a change request every "
                 f"{CHANGE_EVERY_SECONDS:g} s, a weekly digest job every {digest_every:.0f} s")
            started = time.monotonic()
            threads = driver.start(digest_every=digest_every)
            while time.monotonic() - started < seconds:
                rss = workers.rss()
                samples.append({"t": round(time.monotonic() - started, 1), "workers_mb": [round(r, 1) for r in rss],
                                "driver_mb": round(_rss_mb(os.getpid()), 1), "db_bytes": store.size_bytes(),
                                "questions": len(driver.timings["question"]), "changes": len(driver.changes)})
                if len(samples) % 10 == 1:
                    _log(f"t={samples[-1]['t']:.0f} s: workers {samples[-1]['workers_mb']} MB, "
                         f"db {samples[-1]['db_bytes'] / 2**20:.1f} MB, {samples[-1]['changes']} changes, "
                         f"{samples[-1]['questions']} questions, errors {sum(driver.errors.values())}")
                if not workers.alive():
                    raise RuntimeError("a worker process exited during the soak: see its log")
                time.sleep(min(sample_every, max(0.0, seconds - (time.monotonic() - started))))
            driver.stop.set()
            for t in threads:
                t.join(60)
            traffic_end = time.time()
            withdrawn = driver.withdraw_open()
            undrained = _drain(store, time.monotonic() + 300)
            size_end = store.size_bytes()
            codes = workers.stop()
        except BaseException:
            workers.stop()
            for log in workers.logs:
                print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        outcome = _reconcile(store, slack, driver.digest_done, until=traffic_end)
        logs = [log.read_text(errors="replace") for log in workers.logs]
        for i, text in enumerate(logs):  # kept where a reader can look, when there is something to look at
            if "Traceback" in text:
                OUT.mkdir(parents=True, exist_ok=True)
                (OUT / f"soak-worker{i}.log").write_text(text, encoding="utf-8")
    slack.stop()
    store.drop()
    return _rows(seconds, driver, samples, outcome, size_start, size_end, withdrawn, undrained, codes, logs)


def _rows(seconds: float, driver: Driver, samples: list[dict[str, Any]], outcome: dict[str, Any], size_start: int,
          size_end: int, withdrawn: int, undrained: int, codes: list[int | None], logs: list[str]) -> list[dict[str, Any]]:
    worker_series = [[s["workers_mb"][i] for s in samples] for i in range(len(samples[0]["workers_mb"]))] \
        if samples else []
    # Growth is judged after a warm-up (imports, caches, the first digest): the first tenth, at least a minute.
    warm = [i for i, s in enumerate(samples) if s["t"] >= max(60.0, seconds / 10)]
    growth = [_growth([series[i] for i in warm]) for series in worker_series]
    peak = max((max(v for v in series if v == v) for series in worker_series if series), default=0.0)
    driver_growth = _growth([samples[i]["driver_mb"] for i in warm])
    lost, duplicated = outcome["lost"], outcome["duplicated"]
    clean = not lost and not duplicated and not outcome["unknown"] and not undrained
    judged = bool(growth) and all(g == g for g in growth)
    rss_ok = judged and all(g < RSS_GROWTH_GOAL for g in growth)
    ops = sum(len(v) for v in driver.timings.values())
    OUT.mkdir(parents=True, exist_ok=True)
    series_file = OUT / f"soak-{int(seconds)}s.json"
    series_file.write_text(json.dumps({"samples": samples, "outcome": {
                                           k: v for k, v in outcome.items() if k not in ("late", "fired")},
                                       "errors": dict(driver.errors), "refused": dict(driver.refused)}, indent=1),
                           encoding="utf-8")
    tracebacks = sum(log.count("Traceback") for log in logs)
    rows: list[dict[str, Any]] = [{
        "benchmark": "soak", "backend": "postgresql x2", "size": int(seconds), "median_s": round(seconds, 0),
        "p99_ms": None, "peak_rss_mb": round(peak),
        "goal": "0 lost, 0 duplicated, worker RSS growth < 10 %" + (
            " (met)" if clean and rss_ok else " (MISSED)" if judged or not clean else " (RSS not judged: too short)"),
        "baseline": "-",
        "notes": (f"{outcome['posts']:,} messages posted once each, {outcome['updates_sent']:,} card updates "
                  f"({outcome['updates_at_slack']:,} chat.update at Slack); lost {len(lost)}, duplicated "
                  f"{len(duplicated)}, unknown keys {len(outcome['unknown'])}, undrained {undrained}; outbox "
                  f"{outcome['states']}; worker RSS {[round(s[0]) for s in worker_series]} -> "
                  f"{[round(s[-1]) for s in worker_series]} MB (after warm-up, last quarter over first: "
                  f"{', '.join(f'{g:+.1%}' for g in growth)}); driver + fake Slack RSS {driver_growth:+.1%}; "
                  f"database {size_start / 2**20:.1f} -> {size_end / 2**20:.1f} MB "
                  f"({(size_end - size_start) / max(ops, 1) / 1024:.1f} kB per operation); {ops:,} operations, "
                  f"{sum(driver.errors.values())} errors, {sum(driver.refused.values())} refused; "
                  f"{withdrawn} open changes withdrawn at the end; worker exit codes {codes}, tracebacks in their "
                  f"logs {tracebacks}" + (" (logs kept in bench/out/soak-worker*.log)" if tracebacks else "")
                  + f"; series in bench/out/{series_file.name}"),
    }]
    for op, values in sorted(driver.timings.items()):
        rows.append({
            "benchmark": f"soak {op}", "backend": "postgresql x2", "size": len(values),
            "p50_ms": round(_pct(values, 0.5) * 1000, 1), "p99_ms": round(_pct(values, 0.99) * 1000, 1),
            "peak_rss_mb": round(_rss_mb()), "goal": "-", "baseline": "-",
            "notes": f"the turn's time (the pipeline: person, one unit of work, the use case), {len(values):,} in "
                     f"{seconds:.0f} s" if op != "digest job" else f"notifications.digest.run_due, {len(values):,} runs",
        })
    for op, values in sorted(outcome["late"].items()):
        goal, swept = "-", ""
        if op in outcome["fired"]:
            reaction = outcome["fired"][op]
            swept = (f"; fired by the sweep (its start - due) p50 {_pct(reaction, 0.5) * 1000:,.0f} ms, "
                     f"p99 {_pct(reaction, 0.99) * 1000:,.0f} ms")
            if op == "escalation":
                goal = f"fired p99 < {ESCALATION_GOAL_S:.0f} s" + (
                    " (met)" if _pct(reaction, 0.99) < ESCALATION_GOAL_S else " (MISSED)")
        what = {"escalation": "due instant -> Slack received it", "reminder": "due instant -> Slack received it",
                "digest delivered": "end of the digest job -> Slack received it"}.get(op, "queued -> Slack received it")
        rows.append({
            "benchmark": f"soak {op}", "backend": "postgresql x2", "size": len(values),
            "p50_ms": round(_pct(values, 0.5) * 1000, 1), "p99_ms": round(_pct(values, 0.99) * 1000, 1),
            "peak_rss_mb": round(peak), "goal": goal, "baseline": "-",
            "notes": f"{what}, {len(values):,} messages queued or due during the traffic{swept}; Slack's pacing "
                     f"applies (1 s per channel or DM: a person with several messages at once gets them a second "
                     f"apart)",
        })
    return rows
