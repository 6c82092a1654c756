"""``govbot demo --attest``: an attestation campaign on the demo's accelerated clock.

The demo clock runs sixty times faster than real time by default, but a real policy gives owners ten
business days: the demo's campaign answers in eight business hours instead (reminders after four and
about six and a half, escalation at eight), so at speed 60 the first reminders arrive within minutes.
The gaps of the sample organisation are opened and routed at the same time.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from governance_store import attestation
from governance_store.ownership_policy import Sla
from notifications.ownership import start_campaign, sync_and_announce

if TYPE_CHECKING:
    from bot.bootstrap import Container

DEMO_SLA = Sla(respond_hours=8, remind_at_pct=(50, 80), escalate_after_days=(0, 1))


def start_demo_campaign(container: Container) -> tuple[int | None, int]:
    """Start the demo's campaign unless one is open; (campaign id, systems asked)."""
    policy = dataclasses.replace(container.services.ownership, attestation=DEMO_SLA, gaps=DEMO_SLA)
    now = container.clock()
    with container.unit_of_work() as session:
        sync_and_announce(session=session, now=now, policy=policy)
        if attestation.open_campaigns(session=session):
            return None, 0
        campaign, plan = start_campaign(session=session, now=now, policy=policy, started_by="govbot demo",
                                        name="Demo ownership attestation", everything=True)
        return (campaign.id if campaign is not None else None), plan.systems
