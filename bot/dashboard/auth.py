"""Who may read the dashboard: anyone on loopback, a token or pass holder everywhere else.

When the host listens on a non-loopback address the dashboard needs
``GOVBOT_DASHBOARD_TOKEN``, given as ``Authorization: Bearer TOKEN``, as the
password of HTTP basic authentication, or once as ``?token=TOKEN`` (which sets
a cookie and redirects to the same page without the token).  A person's own
link from the chat ``dashboard`` command carries ``?pass=PASS`` instead: a
valid, unexpired pass (see :mod:`handlers.dashboard_pass`) sets a session
cookie that ends when the pass does, and redirects without it; an expired,
tampered or forged pass is a 401.  Without a token configured the dashboard
refuses to start rather than serve the org openly.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web

from handlers import dashboard_pass

COOKIE = "govbot_dashboard"
PASS_PARAM = "pass"
Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


def published(public_url: str | None) -> bool:
    """A public URL that others open (a reverse proxy's address): anything but a loopback URL."""
    if not public_url:
        return False
    return not is_loopback(urlsplit(public_url).hostname)


def required_token(host: str, token: str | None, *, public_url: str | None = None) -> str | None:
    """The token requests must carry; ``None`` only on loopback with no public URL.  Raises when the dashboard
    would be reachable by others without one: bound beyond loopback, or published at a public URL (behind a
    reverse proxy the host binds 127.0.0.1, yet everyone who reaches the proxy reaches the dashboard)."""
    if is_loopback(host) and not published(public_url):
        return None
    if not token:
        if not is_loopback(host):
            raise DashboardAuthError(
                f"the dashboard would listen on {host} without authentication: set GOVBOT_DASHBOARD_TOKEN "
                "or bind it to 127.0.0.1"
            )
        raise DashboardAuthError(
            f"the dashboard is published at {public_url} (GOVBOT_PUBLIC_URL) without authentication: set "
            "GOVBOT_DASHBOARD_TOKEN"
        )
    return token


def _cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"govbot-dashboard-session", hashlib.sha256).hexdigest()


def _valid_pass(value: str, key: bytes, now: dt.datetime) -> dashboard_pass.Pass | None:
    try:
        return dashboard_pass.verify(value, key=key, now=now)
    except dashboard_pass.InvalidPass:
        return None


def authorised(request: web.Request, token: str) -> bool:
    """The token itself: bearer, the password of basic authentication, or the session cookie it set."""
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


def _without(request: web.Request, param: str) -> str:
    query = {k: v for k, v in request.query.items() if k != param}
    return str(request.rel_url.with_query(query) if query else request.rel_url.with_query(None))


# Who a personal pass signed in (a person id), on requests it authorised; absent for token holders.
VIEWER = web.RequestKey("govbot_dashboard_viewer", int)
# Whether a pass holder may still view the dashboard (they may have left since the link was issued).
StillAllowed = Callable[[int], Awaitable[bool]]
SIGN_IN_HELP = ("Sign in with your personal link: send govbot `dashboard` in a personal chat "
                "(in Slack: /govbot dashboard).\n")


def _unauthorised(text: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(text=text, headers={"WWW-Authenticate": 'Basic realm="govbot dashboard"'})


def middleware(token: str, prefixes: Iterable[str], *, still_allowed: StillAllowed, clock: Clock = _utc_now,
               secure_cookies: bool = False) -> Callable[..., Awaitable[web.StreamResponse]]:
    """``still_allowed`` is asked on every request a personal pass authorises (it is required: a mount
    cannot leave it out).  Cookies are ``Secure`` on HTTPS requests (behind a trusted TLS proxy too) and
    always when ``secure_cookies`` (an https public URL)."""
    guarded = tuple(prefixes)
    key = dashboard_pass.derive_key(token)

    def protects(path: str) -> bool:
        return path == "/" or path.startswith(guarded)

    async def holder_allowed(valid: dashboard_pass.Pass) -> bool:
        return await still_allowed(valid.person_id)

    @web.middleware
    async def dashboard_auth(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                             ) -> web.StreamResponse:
        if not protects(request.path):
            return await handler(request)
        now = clock()
        if PASS_PARAM in request.query:
            # A personal link: a valid pass signs its holder in until it expires; any other pass is refused.
            given_pass = request.query.get(PASS_PARAM, "")
            valid = _valid_pass(given_pass, key, now)
            if valid is None:
                raise _unauthorised("This dashboard link has expired or is not valid. Ask govbot for a new one "
                                    "(the `dashboard` command in chat).\n")
            if not await holder_allowed(valid):
                raise _unauthorised("This link belongs to someone who may no longer view the dashboard.\n")
            response: web.HTTPException = web.HTTPFound(_without(request, PASS_PARAM))
            # Lax, not Strict: the link is opened from Slack or Teams (another site), and the redirect that
            # follows must carry the cookie.  The dashboard only reads; the chat API takes JSON only.
            lifetime = max(1, int((valid.expires_at - now).total_seconds()))
            response.set_cookie(COOKIE, given_pass, httponly=True, samesite="Lax",
                                secure=secure_cookies or request.secure, max_age=lifetime)
            raise response
        if authorised(request, token):
            return await handler(request)
        cookie = request.cookies.get(COOKIE, "")
        valid = _valid_pass(cookie, key, now) if cookie else None
        if valid is not None:
            if not await holder_allowed(valid):  # left the company (or was removed) since the link was issued
                response = _unauthorised("Your directory entry is no longer active, so you cannot view the "
                                         "dashboard.\n")
                response.del_cookie(COOKIE)
                raise response
            request[VIEWER] = valid.person_id
            return await handler(request)
        given = request.query.get("token")
        if given and hmac.compare_digest(given.encode(), token.encode()):
            response = web.HTTPFound(_without(request, "token"))
            response.set_cookie(COOKIE, _cookie_value(token), httponly=True, samesite="Strict",
                                secure=secure_cookies or request.secure)
            raise response
        raise _unauthorised("Authentication required. " + SIGN_IN_HELP)

    return dashboard_auth


AUTH_INSTALLED = web.AppKey("govbot_dashboard_auth", bool)
GUARDED = ("/systems", "/raci", "/changes", "/metrics", "/gaps", "/chat", "/dashboard-static")


def install(app: web.Application, *, host: str, token: str | None, still_allowed: StillAllowed,
            clock: Clock | None = None, public_url: str | None = None) -> None:
    """Guard the dashboard, chat and metrics paths (once per application) when bound beyond loopback or
    published at a public URL.

    ``clock`` is the one the core issues passes with (the container's), so both agree on expiry;
    ``still_allowed`` re-checks a pass holder against the directory on every request, whichever mount
    installed the guard first."""
    needed = required_token(host, token, public_url=public_url)
    if app.get(AUTH_INSTALLED):
        return
    app[AUTH_INSTALLED] = True
    if needed is not None:
        secure = bool(public_url and public_url.lower().startswith("https://"))
        app.middlewares.append(middleware(needed, GUARDED, clock=clock or _utc_now, still_allowed=still_allowed,
                                          secure_cookies=secure))
