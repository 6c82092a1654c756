"""The outbound port to Slack: Web API calls and ``response_url`` posts.

All calls go through one :class:`AsyncWebClient` (``base_url`` from settings, so
tests point it at a local fake) and one shared aiohttp session.  Rate limits
are honoured: a 429 is retried after exactly the ``Retry-After`` Slack asked for
(up to ``max_wait`` seconds); 500/503 and dropped connections are retried with a
short pause.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.render import SlackMessage

log = logging.getLogger(__name__)


class RetryAfterHandler(AsyncRetryHandler):
    """Retries a 429 after the ``Retry-After`` seconds Slack asked for, no more, no less."""

    def __init__(self, *, max_retry_count: int = 3, max_wait: float = 60.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    @staticmethod
    def _retry_after(response: HttpResponse | None) -> float | None:
        if response is None:
            return None
        for key, values in response.headers.items():
            if key.lower() == "retry-after" and values:
                try:
                    return max(0.0, float(values[0]))
                except ValueError:
                    return 1.0
        return 1.0

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = self._retry_after(response)
        if wait is not None and wait > self.max_wait:
            log.warning("Slack asked to wait %.0fs before retrying %s; giving up", wait, request.url)
            return False
        return True

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = self._retry_after(response) or 0.0
        log.info("rate limited by Slack; retrying %s in %.1fs", request.url, wait)
        await asyncio.sleep(wait)
        state.increment_current_attempt()


def retry_handlers() -> list[AsyncRetryHandler]:
    return [
        RetryAfterHandler(),
        AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.25)),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


def web_client(*, token: str | None, base_url: str, timeout: int = 30) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=retry_handlers())


@dataclass(frozen=True)
class SlackProfile:
    user_id: str
    email: str | None
    display_name: str | None
    real_name: str | None
    handle: str | None
    team_id: str | None
    timezone: str | None
    is_bot: bool
    deleted: bool
    locale: str | None = None

    @classmethod
    def from_user(cls, user: dict[str, Any]) -> SlackProfile:
        profile = user.get("profile") or {}
        return cls(
            user_id=str(user.get("id", "")),
            email=(profile.get("email") or None),
            display_name=profile.get("display_name") or None,
            real_name=user.get("real_name") or profile.get("real_name") or None,
            handle=user.get("name") or None,
            team_id=user.get("team_id") or profile.get("team") or None,
            timezone=user.get("tz") or None,
            is_bot=bool(user.get("is_bot")),
            deleted=bool(user.get("deleted")),
            locale=user.get("locale") or None,
        )


class SlackSender:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle: one HTTP connection pool for the process, opened inside the event loop

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self.client.session = self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            self.client.session = None

    # -- messages

    async def post(self, channel: str, message: SlackMessage, *, thread_ts: str | None = None) -> str | None:
        resp = await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message.as_kwargs())
        return resp.get("ts")

    async def post_ephemeral(
        self, channel: str, user: str, message: SlackMessage, *, thread_ts: str | None = None
    ) -> None:
        await self.client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **message.as_kwargs())

    async def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        await self.client.chat_update(channel=channel, ts=ts, **message.as_kwargs())

    async def respond(
        self,
        response_url: str,
        message: SlackMessage | None = None,
        *,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        thread_ts: str | None = None,
    ) -> bool:
        """Post to a ``response_url`` (valid 30 minutes, at most 5 posts per interaction)."""
        body: dict[str, Any] = dict(message.as_kwargs()) if message is not None else {}
        for key, value in (
            ("response_type", response_type),
            ("replace_original", replace_original),
            ("delete_original", delete_original),
            ("thread_ts", thread_ts),
        ):
            if value is not None:
                body[key] = value
        hook = AsyncWebhookClient(url=response_url, session=self._session, retry_handlers=retry_handlers())
        resp = await hook.send_dict(body)
        if resp.status_code != 200:
            log.error("response_url answered %s: %s", resp.status_code, resp.body)
            return False
        return True

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self.client.views_publish(user_id=user_id, view=view)

    # -- people

    async def user_profile(self, user_id: str) -> SlackProfile | None:
        try:
            resp = await self.client.users_info(user=user_id, include_locale=True)
        except SlackApiError as exc:
            log.warning("users.info for %s failed: %s", user_id, exc.response.get("error"))
            return None
        user = resp.get("user")
        return SlackProfile.from_user(user) if user else None

    async def user_id_for_email(self, email: str) -> str | None:
        """The Slack user with this e-mail, or ``None`` (``users_not_found``)."""
        try:
            resp = await self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") != "users_not_found":
                log.warning("users.lookupByEmail failed: %s", exc.response.get("error"))
            return None
        user = resp.get("user") or {}
        return user.get("id")
