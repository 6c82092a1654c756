"""Where a message goes: which of the configured platforms reaches its recipient, now.

A person is reached where they are, whatever platform the message is about:

1. in the order they chose themselves (``notify me on teams then email``: ``Person.notify_via``);
2. else first on the chat platform they last used govbot on (``Person.seen_on``), then in the
   organisation's order (``GOVBOT_NOTIFY_ORDER``, default ``slack,teams,email``).

The first platform in that order that can reach them now gets the message.  E-mail is different from the
chat platforms unless the person chose it: it reaches people who have no chat account at all (a vendor's
engineer) at once, and people who have one only after the message has waited ``fallback_after`` for
them (the Teams app could not be installed, their Slack account is deactivated …).  When nothing reaches
the person yet, the message waits (:class:`Choice` says why and what happens next); it is never dropped.

A channel (an escalation level's on-call channel) goes to the first platform, in the organisation's
order, that knows a channel of that name.

Senders describe themselves with ``platform`` and ``can_reach``, and optionally ``has_account(recipient)``
(the person has an account there even if it cannot be reached right now), ``why_not(recipient)`` (a
sentence for the requester's card) and ``fallback = True`` (e-mail).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm import Session

from governance_store.models import OutboxMessage, OutboxStatus, Person

if TYPE_CHECKING:
    from notifications.outbox import Recipient, Sender

DEFAULT_ORDER = ("slack", "teams", "email")
# The platforms people talk to govbot on, where a first message makes them reachable.
CHAT_PLATFORMS = ("slack", "teams")


@dataclass(frozen=True)
class Choice:
    """The sender that delivers now, or (``sender is None``) why nobody can and what happens next."""

    sender: Sender | None
    reason: str = ""
    fallback: str | None = None  # the platform that takes over when the wait is over (e-mail)
    fallback_at: dt.datetime | None = None


def parse_order(text: str | None) -> tuple[str, ...]:
    """``"teams, email"`` → ``("teams", "email")`` (lower case, duplicates and blanks dropped)."""
    names = [part.strip().lower() for part in (text or "").replace(";", ",").replace(" then ", ",").split(",")]
    return tuple(dict.fromkeys(n for n in names if n))


def order_for(recipient: Recipient, default: Sequence[str] = DEFAULT_ORDER) -> tuple[str, ...]:
    """The platforms to try for ``recipient``, in order."""
    own = parse_order(recipient.notify_via)
    seen = (recipient.seen_on,) if recipient.seen_on else ()
    return tuple(dict.fromkeys((*own, *seen, *default)))


def _ranked(senders: Sequence[Sender], order: Sequence[str]) -> list[Sender]:
    rank = {name: i for i, name in enumerate(order)}
    return sorted(senders, key=lambda s: rank.get(s.platform, len(rank)))


def _is_fallback(sender: Sender) -> bool:
    return bool(getattr(sender, "fallback", False))


def _has_account(sender: Sender, recipient: Recipient) -> bool:
    check = getattr(sender, "has_account", None)
    return bool(check(recipient)) if check is not None else False


def _why_not(sender: Sender, recipient: Recipient) -> str:
    explain = getattr(sender, "why_not", None)
    text = explain(recipient) if explain is not None else None
    return text or f"{sender.platform.capitalize()} cannot reach them"


def choose(senders: Sequence[Sender], recipient: Recipient, *, queued_at: dt.datetime, now: dt.datetime,
           default: Sequence[str] = DEFAULT_ORDER,
           fallback_after: dt.timedelta | None = dt.timedelta(minutes=30)) -> Choice:
    """Who delivers a message queued at ``queued_at`` to ``recipient`` at ``now`` (see the module docs)."""
    if recipient.person_id is None:
        for sender in _ranked([s for s in senders if not _is_fallback(s)], default):
            if sender.can_reach(recipient):
                return Choice(sender)
        return Choice(None, f"no connected platform knows the channel {recipient.channel or '—'}")
    own = parse_order(recipient.notify_via)
    ranked = _ranked(senders, order_for(recipient, default))
    # A platform the person chose is used like any chat platform, e-mail included.
    for sender in ranked:
        if _is_fallback(sender) and sender.platform not in own:
            continue
        if sender.can_reach(recipient):
            return Choice(sender)
    chat = [s for s in ranked if not _is_fallback(s)]
    reasons = "; ".join(_why_not(s, recipient) for s in chat) or "no chat platform is connected"
    for sender in ranked:
        if not _is_fallback(sender) or not sender.can_reach(recipient):
            continue
        if not any(_has_account(s, recipient) for s in chat):
            return Choice(sender)  # nobody has a chat account for them: e-mail is their channel
        if fallback_after is not None and now - queued_at >= fallback_after:
            return Choice(sender)
        return Choice(None, reasons, sender.platform,
                      queued_at + fallback_after if fallback_after is not None else None)
    return Choice(None, reasons)


def seen(session: Session, person: Person | None, platform: str, *, now: dt.datetime) -> None:
    """``person`` talked to govbot on ``platform``: remember it (they are reached there first unless they
    chose otherwise), and messages waiting for them are due now.  Writes only when the platform changes."""
    if person is None or platform not in CHAT_PLATFORMS or person.seen_on == platform:
        return
    person.seen_on = platform
    session.execute(update(OutboxMessage).where(
        OutboxMessage.person_id == person.id, OutboxMessage.status == OutboxStatus.WAITING.value,
    ).values(next_attempt_at=now).execution_options(synchronize_session=False))
