"""The Teams adapter: ``POST /api/messages`` through botbuilder's ``CloudAdapter``.

Every turn follows the same shape: authenticate, translate, turn, render, send.

1. **authenticate** the request (Bot Framework JWT) before anything else; any failure, a missing or a
   malformed token alike, is a 401 and nothing runs;
2. **turn**: the activity becomes a :class:`~bot.turn.ChatUser` and a request for the turn pipeline
   (:mod:`bot.turn`), which runs in a worker thread; in the same unit of work it remembers where the
   conversation is (a ``ConversationReference`` row, joined to the person when the Teams account maps
   to one) so the outbox can write there later.  When the account is not linked to anyone yet, the
   adapter reads the member's e-mail from the Teams roster and the pipeline runs once more;
3. **render** the reply as Adaptive Cards.  A click on an ``Action.Execute`` button is an
   ``adaptiveCard/action`` invoke whose response is the refreshed card (shown in place to the clicker);
   a refusal is a message for the clicker only and leaves the shared card alone.

The pipeline turns any exception into one friendly "Something went wrong (error id …)".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
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

from bot.core_runner import CoreRunner, answer
from bot.teams import render, texts, translate
from bot.teams.connectors import reuse_clients
from bot.teams.references import Where, forget_reference, save_reference
from bot.turn import Ask, ChatUser, Click, Request, error_reply, new_error_id
from governance_store.models import Person
from handlers.reply import Reply

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.bootstrap import Container
    from bot.settings import Settings

log = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"
MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"


class TeamsNotConfigured(RuntimeError):
    pass


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
                await context.send_activity(_card_message(render.render_reply(error_reply(error_id))[0]))
            except Exception:  # noqa: BLE001 - the connector may be the broken part
                log.exception("error_id=%s: could not tell the user", error_id)

    adapter.on_turn_error = on_error
    return adapter


def _card_message(card: dict[str, Any]) -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


def _user(activity: Activity) -> ChatUser:
    sender = activity.from_property
    return ChatUser(platform=texts.PLATFORM, account_id=(sender.id if sender else None) or None,
                    aad_object_id=(sender.aad_object_id if sender else None) or None,
                    display_name=(sender.name if sender else None) or None, locale=activity.locale or None)


def _where(activity: Activity) -> Where | None:
    if activity.conversation is None or not activity.conversation.id or not activity.service_url:
        return None
    kind = translate.conversation_kind(activity)
    reference = translate.stored_reference(TurnContext.get_conversation_reference(activity), kind=kind,
                                           team=translate.team(activity) if kind == "channel" else None)
    conversation_id = reference["conversation"]["id"]
    return Where(conversation_id=conversation_id, kind=kind, service_url=activity.service_url,
                 tenant_id=translate.tenant_id(activity),
                 channel_name=translate.channel_name(activity) if kind == "channel" else None, reference=reference)


def _remember(where: Where, session: Session, person: Person | None, now: dt.datetime) -> None:
    save_reference(session, where, person=person, now=now)


CORE_THREADS = 4


class GovbotTeamsBot(ActivityHandler):
    """Turn logic: activities to the turn pipeline, replies back as Adaptive Cards."""

    def __init__(self, container: Container, *, runner: CoreRunner | None = None) -> None:
        self.container = container
        self.runner = runner or CoreRunner(container, threads=CORE_THREADS)

    async def _turn(self, context: TurnContext, request: Request) -> Reply:
        """Answer as the person behind the Teams account; never raises."""
        activity = context.activity
        user = _user(activity)
        where = _where(activity)

        async def find_email() -> ChatUser | None:
            email = await self._member_email(context)
            return dataclasses.replace(user, email=email) if email else None

        reply = await answer(self.runner, user, request, find_email=find_email,
                             remember=functools.partial(_remember, where) if where is not None else None)
        if reply.status == "unknown_person":
            return texts.not_in_directory(email=reply.data.get("email"))
        return reply

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

    async def _remember(self, context: TurnContext) -> None:
        where = _where(context.activity)
        if where is None:
            return
        try:
            await self.runner.observe(_user(context.activity), functools.partial(_remember, where))
        except Exception:
            log.exception("error_id=%s while storing a Teams conversation reference", new_error_id())

    # ------------------------------------------------------------------ activity types

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        click = translate.submit_click(activity)
        if click is None and isinstance(activity.value, dict) and activity.value:
            await self._send(turn_context, texts.unknown_click())
            return
        request: Request
        if click is not None:
            request = Click(click.action_id, click.value, tuple(sorted(click.inputs.items())))
        else:
            text = translate.message_text(activity)
            # In a channel or group chat everyone sees the answer, so the core keeps personal things out of it.
            request = Ask(text or "help", public=translate.conversation_kind(activity) != "personal")
        await self._send(turn_context, await self._turn(turn_context, request))

    async def _send(self, context: TurnContext, reply: Reply) -> None:
        for card in render.render_reply(reply):
            await context.send_activity(_card_message(card))

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context)

    async def on_installation_update(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if (activity.action or "").startswith("remove"):
            conversation_id = translate.base_conversation_id(activity.conversation.id)

            await self.runner.observe(_user(activity), functools.partial(_forget, conversation_id))
            return
        await self._remember(turn_context)

    async def on_unrecognized_activity_type(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != translate.ADAPTIVE_CARD_ACTION:
            return await super().on_invoke_activity(turn_context)
        click = translate.invoke_click(activity)
        reply = texts.unknown_click() if click is None else await self._turn(
            turn_context, Click(click.action_id, click.value, tuple(sorted(click.inputs.items()))))
        return await self.invoke_answer(turn_context, reply)

    async def invoke_answer(self, context: TurnContext, reply: Reply) -> InvokeResponse:
        """The refreshed card for the clicker, or a message only they see when the click changed nothing."""
        if reply.form is None and reply.private:
            return InvokeResponse(status=HTTPStatus.OK, body={
                "statusCode": 200, "type": MESSAGE_RESPONSE, "value": render.clip(reply.text, 1000)})
        first, *rest = render.render_reply(reply)
        for card in rest:
            await context.send_activity(_card_message(card))
        return InvokeResponse(status=HTTPStatus.OK, body={
            "statusCode": 200, "type": render.CONTENT_TYPE, "value": first})


def _forget(conversation_id: str, session: Session, person: Person | None, now: dt.datetime) -> None:
    forget_reference(session, conversation_id)


class TeamsMount:
    """Adds ``POST /api/messages`` to the web host."""

    def __init__(self, container: Container, *, adapter: CloudAdapter | None = None,
                 bot: GovbotTeamsBot | None = None, runner: CoreRunner | None = None) -> None:
        settings = container.settings
        if not teams_enabled(settings):
            raise TeamsNotConfigured(
                "set GOVBOT_TEAMS_APP_ID and GOVBOT_TEAMS_APP_PASSWORD (or, for the Emulator only, "
                "GOVBOT_TEAMS_ALLOW_UNAUTHENTICATED=true with GOVBOT_DEV_MODE=true)")
        self.container = container
        self.authenticated = bool(settings.teams_app_id)
        self.adapter = reuse_clients(adapter or build_adapter(settings))
        self.bot = bot or GovbotTeamsBot(container, runner=runner)

    def mount(self, app: web.Application) -> None:
        if not self.authenticated:
            log.warning("Teams: %s accepts UNAUTHENTICATED requests (GOVBOT_TEAMS_ALLOW_UNAUTHENTICATED in "
                        "development mode); never run this way where the network is not yours", MESSAGES_PATH)
        else:
            log.info("Teams: Bot Framework messages at %s", MESSAGES_PATH)
        app.router.add_post(MESSAGES_PATH, self.messages)

    async def _authenticate(self, activity: Activity, auth_header: str) -> Any:
        """botbuilder's validation of the Bot Framework token (signature, issuer, audience, expiry, and with a
        real activity its service URL and channel endorsement), plus an expiry that must be there: a token
        without ``exp`` would never expire, and botbuilder accepts one.  ``None`` when refused (logged)."""
        try:
            auth = await self.adapter.bot_framework_authentication.authenticate_request(activity, auth_header)
        except Exception as exc:  # noqa: BLE001 - a missing, malformed or forged token alike
            # PermissionError is the SDK's "not authorised"; anything else (an unreadable token, the
            # signing keys out of reach) is still no proof of who sent the request.
            level = logging.INFO if isinstance(exc, PermissionError) else logging.WARNING
            log.log(level, "Teams: refused an unauthenticated request (%s)", type(exc).__name__)
            return None
        claims = getattr(auth.claims_identity, "claims", None) or {}
        if self.authenticated and not isinstance(claims.get("exp"), int | float):
            log.info("Teams: refused a token without an expiry (exp)")
            return None
        return auth

    async def messages(self, request: web.Request) -> web.StreamResponse:
        auth_header = request.headers.get("Authorization", "")
        # With an app id the token is checked before the body is read: nothing unauthenticated is parsed.
        if self.authenticated and (not auth_header.startswith("Bearer ")
                                   or await self._authenticate(Activity(), auth_header) is None):
            return web.json_response({"error": "unauthorized"}, status=401)
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected application/json"}, status=415)
        try:
            body = await request.json()
            activity = Activity().deserialize(body)
        except Exception:  # noqa: BLE001 - any unreadable body is the sender's fault
            return web.json_response({"error": "invalid activity"}, status=400)
        if not isinstance(body, dict) or not activity.type:
            return web.json_response({"error": "invalid activity"}, status=400)
        auth = await self._authenticate(activity, auth_header)
        if auth is None:
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


def teams_mount_from_settings(container: Container, *, runner: CoreRunner | None = None) -> TeamsMount | None:
    """The mount when Teams is configured, else ``None`` (logged, not fatal)."""
    if not teams_enabled(container.settings):
        if container.settings.teams_allow_unauthenticated:
            log.warning("GOVBOT_TEAMS_ALLOW_UNAUTHENTICATED is ignored outside GOVBOT_DEV_MODE")
        log.info("Teams is not configured (set GOVBOT_TEAMS_APP_ID and GOVBOT_TEAMS_APP_PASSWORD)")
        return None
    return TeamsMount(container, runner=runner)


__all__ = ["GovbotTeamsBot", "TeamsMount", "build_adapter", "teams_mount_from_settings"]
