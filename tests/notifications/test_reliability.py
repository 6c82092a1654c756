"""Exactly-once escalation pings with real worker processes, on PostgreSQL, through the fake Slack Web API.

Each test imports the sample organisation into a fresh PostgreSQL schema,
creates many due SLA timers, and runs ``govbot worker`` subprocesses whose
clock starts at a fake "now" after the breach / escalation levels (dev mode)
and whose Slack Web API is the fake on 127.0.0.1.  The fake counts every
``chat.postMessage``; the outbox key travels in the message metadata, so the
count per key is what a person would see in Slack.
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
                    args: tuple[str, ...] = ("--until-idle",), lease: float = 2.0) -> Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBOT_")}
        env.update({
            "PYTHONPATH": str(ROOT),
            "GOVBOT_DATABASE_URL": PG_URL,
            "GOVBOT_DATABASE_SCHEMA": store.schema,
            "GOVBOT_DEV_MODE": "true",
            "GOVBOT_FAKE_NOW": now.isoformat(),
            "GOVBOT_SLACK_BOT_TOKEN": BOT_TOKEN,
            "GOVBOT_SLACK_API_URL": fake.api_url,
            "GOVBOT_SWEEP_INTERVAL_SECONDS": "0.2",
            "GOVBOT_OUTBOX_CHANNEL_INTERVAL_SECONDS": "0",  # the fake has no rate limit unless told
            "GOVBOT_OUTBOX_SEND_LEASE_SECONDS": str(lease),
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


async def until(predicate, timeout: float, what: str, step: float = 0.02) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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


async def test_kill_9_mid_sweep_and_mid_send_then_restart_delivers_each_ping_once(
    store: Store, fake: FakeSlack, tmp_path: Path
) -> None:
    # 120 changes past their breach and level 1: 600 pings (breach to approver and requester, level 1 to
    # two people and the on-call channel), swept in batches and sent one by one.
    timers = make_due_timers(store.factory, 120)
    _freeze_before(store)
    now = at_edt(14, 1)

    def advanced() -> int:
        with store.factory() as s:
            return s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.step > 0)) or 0

    # 1. Killed while sweeping (100 timers per transaction): a committed batch stands, the batch in
    #    progress rolls back and is swept again after the restart.
    first = await Worker.start(store, fake, tmp_path, "first", now=now)
    await until(lambda: advanced() > 0, 30, "the first swept batch")
    await first.kill9()
    swept_at_kill = advanced()

    # 2. Killed while a message is in flight: Slack has accepted it, the outbox has not recorded it.
    fake.stall_after(25)
    second = await Worker.start(store, fake, tmp_path, "second", now=now)
    await until(lambda: fake.stalled, 60, "the stalled chat.postMessage")
    await second.kill9()
    # The dispatcher claims a few rows per transaction; of those, exactly one reached Slack.
    claimed = [m.key for m in store.rows() if m.status == "sending"]
    at_slack = [k for k in claimed if posted_keys(fake)[(k, 0)]]
    assert len(at_slack) == 1, (claimed, at_slack)
    fake.release()

    # 3. Restarted: the interrupted send is looked up (its lease has run out), not repeated; the rest is sent.
    # Its own lease is long, so a slow, loaded machine cannot make it reclaim rows it is still sending.
    third = await Worker.start(store, fake, tmp_path, "third", now=now, lease=60.0)
    assert await third.wait(120) == 0, third.text()[-3000:]

    rows = assert_exactly_once(store, fake)
    assert len(fake.calls("conversations.history")) >= len(claimed), "each interrupted send was checked in Slack"
    assert sum(int(n) for n in re.findall(r"(\d+) recovered", third.text())) == 1, third.text()[-3000:]
    luis = store.person_id(LUIS)
    keys = {m.key for m in rows}
    for cid in store.change_ids(timers):
        assert f"cr:{cid}:sla:breach:{luis}" in keys and f"cr:{cid}:escalate:L1:ch:#ot-fdl-oncall" in keys, cid
    assert len(rows) >= 5 * len(timers)
    with store.factory() as s:
        assert s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.step == 0)) == 0
    assert_audit_intact(store)
    print(f"swept before the first kill: {swept_at_kill} of {len(timers)} timers; {len(rows)} pings delivered once")


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
