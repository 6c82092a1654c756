"""Who may do what with ownership, enforced once: actor class × ownership action × surface.

The same four real surfaces as ``test_matrix.py`` (Slack over signed HTTP, Teams with Bot Framework
tokens, ``govbot chat``'s console, the web chat over HTTP).  The scenario: Brian Caldwell owns the CIP
skid PLC (Purdue level 1, so its area's Accountable, Luis Ortega, also approves a change of owner) and
the retired Line 1 HMI that the network still sees (a gap assigned to him); Jessica Park is the new owner
of a transfer; nobody owns the Line 1 edge gateway.  Before each case the store is put back, so no case
depends on another.  What must hold on every surface: the outcome in :data:`ALLOWED`, exactly one audit
entry (the step done, or ``<action>.refused`` naming who tried, the system or gap, and why), and a
refusal shown only to the one who tried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container
from bot.turn import Ask, Click
from governance_store import transfers
from governance_store.models import (
    Attestation,
    AttestationCampaign,
    AuditEntry,
    OwnershipRequest,
    OwnershipRequestKind,
    Person,
    System,
    TrackedGap,
)
from governance_store.ownership_policy import DEFAULT_POLICY
from notifications.ownership import sync_and_announce
from tests.dashboard.conftest import FakeClock
from tests.security import test_matrix as rig

# The rigs and surfaces of the change matrix, shared.
fake_slack = rig.fake_slack
make_host = rig.make_host
seeded_pg_schema = rig.seeded_pg_schema
seeded_sqlite = rig.seeded_sqlite
seeded_target = rig.seeded_target
slack_payload = rig.slack_payload
connector = rig.connector
make_teams_host = rig.make_teams_host
teams_payload = rig.teams_payload
clock = rig.clock
container = rig.container
box = rig.box
surfaces = rig.surfaces

OWNER, NEW_OWNER, ACCOUNTABLE = "brian.caldwell@corvane.example", "jessica.park@corvane.example", "luis.ortega@corvane.example"
ACTORS: dict[str, str | None] = {
    "owner": OWNER,
    "new owner": NEW_OWNER,
    "accountable": ACCOUNTABLE,  # OT Engineering Lead: Accountable for changes to level 0-2 at Findlay
    "someone else": "kevin.tran@corvane.example",
    "departed": "gregory.maddox@corvane.example",
    "unknown": None,
}
ACTIVE = {"owner", "new owner", "accountable", "someone else"}
ACTIONS = ("attest", "transfer", "accept", "approve", "claim", "fix")
ALLOWED: dict[str, set[str]] = {
    "attest": {"owner"},
    "transfer": {"owner", "accountable"},
    "accept": {"new owner"},
    "approve": {"accountable"},
    "claim": ACTIVE,
    "fix": {"owner"},
}
DONE = {"attest": "attestation.mine", "transfer": "ownership.transfer.requested", "accept": "ownership.accepted",
        "approve": "ownership.approved", "claim": "ownership.claim.requested", "fix": "gap.fixed"}
REFUSED = {"attest": "attestation.answer.refused", "transfer": "ownership.transfer.refused",
           "accept": "ownership.accept.refused", "approve": "ownership.approve.refused",
           "claim": "ownership.claim.refused", "fix": "gap.fix.refused"}
SUBJECT = {"attest": "PLC-CIP-01", "transfer": "PLC-CIP-01", "accept": "PLC-CIP-01", "approve": "PLC-CIP-01",
           "claim": "Edge Gateway Line 1 Findlay", "fix": "HMI-FIL-L1-01"}
WHY = {"departed": "inactive", "unknown": "not in the directory"}
# The ownership routes this matrix covers (test_matrix.py checks that every state-changing route is covered).
COVERED_ACTIONS = {"att.mine", "own.accept", "own.approve", "gap.fix"}
COVERED_COMMANDS = {"transfer", "claim"}
# Steps that share the rule and the code path of one above (their own rules: tests/store/test_*.py).
SHARED_ACTIONS = {"att.not_mine", "att.retired", "att.transfer", "att.all_mine", "own.decline", "own.reject",
                  "own.cancel"}


def _person(s: Any, email: str) -> Person:
    return s.scalars(sa.select(Person).where(Person.email == email)).one()


def _system(s: Any, name: str) -> System:
    return s.scalars(sa.select(System).where(System.name == name)).one()


def _prepare(box: Container, action: str, now: dt.datetime) -> Ask | Click:
    """Put the store back and set up what this case acts on."""
    with box.unit_of_work() as s:
        brian = _person(s, OWNER)
        plc, hmi = _system(s, "PLC-CIP-01"), _system(s, "HMI-FIL-L1-01")
        plc.owner_id = brian.id
        _system(s, "Edge Gateway Line 1 Findlay").owner_id = None
        hmi.install_status = "Retired"
        for req in s.scalars(sa.select(OwnershipRequest).where(OwnershipRequest.state.in_(transfers.OPEN_STATES))):
            req.state = "cancelled"
        gap = s.scalars(sa.select(TrackedGap).where(TrackedGap.code == "RETIRED_BUT_SEEN")).one()
        gap.state, gap.closed_at, gap.assignee_id = "open", None, brian.id
        s.flush()
        if action == "attest":
            campaign = AttestationCampaign(name="Matrix", state="open", started_at=now, started_by="test", due_at=now,
                                           policy={})
            s.add(campaign)
            s.flush()
            att = Attestation(campaign_id=campaign.id, system_id=plc.id, owner_id=brian.id, recorded_owner_id=brian.id,
                              site_code="US-FDL", state="pending", asked_at=now, due_at=now + dt.timedelta(days=14))
            s.add(att)
            s.flush()
            return Click("att.mine", str(att.id))
        if action == "transfer":
            return Ask("transfer PLC-CIP-01 to Jessica Park")
        if action == "claim":
            return Ask("claim Edge Gateway Line 1 Findlay")
        if action == "fix":
            return Click("gap.fix", f"{gap.id}:in_service:")
        step = transfers.request(plc, kind=OwnershipRequestKind.TRANSFER, to=_person(s, NEW_OWNER), actor=brian,
                                 session=s, now=now, platform="test", policy=DEFAULT_POLICY)
        if action == "approve":
            transfers.accept(step.request.id, actor=_person(s, NEW_OWNER), session=s, now=now, platform="test")
            return Click("own.approve", str(step.request.id))
        return Click("own.accept", str(step.request.id))


def _effect(box: Container, action: str, who: str, before: int) -> bool:
    with box.session_factory() as s:
        if action == "attest":
            return s.scalars(sa.select(Attestation).order_by(Attestation.id.desc())).first().state == "confirmed"
        if action in ("transfer", "claim"):
            kind = "transfer" if action == "transfer" else "claim"
            return (s.scalar(sa.select(sa.func.count(OwnershipRequest.id)).where(OwnershipRequest.kind == kind))
                    or 0) > before
        if action == "accept":
            return s.scalars(sa.select(OwnershipRequest).order_by(OwnershipRequest.id.desc())).first().accepted_at \
                is not None
        if action == "approve":
            return _system(s, "PLC-CIP-01").owner.email == NEW_OWNER
        return _system(s, "HMI-FIL-L1-01").install_status == "Installed"


@pytest.mark.parametrize("surface", rig.SURFACES)
async def test_every_actor_every_ownership_action_on_every_surface(
        surface: str, box: Container, clock: FakeClock,
        surfaces: dict[str, Callable[[], Awaitable[rig.Act]]]) -> None:
    with box.unit_of_work() as s:
        sync_and_announce(session=s, now=clock(), policy=DEFAULT_POLICY)
        ids = {p.email: p.id for p in s.scalars(sa.select(Person))}
    act = await surfaces[surface]()
    problems: list[str] = []
    for action in ACTIONS:
        for who, email in ACTORS.items():
            case = f"{surface}: {who} {action}"
            request = _prepare(box, action, clock())
            with box.session_factory() as s:
                last = s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0
                before = s.scalar(sa.select(sa.func.count(OwnershipRequest.id)).where(
                    OwnershipRequest.kind == ("claim" if action == "claim" else "transfer"))) or 0
            seen = await act(email, request)
            with box.session_factory() as s:
                entries = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id)))
            allowed = who in ALLOWED[action]
            done = _effect(box, action, who, before)
            refused = [e for e in entries if e.action.endswith(".refused")]
            if done != allowed:
                problems.append(f"{case}: expected {'done' if allowed else 'refused'}, saw “{seen.text[:160]}”")
                continue
            if allowed:
                if refused or DONE[action] not in [e.action for e in entries]:
                    problems.append(f"{case}: audit {[e.action for e in entries]}")
                continue
            if [e.action for e in entries] != [REFUSED[action]]:
                problems.append(f"{case}: audit {[e.action for e in entries]} instead of one {REFUSED[action]}")
                continue
            [entry] = entries
            if entry.actor_id != (ids[email] if email else None):
                problems.append(f"{case}: audited as actor {entry.actor_id}")
            if entry.object_key != SUBJECT[action]:
                problems.append(f"{case}: audited about {entry.object_key!r}, not {SUBJECT[action]!r}")
            if who in WHY and entry.data.get("reason") != WHY[who]:
                problems.append(f"{case}: audited reason {entry.data.get('reason')!r}, not {WHY[who]!r}")
            if "went wrong" in seen.text or not seen.text.strip():
                problems.append(f"{case}: told “{seen.text[:160]}”")
            if seen.private is False:
                problems.append(f"{case}: a refusal was shown to others")
    assert problems == [], "\n".join(problems)
