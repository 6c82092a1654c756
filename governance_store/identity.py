"""Chat accounts to people: which person in the directory a Slack or Teams user is.

Adapters look an account up with :func:`person_for_chat`.  When the account is
unknown (or known but not joined to a person), the adapter fetches the
account's e-mail from the platform and calls :func:`person_by_email`, then
records the join with :func:`link_chat_identity` so the next turn needs no
platform call.  Nothing here knows about a chat platform's API.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance_store.models import ChatIdentity, Person


def chat_identity(session: Session, *, platform: str, external_id: str) -> ChatIdentity | None:
    return session.scalars(
        select(ChatIdentity).where(ChatIdentity.platform == platform, ChatIdentity.external_id == external_id)
    ).one_or_none()


def person_for_chat(session: Session, *, platform: str, external_id: str) -> Person | None:
    """The person joined to this chat account, or ``None`` when the account is unknown or unjoined."""
    return session.scalars(
        select(Person)
        .join(ChatIdentity, ChatIdentity.person_id == Person.id)
        .where(ChatIdentity.platform == platform, ChatIdentity.external_id == external_id)
    ).one_or_none()


def person_by_email(session: Session, email: str) -> Person | None:
    """The person whose directory e-mail (or UPN) equals ``email``, ignoring case."""
    wanted = email.strip().lower()
    if not wanted:
        return None
    person = session.scalars(select(Person).where(func.lower(Person.email) == wanted)).first()
    if person is None:
        person = session.scalars(select(Person).where(func.lower(Person.upn) == wanted)).first()
    return person


def link_chat_identity(
    session: Session,
    *,
    platform: str,
    external_id: str,
    person: Person | None,
    email: str | None = None,
    display_name: str | None = None,
    handle: str | None = None,
    workspace_id: str | None = None,
    timezone: str | None = None,
    is_bot: bool | None = None,
) -> ChatIdentity:
    """Create or update the chat account and join it to ``person``.

    Safe when two turns of the same new user race: the loser of the insert
    re-reads the winner's row inside a savepoint and updates it instead.
    """
    for _attempt in range(2):
        row = chat_identity(session, platform=platform, external_id=external_id)
        if row is None:
            row = ChatIdentity(platform=platform, external_id=external_id)
            try:
                with session.begin_nested():
                    _apply(row, person, email, display_name, handle, workspace_id, timezone, is_bot)
                    session.add(row)
                    session.flush()
                return row
            except IntegrityError:
                continue
        _apply(row, person, email, display_name, handle, workspace_id, timezone, is_bot)
        session.flush()
        return row
    raise RuntimeError(f"could not record chat identity {platform}:{external_id}")


def _apply(
    row: ChatIdentity,
    person: Person | None,
    email: str | None,
    display_name: str | None,
    handle: str | None,
    workspace_id: str | None,
    timezone: str | None,
    is_bot: bool | None,
) -> None:
    if person is not None:
        row.person_id = person.id
    for name, value in (
        ("email", email),
        ("display_name", display_name),
        ("handle", handle),
        ("workspace_id", workspace_id),
        ("timezone", timezone),
        ("is_bot", is_bot),
    ):
        if value is not None:
            setattr(row, name, value)
