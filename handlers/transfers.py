"""Changes of owner in chat: ``transfer SYSTEM to PERSON``, ``claim SYSTEM``, and the Accept / Decline /
Approve / Reject / Withdraw buttons of the cards they send.  The rules live in
:mod:`governance_store.transfers`; this module parses, answers and sends the cards."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from rapidfuzz import fuzz, process, utils
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from governance_store import gaps, transfers
from governance_store.models import OwnershipRequest, OwnershipRequestKind, Person, System
from handlers.catalog import candidates_json, choices_for
from handlers.reply import Action, Choice, Command, Reply, echo, row_id
from handlers.routes import Route, RouteKind
from handlers.services import Services
from notifications import ownership
from notifications.ownership_cards import request_card

TRANSFER_USAGE = "transfer SYSTEM to PERSON [because REASON]"
CLAIM_USAGE = "claim SYSTEM"
_TRANSFER = re.compile(r"^transfer\s+(?P<system>.+?)\s+to\s+(?P<who>.+?)(?:\s+because\s+(?P<why>.+))?$", re.I | re.S)


def status(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "candidates": [], "warnings": [], **extra}


def actor_of(request: Command | Action, *, session: Session) -> Person:
    """The acting person: the router lets only active people in the directory reach these use cases."""
    person = session.get(Person, request.actor.person_id) if request.actor.person_id is not None else None
    if person is None:
        raise LookupError("an ownership use case was reached without a person")
    return person


def find_active_person(session: Session, text: str) -> tuple[Person | None, list[str]]:
    """An active person by e-mail, UPN or exact name; otherwise up to three close names to suggest."""
    t = text.strip().strip("“”\"'").casefold()
    if not t:
        return None, []
    found = session.scalars(select(Person).where(
        Person.active.is_(True),
        or_(func.lower(Person.email) == t, func.lower(Person.display_name) == t, func.lower(Person.upn) == t))).all()
    if len(found) == 1:
        return found[0], []
    names = dict(session.execute(select(Person.id, Person.display_name).where(Person.active.is_(True))).tuples().all())
    ranked = process.extract(t, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=3)
    return None, [name for name, score, _ in ranked if score >= 70]


def unknown_person(text: str, suggestions: list[str]) -> str:
    hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
    return f"I don't know an active person called “{echo(text)}” (use their name or e-mail).{hint}"


def resolve_system(text: str, template: str, *, session: Session,
                   services: Services) -> tuple[System | None, Reply | None]:
    """One system for what was typed, or the answer to give instead: choices that ask ``template`` again
    (``{ref}`` is the chosen system), or "did you mean"."""
    resolved = services.catalog.resolve(text, session=session)
    if resolved.system is not None:
        return resolved.system, None
    res = resolved.resolution
    if res.status == "ambiguous":
        choices = tuple(Choice(label=c.label, detail=c.detail, value=template.format(ref=c.value.split(" ", 1)[1]),
                               score=c.score) for c in choices_for(res, "x"))
        return None, Reply(text=f"Several systems match “{echo(text)}”. Which one?", choices=choices,
                           data=status("ambiguous", candidates=candidates_json(res)))
    names = ", ".join(m.name for m in res.matches[:5])
    return None, Reply(text=f"No system called “{echo(text)}”." + (f" Did you mean: {names}?" if names else ""),
                       data=status("not_found", candidates=candidates_json(res)))


def reply_for(step: transfers.Step, *, viewer: str, session: Session, state: str) -> Reply:
    card = request_card(step.request, viewer=viewer, session=session)
    return Reply(text=step.message, sections=card.sections, buttons=card.buttons, ephemeral=True,
                 data={**card.data, "status": state})


def finish(step: transfers.Step, *, session: Session, now: dt.datetime, services: Services) -> None:
    """Cards for whoever the request waits on now; a completed takeover or claim closes its gap."""
    ownership.announce_request(step, session=session, now=now, policy=services.ownership)
    gap = gaps.close_ownership_gap(step, session=session, now=now)
    if gap is not None:
        ownership.gap_closed(gap, session=session)


# --------------------------------------------------------------------------- commands


def transfer_command(command: Command, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = actor_of(command, session=session)
    m = _TRANSFER.match(command.text.strip())
    if m is None:
        return Reply(text=f"Usage: {TRANSFER_USAGE}", data=status("usage"))
    who = m["who"].replace("{", "").replace("}", "")
    system, answer = resolve_system(m["system"], "transfer {ref} to " + who, session=session, services=services)
    if system is None:
        assert answer is not None
        return answer
    to, suggestions = find_active_person(session, m["who"])
    if to is None:
        return Reply(text=unknown_person(m["who"], suggestions), data=status("invalid"))
    try:
        step = transfers.request(system, kind=OwnershipRequestKind.TRANSFER, to=to, actor=actor, session=session,
                                 now=now, platform=command.actor.platform, policy=services.ownership,
                                 reason=(m["why"] or "").strip() or None)
    except transfers.NotAllowed as exc:
        return Reply(text=str(exc), data=status("refused"))
    except transfers.OwnershipError as exc:
        return Reply(text=str(exc), data=status("invalid"))
    finish(step, session=session, now=now, services=services)
    return reply_for(step, viewer="requester", session=session,
                     state="transferred" if step.completed else "transfer_requested")


def claim_command(command: Command, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = actor_of(command, session=session)
    text = command.text.strip()[len("claim"):].strip()
    if not text:
        return Reply(text=f"Usage: {CLAIM_USAGE}", data=status("usage"))
    system, answer = resolve_system(text, "claim {ref}", session=session, services=services)
    if system is None:
        assert answer is not None
        return answer
    try:
        step = transfers.request(system, kind=OwnershipRequestKind.CLAIM, to=actor, actor=actor, session=session,
                                 now=now, platform=command.actor.platform, policy=services.ownership)
    except transfers.NotAllowed as exc:
        return Reply(text=str(exc), data=status("refused"))
    except transfers.OwnershipError as exc:
        return Reply(text=str(exc), data=status("invalid"))
    finish(step, session=session, now=now, services=services)
    return reply_for(step, viewer="requester", session=session, state="claimed" if step.completed else "claim_requested")


# --------------------------------------------------------------------------- buttons


def _request_of(action: Action, *, session: Session) -> OwnershipRequest | None:
    rid = row_id(action.value)
    return session.get(OwnershipRequest, rid) if rid is not None else None


def on_action(action: Action, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = actor_of(action, session=session)
    req = _request_of(action, session=session)
    if req is None:
        return Reply(text="That ownership request does not exist.", data=status("refused"))
    step_name = action.action_id.removeprefix("own.")
    platform = action.actor.platform
    reason = action.inputs.get("reason", "").strip() or None
    try:
        if step_name == "accept":
            step = transfers.accept(req.id, actor=actor, session=session, now=now, platform=platform)
            viewer = "new_owner"
        elif step_name == "decline":
            step = transfers.decline(req.id, actor=actor, reason=reason, session=session, now=now, platform=platform)
            viewer = "new_owner"
        elif step_name in ("approve", "reject"):
            step = transfers.approve(req.id, actor=actor, session=session, now=now, platform=platform,
                                     reject=step_name == "reject", reason=reason)
            viewer = "approver"
        elif step_name == "cancel":
            step = transfers.cancel(req.id, actor=actor, session=session, now=now, platform=platform)
            viewer = "requester"
        else:
            return Reply(text="That button is no longer supported.", data=status("refused"))
    except transfers.NotAllowed as exc:
        return Reply(text=str(exc), data=status("refused"))
    except transfers.OwnershipError as exc:
        return Reply(text=str(exc), data=status("invalid"))
    finish(step, session=session, now=now, services=services)
    card = request_card(step.request, viewer=viewer, session=session)
    return Reply(text=step.message, sections=card.sections, buttons=card.buttons, ephemeral=False,
                 data={**card.data, "status": step.request.state})


# --------------------------------------------------------------------------- routes


def _system_subject(request: Command | Action, session: Session) -> tuple[str, str]:
    if isinstance(request, Action):
        rid = row_id(request.value)
        req = session.get(OwnershipRequest, rid) if rid is not None else None
        return "system", req.system.name if req is not None else f"request {request.value[:20]}"
    text = request.text.strip()
    m = _TRANSFER.match(text)
    name = m["system"] if m is not None else text.partition(" ")[2]
    name = name.strip()
    system = session.scalar(select(System).where(System.name == name)) if name else None
    return "system", (system.name if system is not None else name or "?")


_STEPS = {
    "accept": "accept ownership of systems",
    "decline": "decline ownership of systems",
    "approve": "approve changes of owner",
    "reject": "reject changes of owner",
    "cancel": "withdraw changes of owner",
}

ROUTES = (
    Route(RouteKind.COMMAND, "transfer", transfer_command, changes_state=True, audit_as="ownership.transfer",
          what="hand systems over", subject=_system_subject),
    Route(RouteKind.COMMAND, "claim", claim_command, changes_state=True, audit_as="ownership.claim",
          what="claim systems", subject=_system_subject),
    *(Route(RouteKind.ACTION, f"own.{step}", on_action, changes_state=True, audit_as=f"ownership.{step}", what=what,
            subject=_system_subject) for step, what in _STEPS.items()),
)
