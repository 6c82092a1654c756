"""What every response of the web host gets, whichever mount answers it.

* **Security headers** on every response (pages, errors, JSON, static files): a Content-Security-Policy
  without inline script or style (the templates load ``chat.js`` and ``style.css`` only), no framing
  (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: no-referrer`` (a page opened from a personal link never passes an address on).
* **Trusted proxies**: ``X-Forwarded-Proto`` / ``-Host`` / ``-For`` are believed only from the addresses in
  ``GOVBOT_TRUSTED_PROXIES``; then the request is treated as the proxy received it (so cookies get
  ``Secure`` behind a TLS-terminating proxy).  From anyone else those headers are ignored.
* **Host allow-list** against DNS rebinding: a page served on loopback without a token would otherwise be
  readable by any web site whose name an attacker points at 127.0.0.1.  Browser-facing paths answer only
  to loopback names, the public URL's host, the bound address and ``GOVBOT_ALLOWED_HOSTS``; other hosts
  get a 421.  The machine-to-machine endpoints (Slack, Teams, ``/healthz``) are authenticated by
  signatures and tokens (or reveal nothing) and answer any host.
* **No secrets in logs**: the access log and every log line pass through :func:`redact`, so ``?token=``
  and ``?pass=`` values never reach a log file.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Middleware

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
                           "object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Endpoints for other machines: authenticated by signatures and tokens, or (health) revealing nothing.
MACHINE_PATHS = ("/slack/events", "/api/messages", "/healthz")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})

_SECRET_QUERY = re.compile(r"(?i)([?&;](?:token|pass|password|secret|key|signature|sig)=)[^&;#\s\"']*")
REDACTED = "[redacted]"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def redact(text: str) -> str:
    """``text`` with the values of secret-looking query parameters replaced."""
    return _SECRET_QUERY.sub(r"\1" + REDACTED, text)


async def add_security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _hostname(host: str) -> str:
    """The name part of a Host header value, lower case, without port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _is_loopback_name(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HostPolicy:
    """The host names pages answer to; ``any_host`` turns the check off (``GOVBOT_ALLOWED_HOSTS=*``)."""

    names: frozenset[str]
    any_host: bool = False

    @classmethod
    def build(cls, *, configured: str = "", public_host: str | None = None, bind_host: str | None = None
              ) -> HostPolicy:
        extra = [h.strip().lower() for h in configured.split(",") if h.strip()]
        if "*" in extra:
            return cls(frozenset(), any_host=True)
        names = set(extra)
        if public_host:
            names.add(public_host.lower())
        bind = (bind_host or "").strip().strip("[]").lower()
        if bind not in WILDCARDS:
            names.add(bind)
        return cls(frozenset(names))

    def allows(self, host: str | None) -> bool:
        if self.any_host:
            return True
        name = _hostname(host or "")
        return bool(name) and (_is_loopback_name(name) or name in self.names)


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        nets = []
        for item in (p.strip() for p in text.split(",")):
            if item:
                try:
                    nets.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ValueError(f"GOVBOT_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
        return cls(tuple(nets))

    def trusts(self, remote: str | None) -> bool:
        if not remote or not self.networks:
            return False
        try:
            address = ipaddress.ip_address(remote)
        except ValueError:
            return False
        return any(address in net for net in self.networks)


def _first(value: str | None) -> str | None:
    if not value:
        return None
    first = value.split(",")[0].strip()
    return first or None


def _client(forwarded_for: str | None, proxies: TrustedProxies) -> str | None:
    """The right-most address in X-Forwarded-For that is not one of our proxies (the one we can believe)."""
    if not forwarded_for:
        return None
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not proxies.trusts(hop):
            return hop
    return hops[0] if hops else None


def middleware(policy: HostPolicy, proxies: TrustedProxies, *, exempt: Iterable[str] = MACHINE_PATHS
               ) -> Middleware:
    """Forwarded headers from trusted proxies, then the Host allow-list for browser-facing paths."""
    exempt_paths = tuple(exempt)

    @web.middleware
    async def host_and_proxy(request: web.Request, handler: Handler) -> web.StreamResponse:
        if proxies.trusts(request.remote):
            changes: dict[str, str] = {}
            proto = (_first(request.headers.get("X-Forwarded-Proto")) or "").lower()
            if proto in ("http", "https"):
                changes["scheme"] = proto
            host = _first(request.headers.get("X-Forwarded-Host"))
            if host:
                changes["host"] = host
            client = _client(request.headers.get("X-Forwarded-For"), proxies)
            if client:
                changes["remote"] = client
            if changes:
                request = request.clone(**changes)  # type: ignore[arg-type]
        if not request.path.startswith(exempt_paths) and not policy.allows(request.host):
            logging.getLogger(__name__).info("refused a request for host %r (not an allowed host name)",
                                             _hostname(request.host or "")[:100])
            raise web.HTTPMisdirectedRequest(
                text="This address is not served here. Open govbot at its own address (GOVBOT_PUBLIC_URL), "
                     "or add the name to GOVBOT_ALLOWED_HOSTS.\n")
        return await handler(request)

    return host_and_proxy


class RedactingAccessLogger(AbstractAccessLogger):
    """The access log without secrets: method, path with secret query values redacted, status, size, time."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        referer = request.headers.get("Referer", "-")
        self.logger.info('%s "%s %s HTTP/%d.%d" %d %s %.3fs "%s" "%s"', request.remote or "-", request.method,
                         redact(request.path_qs), request.version.major, request.version.minor, response.status,
                         response.body_length, time, redact(referer), request.headers.get("User-Agent", "-"))


class RedactSecrets(logging.Filter):
    """Redacts secret query values from every record a handler writes (our logs, aiohttp's, bolt's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_log_handlers(logger: logging.Logger | None = None) -> None:
    """Install :class:`RedactSecrets` on the handlers of ``logger`` (default: the root logger), once."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
