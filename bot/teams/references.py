"""Teams conversation references in the store (synchronous; runs off the event loop).

:func:`save_reference` keeps the ``ConversationReference`` row of a conversation, so the outbox can
reach the person (1:1) or the channel later without them writing first.  Which person a Teams account
is, is the turn pipeline's business (:func:`governance_store.identity.resolve_chat_user`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.teams.texts import PLATFORM
from bot.teams.translate import TEAM_KEY
from governance_store.models import ConversationReference, Person
from notifications import outbox


@dataclass(frozen=True)
class Where:
    """One conversation as seen on a turn."""

    conversation_id: str
    kind: str  # personal, groupChat, channel
    service_url: str
    tenant_id: str | None
    channel_name: str | None
    reference: dict[str, Any]


def save_reference(session: Session, where: Where, *, person: Person | None, now: dt.datetime) -> ConversationReference:
    """Insert or refresh the row of ``where`` (unique per platform and conversation id).

    A new conversation makes someone reachable (govbot was installed for them, or added to a channel):
    the messages waiting for that person or channel are due now."""
    row, new = _save(session, where, person=person, now=now)
    if new:
        if row.person_id is not None and where.kind == "personal":
            outbox.wake(session, person_id=row.person_id, now=now)
        if where.channel_name:
            outbox.wake(session, channel=where.channel_name, now=now)
    return row


def _keep_team(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """``new``, keeping the team's group id an earlier activity carried (not every channel activity has it)."""
    known = (old or {}).get(TEAM_KEY) or {}
    if not known:
        return new
    merged = dict(new)
    merged[TEAM_KEY] = {**known, **(new.get(TEAM_KEY) or {})}
    return merged


def remember_team_group(session: Session, conversation_id: str, group_id: str) -> None:
    """Store the Microsoft 365 group id of the team a channel conversation is in, once it was looked up."""
    row = session.scalars(select(ConversationReference).where(
        ConversationReference.platform == PLATFORM,
        ConversationReference.conversation_id == conversation_id)).one_or_none()
    if row is None:
        return
    reference = dict(row.reference or {})
    reference[TEAM_KEY] = {**(reference.get(TEAM_KEY) or {}), "aadGroupId": group_id}
    row.reference = reference


def _save(session: Session, where: Where, *, person: Person | None,
          now: dt.datetime) -> tuple[ConversationReference, bool]:
    """The row, and whether it is new to govbot (a new conversation, or a person joined to it)."""
    for _attempt in range(2):
        row = session.scalars(select(ConversationReference).where(
            ConversationReference.platform == PLATFORM,
            ConversationReference.conversation_id == where.conversation_id)).one_or_none()
        fresh = row is None
        if row is None:
            row = ConversationReference(platform=PLATFORM, conversation_id=where.conversation_id)
        before = row.person_id
        row.conversation_type = where.kind
        row.service_url = where.service_url
        row.reference = _keep_team(where.reference, None if fresh else row.reference)
        row.updated_at = now
        if where.tenant_id:
            row.tenant_id = where.tenant_id
        if where.channel_name:
            row.channel_name = where.channel_name
        if person is not None:
            row.person_id = person.id
        if not fresh:
            session.flush()
            return row, person is not None and before != person.id
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return row, True
        except IntegrityError:
            continue
    raise RuntimeError(f"could not store the conversation reference {where.conversation_id}")


def forget_reference(session: Session, conversation_id: str) -> None:
    row = session.scalars(select(ConversationReference).where(
        ConversationReference.platform == PLATFORM, ConversationReference.conversation_id == conversation_id)).one_or_none()
    if row is not None:
        session.delete(row)


def references_for(session: Session, *, person_id: int | None, channel: str | None) -> list[ConversationReference]:
    """Where to reach a person (1:1 conversations first, newest first) or a channel (by name or id)."""
    query = select(ConversationReference).where(ConversationReference.platform == PLATFORM)
    if person_id is not None:
        query = query.where(ConversationReference.person_id == person_id)
    elif channel:
        query = query.where((ConversationReference.channel_name == channel)
                            | (ConversationReference.conversation_id == channel))
    else:
        return []
    personal_first = case((ConversationReference.conversation_type == "personal", 0), else_=1)
    return list(session.scalars(query.order_by(personal_first, ConversationReference.updated_at.desc(),
                                               ConversationReference.id.desc())).all())
