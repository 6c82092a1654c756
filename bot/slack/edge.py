"""The Slack HTTP edge: authenticate first, parse second, answer each signed request once.

In this order, before bolt sees anything:

1. **signature** over the raw bytes (``X-Slack-Signature``, ``X-Slack-Request-Timestamp`` within five
   minutes).  Anything else is a 401 with a fixed body; the log line names the sender's address, never
   the body (bolt's own verification stays on behind this, and its log of a bad signature, which would
   quote the body, is cut down to one line);
2. **replay**: a fingerprint of the signature is remembered in the database (:mod:`governance_store.replay`)
   for the signature window, so the same signed request sent again, to this replica or another, is
   acknowledged without running twice.  An Events API retry is a new request with a new signature: its
   ``event_id`` is remembered the same way, so a retry (``X-Slack-Retry-Num``) of an event already handled
   by any replica is acknowledged and skipped (a first delivery always runs; a retry of one never handled,
   or whose handling failed, goes through);
3. **parse**: a signed body that is not UTF-8, JSON or form data as Slack sends them is a 400.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.orm import Session, sessionmaker

from bot.slack.verify import MAX_AGE_SECONDS
from governance_store import db, replay

log = logging.getLogger(__name__)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
# Signatures stay valid MAX_AGE_SECONDS either side of their timestamp (clock skew); remember a little longer.
REMEMBER_SECONDS = MAX_AGE_SECONDS + 60
# Slack retries an event up to three times within minutes; remember handled events well beyond that.
EVENT_MEMORY_SECONDS = 60 * 60
PURGE_EVERY_SECONDS = 60.0
_BOLT_SIGNATURE_LOG = "Invalid request signature"


def unauthorised() -> web.Response:
    return web.json_response({"error": "invalid request"}, status=401)


def signed(verifier: SignatureVerifier, body: bytes, headers: Any) -> tuple[int, str] | None:
    """(timestamp, signature) when ``body`` carries Slack's valid, fresh signature, else ``None``."""
    timestamp = (headers.get("X-Slack-Request-Timestamp") or "").strip()
    signature = (headers.get("X-Slack-Signature") or "").strip()
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return None
    if abs(verifier.clock.now() - int(timestamp)) > MAX_AGE_SECONDS:
        return None
    # Slack's v0 scheme over the raw bytes (the SDK's verifier would decode them first, and fail on non-UTF-8).
    expected = hmac.new(verifier.signing_secret.encode("utf-8"), b"v0:" + timestamp.encode() + b":" + body,
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest("v0=" + expected, signature):
        return None
    return int(timestamp), signature


def payload(body: bytes, content_type: str | None) -> dict[str, Any] | None:
    """The body as bolt will read it, or ``None`` when it cannot be read (not UTF-8, broken JSON, not an object)."""
    try:
        text = body.decode("utf-8")
        parsed = parse_body(text, content_type)
    except (UnicodeDecodeError, ValueError):  # json.JSONDecodeError is a ValueError
        return None
    return parsed if isinstance(parsed, dict) else None


@dataclass
class ReplayGuard:
    """Remembers accepted signatures and handled events in the store, shared by every replica.

    Claims are written together: while one transaction is writing, the requests arriving meanwhile queue up
    and the next transaction takes them all (one statement for the lot).  A lone request waits for nothing;
    fifty at once cost a few transactions instead of fifty."""

    factory: sessionmaker[Session]
    clock: Callable[[], float] = time.time
    _last_purge: float = 0.0
    _queue: list[tuple[str, float, asyncio.Future[bool]]] = field(default_factory=list)
    _writer: asyncio.Task[None] | None = None

    def _claim_many(self, keys: dict[str, float]) -> set[str]:
        now = self.clock()
        with db.unit_of_work(self.factory) as session:
            if now - self._last_purge >= PURGE_EVERY_SECONDS:
                self._last_purge = now
                replay.purge(session, now=_at(now))
            return replay.claim_many(session, {key: _at(until) for key, until in keys.items()}, now=_at(now))

    def _forget(self, key: str) -> None:
        with db.unit_of_work(self.factory) as session:
            replay.forget(session, key)

    async def first_time(self, key: str, *, until: float) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((key, until, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        return await answer

    async def _write_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            keys: dict[str, float] = {}
            for key, until, _answer in batch:
                keys.setdefault(key, until)
            try:
                fresh = await asyncio.to_thread(self._claim_many, keys)
            except Exception as exc:  # noqa: BLE001 - each waiting request gets the error, as if it had written alone
                for _key, _until, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for key, _until, answer in batch:
                first = key in fresh
                fresh.discard(key)  # the same request twice in one batch: only the first one runs
                if not answer.done():
                    answer.set_result(first)

    async def forget(self, key: str) -> None:
        try:
            await asyncio.to_thread(self._forget, key)
        except Exception:  # noqa: BLE001 - at worst a genuine retry is skipped; the log says so
            log.exception("could not forget %s", key)


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def fingerprint(timestamp: int, signature: str) -> str:
    return "slack-sig:" + hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()


Dispatch = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def handle(request: web.Request, *, verifier: SignatureVerifier, guard: ReplayGuard,
                 dispatch: Dispatch) -> web.StreamResponse:
    """Authenticate, refuse replays, check the body, then ``dispatch`` (bolt)."""
    body = await request.read()
    auth = signed(verifier, body, request.headers)
    if auth is None:
        log.info("refused a Slack request without a valid, fresh signature from %s", request.remote)
        return unauthorised()
    timestamp, signature = auth
    data = payload(body, request.content_type)
    if data is None:
        log.info("refused a signed Slack request whose body cannot be read (%d bytes)", len(body))
        return web.json_response({"error": "malformed request"}, status=400)
    key = fingerprint(timestamp, signature)
    if not await guard.first_time(key, until=timestamp + REMEMBER_SECONDS):
        log.info("a signed Slack request arrived again; it was answered the first time and is not run again")
        return web.Response(status=200)
    event_key = _event_key(data)
    if event_key is not None:
        handled_before = not await guard.first_time(event_key, until=guard.clock() + EVENT_MEMORY_SECONDS)
        retry = _retry_num(request.headers.get("X-Slack-Retry-Num"))
        if handled_before and retry > 0:  # a first delivery is always handled; a retry only when never handled
            log.info("skipping re-delivered event %s (retry %d): it was handled already", data.get("event_id"), retry)
            return web.Response(status=200)
    try:
        response = await dispatch(request)
    except Exception:
        await guard.forget(key)
        if event_key is not None:
            await guard.forget(event_key)
        raise
    if response.status >= 500 and event_key is not None:
        await guard.forget(event_key)  # Slack retries it; that retry must run
    return response


def _retry_num(value: str | None) -> int:
    try:
        return max(0, int((value or "0").strip()[:4]))
    except ValueError:
        return 0


def _event_key(data: dict[str, Any]) -> str | None:
    if data.get("type") != "event_callback":
        return None
    event_id = data.get("event_id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 64:
        return None
    return "slack-event:" + event_id


class _QuietBoltSignatureLog(logging.Filter):
    """Bolt logs a bad signature with the whole unsigned body; keep the fact, drop the body."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(_BOLT_SIGNATURE_LOG):
            record.msg, record.args = "Invalid request signature (request body not logged)", None
        return True


def quiet_bolt_logger(logger: logging.Logger) -> None:
    """Install the filter once on bolt's logger."""
    if not any(isinstance(f, _QuietBoltSignatureLog) for f in logger.filters):
        logger.addFilter(_QuietBoltSignatureLog())


__all__ = ["ReplayGuard", "fingerprint", "handle", "payload", "quiet_bolt_logger", "signed"]
