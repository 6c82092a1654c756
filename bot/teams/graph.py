"""The few Microsoft Graph calls the Teams sender needs, with the bot's application token.

* :meth:`Graph.install_for_user` — proactive installation of govbot's Teams app in a person's personal
  scope (``POST /users/{id}/teamwork/installedApps`` with the catalog app), so govbot can write to someone
  who never opened it.  ``201 Created``: installed; ``409 Conflict``: it already was.  Needs the
  application permission ``TeamsAppInstallation.ReadWriteSelfForUser.All`` (or
  ``TeamsAppInstallation.ReadWriteForUser.All``), granted by an admin.
* :meth:`Graph.personal_chat_id` — the chat between the person and govbot (``GET …/installedApps?$filter=…``,
  then ``…/installedApps/{id}/chat``), and :meth:`Graph.messages_since` — its messages changed after an
  instant (``GET /chats/{id}/messages`` ordered by ``lastModifiedDateTime``, filtered, paged with
  ``@odata.nextLink``), so an interrupted send can be found instead of sent twice.  Reading needs
  ``ChatMessage.Read.Chat`` (resource-specific consent in the app manifest) or ``Chat.Read.All``.
  A group chat is read the same way (its conversation id is its chat id).
* :meth:`Graph.channel_messages_since` — the same for a post in a team's channel (a delta round over the
  window).  Needs ``ChannelMessage.Read.Group`` (resource-specific consent in the app manifest) or
  ``ChannelMessage.Read.All``.

Tokens come from the Microsoft identity platform's client-credentials flow (``POST
{login}/{tenant}/oauth2/v2.0/token``, scope ``https://graph.microsoft.com/.default``) with the bot's app id
and secret, cached until a minute before they expire.  A throttled call (``429``) raises
:class:`GraphError` with the ``Retry-After`` Graph asked for; the outbox waits that long.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

GRAPH_URL = "https://graph.microsoft.com/v1.0"
LOGIN_URL = "https://login.microsoftonline.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PAGE = 50  # the largest $top Graph allows for chat messages


class GraphError(Exception):
    """A Graph (or token) call that failed: the HTTP ``status``, Graph's error ``code`` and, for ``429``,
    the ``retry_after`` seconds it asked for."""

    def __init__(self, message: str, *, status: int, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _error(resp: aiohttp.ClientResponse, what: str) -> GraphError:
    try:
        body = await resp.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code, message = str(error.get("code") or ""), str(error.get("message") or "")
    else:  # the token endpoint answers OAuth errors: {"error": "invalid_client", "error_description": ...}
        code, message = str(error or ""), str(body.get("error_description") or "") if isinstance(body, dict) else ""
    text = f"{what}: {resp.status} {code}".strip() + (f" ({message[:200]})" if message else "")
    return GraphError(text, status=resp.status, code=code, retry_after=_retry_after(resp.headers))


class EntraTokens:
    """Application tokens for Graph from the client-credentials flow, cached until shortly before expiry."""

    def __init__(self, *, tenant_id: str, client_id: str, client_secret: str, login_url: str = LOGIN_URL,
                 scope: str = GRAPH_SCOPE) -> None:
        self.url = f"{login_url.rstrip('/')}/{tenant_id}/oauth2/v2.0/token"
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self._token: tuple[str, float] | None = None

    async def token(self, http: aiohttp.ClientSession) -> str:
        if self._token is not None and time.monotonic() < self._token[1]:
            return self._token[0]
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._secret,
                "scope": self.scope}
        async with http.post(self.url, data=form) as resp:
            if resp.status != 200:
                raise await _error(resp, "the Microsoft identity platform refused a Graph token")
            body = await resp.json(content_type=None)
        token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 3600)
        self._token = (token, time.monotonic() + max(lifetime - 60, lifetime / 2))
        return token


@dataclass(frozen=True)
class Installed:
    """What :meth:`Graph.install_for_user` did: installed now, or it already was."""

    already: bool


class Graph:
    """Graph calls made on one aiohttp session (the Teams sender's event loop)."""

    def __init__(self, *, tokens: EntraTokens, catalog_app_id: str, base_url: str = GRAPH_URL,
                 timeout: float = 30.0) -> None:
        self.tokens = tokens
        self.catalog_app_id = catalog_app_id
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None

    async def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.tokens.token(await self._session())}"}

    def _user(self, user_id: str) -> str:
        return f"{self.base}/users/{quote(user_id, safe='')}"

    async def install_for_user(self, user_id: str) -> Installed:
        """Install govbot's Teams app for the person with Entra object id (or UPN) ``user_id``."""
        http = await self._session()
        body = {"teamsApp@odata.bind": f"{self.base}/appCatalogs/teamsApps/{self.catalog_app_id}"}
        async with http.post(f"{self._user(user_id)}/teamwork/installedApps", json=body,
                             headers=await self._headers()) as resp:
            if resp.status in (200, 201, 204):
                return Installed(already=False)
            if resp.status == 409:
                return Installed(already=True)
            raise await _error(resp, "installing the Teams app")

    async def personal_chat_id(self, user_id: str) -> str | None:
        """The id of the chat between the person and govbot, ``None`` when the app is not installed for them."""
        http = await self._session()
        query = f"$expand=teamsApp&$filter=teamsApp/id eq '{self.catalog_app_id}'"
        async with http.get(f"{self._user(user_id)}/teamwork/installedApps?{query}",
                            headers=await self._headers()) as resp:
            if resp.status != 200:
                raise await _error(resp, "reading the person's Teams apps")
            installs = (await resp.json(content_type=None)).get("value") or []
        if not installs:
            return None
        installation = quote(str(installs[0]["id"]), safe="")
        async with http.get(f"{self._user(user_id)}/teamwork/installedApps/{installation}/chat",
                            headers=await self._headers()) as resp:
            if resp.status == 404:
                return None
            if resp.status != 200:
                raise await _error(resp, "reading the chat with the person")
            return str((await resp.json(content_type=None))["id"])

    async def messages_since(self, chat_id: str, since: dt.datetime) -> AsyncIterator[dict[str, Any]]:
        """The chat's messages changed after ``since``, newest first, every page."""
        url = (f"{self.base}/chats/{quote(chat_id, safe='')}/messages?$top={PAGE}"
               f"&$orderby=lastModifiedDateTime desc&$filter=lastModifiedDateTime gt {_stamp(since)}")
        async for message in self._pages(url, "reading the chat's messages"):
            yield message

    async def channel_messages_since(self, team_id: str, channel_id: str,
                                     since: dt.datetime) -> AsyncIterator[dict[str, Any]]:
        """The channel's messages (thread starters: govbot's posts) changed after ``since``, every page.

        A delta round restricted to the window (``GET /teams/{team}/channels/{channel}/messages/delta`` with
        ``$filter=lastModifiedDateTime gt …``), following ``@odata.nextLink`` until Graph answers with the
        round's ``@odata.deltaLink``.  ``team_id`` is the team's Microsoft 365 group id."""
        url = (f"{self.base}/teams/{quote(team_id, safe='')}/channels/{quote(channel_id, safe='')}"
               f"/messages/delta?$top={PAGE}&$filter=lastModifiedDateTime gt {_stamp(since)}")
        async for message in self._pages(url, "reading the channel's messages"):
            yield message

    async def _pages(self, first: str, what: str) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged Graph answer, following ``@odata.nextLink`` from ``first``."""
        http = await self._session()
        url: str | None = first
        while url:
            async with http.get(url, headers=await self._headers()) as resp:
                if resp.status != 200:
                    raise await _error(resp, what)
                page = await resp.json(content_type=None)
            for message in page.get("value") or []:
                yield message
            url = page.get("@odata.nextLink") or None
