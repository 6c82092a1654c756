"""Exactly-once escalation pings with real worker processes, on PostgreSQL, through the fake Slack Web API.

Each test imports the sample organisation into a fresh PostgreSQL schema,
creates many due SLA timers, and runs ``govbot worker`` subprocesses whose
clock starts at a fake "now" after the breach / escalation levels (dev mode)
and whose Slack Web API is the fake on 127.0.0.1.  The fake counts every
``chat.postMessage``; the outbox key travels in the message metadata, so the
count per key is what a person would see in Slack.

The kill -9 and database-outage tests run twice: at the default settings (a
two-minute lease, one message per second per channel, a 15 s sweep interval)
and at stress settings (a two-second lease, no pacing, a 0.2 s interval).
Each prints its figures (``-s`` shows them): pings queued, delivered once,
lost, duplicated, and how many interrupted sends were found again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store import audit, db
from governance_store.models import OutboxMessage, Person, Timer
from tests.conftest import PG_URL, ROOT
from tests.notifications.due_timers import at_edt, link_everyone_to_slack, make_due_timers, pg_schema_with_org
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.slow

LUIS = "luis.ortega@corvane.example"
BOT_TOKEN = "xoxb-4242-1234-govbotreliability"
WORKER = "from bot.cli import main; main()"


@dataclass(frozen=True)
class Profile:
    """The worker's delivery settings for a run."""

    name: str
    lease: float
    channel_interval: float
    sweep_interval: float
    changes: int  # due changes (five pings each)


DEFAULT = Profile("default", lease=120.0, channel_interval=1.0, sweep_interval=15.0, changes=24)
STRESS = Profile("stress", lease=2.0, channel_interval=0.0, sweep_interval=0.2, changes=120)
PROFILES = [pytest.param(DEFAULT, id="default-settings"), pytest.param(STRESS, id="stress-settings")]


@dataclass
class Store:
    schema: str
    factory: sessionmaker[Session]
    before: set[int]  # outbox rows that existed before the workers ran (the submissions, already sent)

    def rows(self) -> list[OutboxMessage]:
        with self.factory() as s:
            return [m for m in s.scalars(sa.select(OutboxMessage)).all() if m.id not in self.before]

    def change_ids(self, timer_ids: list[int]) -> list[int]:
        with self.factory() as s:
            return list(s.scalars(sa.select(Timer.change_id).where(Timer.id.in_(timer_ids))).all())

    def person_id(self, email: str) -> int:
        with self.factory() as s:
            return s.scalars(sa.select(Person.id).where(Person.email == email)).one()


@pytest.fixture
def store(pg_schema: str) -> Iterator[Store]:  # pg_schema: PostgreSQL must be reachable (fails in CI)
    with pg_schema_with_org() as schema:
        engine = db.make_engine(PG_URL, schema=schema)
        factory = db.make_session_factory(engine)
        link_everyone_to_slack(factory)
        yield Store(schema, factory, set())
        engine.dispose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack().start()
    yield slack
    slack.release()
    await slack.stop()


def _freeze_before(store: Store) -> None:
    with store.factory() as s:
        store.before = set(s.scalars(sa.select(OutboxMessage.id)).all())


class Worker:
    """One ``govbot worker`` subprocess; its log goes to a file."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log

    @classmethod
    async def start(cls, store: Store, fake: FakeSlack, tmp: Path, name: str, *, now: dt.datetime,
                    args: tuple[str, ...] = ("--until-idle",), lease: float = 2.0, profile: Profile | None = None,
                    database_url: str = PG_URL, env_extra: dict[str, str] | None = None) -> Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBOT_")}
        env.update({
            "PYTHONPATH": str(ROOT),
            "GOVBOT_DATABASE_URL": database_url,
            "GOVBOT_DATABASE_SCHEMA": store.schema,
            "GOVBOT_DEV_MODE": "true",
            "GOVBOT_FAKE_NOW": now.isoformat(),
            "GOVBOT_SLACK_BOT_TOKEN": BOT_TOKEN,
            "GOVBOT_SLACK_API_URL": fake.api_url,
            "GOVBOT_SWEEP_INTERVAL_SECONDS": str(profile.sweep_interval if profile else 0.2),
            # the fake has no rate limit unless told
            "GOVBOT_OUTBOX_CHANNEL_INTERVAL_SECONDS": str(profile.channel_interval if profile else 0),
            "GOVBOT_OUTBOX_SEND_LEASE_SECONDS": str(profile.lease if profile else lease),
            **(env_extra or {}),
        })
        log = tmp / f"{name}.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", WORKER, "worker", *args, cwd=tmp, env=env, stdout=out, stderr=out)
        return cls(proc, log)

    async def wait(self, timeout: float) -> int:
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"worker did not finish within {timeout}s:\n{self.text()[-3000:]}") from None

    async def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def sent(self) -> int:
        return sum(int(n) for n in re.findall(r"; (\d+) sent,", self.text()))


async def until(predicate, timeout: float, what: str, step: float = 0.02,  # type: ignore[no-untyped-def]
                worker: Worker | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(step)
    log = f"; the worker's log ends:\n{worker.text()[-3000:]}" if worker is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{log}")


def posted_keys(fake: FakeSlack) -> Counter[tuple[str, int]]:
    counts: Counter[tuple[str, int]] = Counter()
    for call in fake.calls("chat.postMessage"):
        meta = call.body.get("metadata") or {}
        assert meta.get("event_type") == "govbot_outbox", call.body
        counts[(meta["event_payload"]["key"], int(meta["event_payload"].get("part", 0)))] += 1
    return counts


def assert_exactly_once(store: Store, fake: FakeSlack) -> list[OutboxMessage]:
    rows = store.rows()
    assert rows, "nothing was queued"
    states = Counter(m.status for m in rows)
    assert states == {"sent": len(rows)}, f"undelivered rows: {states}"
    counts = posted_keys(fake)
    twice = {k: n for k, n in counts.items() if n != 1}
    assert not twice, f"posted more than once: {sorted(twice.items())[:10]}"
    assert {k for k, part in counts if part == 0} == {m.key for m in rows}, "every row, and only those, reached Slack"
    return rows


def assert_audit_intact(store: Store) -> None:
    with store.factory() as s:
        assert audit.verify(s) == []


@pytest.mark.parametrize("profile", PROFILES)
async def test_kill_9_mid_sweep_and_mid_send_then_restart_delivers_each_ping_once(
    store: Store, fake: FakeSlack, tmp_path: Path, profile: Profile
) -> None:
    # Changes past their breach and level 1: five pings each (breach to approver and requester, level 1 to
    # two people and the on-call channel), swept in batches and sent one by one.
    timers = make_due_timers(store.factory, profile.changes)
    _freeze_before(store)
    now = at_edt(14, 1)

    def advanced() -> int:
        with store.factory() as s:
            return s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.step > 0)) or 0

    # 1. Killed while sweeping (100 timers per transaction): a committed batch stands, the batch in
    #    progress rolls back and is swept again after the restart.
    first = await Worker.start(store, fake, tmp_path, "first", now=now, profile=profile)
    await until(lambda: advanced() > 0, 60, "the first swept batch")
    await first.kill9()
    swept_at_kill = advanced()

    # 2. Killed while a message is in flight: Slack has accepted it, the outbox has not recorded it.
    fake.stall_after(len(fake.calls("chat.postMessage")) + 12)
    second = await Worker.start(store, fake, tmp_path, "second", now=now, profile=profile)
    await until(lambda: fake.stalled, 120, "the stalled chat.postMessage", worker=second)
    await second.kill9()
    # The dispatcher claims a few rows per transaction; of those, exactly one reached Slack.
    claimed = [m.key for m in store.rows() if m.status == "sending"]
    at_slack = [k for k in claimed if posted_keys(fake)[(k, 0)]]
    assert len(at_slack) == 1, (claimed, at_slack)
    fake.release()

    # 3. Restarted once the killed worker's lease has run out: the interrupted send is looked up from the
    # moment of its attempt, not repeated; the rest is sent.
    later = now + dt.timedelta(seconds=profile.lease + 1)
    third = await Worker.start(store, fake, tmp_path, "third", now=later, profile=profile)
    assert await third.wait(300) == 0, third.text()[-3000:]

    rows = assert_exactly_once(store, fake)
    assert len(fake.calls("conversations.history")) >= 1, "the interrupted send was checked in Slack"
    recovered = sum(int(n) for n in re.findall(r"(\d+) recovered", third.text()))
    assert recovered == 1, third.text()[-3000:]
    luis = store.person_id(LUIS)
    keys = {m.key for m in rows}
    for cid in store.change_ids(timers):
        assert f"cr:{cid}:sla:breach:{luis}" in keys and f"cr:{cid}:escalate:L1:ch:#ot-fdl-oncall" in keys, cid
    assert len(rows) >= 5 * len(timers)
    with store.factory() as s:
        assert s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.step == 0)) == 0
    assert_audit_intact(store)
    print(f"\n[kill -9, {profile.name}: lease {profile.lease:g} s, pacing {profile.channel_interval:g} s] "
          f"{len(rows)} pings queued, {len(rows)} delivered once, 0 lost, 0 duplicated; "
          f"{recovered} interrupted send found in Slack, not sent again; "
          f"swept before the first kill: {swept_at_kill} of {len(timers)} timers")


async def test_two_replicas_share_1000_due_timers_without_losing_or_repeating_one(
    store: Store, fake: FakeSlack, tmp_path: Path
) -> None:
    # 1,000 changes each due for exactly one escalation (level 2, to Luis acting for Gregory Maddox).
    # The lease is longer than a claimed batch takes to send, as in production (120 s).
    timers = make_due_timers(store.factory, 1000, start_at="escalate:L2")
    _freeze_before(store)
    now = at_edt(14, 16)
    workers = [await Worker.start(store, fake, tmp_path, f"replica{i}", now=now, lease=60.0,
                                  args=("--until-idle", "--max-seconds", "90")) for i in (1, 2)]
    codes = await asyncio.gather(*(w.wait(120) for w in workers))
    assert codes == [0, 0], [w.text()[-2000:] for w in workers]

    rows = assert_exactly_once(store, fake)
    luis = store.person_id(LUIS)
    escalations = {m.key for m in rows if ":escalate:L2:" in m.key}
    assert escalations == {f"cr:{cid}:escalate:L2:{luis}" for cid in store.change_ids(timers)}
    shares = [w.sent() for w in workers]
    assert sum(shares) == len(rows), shares
    assert all(shares), f"both replicas delivered: {shares}"
    assert_audit_intact(store)
    print(f"\n[two replicas, lease 60 s, no pacing] {len(rows)} pings queued, {len(rows)} delivered once "
          f"({shares[0]} + {shares[1]}), 0 lost, 0 duplicated")


async def test_slack_down_then_rate_limited_every_ping_arrives_once_afterwards(
    store: Store, fake: FakeSlack, tmp_path: Path
) -> None:
    timers = make_due_timers(store.factory, 60, start_at="escalate:L2")
    _freeze_before(store)
    fake.fail_next(15, status=500, method="chat.postMessage")
    fake.fail_next(15, status=429, retry_after="1", method="chat.postMessage")
    worker = await Worker.start(store, fake, tmp_path, "worker", now=at_edt(14, 16))
    assert await worker.wait(120) == 0, worker.text()[-3000:]

    failures = Counter(c.status for c in fake.calls("chat.postMessage", ok_only=False) if c.status != 200)
    assert failures == {500: 15, 429: 15}
    rows = assert_exactly_once(store, fake)
    assert len([m for m in rows if ":escalate:L2:" in m.key]) == len(timers)
    assert sum(1 for m in rows if m.attempts > 1) >= 15, "failed sends were retried"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _health(port: int) -> tuple[int, dict]:  # type: ignore[type-arg]
    import aiohttp

    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz",
                                                             timeout=aiohttp.ClientTimeout(total=2)) as resp:
            return resp.status, await resp.json()
    except (aiohttp.ClientError, TimeoutError):
        return 0, {}


@pytest.mark.parametrize("profile", PROFILES)
async def test_worker_rides_out_a_database_outage_and_delivers_each_ping_once(
    store: Store, fake: FakeSlack, tmp_path: Path, profile: Profile
) -> None:
    """The database goes away for 20 s in the middle of delivery (one message accepted by Slack, its record
    not yet written): the worker does not exit, says so on /healthz, and when the database is back writes
    what it sent and delivers the rest, each ping once."""
    from tests.notifications.db_proxy import DbProxy

    timers = make_due_timers(store.factory, profile.changes)
    _freeze_before(store)
    proxy = DbProxy(PG_URL).start()
    port = _free_port()
    try:
        fake.stall_after(len(fake.calls("chat.postMessage")) + 15)
        worker = await Worker.start(store, fake, tmp_path, "worker", now=at_edt(14, 1), profile=profile,
                                    database_url=proxy.url, env_extra={"GOVBOT_WORKER_HEALTH_PORT": str(port)})
        await until(lambda: fake.stalled, 120, "a chat.postMessage in flight", worker=worker)
        status, body = await _health(port)
        assert status == 200 and body["worker"]["state"] == "ok", body
        proxy.cut()  # the database goes away while Slack holds the message
        fake.release()
        outage = 20.0
        seen: list[tuple[int, dict]] = []  # type: ignore[type-arg]
        deadline = time.monotonic() + outage
        while time.monotonic() < deadline:
            seen.append(await _health(port))
            assert worker.proc.returncode is None, f"the worker exited during the outage:\n{worker.text()[-3000:]}"
            await asyncio.sleep(1.0)
        degraded = [b for code, b in seen if code == 503]
        assert degraded, f"/healthz never said the worker was degraded: {seen[-3:]}"
        assert degraded[-1]["worker"]["database"] == "unreachable" and degraded[-1]["worker"]["failing_since"]
        assert proxy.refused > 0, "the worker kept trying"
        proxy.restore()
        assert await worker.wait(300) == 0, worker.text()[-3000:]
    finally:
        proxy.stop()
    rows = assert_exactly_once(store, fake)
    assert len([m for m in rows if ":escalate:L1:" in m.key]) == 3 * len(timers)
    assert worker.text().count("Traceback") <= 3, "an outage is logged once, not with a traceback per retry"
    assert_audit_intact(store)
    print(f"\n[database outage {outage:.0f} s, {profile.name}: lease {profile.lease:g} s, pacing "
          f"{profile.channel_interval:g} s] {len(rows)} pings queued, {len(rows)} delivered once, 0 lost, "
          f"0 duplicated; /healthz answered 503 degraded {len(degraded)} times, the worker never exited")
