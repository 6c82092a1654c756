"""The cards of ownership work, as neutral replies: attestation, transfer, approval and gap cards.

The same function renders a card when it is first sent, when its reminder goes out and when a click
refreshes it, so every copy shows the same state.  Times are shown in one labelled time zone per card:
the site of the first system on it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store import attestation, gaps, transfers
from governance_store.models import (
    Attestation,
    AttestationCampaign,
    OwnershipRequest,
    OwnershipRequestState,
    Person,
    Site,
    System,
    TrackedGap,
)
from governance_store.ownership_policy import OwnershipPolicy
from handlers.reply import Button, Field, Reply, Section

CRITICALITY = {1: "1 - most critical", 2: "2 - somewhat critical", 3: "3 - less critical", 4: "4 - not critical"}


def zone_of(site_code: str | None, *, session: Session) -> ZoneInfo:
    name = session.scalar(select(Site.timezone).where(Site.code == site_code)) if site_code else None
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(ts: dt.datetime | None, zone: ZoneInfo) -> str:
    return f"{ts.astimezone(zone):%Y-%m-%d %H:%M %Z}" if ts is not None else "—"


def _system_line(system: System) -> str:
    bits = [system.site_code, system.class_name, f"Purdue {system.purdue_level}" if system.purdue_level else None,
            f"criticality {system.criticality}" if system.criticality else None]
    return " · ".join(b for b in bits if b)


# --------------------------------------------------------------------------- attestation


def attestation_card(person: Person, campaign: AttestationCampaign, *, session: Session,
                     policy: OwnershipPolicy) -> Reply:
    """One owner's card in one campaign: the systems still to answer, each with its four answers."""
    pending = attestation.pending_for(person, session=session, campaign_id=campaign.id)
    answered = session.scalars(select(Attestation).where(
        Attestation.campaign_id == campaign.id, Attestation.owner_id == person.id,
        Attestation.state != "pending")).all()
    if not pending:
        return Reply(
            text=f"{campaign.name}: all {len(answered)} of your systems are answered. Thank you, {person.display_name}.",
            ephemeral=False, data={"status": "attestation_done", "campaign": campaign.id, "answered": len(answered)})
    shown = pending[:policy.card_size]
    zone = zone_of(shown[0].system.site_code, session=session)
    sections = []
    buttons: list[Button] = []
    for att in shown:
        s = att.system
        fields = [Field("Where · what", _system_line(s) or "—")]
        if att.note:
            fields.append(Field("You are asked", att.note))
        sections.append(Section(title=s.name, fields=tuple(fields)))
        ref = str(att.id)
        short = s.name[:40]
        buttons += [Button(f"{short}: still mine", "att.mine", ref, "primary"),
                    Button(f"{short}: transfer to…", "att.transfer", ref),
                    Button(f"{short}: not mine", "att.not_mine", ref),
                    Button(f"{short}: retired", "att.retired", ref, "danger")]
    if len(pending) > 1:
        buttons.insert(0, Button(f"All {len(pending)} still mine", "att.all_mine", str(campaign.id), "primary"))
    more = f" (and {len(pending) - len(shown)} more after these)" if len(pending) > len(shown) else ""
    due = min(a.due_at for a in pending)
    return Reply(
        text=(f"{campaign.name}: please confirm the {len(pending)} system(s) recorded as yours{more}. "
              f"Answer by {local(due, zone)}."),
        sections=tuple(sections), buttons=tuple(buttons), ephemeral=False,
        data={"status": "attestation", "campaign": campaign.id, "pending": [a.system.name for a in pending],
              "answered": len(answered)})


def transfer_form_text(att: Attestation) -> str:
    return f"Who should own {att.system.name}? Their name or e-mail."


# --------------------------------------------------------------------------- transfers


def request_card(req: OwnershipRequest, *, viewer: str, session: Session) -> Reply:
    """``viewer``: ``new_owner`` (accept / decline), ``approver`` (approve / reject) or ``requester``."""
    system = req.system
    zone = zone_of(system.site_code, session=session)
    kind = {"transfer": "Transfer", "claim": "Claim", "takeover": "Takeover"}[req.kind]
    fields = [
        Field("System", f"{system.name} ({_system_line(system) or '—'})"),
        Field("From", req.from_person.label() if req.from_person else "nobody"),
        Field("To", req.to_person.display_name),
        Field("Asked by", f"{req.requested_by.display_name if req.requested_by else '—'} at {local(req.created_at, zone)}"),
    ]
    if req.needs_approval:
        approved = f" · approved {local(req.approved_at, zone)}" if req.approved_at and req.state == "completed" else ""
        fields.append(Field("Approval", f"{req.approver.display_name if req.approver else '—'}{approved}"))
    if req.reason:
        fields.append(Field("Reason", req.reason))
    state = req.state.replace("_", " ")
    fields.append(Field("State", state))
    buttons: tuple[Button, ...] = ()
    ref = str(req.id)
    if viewer == "new_owner" and req.state == OwnershipRequestState.AWAITING_ACCEPTANCE.value:
        buttons = (Button("Accept", "own.accept", ref, "primary"), Button("Decline", "own.decline", ref, "danger"))
        text = f"{req.requested_by.display_name if req.requested_by else 'Someone'} asks you to own {system.name}."
    elif viewer == "approver" and req.state == OwnershipRequestState.AWAITING_APPROVAL.value:
        buttons = (Button("Approve", "own.approve", ref, "primary"), Button("Reject", "own.reject", ref, "danger"))
        text = f"Approve: {system.name} to {req.to_person.display_name} ({kind.lower()})."
    elif req.state == OwnershipRequestState.COMPLETED.value:
        text = f"{req.to_person.display_name} owns {system.name} now."
    elif transfers.is_open(req):
        text = f"{kind} of {system.name} to {req.to_person.display_name}: {state}."
        if viewer == "requester":
            buttons = (Button("Withdraw", "own.cancel", ref),)
    else:
        text = f"{kind} of {system.name} to {req.to_person.display_name}: {state}."
    return Reply(text=text, sections=(Section(title=f"{kind} · {system.name}", fields=tuple(fields)),),
                 buttons=buttons, ephemeral=False,
                 data={"status": "ownership_request", "request": req.id, "state": req.state, "viewer": viewer,
                       "system": system.name})


# --------------------------------------------------------------------------- gaps


def gap_card(gap: TrackedGap, *, session: Session) -> Reply:
    zone = zone_of(gap.site_code, session=session)
    fields = [Field("Gap", f"{gap.title} [{gap.code}]"), Field("Severity", gap.severity)]
    if gap.evidence:
        fields.append(Field("Evidence", "\n".join(gap.evidence)))
    if gap.assignee is not None:
        fields.append(Field("Assigned to", f"{gap.assignee.display_name}" +
                            (f" ({gap.assigned_because})" if gap.assigned_because else "")))
    fields.append(Field("Opened", local(gap.opened_at, zone) + (f" · reopened {gap.reopened}×" if gap.reopened else "")))
    if gap.state == "closed":
        by = f" by {gap.fixed_by.display_name}" if gap.fixed_by else ""
        fields.append(Field("Closed", f"{local(gap.closed_at, zone)}{by}"))
    options = gaps.options(gap, session=session)
    buttons = tuple(Button(o.label, "gap.fix", f"{gap.id}:{o.fix.value}:{o.arg}", "primary" if i == 0 else None)
                    for i, o in enumerate(options))
    text = (f"Governance gap to fix: {gap.title}: {gap.subject}" if gap.state == "open"
            else f"Closed: {gap.title}: {gap.subject}")
    if gap.state == "open" and not options:
        text += " (fix it in the source system; the gap closes when govbot no longer finds it)"
    return Reply(text=text, sections=(Section(title=gap.subject, fields=tuple(fields)),), buttons=buttons,
                 ephemeral=False, data={"status": "gap", "gap": gap.id, "code": gap.code, "state": gap.state})
