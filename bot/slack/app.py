"""The Slack adapter: a bolt ``AsyncApp`` whose listeners acknowledge at once and answer later.

Every entry point follows the same shape: translate, turn, render, send.

1. **ack** within Slack's 3 seconds, touching neither the database nor the network
   (an empty or unknown ``/govbot`` subcommand is answered right in the ack);
2. **turn**: the payload becomes a :class:`~bot.turn.ChatUser` and a request, and the turn pipeline
   (:mod:`bot.turn`) runs it off the event loop, in worker processes or a thread
   (:mod:`bot.core_runner`); when the Slack user is not linked to anyone yet, the adapter asks Slack
   for the account's e-mail (``users.info``) and the pipeline runs once more;
3. **deliver** the rendered answer: ``response_url`` for slash commands and
   ephemeral cards, ``chat.postMessage`` in the thread for mentions and DMs,
   ``chat.update`` / ``replace_original`` so a clicked card changes in place,
   ``views.publish`` for the Home tab.

The pipeline turns any exception into one friendly "Something went wrong (error id …)"; a failure
while delivering is logged with an id of the same format.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock
from slack_sdk.web.async_client import AsyncWebClient

from bot.core_runner import CoreRunner, answer
from bot.slack import texts, translate
from bot.slack.dedup import DeliveryLog, retry_num
from bot.slack.render import FORM_CALLBACK, SlackMessage, clip_label, render_home, render_modal, render_reply
from bot.slack.sender import SlackSender, web_client
from bot.slack.translate import SHARE_ACTION, ClickOrigin
from bot.slack.verify import install_verifier, signature_verifier
from bot.turn import Ask, ChatUser, Click, OpenHome, Request, new_error_id
from handlers.reply import LINK, Button, Reply
from handlers.router import RERUN_ACTIONS

if TYPE_CHECKING:
    from bot.bootstrap import Container

log = logging.getLogger(__name__)

# How long a modal submission may wait for the core before the modal closes and the answer comes later.
FORM_ANSWER_SECONDS = 2.0
# Threads running the core when it runs in this process.  More threads do not answer faster under the
# GIL; they take it away from the event loop and slow every acknowledgement down.
DEFAULT_CORE_THREADS = 1


PLATFORM = "slack"


class SlackNotConfigured(RuntimeError):
    pass


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class SlackAdapter:
    def __init__(
        self,
        container: Container,
        *,
        client: AsyncWebClient | None = None,
        signature_clock: Clock | None = None,
        deliveries: DeliveryLog | None = None,
        core_threads: int = DEFAULT_CORE_THREADS,
        core_processes: int = 0,
        runner: CoreRunner | None = None,
    ) -> None:
        settings = container.settings
        token = _secret(settings.slack_bot_token)
        signing_secret = _secret(settings.slack_signing_secret)
        if not token:
            raise SlackNotConfigured("GOVBOT_SLACK_BOT_TOKEN is not set")
        self.container = container
        self.client = client or web_client(token=token, base_url=settings.slack_api_url)
        self.sender = SlackSender(self.client)
        self.deliveries = deliveries or DeliveryLog()
        # HTTP mode needs the signing secret; Socket Mode connections are authenticated by the app token.
        self.http_enabled = bool(signing_secret)
        self.bolt = AsyncApp(
            name="govbot",
            client=self.client,
            signing_secret=signing_secret or "",
            logger=logging.getLogger("govbot.slack.bolt"),
        )
        # The HTTP edge (bot.slack.edge) checks signatures with the same verifier before bolt parses anything.
        self.verifier = signature_verifier(signing_secret, clock=signature_clock) if signing_secret else None
        if self.verifier is not None:
            install_verifier(self.bolt, self.verifier)
        self._tasks: set[asyncio.Task[None]] = set()
        self.runner = runner or CoreRunner(container, threads=core_threads, processes=core_processes)
        self._register()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.sender.start()
        self.runner.start()

    async def close(self) -> None:
        await self.drain()
        await self.sender.close()
        self.runner.close()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run slow work after the ack; a strong reference keeps the task alive until it ends."""
        task = asyncio.get_running_loop().create_task(self._guarded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except Exception:
            log.exception("error_id=%s while delivering an answer to Slack", new_error_id())

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait (bounded) for answers still being worked on, e.g. at shutdown."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks and loop.time() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - loop.time()))

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def _register(self) -> None:
        app = self.bolt
        app.command(re.compile(r"^/"))(self._on_slash)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        app.event("app_home_opened")(self._on_home_opened)
        app.action(re.compile(r".+"))(self._on_click)
        app.view(FORM_CALLBACK)(self._on_form_submit)

    # ------------------------------------------------------------------ people and the core

    @staticmethod
    def _user(user_id: str, team_id: str | None) -> ChatUser:
        return ChatUser(platform=PLATFORM, account_id=user_id, workspace_id=team_id)

    async def _turn(self, user_id: str, team_id: str | None, request: Request) -> Reply:
        """Answer ``request`` as the person behind the Slack user; never raises."""
        user = self._user(user_id, team_id)

        async def find_email() -> ChatUser | None:
            profile = await self.sender.user_profile(user_id)
            if profile is None:
                return None
            return dataclasses.replace(
                user, email=profile.email, display_name=profile.real_name or profile.display_name,
                handle=profile.handle, workspace_id=team_id or profile.team_id, timezone=profile.timezone,
                locale=profile.locale, is_bot=profile.is_bot)

        reply = await answer(self.runner, user, request, find_email=find_email)
        if reply.status == "unknown_person":
            return texts.not_in_directory(email=reply.data.get("email"))
        return reply

    @staticmethod
    def _shareable(reply: Reply, command_text: str | None) -> str | None:
        """The command to re-ask when sharing, for side-effect-free answers only."""
        if not command_text or reply.private or reply.form is not None:
            return None
        return command_text if translate.parse_slash(command_text).subcommand in texts.SHAREABLE else None

    # ------------------------------------------------------------------ forms (modals)

    async def _open_form(self, trigger_id: str | None, reply: Reply, origin: ClickOrigin | None) -> bool:
        """Show ``reply.form`` as a modal; ``False`` when there is no trigger or Slack refused it (expired)."""
        form = reply.form
        if form is None or not trigger_id:
            return False
        metadata = translate.form_metadata(form.submit_action_id, form.value, origin)
        try:
            await self.client.views_open(trigger_id=trigger_id, view=render_modal(form, metadata=metadata,
                                                                                  intro=reply.text))
        except SlackApiError as exc:
            log.info("could not open a form (%s); offering a button instead", exc.response.get("error"))
            return False
        return True

    @staticmethod
    def _with_form_button(reply: Reply, action_id: str, value: str) -> Reply:
        """A form we could not open: the message gets a button that asks again and opens it then."""
        button = Button(texts.OPEN_FORM_LABEL, action_id, value, "primary")
        return dataclasses.replace(reply, form=None, buttons=(*reply.buttons, button))

    async def _on_form_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        parsed = translate.parse_form_metadata(view.get("private_metadata"))
        if parsed is None:
            await ack()
            return
        action_id, value, origin = parsed
        user = (body.get("user") or {}).get("id") or ""
        team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
        inputs = translate.view_inputs(view)
        click = Click(action_id, value, tuple(sorted(inputs.items())))
        answer = asyncio.ensure_future(self._turn(user, team, click))
        try:
            reply = await asyncio.wait_for(asyncio.shield(answer), FORM_ANSWER_SECONDS)
        except TimeoutError:
            await ack()
            self.spawn(self._after_slow_form(answer, action_id, value, origin, user, team))
            return
        if reply.form is not None:
            errors = {f.name: clip_label(f.error, 150) for f in reply.form.fields if f.error and f.name in inputs}
            if errors and reply.form.submit_action_id == action_id:
                await ack(response_action="errors", errors=errors)
                return
            metadata = translate.form_metadata(reply.form.submit_action_id, reply.form.value, origin)
            await ack(response_action="update", view=render_modal(reply.form, metadata=metadata, intro=reply.text))
            return
        await ack()
        self.spawn(self._deliver_form_answer(origin, user, team, reply))

    async def _after_slow_form(self, answer: asyncio.Future[Reply], action_id: str, value: str,
                               origin: ClickOrigin | None, user: str, team: str | None) -> None:
        reply = await answer
        if reply.form is not None:
            reply = self._with_form_button(reply, reply.form.submit_action_id, reply.form.value)
        await self._deliver_form_answer(origin, user, team, reply)

    async def _deliver_form_answer(self, origin: ClickOrigin | None, user: str, team: str | None,
                                   reply: Reply) -> None:
        """A submitted form's answer goes where the form came from: the clicked card, the slash command, or a DM."""
        if origin is not None and origin.surface == "slash" and origin.response_url:
            for m in render_reply(reply):
                await self.sender.respond(origin.response_url, m, response_type="ephemeral", replace_original=False)
        elif origin is not None and origin.surface in ("message", "view"):
            await self._replace(origin, user, team, reply, share_command=None)
        else:
            for m in render_reply(reply):
                await self.sender.post(user, m)

    # ------------------------------------------------------------------ slash command

    async def _on_slash(self, ack: Any, command: dict[str, Any]) -> None:
        parsed = translate.parse_slash(command.get("text"))
        if not parsed.known:
            usage = texts.usage(command.get("command") or "/govbot", unknown=parsed.subcommand or None)
            message = render_reply(usage)[0]
            await ack(text=message.text, blocks=message.blocks, response_type="ephemeral")
            return
        await ack()
        self.spawn(self._answer_slash(command, parsed.text))

    async def _answer_slash(self, command: dict[str, Any], text: str) -> None:
        reply = await self._turn(command["user_id"], command.get("team_id"), Ask(text, slash=True))
        url = command.get("response_url")
        if reply.form is not None:
            origin = ClickOrigin(surface="slash", channel_id=command.get("channel_id"), message_ts=None,
                                 thread_ts=None, is_ephemeral=True, response_url=url)
            if await self._open_form(command.get("trigger_id"), reply, origin):
                return
            reply = self._with_form_button(reply, "govbot.run", text)
        private = reply.private
        ephemeral = reply.ephemeral or private
        messages = render_reply(reply, share_command=self._shareable(reply, text) if ephemeral else None)
        if not url:
            for m in messages:
                await self.sender.post_ephemeral(command["channel_id"], command["user_id"], m)
            return
        for m in messages:
            await self.sender.respond(url, m, response_type="ephemeral" if ephemeral else "in_channel")

    # ------------------------------------------------------------------ mentions and direct messages

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any], context: Any, request: Any) -> None:
        if translate.is_question_mention(event) and self._first_time(body, request):
            self.spawn(self._answer_in_thread(event, body, context.bot_user_id, dm=False))

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any], context: Any, request: Any) -> None:
        if translate.is_question_message(event) and self._first_time(body, request):
            self.spawn(self._answer_in_thread(event, body, context.bot_user_id, dm=True))

    def _first_time(self, body: dict[str, Any], request: Any) -> bool:
        handle = self.deliveries.should_handle_event(body.get("event_id"), retry_num=retry_num(request.headers))
        if not handle:
            log.info("skipping re-delivered event %s", body.get("event_id"))
        return handle

    async def _answer_in_thread(
        self, event: dict[str, Any], body: dict[str, Any], bot_user_id: str | None, *, dm: bool
    ) -> None:
        user, channel = event["user"], event["channel"]
        thread_ts = translate.thread_of(event)
        raw = event.get("text") or ""
        team = body.get("team_id") or event.get("team")
        reply = await self._turn(user, team, Ask(translate.question_text(raw, bot_user_id=bot_user_id)))
        personal = reply.form is not None
        if personal:
            # Events carry no trigger to open a modal with: offer a button that asks again and opens it.
            text = translate.message_text(raw, bot_user_id=bot_user_id)
            reply = self._with_form_button(reply, "govbot.run", text)
        private = reply.private or personal
        for m in render_reply(reply):
            if private and not dm:
                await self.sender.post_ephemeral(channel, user, m, thread_ts=thread_ts)
            else:
                await self.sender.post(channel, m, thread_ts=thread_ts)

    # ------------------------------------------------------------------ clicks

    async def _on_click(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self.spawn(self._handle_click(body))

    async def _handle_click(self, body: dict[str, Any]) -> None:
        action = translate.first_action(body)
        user = (body.get("user") or {}).get("id") or ""
        team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
        origin = translate.click_origin(body)
        action_id = translate.decode_action_id(str(action.get("action_id") or ""))
        value = str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")
        if action_id == SHARE_ACTION:
            await self._share(user, team, origin, value)
            return
        if action_id == LINK:
            return  # a link button: the browser opened its URL; nothing for govbot to do
        rerun = action_id in RERUN_ACTIONS
        request: Request
        if rerun:
            request = Ask(value)
        else:
            request = Click(action_id, value, tuple(sorted(translate.block_action_inputs(body).items())))
        reply = await self._turn(user, team, request)
        if reply.form is not None:
            if await self._open_form(body.get("trigger_id"), reply, origin):
                return
            await self._tell_privately(origin, user, render_reply(self._with_form_button(reply, action_id, value)))
            return
        share = self._shareable(reply, value) if rerun and origin.is_ephemeral else None
        await self._replace(origin, user, team, reply, share_command=share)

    async def _replace(
        self, origin: ClickOrigin, user: str, team: str | None, reply: Reply, *, share_command: str | None
    ) -> None:
        """Show the click's answer where the clicked card was, so no stale card stays behind."""
        if origin.surface == "view":
            # A Home tab button: answer in the app's DM and refresh the Home tab.
            for m in render_reply(reply):
                await self.sender.post(user, m)
            await self._publish_home(user, team)
            return
        if reply.private:
            # Keep the card; tell only the clicker what went wrong.
            await self._tell_privately(origin, user, render_reply(reply))
            return
        first, *rest = render_reply(reply, share_command=share_command if origin.is_ephemeral else None)
        if not origin.is_ephemeral and origin.channel_id and origin.message_ts:
            try:
                await self.sender.update(origin.channel_id, origin.message_ts, first)
            except SlackApiError as exc:
                if not origin.response_url:
                    raise
                log.info("chat.update failed (%s); replacing through response_url", exc.response.get("error"))
                await self.sender.respond(origin.response_url, first, replace_original=True)
            for m in rest:
                await self.sender.post(origin.channel_id, m, thread_ts=origin.thread_ts or origin.message_ts)
            return
        if not origin.response_url:
            log.warning("clicked card has neither a message ts nor a response_url; answering privately")
            await self._tell_privately(origin, user, [first, *rest])
            return
        await self.sender.respond(origin.response_url, first, response_type="ephemeral", replace_original=True)
        for m in rest:
            await self.sender.respond(origin.response_url, m, response_type="ephemeral", replace_original=False)

    async def _tell_privately(self, origin: ClickOrigin, user: str, messages: list[SlackMessage]) -> None:
        for m in messages:
            if origin.response_url:
                await self.sender.respond(origin.response_url, m, response_type="ephemeral", replace_original=False)
            elif origin.channel_id:
                await self.sender.post_ephemeral(origin.channel_id, user, m, thread_ts=origin.thread_ts)
            else:
                await self.sender.post(user, m)

    async def _share(self, user: str, team: str | None, origin: ClickOrigin, command_text: str) -> None:
        """"Share in channel": post the same answer for everyone, then remove the private copy."""
        reply = await self._turn(user, team, Ask(command_text, slash=True))
        if reply.private:
            await self._tell_privately(origin, user, render_reply(reply))
            return
        messages = render_reply(reply, footer=texts.shared_by(user))
        posted = False
        if origin.channel_id:
            try:
                for m in messages:
                    await self.sender.post(origin.channel_id, m)
                posted = True
            except SlackApiError as exc:
                log.info("could not post in %s (%s)", origin.channel_id, exc.response.get("error"))
        if not posted and origin.response_url:
            posted = True
            for m in messages:
                posted = posted and await self.sender.respond(
                    origin.response_url, m, response_type="in_channel", replace_original=False
                )
        if not posted:
            await self._tell_privately(origin, user, render_reply(texts.share_failed()))
            return
        if origin.response_url:
            await self.sender.respond(origin.response_url, delete_original=True)

    # ------------------------------------------------------------------ Home tab

    async def _on_home_opened(self, event: dict[str, Any], body: dict[str, Any], request: Any) -> None:
        if event.get("tab") == "home" and event.get("user") and self._first_time(body, request):
            self.spawn(self._publish_home(event["user"], body.get("team_id")))

    async def _publish_home(self, user: str, team: str | None) -> None:
        reply = await self._turn(user, team, OpenHome())
        await self.sender.publish_home(user, render_home(reply))
