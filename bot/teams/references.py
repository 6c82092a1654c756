"""Teams people and conversation references in the store (synchronous; runs off the event loop).

* :func:`find_person`: a Teams account to a person, by Entra object id (``Person.aad_object_id``),
  then a previously linked chat account, then the e-mail/UPN Teams reports for the member.
* :func:`save_reference`: the ``ConversationReference`` row of a conversation, so the outbox can
  reach the person (1:1) or the channel later without them writing first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.teams.texts import PLATFORM
from governance_store.identity import link_chat_identity, person_by_email, person_for_chat
from governance_store.models import ConversationReference, Person

# ``ChatIdentity.display_name`` keeps 200 characters; Entra display names may have 256, and PostgreSQL
# refuses a longer value rather than cut it.
DISPLAY_NAME_MAX = 200


@dataclass(frozen=True)
class TeamsUser:
    user_id: str
    aad_object_id: str | None = None
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Where:
    """One conversation as seen on a turn."""

    conversation_id: str
    kind: str  # personal, groupChat, channel
    service_url: str
    tenant_id: str | None
    channel_name: str | None
    reference: dict[str, Any]


def find_person(session: Session, user: TeamsUser) -> Person | None:
    person: Person | None = None
    if user.aad_object_id:
        person = session.scalars(
            select(Person).where(func.lower(Person.aad_object_id) == user.aad_object_id.strip().lower())
        ).first()
    linked = person_for_chat(session, platform=PLATFORM, external_id=user.user_id) if user.user_id else None
    person = person or linked
    if person is None and user.email:
        person = person_by_email(session, user.email)
    if person is not None and linked is None and user.user_id:
        link_chat_identity(session, platform=PLATFORM, external_id=user.user_id, person=person,
                           email=user.email, display_name=user.name[:DISPLAY_NAME_MAX] if user.name else None)
    return person


def save_reference(session: Session, where: Where, *, person: Person | None, now: dt.datetime) -> ConversationReference:
    """Insert or refresh the row of ``where`` (unique per platform and conversation id)."""
    for _attempt in range(2):
        row = session.scalars(select(ConversationReference).where(
            ConversationReference.platform == PLATFORM,
            ConversationReference.conversation_id == where.conversation_id)).one_or_none()
        fresh = row is None
        if row is None:
            row = ConversationReference(platform=PLATFORM, conversation_id=where.conversation_id)
        row.conversation_type = where.kind
        row.service_url = where.service_url
        row.reference = where.reference
        row.updated_at = now
        if where.tenant_id:
            row.tenant_id = where.tenant_id
        if where.channel_name:
            row.channel_name = where.channel_name
        if person is not None:
            row.person_id = person.id
        if not fresh:
            session.flush()
            return row
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return row
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
