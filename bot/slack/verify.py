"""Request signatures: the verifier the Slack app uses, with a clock tests can set.

Bolt's request-verification middleware is always on; :func:`install_verifier`
only gives it our verifier instance (same algorithm, injectable clock) and
fails loudly if the middleware is missing, so verification cannot silently
disappear.
"""

from __future__ import annotations

import time

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.middleware.request_verification.async_request_verification import AsyncRequestVerification
from slack_sdk.signature import Clock, SignatureVerifier

# Slack rejects requests older than this; so do we.
MAX_AGE_SECONDS = 5 * 60


class WallClock(Clock):
    def now(self) -> float:
        return time.time()


class FixedClock(Clock):
    """A clock stopped at ``at`` (seconds since the epoch), for verifying recorded requests."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at


def signature_verifier(signing_secret: str, *, clock: Clock | None = None) -> SignatureVerifier:
    return SignatureVerifier(signing_secret=signing_secret, clock=clock or WallClock())


def install_verifier(app: AsyncApp, verifier: SignatureVerifier) -> None:
    for middleware in app._async_middleware_list:
        if isinstance(middleware, AsyncRequestVerification):
            middleware._verifier = verifier
            return
    raise RuntimeError("Slack request verification is not active; refusing to serve unsigned requests")
