"""Slack's side of the notification outbox (``notifications.outbox.Sender``).

The dispatcher runs in the scheduler's thread and calls ``send``/``update``
synchronously, so this uses slack_sdk's synchronous ``WebClient``.  Rate limits
are not slept through here: a 429 becomes ``DeliveryError(retry_after=...)`` and
the outbox reschedules the row, so one busy channel cannot stall the rest.

People are reached in their DM with govbot (their Slack user id from the chat
identities, or found once by e-mail with ``users.lookupByEmail`` and then
remembered); channels by the name or id the escalation chain names.

Every outbox message carries its outbox key as Slack message metadata
(``event_type`` ``govbot_outbox``).  When a send was interrupted (the process
died after Slack accepted the message but before the outbox recorded it, or
the call timed out), ``find_sent`` reads the conversation's history from the
moment the attempt began (``oldest``, less a margin for clock skew) with
``include_all_metadata``, page by page (``cursor``), and finds the message by
that key, so the outbox records it instead of posting it twice.  The look-up
is bounded by time, not by a count of recent messages: in a busy channel it
reads more pages, it never misses the message.  This needs the
``channels:history`` / ``groups:history`` / ``im:history`` scopes; without
them the look-up fails and the outbox falls back to sending again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.slack.render import render_reply
from governance_store import identity
from governance_store.models import ChatIdentity
from handlers.reply import reply_from_dict
from notifications.outbox import DeliveryError, Recipient

log = logging.getLogger(__name__)

PLATFORM = "slack"
# Errors that retrying cannot fix.
PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "user_not_found", "account_inactive",
    "user_disabled", "invalid_blocks", "msg_too_long", "cant_update_message", "message_not_found",
    "invalid_auth", "not_authed", "token_revoked", "missing_scope",
})
METADATA_EVENT = "govbot_outbox"
# Messages per page when an interrupted send is looked for, and how far before the attempt the look-up starts
# (the clocks of this host and Slack may disagree a little).
HISTORY_PAGE = 200
HISTORY_MARGIN = dt.timedelta(minutes=5)
# Pages read at most (a safety stop: the window from the attempt until now is what bounds the look-up).
HISTORY_MAX_PAGES = 100
# Without the moment of the attempt (messages queued by an older release), this many pages, newest first.
HISTORY_PAGES_WITHOUT_START = 5
DEFAULT_TIMEOUT = 30.0
# How long a failed e-mail look-up is remembered, so an unknown address is not asked for every message.
MISS_TTL_SECONDS = 3600.0
# How long a person's Slack user id is remembered between ``can_reach`` and ``send`` (and the next messages).
HIT_TTL_SECONDS = 30.0


class SlackOutboxSender:
    platform = PLATFORM

    def __init__(self, factory: sessionmaker[Session], client: WebClient) -> None:
        self.factory = factory
        self.client = client
        # The outbox sends a claimed message only while this much of its lease is left.
        self.timeout = float(client.timeout)
        self._misses: dict[str, float] = {}
        self._hits: dict[tuple[int, str | None], tuple[str, float]] = {}

    @classmethod
    def from_settings(cls, factory: sessionmaker[Session], *, token: str, base_url: str,
                      timeout: float = DEFAULT_TIMEOUT) -> SlackOutboxSender:
        # No retry handlers: the outbox owns retries and Retry-After.
        return cls(factory, WebClient(token=token, base_url=base_url, retry_handlers=[],
                                      timeout=timeout))  # type: ignore[arg-type]

    # -- who can be reached

    def _slack_user(self, recipient: Recipient) -> str | None:
        if recipient.person_id is None:
            return None
        cache_key = (recipient.person_id, recipient.email)
        hit = self._hits.get(cache_key)
        if hit is not None and time.monotonic() - hit[1] < HIT_TTL_SECONDS:
            return hit[0]
        with self.factory() as session:
            user = session.scalars(
                select(ChatIdentity.external_id).where(
                    ChatIdentity.platform == PLATFORM,
                    ChatIdentity.person_id == recipient.person_id,
                    ChatIdentity.deleted.is_(False),
                )
            ).first()
        if not user and recipient.email:
            user = self._by_email(recipient)
        if user:
            self._hits[cache_key] = (user, time.monotonic())
        return user

    def _by_email(self, recipient: Recipient) -> str | None:
        email = (recipient.email or "").lower()
        missed = self._misses.get(email)
        if missed is not None and time.monotonic() - missed < MISS_TTL_SECONDS:
            return None
        try:
            user = (self.client.users_lookupByEmail(email=email).get("user") or {}).get("id")
        except SlackApiError as exc:
            if exc.response.get("error") != "users_not_found":
                log.warning("users.lookupByEmail failed: %s", exc.response.get("error"))
            self._misses[email] = time.monotonic()
            return None
        if user:
            with self.factory() as session, session.begin():
                person = identity.person_by_email(session, email)
                if person is not None and person.id == recipient.person_id:
                    identity.link_chat_identity(session, platform=PLATFORM, external_id=user, person=person,
                                                email=email)
        return user

    def can_reach(self, recipient: Recipient) -> bool:
        if recipient.channel:
            return True
        return self._slack_user(recipient) is not None

    def has_account(self, recipient: Recipient) -> bool:
        return recipient.person_id is not None and self._slack_user(recipient) is not None

    def why_not(self, recipient: Recipient) -> str:
        return f"Slack has no account with their e-mail ({recipient.email})" if recipient.email \
            else "Slack has no account for them"

    # -- delivery

    def send(self, recipient: Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        return self.send_keyed(recipient, payload, key=None)

    def send_keyed(self, recipient: Recipient, payload: dict[str, Any], *, key: str | None) -> dict[str, Any]:
        channel = recipient.channel or self._slack_user(recipient)
        if not channel:
            raise DeliveryError("no Slack account for this person", permanent=True)
        ref: dict[str, Any] = {}
        for part, message in enumerate(render_reply(reply_from_dict(payload))):
            extra: dict[str, Any] = {}
            if key is not None:
                extra["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"key": key, "part": part}}
            resp = self._call(self.client.chat_postMessage, channel=channel, **message.as_kwargs(), **extra)
            if not ref:
                ref = {"channel": resp.get("channel") or channel, "ts": resp.get("ts")}
        return ref

    def find_sent(self, recipient: Recipient, *, key: str, since: dt.datetime | None = None) -> dict[str, Any] | None:
        """The reference of the message tagged ``key`` in the recipient's conversation, if Slack has it.

        Reads the history from ``since`` (the start of the interrupted attempt) less :data:`HISTORY_MARGIN`
        until now, every page.  A message split into several parts counts as delivered when its first part
        arrived (the reference points at that part).
        """
        target = recipient.channel or self._slack_user(recipient)
        if not target:
            return None
        channel = target
        if not recipient.channel:
            opened = self._call(self.client.conversations_open, users=target)
            channel = (opened.get("channel") or {}).get("id") or target
        window: dict[str, Any] = {}
        if since is not None:
            window = {"oldest": f"{(since - HISTORY_MARGIN).timestamp():.6f}", "inclusive": True}
        pages = HISTORY_MAX_PAGES if since is not None else HISTORY_PAGES_WITHOUT_START
        cursor: str | None = None
        for _page in range(pages):
            resp = self._call(self.client.conversations_history, channel=channel, include_all_metadata=True,
                              limit=HISTORY_PAGE, **window, **({"cursor": cursor} if cursor else {}))
            for message in resp.get("messages") or []:
                meta = message.get("metadata") or {}
                data = meta.get("event_payload") or {}
                if meta.get("event_type") == METADATA_EVENT and data.get("key") == key and not data.get("part"):
                    return {"channel": resp.get("channel") or channel, "ts": message.get("ts")}
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not resp.get("has_more") or not cursor:
                return None
        if since is None:
            return None
        raise DeliveryError(f"more than {HISTORY_MAX_PAGES * HISTORY_PAGE} messages since the attempt; cannot tell")

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        first = render_reply(reply_from_dict(payload))[0]
        self._call(self.client.chat_update, channel=ref["channel"], ts=ref["ts"], **first.as_kwargs())
        return ref

    @staticmethod
    def _call(method: Any, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc)
            if exc.response.status_code == 429:
                raw = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after") or "1"
                value = raw[0] if isinstance(raw, list) else raw
                raise DeliveryError(f"rate limited: {error}", retry_after=float(value)) from exc
            # A server error may have come after Slack took the message: the next attempt looks it up first.
            raise DeliveryError(error, permanent=error in PERMANENT,
                                ambiguous=exc.response.status_code >= 500) from exc
