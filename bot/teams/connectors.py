"""Connector clients reused across turns.

botbuilder's ``CloudAdapter`` builds, for every activity it processes, a new ``ConnectorClient`` (the client
the reply is written with: its own credentials, HTTP session and retry policy, so a new connection too) and
a new ``UserTokenClient`` (for sign-in flows govbot does not use).  Building them costs more CPU than
answering the question.  :class:`ReusingAuthentication` wraps the adapter's ``bot_framework_authentication``
so both are built once per bot, service URL and audience, and kept; the credentials inside refresh their
own tokens.  Authentication of every request is unchanged: only what is built *after* a request was
authenticated is reused.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity, ConnectorFactory

# Teams sends from a handful of service URLs (one per region); a bound keeps a misbehaving caller from
# growing the cache.
MAX_CLIENTS = 64


def _app_id(claims: ClaimsIdentity) -> str | None:
    """The bot the request was for, as botbuilder derives it (audience claim, else app id claim)."""
    value = claims.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if value is None:
        value = claims.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return value  # type: ignore[no-any-return]


class _Kept:
    """A bounded map of built clients, each built once even when turns ask for it at the same time."""

    def __init__(self) -> None:
        self._clients: OrderedDict[tuple[Any, ...], asyncio.Future[Any]] = OrderedDict()

    async def get(self, key: tuple[Any, ...], build: Any) -> Any:
        key = (id(asyncio.get_running_loop()), *key)  # a future belongs to the loop that made it
        future = self._clients.get(key)
        if future is None or (future.done() and future.exception() is not None):
            future = asyncio.ensure_future(build())
            self._clients[key] = future
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(key)
        return await asyncio.shield(future)


class _ReusingConnectorFactory(ConnectorFactory):
    def __init__(self, inner: ConnectorFactory, app_id: str | None, kept: _Kept) -> None:
        self._inner, self._app_id, self._kept = inner, app_id, kept

    async def create(self, service_url: str, audience: str) -> Any:
        return await self._kept.get((self._app_id, service_url, audience),
                                    lambda: self._inner.create(service_url, audience))


class ReusingAuthentication:
    """``bot_framework_authentication`` for a ``CloudAdapter``: ``inner`` does all the work; connector and
    user-token clients are reused per bot, service URL and audience."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._connectors = _Kept()
        self._user_tokens = _Kept()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
        result = await self.inner.authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = _ReusingConnectorFactory(result.connector_factory,
                                                                _app_id(result.claims_identity), self._connectors)
        return result

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        return await self._user_tokens.get((_app_id(claims_identity),),
                                           lambda: self.inner.create_user_token_client(claims_identity))


def reuse_clients(adapter: Any) -> Any:
    """Make ``adapter`` (a ``CloudAdapter``) reuse its connector clients; returns it."""
    if not isinstance(adapter.bot_framework_authentication, ReusingAuthentication):
        adapter.bot_framework_authentication = ReusingAuthentication(adapter.bot_framework_authentication)
    return adapter
