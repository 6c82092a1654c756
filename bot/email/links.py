"""Signed single-use links for deciding from an e-mail (Approve / Reject).

A link is a capability: whoever holds it may ask to take *one* decision, as *one* person, on *one*
change, until it expires.  It carries

* ``l`` — a random link id (remembered in ``used_links`` once used: a link works once),
* ``p`` — the person it was sent to, ``c`` — the change, ``a`` — the action (``approve`` / ``reject``),
* ``x`` — its expiry (Unix seconds),

as base64url JSON, followed by an HMAC-SHA256 of it under ``GOVBOT_EMAIL_LINK_KEY`` (a setting, never the
database: a copy of the database cannot mint links; rotating the key revokes every link sent).  Verifying
checks the signature in constant time before anything in the link is believed, then the expiry.  The
link is only the way in: the decision itself goes through the turn pipeline as that person, so the same
rules as in chat decide whether it is taken (see :mod:`bot.email.pages`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

ACTIONS = {"approve": "cr.approve", "reject": "cr.reject"}
_CONTEXT = b"govbot-email-link.v1."
MAX_TOKEN = 600  # characters: anything longer is not one of ours


class LinkError(Exception):
    """A link that is not valid: altered, signed with another key, malformed or expired."""


@dataclass(frozen=True)
class Link:
    link_id: str
    person_id: int
    change_id: int
    action: str  # approve | reject
    expires: dt.datetime

    @property
    def action_id(self) -> str:
        return ACTIONS[self.action]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, key: str, *, lifetime: dt.timedelta) -> None:
        if not key:
            raise ValueError("an e-mail link key is required")
        self._key = hashlib.sha256(_CONTEXT + key.encode()).digest()
        self.lifetime = lifetime

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, _CONTEXT + body.encode("ascii"), hashlib.sha256).digest())

    def sign(self, *, person_id: int, change_id: int, action: str, now: dt.datetime) -> str:
        if action not in ACTIONS:
            raise ValueError(f"no e-mail link for {action!r}")
        claims = {"l": secrets.token_hex(16), "p": person_id, "c": change_id, "a": action,
                  "x": int((now + self.lifetime).timestamp())}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, *, now: dt.datetime) -> Link:
        """The link ``token`` stands for; raises :class:`LinkError` when it is not valid (now)."""
        if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
            raise LinkError("this is not a govbot link")
        body, mac = token.split(".")
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac(body).encode("ascii")):
            raise LinkError("this link was altered or is not from this govbot")
        try:
            claims = json.loads(_unb64(body))
            link = Link(link_id=str(claims["l"]), person_id=int(claims["p"]), change_id=int(claims["c"]),
                        action=str(claims["a"]), expires=dt.datetime.fromtimestamp(int(claims["x"]), dt.UTC))
        except (ValueError, KeyError, TypeError) as exc:
            raise LinkError("this link is damaged") from exc
        if link.action not in ACTIONS:
            raise LinkError("this link is damaged")
        if now >= link.expires:
            raise LinkError("this link has expired")
        return link
