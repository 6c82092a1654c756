"""Attestation timers are swept exactly once by real ``govbot worker`` processes, on PostgreSQL.

The same rig as ``test_reliability.py`` (a fake Slack Web API on 127.0.0.1, workers on a fake clock):
many campaigns whose owners have not answered, all past their deadline and the second escalation level,
swept by a worker that is killed with ``kill -9`` mid-sweep and mid-send and restarted, or by two
replicas at once.  Every reminder and escalation a person would see in Slack arrives once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store import attestation
from governance_store.models import Attestation, AttestationCampaign, OutboxMessage, Timer
from governance_store.ownership_policy import DEFAULT_POLICY
from notifications.ownership import ATTESTATION, announce_campaign
from tests.notifications.test_reliability import (  # the rig: fixtures and helpers
    Store,
    Worker,
    _freeze_before,
    assert_audit_intact,
    assert_exactly_once,
    fake,
    posted_keys,
    store,
    until,
)
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.slow
__all__ = ["fake", "store"]

ASKED = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
PAST_EVERY_LEVEL = ASKED + dt.timedelta(days=30)


def unanswered_campaigns(factory: sessionmaker[Session], n: int) -> list[int]:
    """``n`` campaigns, each asking every owner about their systems, nobody having answered; their timer
    ids.  Written directly (the selection of a campaign would skip systems already being asked)."""
    with factory() as s, s.begin():
        plan = attestation.plan(session=s, now=ASKED, policy=DEFAULT_POLICY, everything=True)
        for i in range(n):
            campaign = AttestationCampaign(name=f"Campaign {i + 1}", state="open", started_at=ASKED, started_by="test",
                                           due_at=ASKED, policy={})
            s.add(campaign)
            s.flush()
            for person_id, systems in plan.asked.items():
                for system in systems:
                    s.add(Attestation(campaign_id=campaign.id, system_id=system.id, owner_id=person_id,
                                      recorded_owner_id=system.owner_id, site_code=system.site_code, state="pending",
                                      asked_at=ASKED, due_at=ASKED + dt.timedelta(days=14)))
            s.flush()
            announce_campaign(campaign, plan.people, session=s, now=ASKED, policy=DEFAULT_POLICY)
        # The cards went out when the campaigns started; what the workers send is the SLA's.
        s.execute(sa.update(OutboxMessage).values(status="sent", sent_at=ASKED))
        return list(s.scalars(sa.select(Timer.id).where(Timer.kind == ATTESTATION)).all())


def _advanced(store: Store) -> int:
    with store.factory() as s:
        return s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.kind == ATTESTATION, Timer.step > 0)) or 0


def _assert_escalations(store: Store, rows: list[object], timers: list[int]) -> None:
    keys = {r.key for r in rows}  # type: ignore[attr-defined]
    with store.factory() as s:
        assert s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.id.in_(timers), Timer.step == 0)) == 0
        subjects = s.scalars(sa.select(Timer.subject_key).where(Timer.id.in_(timers))).all()
    # Every owner's card escalated at level 1 (to their manager, or the area's Accountable).
    for subject in subjects:
        assert any(k.startswith(f"{subject}:escalate:L1:") for k in keys), subject
    assert not [k for k in keys if ":remind:" in k], "reminders overtaken by the deadline are not sent late"


async def test_kill_9_mid_sweep_and_mid_send_then_restart_sends_each_escalation_once(
    store: Store, fake: FakeSlack, tmp_path: Path
) -> None:
    timers = unanswered_campaigns(store.factory, 30)
    _freeze_before(store)

    first = await Worker.start(store, fake, tmp_path, "first", now=PAST_EVERY_LEVEL)
    await until(lambda: _advanced(store) > 0, 60, "the first swept batch")
    await first.kill9()
    swept_at_kill = _advanced(store)

    fake.stall_after(15)
    second = await Worker.start(store, fake, tmp_path, "second", now=PAST_EVERY_LEVEL)
    await until(lambda: fake.stalled, 90, "the stalled chat.postMessage")
    await second.kill9()
    claimed = [m.key for m in store.rows() if m.status == "sending"]
    assert len([k for k in claimed if posted_keys(fake)[(k, 0)]]) == 1, claimed
    fake.release()

    third = await Worker.start(store, fake, tmp_path, "third", now=PAST_EVERY_LEVEL, lease=60.0)
    assert await third.wait(180) == 0, third.text()[-3000:]

    rows = assert_exactly_once(store, fake)
    _assert_escalations(store, rows, timers)
    assert_audit_intact(store)
    print(f"swept before the kill: {swept_at_kill} of {len(timers)} attestation timers; {len(rows)} pings once")


async def test_two_replicas_share_the_attestation_timers_without_losing_or_repeating_one(
    store: Store, fake: FakeSlack, tmp_path: Path
) -> None:
    timers = unanswered_campaigns(store.factory, 60)
    _freeze_before(store)
    workers = [await Worker.start(store, fake, tmp_path, f"replica{i}", now=PAST_EVERY_LEVEL, lease=60.0,
                                  args=("--until-idle", "--max-seconds", "150")) for i in (1, 2)]
    codes = await asyncio.gather(*(w.wait(200) for w in workers))
    assert codes == [0, 0], [w.text()[-2000:] for w in workers]

    rows = assert_exactly_once(store, fake)
    _assert_escalations(store, rows, timers)
    shares = [w.sent() for w in workers]
    assert sum(shares) == len(rows) and all(shares), shares
    with store.factory() as s:
        audited = s.scalar(sa.select(sa.func.count()).select_from(sa.table("audit_log")).where(
            sa.text("action = 'attestation.escalated'")))
    # One audit entry per level per timer, whichever replica fired it.
    assert audited == sum(1 for _ in timers) * 2
    assert_audit_intact(store)
