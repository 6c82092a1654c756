"""Who may read the dashboard: anyone on loopback, a token holder everywhere else.

When the host listens on a non-loopback address the dashboard needs
``GOVBOT_DASHBOARD_TOKEN``, given as ``Authorization: Bearer TOKEN``, as the
password of HTTP basic authentication, or once as ``?token=TOKEN`` (which sets
a cookie and redirects to the same page without the token).  Without a token
configured the dashboard refuses to start rather than serve the org openly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

COOKIE = "govbot_dashboard"


class DashboardAuthError(RuntimeError):
    """The dashboard would be reachable from the network without a token."""


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def required_token(host: str, token: str | None) -> str | None:
    """The token requests must carry, ``None`` on loopback; raises when a network bind has no token."""
    if is_loopback(host):
        return None
    if not token:
        raise DashboardAuthError(
            f"the dashboard would listen on {host} without authentication: set GOVBOT_DASHBOARD_TOKEN "
            "or bind it to 127.0.0.1"
        )
    return token


def _cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"govbot-dashboard-session", hashlib.sha256).hexdigest()


def authorised(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, cred = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(cred.strip().encode(), token.encode()):
        return True
    if scheme.lower() == "basic":
        try:
            _, _, password = base64.b64decode(cred.strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            password = ""
        if password and hmac.compare_digest(password.encode(), token.encode()):
            return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), _cookie_value(token).encode())


def middleware(token: str, prefixes: Iterable[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    guarded = tuple(prefixes)

    def protects(path: str) -> bool:
        return path == "/" or path.startswith(guarded)

    @web.middleware
    async def dashboard_auth(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                             ) -> web.StreamResponse:
        if not protects(request.path):
            return await handler(request)
        if authorised(request, token):
            return await handler(request)
        given = request.query.get("token")
        if given and hmac.compare_digest(given.encode(), token.encode()):
            query = {k: v for k, v in request.query.items() if k != "token"}
            target = request.rel_url.with_query(query) if query else request.rel_url.with_query(None)
            response = web.HTTPFound(str(target))
            response.set_cookie(COOKIE, _cookie_value(token), httponly=True, samesite="Strict",
                                secure=request.secure)
            raise response
        raise web.HTTPUnauthorized(text="authentication required\n",
                                   headers={"WWW-Authenticate": 'Basic realm="govbot dashboard"'})

    return dashboard_auth


AUTH_INSTALLED = web.AppKey("govbot_dashboard_auth", bool)
GUARDED = ("/systems", "/raci", "/changes", "/metrics", "/gaps", "/chat", "/dashboard-static")


def install(app: web.Application, *, host: str, token: str | None) -> None:
    """Guard the dashboard, chat and metrics paths (once per application) when bound beyond loopback."""
    needed = required_token(host, token)
    if app.get(AUTH_INSTALLED):
        return
    app[AUTH_INSTALLED] = True
    if needed is not None:
        app.middlewares.append(middleware(needed, GUARDED))
