"""The outbox's ``Sender`` port for Teams: proactive Adaptive Cards through stored conversation references.

The outbox dispatcher calls :meth:`TeamsOutboxSender.send` / :meth:`update` synchronously from a worker
thread; the botbuilder calls are coroutines, so the sender owns one event loop running in a thread of its
own and waits (bounded) for each call there.

* a person is reached in their 1:1 conversation with the bot when one is stored; when only a reference
  from another conversation exists (a channel or group chat they wrote in), a 1:1 conversation is created
  (``create_conversation``) and remembered;
* a channel is reached by its stored name or conversation id (a new post in the channel);
* ``update`` replaces the delivered card in place (``update_activity``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.teams import render
from bot.teams.references import Where, references_for, save_reference
from bot.teams.texts import PLATFORM
from handlers.reply import reply_from_dict
from notifications.outbox import DeliveryError, Recipient

if TYPE_CHECKING:
    from botbuilder.integration.aiohttp import CloudAdapter

    from bot.bootstrap import Container

log = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 30.0
T = TypeVar("T")


def _status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) or getattr(response, "status", None)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class TeamsOutboxSender:
    platform = PLATFORM

    def __init__(self, factory: sessionmaker[Session], *, adapter_factory: Any, app_id: str | None,
                 clock: Any = None) -> None:
        self.factory = factory
        self.app_id = app_id
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="teams-sender", daemon=True)
        self._thread.start()
        # The adapter (and its HTTP sessions) belongs to the sender's loop.
        self.adapter: CloudAdapter = self._call(self._build(adapter_factory))

    @staticmethod
    async def _build(adapter_factory: Any) -> CloudAdapter:
        return adapter_factory()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT_SECONDS) -> T:
        if not self._loop.is_running() and self._loop.is_closed():
            coro.close()
            raise DeliveryError("the Teams sender is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise DeliveryError(f"Teams did not answer within {timeout:.0f} s") from None

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()

    # ------------------------------------------------------------------ the port

    def _rows(self, recipient: Recipient) -> list[dict[str, Any]]:
        with self.factory() as session:
            rows = references_for(session, person_id=recipient.person_id, channel=recipient.channel)
            return [{"id": r.id, "kind": r.conversation_type, "reference": dict(r.reference or {}),
                     "tenant_id": r.tenant_id, "person_id": r.person_id} for r in rows]

    def can_reach(self, recipient: Recipient) -> bool:
        return bool(self._rows(recipient))

    def send(self, recipient: Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        rows = self._rows(recipient)
        if not rows:
            raise DeliveryError("no Teams conversation is known for this recipient", permanent=True)
        cards = render.render_reply(reply_from_dict(payload))
        first = rows[0]
        reference = ConversationReference().deserialize(first["reference"])
        if recipient.person_id is not None and first["kind"] != "personal":
            return self._guard(self._open_personal_and_post(reference, first, cards, recipient.person_id))
        return self._guard(self._post(reference, cards))

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        card = render.render_reply(reply_from_dict(payload))[0]
        reference = ConversationReference(
            channel_id="msteams", service_url=ref["service_url"],
            conversation=ConversationAccount(id=ref["conversation_id"]),
        )
        return self._guard(self._replace(reference, ref["activity_id"], card))

    def _guard(self, coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
        try:
            return self._call(coro)
        except DeliveryError:
            raise
        except Exception as exc:
            status = _status_of(exc)
            if status == 429 or (status is not None and status >= 500):
                raise DeliveryError(f"Teams answered {status}", retry_after=_retry_after(exc)) from exc
            if status in (400, 403, 404):
                raise DeliveryError(f"Teams refused the message ({status})", permanent=True) from exc
            raise

    # ------------------------------------------------------------------ botbuilder calls (sender loop)

    async def _post(self, reference: ConversationReference, cards: list[dict[str, Any]]) -> dict[str, Any]:
        sent: dict[str, Any] = {}

        async def callback(context: TurnContext) -> None:
            # A new message, not a reply to the continuation event botbuilder made up for this turn.
            context.activity.id = None
            for card in cards:
                response = await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
                if not sent:
                    sent["activity_id"] = response.id if response else None

        await self.adapter.continue_conversation(reference, callback, self.app_id)
        return {"conversation_id": reference.conversation.id, "activity_id": sent.get("activity_id"),
                "service_url": reference.service_url}

    async def _open_personal_and_post(self, reference: ConversationReference, row: dict[str, Any],
                                      cards: list[dict[str, Any]], person_id: int) -> dict[str, Any]:
        tenant = row.get("tenant_id") or (reference.conversation.tenant_id if reference.conversation else None)
        user = reference.user
        if user is None or not user.id:
            raise DeliveryError("the stored Teams reference names no user", permanent=True)
        params = ConversationParameters(
            is_group=False, bot=reference.bot, members=[ChannelAccount(id=user.id)], tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}} if tenant else None,
        )
        created: dict[str, Any] = {}

        async def callback(context: TurnContext) -> None:
            created["conversation_id"] = context.activity.conversation.id
            context.activity.id = None  # a new message in the new conversation, not a reply
            for card in cards:
                response = await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
                created.setdefault("activity_id", response.id if response else None)

        await self.adapter.create_conversation(self.app_id, callback, params, reference.channel_id or "msteams",
                                               reference.service_url)
        personal = ConversationReference(
            channel_id=reference.channel_id or "msteams", service_url=reference.service_url, bot=reference.bot,
            user=user, conversation=ConversationAccount(id=created["conversation_id"], conversation_type="personal",
                                                        tenant_id=tenant),
        )
        await asyncio.to_thread(self._remember_personal, personal, tenant, person_id)
        return {"conversation_id": created["conversation_id"], "activity_id": created.get("activity_id"),
                "service_url": reference.service_url}

    def _remember_personal(self, reference: ConversationReference, tenant: str | None, person_id: int) -> None:
        where = Where(conversation_id=reference.conversation.id, kind="personal", service_url=reference.service_url,
                      tenant_id=tenant, channel_name=None, reference=reference.serialize())
        with self.factory() as session, session.begin():
            row = save_reference(session, where, person=None, now=self.clock())
            row.person_id = person_id

    async def _replace(self, reference: ConversationReference, activity_id: str, card: dict[str, Any]) -> dict[str, Any]:
        async def callback(context: TurnContext) -> None:
            activity: Activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
            activity.id = activity_id
            await context.update_activity(activity)

        await self.adapter.continue_conversation(reference, callback, self.app_id)
        return {"conversation_id": reference.conversation.id, "activity_id": activity_id,
                "service_url": reference.service_url}


def teams_sender_from_settings(container: Container) -> TeamsOutboxSender | None:
    """The sender when Teams is configured (an app id, or the explicit unauthenticated development mode)."""
    from bot.teams.app import build_adapter, teams_enabled

    settings = container.settings
    if not teams_enabled(settings):
        return None
    return TeamsOutboxSender(container.session_factory, adapter_factory=lambda: build_adapter(settings),
                             app_id=settings.teams_app_id or None, clock=container.clock)


__all__ = ["TeamsOutboxSender", "teams_sender_from_settings"]
