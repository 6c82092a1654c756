"""Attestation in chat: the owner's card (Still mine / Transfer to… / Not mine / Retired, per system or all
at once) and ``attest``, which shows what waits on the person (their cards, transfers to accept or
approve).  The rules live in :mod:`governance_store.attestation`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from governance_store import attestation, transfers
from governance_store.attestation import Answer
from governance_store.models import Attestation, AttestationCampaign, Person
from handlers.reply import Action, Command, Form, FormField, Reply, row_id
from handlers.routes import Route, RouteKind
from handlers.services import Services
from handlers.transfers import actor_of, find_active_person, finish, status, unknown_person
from notifications import ownership
from notifications.ownership_cards import attestation_card, request_card

ANSWERS = {"att.mine": Answer.MINE, "att.not_mine": Answer.NOT_MINE, "att.retired": Answer.RETIRED,
           "att.transfer": Answer.TRANSFER}


def _card(person: Person, campaign: AttestationCampaign, *, text: str, state: str, session: Session,
          services: Services) -> Reply:
    card = attestation_card(person, campaign, session=session, policy=services.ownership)
    return Reply(text=f"{text}\n{card.text}", sections=card.sections, buttons=card.buttons, ephemeral=False,
                 data={**card.data, "status": state})


def _transfer_form(att: Attestation, *, error: str = "", value: str = "") -> Reply:
    return Reply(text=f"Who should own {att.system.name}?", form=Form(
        title=f"Transfer {att.system.name}"[:60], submit_action_id="att.transfer", value=str(att.id),
        submit_label="Ask them",
        fields=(FormField("to", "New owner", "text", True, initial=value, hint="their name or e-mail", error=error),
                FormField("reason", "Why (optional)", "textarea"))), data=status("form"))


def on_answer(action: Action, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = actor_of(action, session=session)
    att_id = row_id(action.value)
    att = session.get(Attestation, att_id) if att_id is not None else None
    if att is None:
        return Reply(text="That attestation does not exist.", data=status("refused"))
    choice = ANSWERS[action.action_id]
    to = None
    if choice is Answer.TRANSFER:
        wanted = action.inputs.get("to", "").strip()
        if not wanted:
            if attestation.may_answer(att, actor, session=session):
                return _transfer_form(att)
            # Anyone else is refused (and audited) below, like any other answer.
        else:
            to, suggestions = find_active_person(session, wanted)
            if to is None:
                return _transfer_form(att, error=unknown_person(wanted, suggestions), value=wanted)
    try:
        outcome = attestation.answer(att.id, choice, actor=actor, session=session, now=now,
                                     platform=action.actor.platform, policy=services.ownership,
                                     to=to if to is not None else (actor if choice is Answer.TRANSFER else None))
    except (attestation.NotAllowed, transfers.NotAllowed) as exc:
        return Reply(text=str(exc), data=status("refused"))
    except (attestation.AttestationError, transfers.OwnershipError) as exc:
        return Reply(text=str(exc), data=status("invalid"))
    if outcome.transfer is not None:
        finish(outcome.transfer, session=session, now=now, services=services)
    campaign = outcome.attestation.campaign
    ownership.attestation_answered(campaign, actor, session=session)
    return _card(actor, campaign, text=outcome.message, state=f"attested_{choice.value}", session=session,
                 services=services)


def on_all_mine(action: Action, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = actor_of(action, session=session)
    campaign_id = row_id(action.value)
    campaign = session.get(AttestationCampaign, campaign_id) if campaign_id is not None else None
    if campaign is None:
        return Reply(text="That campaign does not exist.", data=status("refused"))
    pending = attestation.pending_for(actor, session=session, campaign_id=campaign.id)
    if not pending:
        return _card(actor, campaign, text="Nothing of yours is left to answer in this campaign.", state="invalid",
                     session=session, services=services)
    for att in pending:
        attestation.answer(att.id, Answer.MINE, actor=actor, session=session, now=now, platform=action.actor.platform,
                           policy=services.ownership)
    ownership.attestation_answered(campaign, actor, session=session)
    return _card(actor, campaign, text=f"Thanks: you confirmed {len(pending)} system(s).", state="attested_mine",
                 session=session, services=services)


def attest_command(command: Command, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    """What waits on the person: their attestation cards and ownership requests to accept or approve."""
    actor = actor_of(command, session=session)
    campaigns = {a.campaign_id: a.campaign for a in attestation.pending_for(actor, session=session)}
    waiting = transfers.waiting_on(actor, session=session)
    if not campaigns and not waiting:
        return Reply(text="Nothing waits on you: no systems to confirm, no ownership to accept or approve.",
                     data=status("answered", pending=0))
    cards = [attestation_card(actor, c, session=session, policy=services.ownership) for c in campaigns.values()]
    cards += [request_card(r, viewer="new_owner" if r.to_id == actor.id and r.state == "awaiting_acceptance"
                           else "approver", session=session) for r in waiting]
    count = sum(len(c.data.get("pending", [])) for c in cards[:len(campaigns)])
    return Reply(
        text=f"{count} system(s) to confirm, {len(waiting)} ownership request(s) to answer.",
        sections=tuple(s for c in cards for s in c.sections), buttons=tuple(b for c in cards for b in c.buttons),
        data=status("answered", pending=count, requests=len(waiting)))


def _subject(request: Command | Action, session: Session) -> tuple[str, str]:
    value = request.value if isinstance(request, Action) else ""
    if isinstance(request, Action) and request.action_id == "att.all_mine":
        return "campaign", value[:20]
    ident = row_id(value)
    att = session.get(Attestation, ident) if ident is not None else None
    return "system", att.system.name if att is not None else f"attestation {value[:20]}"


ROUTES = (
    Route(RouteKind.COMMAND, "attest", attest_command),
    *(Route(RouteKind.ACTION, action_id, on_answer, changes_state=True, audit_as="attestation.answer",
            what="answer attestations", subject=_subject) for action_id in ANSWERS),
    Route(RouteKind.ACTION, "att.all_mine", on_all_mine, changes_state=True, audit_as="attestation.answer",
          what="answer attestations", subject=_subject),
)
