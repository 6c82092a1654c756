"""Two sleeping ``govbot worker`` replicas on PostgreSQL wake for a burst and deliver each ping once,
even when one of them is killed in the middle; the survivor wakes when the dead one's lease runs out.

The workers run as in production (no ``--until-idle``): they sleep until the
next due instant, with a safety interval of a minute, so everything here that
happens within seconds was woken by the schedule, a lease or a notice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from governance_store.models import OutboxMessage, Timer
from tests.conftest import PG_URL, ROOT
from tests.notifications.due_timers import make_due_timers
from tests.notifications.test_reliability import (  # noqa: F401 - fake and store are fixtures
    BOT_TOKEN,
    LUIS,
    WORKER,
    Store,
    Worker,
    assert_audit_intact,
    assert_exactly_once,
    fake,
    posted_keys,
    store,
    until,
)
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.slow

SAFETY_INTERVAL = "60"


async def start_worker(store: Store, fake: FakeSlack, tmp: Path, name: str, *,  # noqa: F811
                       now: dt.datetime, lease: float) -> Worker:
    """``govbot worker`` running on (no ``--until-idle``), its clock starting at ``now``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBOT_")}
    env.update({
        "PYTHONPATH": str(ROOT), "GOVBOT_DATABASE_URL": PG_URL, "GOVBOT_DATABASE_SCHEMA": store.schema,
        "GOVBOT_DEV_MODE": "true", "GOVBOT_FAKE_NOW": now.isoformat(), "GOVBOT_SLACK_BOT_TOKEN": BOT_TOKEN,
        "GOVBOT_SLACK_API_URL": fake.api_url, "GOVBOT_SWEEP_INTERVAL_SECONDS": SAFETY_INTERVAL,
        "GOVBOT_OUTBOX_CHANNEL_INTERVAL_SECONDS": "0", "GOVBOT_OUTBOX_SEND_LEASE_SECONDS": str(lease),
    })
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER, "worker", "--max-seconds", "90", cwd=tmp, env=env, stdout=out, stderr=out)
    return Worker(proc, log)


async def test_sleeping_replicas_wake_for_a_burst_and_for_a_killed_replicas_lease(
        store: Store, fake: FakeSlack, tmp_path: Path) -> None:  # noqa: F811 - fixtures
    # 180 escalations to one person: an interrupted send is looked up among the DM's newest 200 messages.
    timers = make_due_timers(store.factory, 180, start_at="escalate:L2")
    with store.factory() as s:
        store.before = set(s.scalars(sa.select(OutboxMessage.id)).all())
        [due] = set(s.scalars(sa.select(Timer.due_at).where(Timer.id.in_(timers))).all())
    # Both clocks start 4 s before the whole burst falls due; nothing is due before it.
    start = due - dt.timedelta(seconds=4)
    workers = [await start_worker(store, fake, tmp_path, f"replica{i}", now=start, lease=2.0) for i in (1, 2)]
    await until(lambda: sum(posted_keys(fake).values()) >= 60, 30, "the burst being delivered")
    await workers[0].kill9()  # perhaps in the middle of a send: its claimed rows stay leased for 2 s

    def settled() -> bool:
        with store.factory() as s:
            return not s.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.status.in_(("pending", "sending"))))

    await until(settled, 30, "the survivor delivering the rest, the killed replica's claims included")
    workers[1].proc.terminate()
    assert await workers[1].wait(30) == 0, workers[1].text()[-3000:]
    rows = assert_exactly_once(store, fake)
    luis = store.person_id(LUIS)
    assert {m.key for m in rows if ":escalate:L2:" in m.key} == {
        f"cr:{cid}:escalate:L2:{luis}" for cid in store.change_ids(timers)}
    assert_audit_intact(store)
