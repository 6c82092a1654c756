"""The keys that sign the audit trail, kept outside the database.

Every audit entry's hash is an HMAC-SHA256 under a secret key that is *not* stored with the entries
(``GOVBOT_AUDIT_KEY``, or a file in ``GOVBOT_SECRETS_DIR``), so whoever can write to the database
can delete or edit entries but cannot recompute hashes that verify.  Each entry records the id of its
key; a key id is a fingerprint of the key (an HMAC of a fixed label), so it names the key without
revealing it and two different keys never share an id.

Rotation: the new key becomes the current one and the old one stays in the keyring as a previous key
(``GOVBOT_AUDIT_PREVIOUS_KEYS``); new entries are signed with the new key and entries signed with
either verify.  A keyring is attached to the sessions govbot opens (``session.info``); a session
without one (tests, benchmarks, scripts) signs with the well-known development key, whose entries
a production keyring reports as signed by a key it does not have.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

KEYRING_INFO = "govbot.audit_keyring"
MIN_KEY_LENGTH = 32
DEVELOPMENT_KEY_ID = "dev"
_DEVELOPMENT_SECRET = b"govbot development audit key: not secret, never for production"
_ID_LABEL = b"govbot audit key id v1"


class AuditKeyMissing(RuntimeError):
    """Production settings without an audit key: the trail could be rewritten by anyone with the database."""


def key_id(secret: bytes) -> str:
    """The id an entry records for the key that signed it: a fingerprint, not the key."""
    return "k" + hmac.new(secret, _ID_LABEL, hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class AuditKeyring:
    """The current signing key and the previous ones still accepted when verifying."""

    current_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    @classmethod
    def from_secrets(cls, current: str, previous: Iterable[str] = ()) -> AuditKeyring:
        secret = current.encode("utf-8")
        keys = {key_id(p.encode("utf-8")): p.encode("utf-8") for p in previous if p}
        keys[key_id(secret)] = secret
        return cls(current_id=key_id(secret), keys=keys)

    @classmethod
    def development(cls) -> AuditKeyring:
        return cls(current_id=DEVELOPMENT_KEY_ID, keys={DEVELOPMENT_KEY_ID: _DEVELOPMENT_SECRET})

    @property
    def is_development(self) -> bool:
        return self.current_id == DEVELOPMENT_KEY_ID

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    def mac(self, body: bytes, *, key: str | None = None) -> str | None:
        """HMAC-SHA256 of ``body`` under ``key`` (default: the current key); ``None`` for a key not in the ring."""
        secret = self.keys.get(key or self.current_id)
        if secret is None:
            return None
        return hmac.new(secret, body, hashlib.sha256).hexdigest()


KeyringSource = AuditKeyring | Callable[[], AuditKeyring]


def keyring(session: Session) -> AuditKeyring:
    """The keyring attached to ``session`` (resolved when it is a provider), else the development keyring."""
    source: Any = session.info.get(KEYRING_INFO)
    if source is None:
        return AuditKeyring.development()
    if isinstance(source, AuditKeyring):
        return source
    resolved = source()
    if not isinstance(resolved, AuditKeyring):
        raise TypeError("the audit keyring provider returned something else")
    return resolved
