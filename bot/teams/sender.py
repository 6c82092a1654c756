"""The outbox's ``Sender`` port for Teams: proactive Adaptive Cards through stored conversation references.

The outbox dispatcher calls :meth:`TeamsOutboxSender.send` / :meth:`update` synchronously from a worker
thread; the botbuilder calls are coroutines, so the sender owns one event loop running in a thread of its
own and waits (bounded) for each call there.

Who can be reached, and how:

* a person with a stored 1:1 conversation: a new message in it;
* a person seen only in a channel or group chat: a 1:1 conversation is created (``create_conversation``)
  with their Teams user id and remembered;
* a person who never opened govbot: when proactive installation is configured (the app's catalog id,
  ``GOVBOT_TEAMS_CATALOG_APP_ID``, and the Graph permission an admin granted), govbot installs its app for
  them through Microsoft Graph (``409 Conflict``: it already was), creates the 1:1 conversation through
  the Bot Connector with their Entra object id and the tenant (``POST {serviceUrl}/v3/conversations``),
  keeps the conversation reference and posts the card.  When the installation is refused (no permission,
  no Teams licence, the app blocked by policy), the person is remembered as unreachable for a while and
  the outbox lets the message wait (or e-mail take over) instead of dropping it;
* a channel: by its stored name or conversation id (a new post in the channel);
* ``update`` replaces the delivered card in place (``update_activity``).

Exactly once after a crash: every card carries its outbox key (the ``id`` of its first element).  When a
send was interrupted, :meth:`find_sent` reads the messages changed since the attempt began where the card
went (Microsoft Graph, every page: the 1:1 chat, the group chat, or the team's channel) and returns the
message with that key, so the outbox records it instead of posting it twice.  A throttled or failing
look-up is asked again later; only where Graph is not configured (or refuses the read permission) can
the look-up not tell, and the message is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.teams import render
from bot.teams.graph import Graph, GraphError
from bot.teams.references import Where, forget_reference, references_for, remember_team_group, save_reference
from bot.teams.texts import PLATFORM
from bot.teams.translate import TEAM_KEY, base_conversation_id
from governance_store.models import ConversationReference as ReferenceRow
from handlers.reply import reply_from_dict
from notifications.outbox import DeliveryError, Recipient

if TYPE_CHECKING:
    from botbuilder.integration.aiohttp import CloudAdapter

    from bot.bootstrap import Container

log = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 30.0
# The global Bot Connector address for a tenant govbot has never heard from (Microsoft's documented default).
DEFAULT_SERVICE_URL = "https://smba.trafficmanager.net/teams/"
# How long a person whose installation Teams refused counts as unreachable before govbot tries again.
UNREACHABLE_SECONDS = 600.0
# How much earlier than the interrupted attempt the chat is read (the clocks may disagree a little).
LOOKUP_MARGIN = dt.timedelta(minutes=5)
KEY_PREFIX = "govbot-outbox:"
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


def tag(cards: list[dict[str, Any]], key: str | None) -> list[dict[str, Any]]:
    """The cards with the outbox key as the ``id`` of the first card's first element."""
    if key is None or not cards or not cards[0].get("body"):
        return cards
    first = dict(cards[0])
    body = [dict(first["body"][0]), *first["body"][1:]]
    body[0]["id"] = f"{KEY_PREFIX}{key}"
    first["body"] = body
    return [first, *cards[1:]]


def tagged_with(message: dict[str, Any], key: str) -> bool:
    """Does a Graph chat message carry the card tagged with ``key``?"""
    for attachment in message.get("attachments") or []:
        content = attachment.get("content")
        try:
            card = json.loads(content) if isinstance(content, str) else content
        except ValueError:
            continue
        body = (card or {}).get("body") if isinstance(card, dict) else None
        if body and isinstance(body[0], dict) and body[0].get("id") == f"{KEY_PREFIX}{key}":
            return True
    return False


async def _first_tagged(messages: AsyncIterator[dict[str, Any]], key: str) -> str | None:
    """The id of the first message carrying the card tagged ``key``."""
    async for message in messages:
        if tagged_with(message, key):
            return str(message.get("id"))
    return None


class TeamsOutboxSender:
    platform = PLATFORM
    timeout = CALL_TIMEOUT_SECONDS

    def __init__(self, factory: sessionmaker[Session], *, adapter_factory: Any, app_id: str | None,
                 clock: Any = None, graph: Graph | None = None, tenant_id: str | None = None,
                 service_url: str = DEFAULT_SERVICE_URL, timeout: float = CALL_TIMEOUT_SECONDS) -> None:
        self.factory = factory
        self.app_id = app_id
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.graph = graph
        self.tenant_id = tenant_id
        self.service_url = service_url
        self.timeout = timeout
        # person id -> (why they cannot be reached, until when (monotonic), whether they have no account)
        self._unreachable: dict[int, tuple[str, float, bool]] = {}
        self._chats: dict[str, str] = {}  # Entra object id -> Graph chat id with govbot
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="teams-sender", daemon=True)
        self._thread.start()
        # The adapter (and its HTTP sessions) belongs to the sender's loop.
        self.adapter: CloudAdapter = self._call(self._build(adapter_factory))

    @staticmethod
    async def _build(adapter_factory: Any) -> CloudAdapter:
        return adapter_factory()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if not self._loop.is_running() and self._loop.is_closed():
            coro.close()
            raise DeliveryError("the Teams sender is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        wait = timeout if timeout is not None else self.timeout
        try:
            return future.result(wait)
        except TimeoutError:
            future.cancel()
            # Teams may have the message: the outbox looks it up before it sends again.
            raise DeliveryError(f"Teams did not answer within {wait:.0f} s", ambiguous=True) from None

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self.graph is not None and self._loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.graph.close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()

    # ------------------------------------------------------------------ who can be reached

    def _rows(self, recipient: Recipient) -> list[dict[str, Any]]:
        with self.factory() as session:
            rows = references_for(session, person_id=recipient.person_id, channel=recipient.channel)
            return [{"id": r.id, "kind": r.conversation_type, "reference": dict(r.reference or {}),
                     "tenant_id": r.tenant_id, "person_id": r.person_id, "service_url": r.service_url}
                    for r in rows]

    def _proactive(self, recipient: Recipient) -> bool:
        """Can govbot install its app for this person and start the chat itself?"""
        return (self.graph is not None and recipient.person_id is not None and bool(recipient.aad_object_id)
                and self._blocked(recipient) is None)

    def _blocked(self, recipient: Recipient) -> tuple[str, float, bool] | None:
        if recipient.person_id is None:
            return None
        blocked = self._unreachable.get(recipient.person_id)
        if blocked is not None and time.monotonic() >= blocked[1]:
            del self._unreachable[recipient.person_id]
            return None
        return blocked

    def can_reach(self, recipient: Recipient) -> bool:
        # A stored conversation wins over a refused installation: they opened govbot themselves since.
        return bool(self._rows(recipient)) or self._proactive(recipient)

    def has_account(self, recipient: Recipient) -> bool:
        if recipient.person_id is None:
            return False
        if self._rows(recipient):
            return True
        blocked = self._blocked(recipient)
        return bool(recipient.aad_object_id) and not (blocked is not None and blocked[2])

    def why_not(self, recipient: Recipient) -> str:
        blocked = self._blocked(recipient)
        if blocked is not None:
            return blocked[0]
        if not recipient.aad_object_id:
            return "Teams: they have not opened govbot in Teams and their Microsoft Entra id is unknown"
        if self.graph is None:
            return ("Teams: they have not opened govbot in Teams yet (proactive installation is not configured: "
                    "GOVBOT_TEAMS_CATALOG_APP_ID)")
        return "Teams cannot reach them yet"

    def _unreachable_for(self, recipient: Recipient, why: str, *, no_account: bool = False,
                         seconds: float = UNREACHABLE_SECONDS) -> DeliveryError:
        assert recipient.person_id is not None
        self._unreachable[recipient.person_id] = (why, time.monotonic() + seconds, no_account)
        log.info("Teams cannot reach person %s: %s", recipient.person_id, why)
        return DeliveryError(why, unreachable=True)

    # ------------------------------------------------------------------ the port

    def send(self, recipient: Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        return self.send_keyed(recipient, payload, key=None)

    def send_keyed(self, recipient: Recipient, payload: dict[str, Any], *, key: str | None) -> dict[str, Any]:
        rows = self._rows(recipient)
        cards = tag(render.render_reply(reply_from_dict(payload)), key)
        if not rows:
            if not self._proactive(recipient):
                if recipient.person_id is not None:
                    raise self._unreachable_for(recipient, self.why_not(recipient))
                raise DeliveryError("no Teams conversation is known for this channel", unreachable=True)
            return self._install_and_post(recipient, cards)
        first = rows[0]
        reference = ConversationReference().deserialize(first["reference"])
        if recipient.person_id is not None and first["kind"] != "personal":
            return self._guard(self._open_personal_and_post(reference, first, cards, recipient.person_id),
                               recipient, first)
        return self._guard(self._post(reference, cards), recipient, first)

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        card = render.render_reply(reply_from_dict(payload))[0]
        reference = ConversationReference(
            channel_id="msteams", service_url=ref["service_url"],
            conversation=ConversationAccount(id=ref["conversation_id"]),
        )
        return self._guard(self._replace(reference, ref["activity_id"], card), None, None)

    def find_sent(self, recipient: Recipient, *, key: str, since: dt.datetime | None = None) -> dict[str, Any] | None:
        """The reference of the card tagged ``key`` where it was posted (the person's 1:1 chat with govbot, a
        channel or a group chat), if Teams has it; reads only what changed since the attempt began."""
        if self.graph is None:
            raise DeliveryError("Teams cannot look up earlier messages here (Graph is not configured)")
        start = (since or self.clock() - dt.timedelta(hours=1)) - LOOKUP_MARGIN
        if recipient.person_id is None:
            rows = self._rows(recipient)
            if not rows:
                return None  # no conversation is known for the channel: nothing can have been posted in it
            return self._look_up(self._find_in_conversation(rows[0], key, start), rows[0])
        if not recipient.aad_object_id:
            raise DeliveryError("Teams cannot look up earlier messages here (their Microsoft Entra id is unknown)")
        rows = [r for r in self._rows(recipient) if r["kind"] == "personal"]
        if not rows:
            return None  # no 1:1 chat exists: nothing can have been posted in one
        return self._look_up(self._find(recipient.aad_object_id, key, start), rows[0])

    def _look_up(self, coro: Coroutine[Any, Any, str | None], row: dict[str, Any]) -> dict[str, Any] | None:
        try:
            found = self._call(coro, timeout=self.timeout * 4)
        except GraphError as exc:
            # Throttled or unavailable: Teams may well have it; ask again later rather than post a second copy.
            transient = exc.status == 429 or exc.status >= 500
            raise DeliveryError(f"cannot tell whether Teams has it: {exc}", retry_after=exc.retry_after,
                                ambiguous=transient) from exc
        if found is None:
            return None
        return {"conversation_id": row["reference"]["conversation"]["id"], "activity_id": found,
                "service_url": row["service_url"]}

    async def _find(self, aad_object_id: str, key: str, since: dt.datetime) -> str | None:
        assert self.graph is not None
        chat = self._chats.get(aad_object_id)
        if chat is None:
            chat = await self.graph.personal_chat_id(aad_object_id)
            if chat is None:
                return None
            self._chats[aad_object_id] = chat
        return await _first_tagged(self.graph.messages_since(chat, since), key)

    async def _find_in_conversation(self, row: dict[str, Any], key: str, since: dt.datetime) -> str | None:
        """A channel post (the team's channel messages) or a group-chat post (the chat's messages)."""
        assert self.graph is not None
        conversation_id = str(row["reference"]["conversation"]["id"])
        if row["kind"] == "groupChat":
            return await _first_tagged(self.graph.messages_since(conversation_id, since), key)
        if row["kind"] != "channel":
            raise DeliveryError(f"Teams cannot look up earlier posts in a {row['kind']} conversation")
        group = await self._team_group(row)
        if group is None:
            raise DeliveryError("Teams cannot look up earlier posts in this channel (its team is unknown)")
        return await _first_tagged(
            self.graph.channel_messages_since(group, base_conversation_id(conversation_id), since), key)

    async def _team_group(self, row: dict[str, Any]) -> str | None:
        """The team's Microsoft 365 group id: stored from the activities Teams sent, or asked of the Bot
        Connector (``GET /v3/teams/{team}``) with the team's Teams id, and remembered."""
        team = row["reference"].get(TEAM_KEY) or {}
        if team.get("aadGroupId"):
            return str(team["aadGroupId"])
        if not team.get("id"):
            return None
        found: dict[str, str] = {}

        async def callback(context: TurnContext) -> None:
            details = await TeamsInfo.get_team_details(context, str(team["id"]))
            if details is not None and details.aad_group_id:
                found["group"] = str(details.aad_group_id)

        reference = ConversationReference().deserialize(row["reference"])
        try:
            await self.adapter.continue_conversation(reference, callback, self.app_id)
        except Exception as exc:  # noqa: BLE001 - the Bot Connector's answer decides what follows
            status = _status_of(exc)
            if status is None or status == 429 or status >= 500:
                raise DeliveryError(f"cannot tell yet which team the channel is in ({status or type(exc).__name__})",
                                    retry_after=_retry_after(exc), ambiguous=True) from exc
            log.warning("the Bot Connector would not say which team %s is in (%s)", team["id"], status)
            return None
        group = found.get("group")
        if group:
            await asyncio.to_thread(self._remember_team_group, str(row["reference"]["conversation"]["id"]), group)
        return group

    def _remember_team_group(self, conversation_id: str, group: str) -> None:
        with self.factory() as session, session.begin():
            remember_team_group(session, conversation_id, group)

    def _guard(self, coro: Coroutine[Any, Any, dict[str, Any]], recipient: Recipient | None,
               row: dict[str, Any] | None) -> dict[str, Any]:
        try:
            return self._call(coro)
        except DeliveryError:
            raise
        except Exception as exc:
            status = _status_of(exc)
            if status == 429:
                raise DeliveryError(f"Teams answered {status}", retry_after=_retry_after(exc)) from exc
            if status is not None and status >= 500:
                raise DeliveryError(f"Teams answered {status}", retry_after=_retry_after(exc), ambiguous=True) from exc
            if status in (403, 404) and recipient is not None and recipient.person_id is not None and row is not None:
                # The app was removed or blocked for them: the conversation is gone.  Forget it and choose again
                # (a new installation, another platform, or wait) rather than drop the message.
                self._forget(row["reference"]["conversation"]["id"])
                raise DeliveryError(f"Teams refused the message ({status}): govbot's app may have been removed "
                                    "for them", unreachable=True) from exc
            if status in (400, 403, 404):
                raise DeliveryError(f"Teams refused the message ({status})", permanent=True) from exc
            if status is None:
                raise DeliveryError(f"Teams could not be reached ({type(exc).__name__})", ambiguous=True) from exc
            raise

    def _forget(self, conversation_id: str) -> None:
        with self.factory() as session, session.begin():
            forget_reference(session, conversation_id)

    # ------------------------------------------------------------------ proactive installation

    def _service_url_for(self, tenant: str | None) -> str:
        """The Bot Connector address: the newest stored one in the tenant, else the global default."""
        with self.factory() as session:
            query = select(ReferenceRow.service_url).where(ReferenceRow.platform == PLATFORM)
            if tenant:
                query = query.where(ReferenceRow.tenant_id == tenant)
            url = session.scalars(query.order_by(ReferenceRow.updated_at.desc()).limit(1)).first()
        return url or self.service_url

    def _install_and_post(self, recipient: Recipient, cards: list[dict[str, Any]]) -> dict[str, Any]:
        assert self.graph is not None and recipient.aad_object_id and recipient.person_id is not None
        try:
            installed = self._call(self.graph.install_for_user(recipient.aad_object_id))
        except GraphError as exc:
            if exc.status == 429:
                raise DeliveryError(str(exc), retry_after=exc.retry_after or 10.0) from exc
            if exc.status == 404:
                raise self._unreachable_for(recipient, "Teams: Microsoft Graph does not know them (no Teams "
                                            "account or licence)", no_account=True, seconds=UNREACHABLE_SECONDS * 6) \
                    from exc
            if exc.status in (401, 403):
                raise self._unreachable_for(recipient, "Teams: govbot's app could not be installed for them "
                                            f"({exc}); an admin grants the Graph permission "
                                            "TeamsAppInstallation.ReadWriteSelfForUser.All") from exc
            raise DeliveryError(str(exc), retry_after=exc.retry_after) from exc
        log.info("Teams app %s for person %s", "was already installed" if installed.already else "installed",
                 recipient.person_id)
        tenant = self.tenant_id
        service_url = self._service_url_for(tenant)
        bot = ChannelAccount(id=f"28:{self.app_id}" if self.app_id else None)
        reference = ConversationReference(channel_id="msteams", service_url=service_url, bot=bot,
                                          user=ChannelAccount(id=recipient.aad_object_id,
                                                              aad_object_id=recipient.aad_object_id))
        row = {"tenant_id": tenant}
        try:
            return self._call(self._open_personal_and_post(reference, row, cards, recipient.person_id))
        except DeliveryError:
            raise
        except Exception as exc:
            status = _status_of(exc)
            if status == 429:
                raise DeliveryError(f"Teams answered {status}", retry_after=_retry_after(exc)) from exc
            if status in (403, 404):
                # Just installed: Teams may need a moment before the bot can start the chat.
                raise self._unreachable_for(recipient, f"Teams: the chat with them could not be started yet "
                                            f"({status})", seconds=60.0) from exc
            if status is not None and status >= 500:
                raise DeliveryError(f"Teams answered {status}", retry_after=_retry_after(exc), ambiguous=True) from exc
            raise DeliveryError(f"Teams could not be reached ({type(exc).__name__})", ambiguous=True) from exc

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
        member = ChannelAccount(id=user.id, aad_object_id=user.aad_object_id)
        params = ConversationParameters(
            is_group=False, bot=reference.bot, members=[member], tenant_id=tenant,
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


def graph_from_settings(container: Container) -> Graph | None:
    """Graph for proactive installation when the catalog app id, the tenant and the app's secret are set."""
    from bot.teams.graph import EntraTokens

    settings = container.settings
    if not (settings.teams_catalog_app_id and settings.teams_tenant_id and settings.teams_app_id
            and settings.teams_app_password):
        return None
    tokens = EntraTokens(tenant_id=settings.teams_tenant_id, client_id=settings.teams_app_id,
                         client_secret=settings.teams_app_password.get_secret_value(),
                         login_url=settings.teams_login_url)
    return Graph(tokens=tokens, catalog_app_id=settings.teams_catalog_app_id, base_url=settings.teams_graph_url,
                 timeout=settings.outbox_send_timeout(settings.outbox_send_lease_seconds))


def teams_sender_from_settings(container: Container) -> TeamsOutboxSender | None:
    """The sender when Teams is configured (an app id, or the explicit unauthenticated development mode)."""
    from bot.teams.app import build_adapter, teams_enabled

    settings = container.settings
    if not teams_enabled(settings):
        return None
    return TeamsOutboxSender(container.session_factory, adapter_factory=lambda: build_adapter(settings),
                             app_id=settings.teams_app_id or None, clock=container.clock,
                             graph=graph_from_settings(container), tenant_id=settings.teams_tenant_id or None,
                             service_url=settings.teams_service_url,
                             timeout=settings.outbox_send_timeout(settings.outbox_send_lease_seconds))


__all__ = ["TeamsOutboxSender", "graph_from_settings", "teams_sender_from_settings"]
