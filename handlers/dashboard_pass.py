"""Signed, expiring dashboard passes: which person may open the dashboard, and until when.

A pass is ``base64url("PERSON_ID:EXPIRES") + "." + base64url(HMAC-SHA256(key, that payload))``, where
``EXPIRES`` is a Unix time in seconds and the key is derived from ``GOVBOT_DASHBOARD_TOKEN`` (so
rotating the token revokes every pass).  The core issues passes and the dashboard verifies them;
this module is the only place that knows the format and uses the standard library only.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass, field

# Domain separation: the key signs passes only (the session cookie of a token holder uses another label).
_KEY_LABEL = b"govbot dashboard pass key v1"
_SIGNED_PREFIX = b"govbot-dashboard-pass:v1:"
_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PAYLOAD = re.compile(r"^([1-9][0-9]{0,17}):([0-9]{1,12})$")
MAX_LENGTH = 160


class InvalidPass(ValueError):
    """The pass is malformed, its signature does not match (tampered, forged, other key) or it expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Pass:
    person_id: int
    expires_at: dt.datetime


def derive_key(token: str) -> bytes:
    """The signing key for passes, derived from the dashboard token."""
    if not token:
        raise ValueError("a dashboard token is needed to sign passes")
    return hmac.new(token.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _PART.match(text):
        raise InvalidPass("malformed")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise InvalidPass("malformed") from None


def _signature(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _SIGNED_PREFIX + payload, hashlib.sha256).digest()


def issue(person_id: int, *, key: bytes, expires_at: dt.datetime) -> str:
    """A pass for ``person_id`` valid until ``expires_at`` (whole seconds)."""
    if person_id <= 0:
        raise ValueError("person ids are positive")
    payload = f"{person_id}:{int(expires_at.timestamp())}".encode("ascii")
    return f"{_b64(payload)}.{_b64(_signature(key, payload))}"


def verify(value: str, *, key: bytes, now: dt.datetime) -> Pass:
    """The person and expiry of a valid pass; raises :class:`InvalidPass` otherwise."""
    if not value or len(value) > MAX_LENGTH or value.count(".") != 1:
        raise InvalidPass("malformed")
    encoded, _, signature = value.partition(".")
    payload = _unb64(encoded)
    if not hmac.compare_digest(_unb64(signature), _signature(key, payload)):
        raise InvalidPass("bad signature")
    match = _PAYLOAD.match(payload.decode("ascii", errors="replace"))
    if match is None:
        raise InvalidPass("malformed")
    expires_at = dt.datetime.fromtimestamp(int(match.group(2)), tz=dt.UTC)
    if now >= expires_at:
        raise InvalidPass("expired")
    return Pass(person_id=int(match.group(1)), expires_at=expires_at)


DEFAULT_URL = "http://127.0.0.1:3000/"
DEFAULT_LIFETIME = dt.timedelta(hours=12)


@dataclass(frozen=True)
class DashboardLinks:
    """Where the dashboard is reached and, when it needs a token, the key its passes are signed with."""

    base_url: str = DEFAULT_URL
    key: bytes | None = field(default=None, repr=False)
    lifetime: dt.timedelta = DEFAULT_LIFETIME

    @classmethod
    def configure(cls, base_url: str, *, token: str | None, lifetime: dt.timedelta = DEFAULT_LIFETIME
                  ) -> DashboardLinks:
        if lifetime <= dt.timedelta(0):
            raise ValueError("the dashboard link lifetime must be positive")
        key = derive_key(token) if token else None
        return cls(base_url=base_url.rstrip("/") + "/", key=key, lifetime=lifetime)

    def link(self, person_id: int, *, now: dt.datetime) -> tuple[str, dt.datetime | None]:
        """The URL for ``person_id`` and when it stops working (``None``: a plain URL that never does)."""
        if self.key is None:
            return self.base_url, None
        expires_at = now + self.lifetime
        signed = issue(person_id, key=self.key, expires_at=expires_at)
        return f"{self.base_url}?pass={signed}", expires_at
