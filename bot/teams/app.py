"""The Teams adapter: ``POST /api/messages`` through botbuilder's ``CloudAdapter``.

Every turn follows the same shape:

1. **authenticate** the request (Bot Framework JWT) before anything else; any failure, a missing or a
   malformed token alike, is a 401 and nothing runs;
2. **remember** where the conversation is (a ``ConversationReference`` row, joined to the person
   when the Teams account maps to one) so the outbox can write there later;
3. **answer**: the synchronous core (``handlers.dispatch``) runs in a worker thread, one unit of work
   per turn, and the reply is rendered as Adaptive Cards.  A click on an ``Action.Execute`` button is
   an ``adaptiveCard/action`` invoke whose response is the refreshed card (shown in place to the
   clicker); a refusal is a message for the clicker only and leaves the shared card alone.  Someone
   who is not in the directory is told so, and what they tried goes to the core only to be refused
   and audited (``dispatch.handle_unknown``).

Any exception becomes a friendly "Something went wrong (error id …)" with the id logged next to
the traceback.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aiohttp import web
from botbuilder.core import (
    ActivityHandler,
    CardFactory,
    InvokeResponse,
    MessageFactory,
    TurnContext,
    serializer_helper,
)
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes

from bot.teams import render, texts, translate
from bot.teams.references import TeamsUser, Where, find_person, forget_reference, save_reference
from bot.teams.translate import Click
from handlers.reply import Action, Actor, Command, Reply

if TYPE_CHECKING:
    from bot.bootstrap import Container
    from bot.settings import Settings

log = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"
# Replies about the asker rather than an answer (or their personal dashboard link): never replace a card
# others can see.
PRIVATE_STATUSES = frozenset({"error", "unknown_person", "usage", "refused", "invalid", "link"})
MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"


class TeamsNotConfigured(RuntimeError):
    pass


def new_error_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class TeamsConfig:
    """The configuration object botbuilder's ``ConfigurationBotFrameworkAuthentication`` reads."""

    APP_ID: str | None
    APP_PASSWORD: str | None
    APP_TENANTID: str | None
    APP_TYPE: str


def teams_config(settings: Settings) -> TeamsConfig:
    password = settings.teams_app_password.get_secret_value() if settings.teams_app_password else None
    tenant = settings.teams_tenant_id or None
    return TeamsConfig(APP_ID=settings.teams_app_id or None, APP_PASSWORD=password, APP_TENANTID=tenant,
                       APP_TYPE="SingleTenant" if tenant else "MultiTenant")


def unauthenticated_allowed(settings: Settings) -> bool:
    return bool(settings.teams_allow_unauthenticated and settings.dev_mode)


def teams_enabled(settings: Settings) -> bool:
    """An app id is configured, or the explicit development mode without one."""
    return bool(settings.teams_app_id) or unauthenticated_allowed(settings)


def build_adapter(settings: Settings) -> CloudAdapter:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(teams_config(settings)))

    async def on_error(context: TurnContext, error: Exception) -> None:
        error_id = new_error_id()
        log.error("error_id=%s in a Teams turn", error_id, exc_info=error)
        if context.activity.type == ActivityTypes.message:
            try:
                await context.send_activity(_card_message(render.render_reply(texts.error(error_id))[0]))
            except Exception:  # noqa: BLE001 - the connector may be the broken part
                log.exception("error_id=%s: could not tell the user", error_id)

    adapter.on_turn_error = on_error
    return adapter


def _card_message(card: dict[str, Any]) -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


def _user(activity: Activity, email: str | None = None) -> TeamsUser:
    sender = activity.from_property
    return TeamsUser(user_id=(sender.id if sender else "") or "",
                     aad_object_id=(sender.aad_object_id if sender else None) or None,
                     name=(sender.name if sender else None) or None, email=email)


def _where(activity: Activity) -> Where | None:
    if activity.conversation is None or not activity.conversation.id or not activity.service_url:
        return None
    kind = translate.conversation_kind(activity)
    reference = translate.stored_reference(TurnContext.get_conversation_reference(activity), kind=kind)
    conversation_id = reference["conversation"]["id"]
    return Where(conversation_id=conversation_id, kind=kind, service_url=activity.service_url,
                 tenant_id=translate.tenant_id(activity),
                 channel_name=translate.channel_name(activity) if kind == "channel" else None, reference=reference)


@dataclass(frozen=True)
class Work:
    """What a turn asks of the core: a command or a click, made for whoever the Teams user turns out to be."""

    core: Any
    request: Callable[[Actor], Command | Action]

    def __call__(self, actor: Actor, session: Any, now: Any) -> Reply:
        request = self.request(actor)
        if isinstance(request, Action):
            return self.core.handle_action(request, session=session, now=now)
        return self.core.handle_command(request, session=session, now=now)


class GovbotTeamsBot(ActivityHandler):
    """Turn logic: messages and clicks to the core, conversation references to the store."""

    def __init__(self, container: Container, *, core: Any = None) -> None:
        from handlers import dispatch

        self.container = container
        self.core = core or dispatch

    # ------------------------------------------------------------------ store and core (worker thread)

    def _run_sync(self, activity: Activity, user: TeamsUser, work: Work | None,
                  remember: bool) -> Reply | None:
        """One unit of work: map the person, store the reference, run ``work``; ``None`` when unknown."""
        now = self.container.clock()
        where = _where(activity) if remember else None
        with self.container.unit_of_work() as session:
            person = find_person(session, user)
            if where is not None:
                save_reference(session, where, person=person, now=now)
            if person is None or work is None:
                return None
            actor = Actor(person.id, person.display_name, texts.PLATFORM, person.email)
            return work(actor, session, now)

    def _refuse_sync(self, user: TeamsUser, work: Work) -> None:
        """Someone who is not in the directory: the core refuses and audits what they tried."""
        handle_unknown = getattr(self.core, "handle_unknown", None)
        if handle_unknown is None:
            return
        name = f"{user.name} ({user.user_id})" if user.name else user.user_id
        actor = Actor(None, name, texts.PLATFORM, user.email)
        with self.container.unit_of_work() as session:
            handle_unknown(work.request(actor), session=session, now=self.container.clock())

    async def _turn(self, context: TurnContext, work: Work) -> Reply:
        """Answer as the person behind the Teams account; never raises."""
        activity = context.activity
        try:
            reply = await asyncio.to_thread(self._run_sync, activity, _user(activity), work, True)
            if reply is not None:
                return reply
            email = await self._member_email(context)
            if email:
                reply = await asyncio.to_thread(self._run_sync, activity, _user(activity, email), work, True)
                if reply is not None:
                    return reply
            log.info("Teams user %s is not in the directory (e-mail %s)", _user(activity).user_id, email)
            try:
                await asyncio.to_thread(self._refuse_sync, _user(activity, email), work)
            except Exception:
                log.exception("error_id=%s while recording what an unknown Teams user tried", new_error_id())
            return texts.not_in_directory(email=email)
        except Exception:
            error_id = new_error_id()
            log.exception("error_id=%s while answering a Teams user", error_id)
            return texts.error(error_id)

    async def _member_email(self, context: TurnContext) -> str | None:
        """The e-mail (or UPN) Teams knows for the sender, when the roster can be read."""
        sender = context.activity.from_property
        if sender is None or not sender.id:
            return None
        try:
            member = await TeamsInfo.get_member(context, sender.id)
        except Exception as exc:  # noqa: BLE001 - an unreachable roster only means "unknown"
            log.info("could not read the Teams member %s: %s", sender.id, exc)
            return None
        return (getattr(member, "email", None) or getattr(member, "user_principal_name", None)) or None

    def _command(self, text: str, *, public: bool = False) -> Work:
        return Work(self.core, lambda actor: Command(text=text, actor=actor, public=public))

    def _action(self, click: Click) -> Work:
        return Work(self.core, lambda actor: Action(click.action_id, click.value, actor, dict(click.inputs)))

    async def _remember(self, context: TurnContext) -> None:
        try:
            await asyncio.to_thread(self._run_sync, context.activity, _user(context.activity), None, True)
        except Exception:
            log.exception("error_id=%s while storing a Teams conversation reference", new_error_id())

    # ------------------------------------------------------------------ activity types

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        click = translate.submit_click(activity)
        if click is None and isinstance(activity.value, dict) and activity.value:
            await self._send(turn_context, texts.unknown_click())
            return
        if click is not None:
            work = self._action(click)
        else:
            text = translate.message_text(activity)
            # In a channel or group chat everyone sees the answer, so the core keeps personal things out of it.
            work = self._command(text or "help", public=translate.conversation_kind(activity) != "personal")
        await self._send(turn_context, await self._turn(turn_context, work))

    async def _send(self, context: TurnContext, reply: Reply) -> None:
        for card in render.render_reply(reply):
            await context.send_activity(_card_message(card))

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context)

    async def on_installation_update(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if (activity.action or "").startswith("remove"):
            conversation_id = translate.base_conversation_id(activity.conversation.id)

            def forget() -> None:
                with self.container.unit_of_work() as session:
                    forget_reference(session, conversation_id)

            await asyncio.to_thread(forget)
            return
        await self._remember(turn_context)

    async def on_unrecognized_activity_type(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != translate.ADAPTIVE_CARD_ACTION:
            return await super().on_invoke_activity(turn_context)
        click = translate.invoke_click(activity)
        reply = texts.unknown_click() if click is None else await self._turn(turn_context, self._action(click))
        return await self.invoke_answer(turn_context, reply)

    async def invoke_answer(self, context: TurnContext, reply: Reply) -> InvokeResponse:
        """The refreshed card for the clicker, or a message only they see when the click changed nothing."""
        if reply.form is None and reply.status in PRIVATE_STATUSES:
            return InvokeResponse(status=HTTPStatus.OK, body={
                "statusCode": 200, "type": MESSAGE_RESPONSE, "value": render.clip(reply.text, 1000)})
        first, *rest = render.render_reply(reply)
        for card in rest:
            await context.send_activity(_card_message(card))
        return InvokeResponse(status=HTTPStatus.OK, body={
            "statusCode": 200, "type": render.CONTENT_TYPE, "value": first})


class TeamsMount:
    """Adds ``POST /api/messages`` to the web host."""

    def __init__(self, container: Container, *, adapter: CloudAdapter | None = None,
                 bot: GovbotTeamsBot | None = None) -> None:
        settings = container.settings
        if not teams_enabled(settings):
            raise TeamsNotConfigured(
                "set GOVBOT_TEAMS_APP_ID and GOVBOT_TEAMS_APP_PASSWORD (or, for the Emulator only, "
                "GOVBOT_TEAMS_ALLOW_UNAUTHENTICATED=true with GOVBOT_DEV_MODE=true)")
        self.container = container
        self.authenticated = bool(settings.teams_app_id)
        self.adapter = adapter or build_adapter(settings)
        self.bot = bot or GovbotTeamsBot(container)

    def mount(self, app: web.Application) -> None:
        if not self.authenticated:
            log.warning("Teams: %s accepts UNAUTHENTICATED requests (GOVBOT_TEAMS_ALLOW_UNAUTHENTICATED in "
                        "development mode); never run this way where the network is not yours", MESSAGES_PATH)
        else:
            log.info("Teams: Bot Framework messages at %s", MESSAGES_PATH)
        app.router.add_post(MESSAGES_PATH, self.messages)

    async def messages(self, request: web.Request) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected application/json"}, status=415)
        try:
            body = await request.json()
            activity = Activity().deserialize(body)
        except Exception:  # noqa: BLE001 - any unreadable body is the sender's fault
            return web.json_response({"error": "invalid activity"}, status=400)
        if not isinstance(body, dict) or not activity.type:
            return web.json_response({"error": "invalid activity"}, status=400)
        auth_header = request.headers.get("Authorization", "")
        try:
            auth = await self.adapter.bot_framework_authentication.authenticate_request(activity, auth_header)
        except Exception as exc:  # noqa: BLE001 - a missing, malformed or forged token alike
            # PermissionError is the SDK's "not authorised"; anything else (an unreadable token, the
            # signing keys out of reach) is still no proof of who sent the request.
            level = logging.INFO if isinstance(exc, PermissionError) else logging.WARNING
            log.log(level, "Teams: refused an unauthenticated request (%s)", type(exc).__name__)
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            invoke = await self.adapter.process_activity(auth, activity, self.bot.on_turn)
        except Exception:
            error_id = new_error_id()
            log.exception("error_id=%s while processing a Teams activity", error_id)
            return web.json_response({"error": f"internal error {error_id}"}, status=500)
        if invoke is not None:
            body = invoke.body if isinstance(invoke.body, dict | list | None) else serializer_helper(invoke.body)
            return web.json_response(body, status=int(invoke.status))
        return web.Response(status=201)


def teams_mount_from_settings(container: Container) -> TeamsMount | None:
    """The mount when Teams is configured, else ``None`` (logged, not fatal)."""
    if not teams_enabled(container.settings):
        if container.settings.teams_allow_unauthenticated:
            log.warning("GOVBOT_TEAMS_ALLOW_UNAUTHENTICATED is ignored outside GOVBOT_DEV_MODE")
        log.info("Teams is not configured (set GOVBOT_TEAMS_APP_ID and GOVBOT_TEAMS_APP_PASSWORD)")
        return None
    return TeamsMount(container)


__all__ = ["GovbotTeamsBot", "TeamsMount", "build_adapter", "teams_mount_from_settings"]
