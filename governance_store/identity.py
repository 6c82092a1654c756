"""Chat accounts to people: which person in the directory a Slack or Teams user is.

The turn pipeline calls :func:`resolve_chat_user` on every turn: the Entra object id (Teams), then an
account already joined to a person, then the e-mail the platform reports for the account; a match by id
or e-mail is recorded with :func:`link_chat_identity` so the next turn needs no platform call.  Nothing
here knows about a chat platform's API.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from governance_store.models import ChatIdentity, Person

# Statements every turn runs, built once (a statement built anew is compiled-cache-keyed anew each time).
_CHAT_IDENTITY = select(ChatIdentity).options(joinedload(ChatIdentity.person)).where(
    ChatIdentity.platform == bindparam("platform"), ChatIdentity.external_id == bindparam("external_id"))
_PERSON_BY_AAD = select(Person).where(func.lower(Person.aad_object_id) == bindparam("aad"))


def chat_identity(session: Session, *, platform: str, external_id: str) -> ChatIdentity | None:
    """The chat account, with its person loaded in the same query (every turn asks for both)."""
    return session.scalars(_CHAT_IDENTITY, {"platform": platform, "external_id": external_id}).one_or_none()


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


# ``ChatIdentity.display_name`` keeps 200 characters; Entra display names may have 256, and PostgreSQL
# refuses a longer value rather than cut it.
DISPLAY_NAME_MAX = 200


def person_by_aad_object_id(session: Session, aad_object_id: str) -> Person | None:
    wanted = aad_object_id.strip().lower()
    if not wanted:
        return None
    return session.scalars(_PERSON_BY_AAD, {"aad": wanted}).first()


def resolve_chat_user(
    session: Session,
    *,
    platform: str,
    account_id: str | None,
    aad_object_id: str | None = None,
    email: str | None = None,
    display_name: str | None = None,
    handle: str | None = None,
    workspace_id: str | None = None,
    timezone: str | None = None,
    is_bot: bool | None = None,
    locale: str | None = None,
) -> tuple[Person | None, str | None]:
    """The person behind a chat account (or ``None``) and the account's locale: the person by Entra object
    id, then the account's recorded join, then ``email``.  A person found by id or e-mail is joined to the
    account for the next turn; a locale the platform reports is kept for turns where it does not."""
    person = person_by_aad_object_id(session, aad_object_id) if aad_object_id else None
    account = chat_identity(session, platform=platform, external_id=account_id) if account_id else None
    linked = account.person if account is not None else None
    person = person or linked
    if person is None and email:
        person = person_by_email(session, email)
    if person is not None and account_id and (linked is None or linked.id != person.id):
        account = link_chat_identity(session, platform=platform, external_id=account_id, person=person, email=email,
                                     display_name=display_name[:DISPLAY_NAME_MAX] if display_name else None,
                                     handle=handle, workspace_id=workspace_id, timezone=timezone, is_bot=is_bot)
    if account is not None and locale and account.locale != locale[:35]:
        account.locale = locale[:35]
    return person, (locale or (account.locale if account is not None else None))


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
