"""Attestation campaigns: owners confirm, hand over, disown or retire the systems they own.

:func:`start` selects the systems that are due by the policy (:mod:`governance_store.ownership_policy`):
live CMDB systems whose owner has not confirmed them within the rule's interval and that are not already
being asked.  Each is asked of its owner, or of the acting holder of an owner who left; a system without
an owner is not attested but is a governance gap (its gap is routed to someone who can claim it).

:func:`answer` records one answer; its effects are the same whichever surface it came from:

* **still mine**: the owner is confirmed (an acting holder who answers becomes the owner);
* **not mine**: the system has no owner any more, which the governance lint routes as a gap;
* **retired**: the system's install status becomes Retired;
* **transfer to …**: an ownership transfer starts (:mod:`governance_store.transfers`).

Each answer is a fact confirmed in govbot: a later import that disagrees keeps it and reports it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from governance_store import audit, facts, transfers
from governance_store.calendar import for_system
from governance_store.models import (
    Attestation,
    AttestationCampaign,
    AttestationState,
    CampaignState,
    ConfirmedFact,
    OwnershipRequestKind,
    Person,
    System,
)
from governance_store.ownership_policy import OwnershipPolicy, Sla
from governance_store.responders import Responder, stand_in

CONFIRMING = (facts.How.ATTESTED.value, facts.How.TRANSFERRED.value, facts.How.CLAIMED.value,
              facts.How.TOOK_OVER.value)


class Answer(StrEnum):
    MINE = "mine"
    NOT_MINE = "not_mine"
    RETIRED = "retired"
    TRANSFER = "transfer"


class AttestationError(Exception):
    """An answer that cannot be taken as given."""


class NotAllowed(AttestationError):
    """Someone answered for a system they were not asked about (already in the audit trail)."""


@dataclass
class Plan:
    """What a campaign asks (or would ask): systems per person, and what it cannot ask."""

    asked: dict[int, list[System]] = field(default_factory=lambda: defaultdict(list))
    people: dict[int, Person] = field(default_factory=dict)
    on_behalf: dict[int, str] = field(default_factory=dict)  # system id -> "acting for X, who left"
    without_owner: list[System] = field(default_factory=list)

    @property
    def systems(self) -> int:
        return sum(len(v) for v in self.asked.values())


def deadline(system: System | None, start: dt.datetime, sla: Sla, *, session: Session) -> dt.datetime:
    """When an answer is due: business days (or hours) of the system's site after ``start``."""
    calendar = for_system(system, session=session)
    if sla.respond_hours is not None:
        return calendar.add_business_time(start, dt.timedelta(hours=sla.respond_hours))
    return calendar.add_business_days(start, sla.respond_days)


def last_confirmed(*, session: Session) -> dict[int, dt.datetime]:
    """When each system's current owner was last confirmed in govbot (attested, transferred, claimed)."""
    out: dict[int, dt.datetime] = {}
    rows = session.execute(select(ConfirmedFact.row_id, ConfirmedFact.value, ConfirmedFact.confirmed_at,
                                  System.owner_id).join(System, System.id == ConfirmedFact.row_id)
                           .where(ConfirmedFact.table_name == "systems", ConfirmedFact.column_name == "owner_id",
                                  ConfirmedFact.how.in_(CONFIRMING)))
    for row_id, value, at, owner_id in rows:
        if (value or {}).get("v") == owner_id and owner_id is not None:
            out[row_id] = at
    return out


def _live(query):  # type: ignore[no-untyped-def]
    return query.where(System.in_cmdb.is_(True),
                       or_(System.install_status.is_(None), func.lower(System.install_status) != "retired"))


def plan(*, session: Session, now: dt.datetime, policy: OwnershipPolicy, sites: tuple[str, ...] = (),
         everything: bool = False) -> Plan:
    """The systems a campaign started now would ask about (``everything``: due or not)."""
    confirmed = last_confirmed(session=session)
    asking = set(session.scalars(select(Attestation.system_id).join(AttestationCampaign).where(
        AttestationCampaign.state == CampaignState.OPEN.value, Attestation.state.in_(
            (AttestationState.PENDING.value, AttestationState.TRANSFERRING.value)))).all())
    query = _live(select(System)).options(selectinload(System.owner)).order_by(System.site_code, System.name)
    if sites:
        query = query.where(System.site_code.in_(sites))
    out = Plan()
    holders: dict[int, Responder | None] = {}
    for system in session.scalars(query).all():
        if system.id in asking:
            continue
        rule = policy.rule_for(system)
        if rule is None:
            continue
        last = confirmed.get(system.id)
        if not everything and last is not None and now - last < dt.timedelta(days=rule.every_days):
            continue
        if system.owner is None:
            out.without_owner.append(system)
            continue
        if system.owner.id not in holders:
            holders[system.owner.id] = stand_in(system.owner, session=session)
        who = holders[system.owner.id]
        if who is None:
            out.without_owner.append(system)
            continue
        out.asked[who.person.id].append(system)
        out.people[who.person.id] = who.person
        if who.because:
            out.on_behalf[system.id] = who.because
    return out


def start(*, session: Session, now: dt.datetime, policy: OwnershipPolicy, started_by: str,
          name: str | None = None, sites: tuple[str, ...] = (), everything: bool = False,
          ) -> tuple[AttestationCampaign | None, Plan]:
    """Start a campaign for what :func:`plan` selects; ``None`` when nothing is due."""
    selected = plan(session=session, now=now, policy=policy, sites=sites, everything=everything)
    if not selected.systems:
        return None, selected
    campaign = AttestationCampaign(
        name=(name or f"Ownership attestation {now:%Y-%m-%d}")[:200], state=CampaignState.OPEN.value,
        started_at=now, started_by=started_by[:254], due_at=now,
        policy={**policy.as_json(), "sites": list(sites), "everything": everything})
    session.add(campaign)
    session.flush()
    latest = now
    for person_id, systems in selected.asked.items():
        for system in systems:
            due = deadline(system, now, policy.attestation, session=session)
            latest = max(latest, due)
            session.add(Attestation(
                campaign_id=campaign.id, system_id=system.id, owner_id=person_id, recorded_owner_id=system.owner_id,
                site_code=system.site_code, state=AttestationState.PENDING.value, asked_at=now, due_at=due,
                note=selected.on_behalf.get(system.id)))
    campaign.due_at = latest
    session.flush()
    audit.record(session, at=now, actor_label=started_by[:254], platform="cli", action="attestation.campaign_started",
                 object_type="campaign", object_key=str(campaign.id),
                 data={"name": campaign.name, "systems": selected.systems, "people": len(selected.asked),
                       "without_owner": [s.name for s in selected.without_owner][:50], "sites": list(sites)})
    return campaign, selected


def pending_for(person: Person, *, session: Session, campaign_id: int | None = None) -> list[Attestation]:
    """What waits on this person's answer, in open campaigns (oldest campaign first)."""
    query = (select(Attestation).join(AttestationCampaign)
             .where(AttestationCampaign.state == CampaignState.OPEN.value, Attestation.owner_id == person.id,
                    Attestation.state == AttestationState.PENDING.value)
             .options(selectinload(Attestation.system)).order_by(Attestation.campaign_id, Attestation.id))
    if campaign_id is not None:
        query = query.where(Attestation.campaign_id == campaign_id)
    return list(session.scalars(query).all())


def load(attestation_id: int, *, session: Session) -> Attestation:
    query = select(Attestation).where(Attestation.id == attestation_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    att = session.scalars(query.execution_options(populate_existing=True)).first()
    if att is None:
        raise AttestationError("That attestation does not exist")
    return att


def may_answer(att: Attestation, actor: Person, *, session: Session) -> bool:
    if att.owner_id == actor.id:
        return True
    asked = session.get(Person, att.owner_id) if att.owner_id else None
    if asked is not None and not asked.active:  # the person asked left meanwhile: their acting holder answers
        holder = stand_in(asked, session=session)
        return holder is not None and holder.person.id == actor.id
    return False


@dataclass(frozen=True)
class Outcome:
    attestation: Attestation
    message: str
    transfer: transfers.Step | None = None


def answer(attestation_id: int, choice: Answer, *, actor: Person, session: Session, now: dt.datetime,
           platform: str, policy: OwnershipPolicy, to: Person | None = None) -> Outcome:
    """Record one answer; raises :class:`NotAllowed` (audited), :class:`AttestationError`, or the
    transfer's own errors."""
    att = load(attestation_id, session=session)
    system = att.system
    if not may_answer(att, actor, session=session):
        audit.record(session, at=now, actor=actor, platform=platform, action="attestation.answer.refused",
                     object_type="system", object_key=system.name[:80],
                     data={"reason": "not asked", "attestation": att.id})
        asked = att.owner.display_name if att.owner else "its owner"
        raise NotAllowed(f"{system.name} was asked of {asked}, not of you")
    if att.state != AttestationState.PENDING.value or att.campaign.state != CampaignState.OPEN.value:
        when = f" on {att.answered_at:%Y-%m-%d}" if att.answered_at else ""
        raise AttestationError(f"{system.name} was already answered{when} ({att.state.replace('_', ' ')})")
    result: transfers.Step | None = None
    if choice is Answer.TRANSFER:
        if to is None:
            raise AttestationError("Whom do you hand it over to?")
        att.state = AttestationState.TRANSFERRING.value
        att.answered_at, att.answered_by_id = now, actor.id
        result = transfers.request(system, kind=OwnershipRequestKind.TRANSFER, to=to, actor=actor, session=session,
                                   now=now, platform=platform, policy=policy, attestation=att)
        message = result.message
    elif choice is Answer.MINE:
        took_over = system.owner_id != actor.id
        system.owner_id = actor.id
        system.updated_at = now
        att.state = AttestationState.CONFIRMED.value
        facts.confirm(session, table="systems", row_id=system.id, column="owner_id", value=actor.id,
                      label=f"{system.name} owner: {actor.display_name}",
                      how=facts.How.TOOK_OVER if took_over else facts.How.ATTESTED, by=actor, now=now,
                      system_id=system.id)
        message = f"Thanks: you own {system.name}" + (" now (you took it over)." if took_over else ".")
    elif choice is Answer.NOT_MINE:
        system.owner_id = None
        system.updated_at = now
        att.state = AttestationState.DISOWNED.value
        facts.confirm(session, table="systems", row_id=system.id, column="owner_id", value=None,
                      label=f"{system.name} owner: nobody (disowned by {actor.display_name})",
                      how=facts.How.DISOWNED, by=actor, now=now, system_id=system.id)
        message = (f"Noted: {system.name} is no longer yours. It has no owner now; govbot asks the Accountable "
                   "of its area to find one.")
    else:
        system.install_status = "Retired"
        system.updated_at = now
        att.state = AttestationState.RETIRED.value
        facts.confirm(session, table="systems", row_id=system.id, column="install_status", value="Retired",
                      label=f"{system.name} install status: Retired", how=facts.How.RETIRED, by=actor, now=now,
                      system_id=system.id)
        message = f"Noted: {system.name} is retired."
    if choice is not Answer.TRANSFER:
        att.answered_at, att.answered_by_id = now, actor.id
    session.flush()
    audit.record(session, at=now, actor=actor, platform=platform, action=f"attestation.{choice.value}",
                 object_type="system", object_key=system.name[:80],
                 data={"attestation": att.id, "campaign": att.campaign_id,
                       "to": to.email if to is not None and choice is Answer.TRANSFER else None})
    return Outcome(att, message, result)


def close(campaign_id: int, *, session: Session, now: dt.datetime, closed_by: str) -> AttestationCampaign:
    campaign = session.get(AttestationCampaign, campaign_id)
    if campaign is None:
        raise AttestationError(f"There is no campaign {campaign_id}")
    campaign.state = CampaignState.CLOSED.value
    campaign.closed_at = now
    audit.record(session, at=now, actor_label=closed_by[:254], platform="cli", action="attestation.campaign_closed",
                 object_type="campaign", object_key=str(campaign.id), data={})
    return campaign


def open_campaigns(*, session: Session) -> list[AttestationCampaign]:
    return list(session.scalars(select(AttestationCampaign).where(AttestationCampaign.state == CampaignState.OPEN.value)
                                .order_by(AttestationCampaign.id)).all())
