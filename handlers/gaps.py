"""Governance gaps as work in chat: ``gaps`` lists the gaps assigned to the person, each card offers the
fixes that need one click (:func:`governance_store.gaps.options`), and ``gap.fix`` applies one.  Only the
gap's assignee (or their acting holder) may fix it; the rules live in :mod:`governance_store.gaps`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from governance_store import gaps
from governance_store.models import TrackedGap
from handlers.reply import Action, Command, Reply, row_id
from handlers.routes import Route, RouteKind
from handlers.services import Services
from handlers.transfers import actor_of, finish, status
from notifications import ownership
from notifications.ownership_cards import gap_card


def gaps_command(command: Command, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = actor_of(command, session=session)
    mine = gaps.assigned_to(actor, session=session)
    if not mine:
        return Reply(text="No governance gap is assigned to you.", data=status("answered", gaps=[]))
    cards = [gap_card(g, session=session) for g in mine[:10]]
    more = f" (the first 10 of {len(mine)})" if len(mine) > 10 else ""
    return Reply(text=f"{len(mine)} governance gap(s) are yours to fix{more}.",
                 sections=tuple(s for c in cards for s in c.sections), buttons=tuple(b for c in cards for b in c.buttons),
                 data=status("answered", gaps=[g.key for g in mine]))


def _parse(value: str) -> tuple[int | None, gaps.Fix | None, str]:
    gap_text, _, rest = value.partition(":")
    fix_text, _, arg = rest.partition(":")
    try:
        fix = gaps.Fix(fix_text)
    except ValueError:
        fix = None
    return row_id(gap_text), fix, arg


def fix_action(action: Action, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = actor_of(action, session=session)
    gap_id, how, arg = _parse(action.value)
    gap = session.get(TrackedGap, gap_id) if gap_id is not None else None
    if gap is None or how is None:
        return Reply(text="That gap does not exist any more.", data=status("refused"))
    try:
        fixed = gaps.fix(gap.id, how, arg=arg, actor=actor, session=session, now=now, platform=action.actor.platform,
                         policy=services.ownership)
    except gaps.NotAllowed as exc:
        return Reply(text=str(exc), data=status("refused"))
    except gaps.GapError as exc:
        return Reply(text=str(exc), data=status("invalid"))
    if fixed.transfer is not None:
        finish(fixed.transfer, session=session, now=now, services=services)
    if fixed.closed:
        ownership.gap_closed(fixed.gap, session=session)
    card = gap_card(fixed.gap, session=session)
    return Reply(text=fixed.message, sections=card.sections, buttons=card.buttons, ephemeral=False,
                 data={**card.data, "status": "gap_fixed" if fixed.closed else "gap_noted", "fix": how.value})


def _subject(request: Command | Action, session: Session) -> tuple[str, str]:
    gap_id = _parse(request.value)[0] if isinstance(request, Action) else None
    gap = session.get(TrackedGap, gap_id) if gap_id is not None else None
    return "gap", gap.subject[:80] if gap is not None else "?"


ROUTES = (
    Route(RouteKind.COMMAND, "gaps", gaps_command),
    Route(RouteKind.ACTION, "gap.fix", fix_action, changes_state=True, audit_as="gap.fix", what="fix governance gaps",
          subject=_subject),
)
