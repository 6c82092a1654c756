"""Slack's member directory through slack_sdk: ``users.list`` with cursors.

Slack has no change feed for members, so every run reads the whole list, 200 members a page,
following ``response_metadata.next_cursor``; what changed is worked out against the stored copy.
Rate limits (HTTP 429) are waited out for the ``Retry-After`` Slack names (capped).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot.sources import http
from governance_store.importers.records import RecordFile
from governance_store.sources.fetched import Collection, Fetched, Payload, SourceError

PAGE = 200
MAX_PAGES = 10_000


class RateLimitWait(RetryHandler):
    """Retries a 429 after Slack's ``Retry-After`` (capped at ``max_wait``), sleeping through ``sleep``."""

    def __init__(self, *, max_retry_count: int = 5, max_wait: float = http.DEFAULT_MAX_WAIT,
                 sleep: http.Sleep = time.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self.sleep = sleep

    def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
        return response is not None and response.status_code == 429

    def prepare_for_next_attempt(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> None:
        wait = 1.0
        for key, value in (response.headers if response is not None else {}).items():
            if key.lower() == "retry-after":
                raw = value[0] if isinstance(value, list) else value
                try:
                    wait = float(raw)
                except (TypeError, ValueError):
                    wait = 1.0
        state.next_attempt_requested = True
        self.sleep(min(max(wait, 0.0), self.max_wait))
        state.increment_current_attempt()


class SlackDirectoryConnector:
    name = "slack"
    label = "Slack"

    def __init__(self, token: str, *, base_url: str = "https://slack.com/api/", timeout: float = 30.0,
                 max_wait: float = http.DEFAULT_MAX_WAIT, sleep: http.Sleep = time.sleep, page: int = PAGE) -> None:
        self.token = token
        self.page = page
        self.client = WebClient(token=token, base_url=base_url, timeout=int(timeout),
                                retry_handlers=[RateLimitWait(max_wait=max_wait, sleep=sleep),
                                                ConnectionErrorRetryHandler()])

    def secrets(self) -> list[str]:
        return [self.token]

    def fetch(self, cursors: Mapping[str, dict[str, Any]]) -> Fetched:
        fetched = Fetched()
        members: dict[str, Payload] = {}
        cursor: str | None = None
        try:
            for _ in range(MAX_PAGES):
                response = self.client.users_list(limit=self.page, cursor=cursor) if cursor else \
                    self.client.users_list(limit=self.page)
                fetched.requests += 1
                page = response.get("members")
                if not isinstance(page, list):
                    raise SourceError("Slack answered users.list without a member list")
                for member in page:
                    if isinstance(member, dict) and member.get("id"):
                        members[str(member["id"])] = member
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
            else:
                raise SourceError("Slack kept paging users.list past any reasonable size")
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            status = exc.response.status_code if exc.response is not None else "?"
            raise SourceError(f"Slack refused users.list: HTTP {status} {error or ''}".strip()) from None
        except SlackClientError as exc:
            raise SourceError(f"Slack is unreachable: {type(exc).__name__}") from None
        except OSError as exc:
            raise SourceError(f"Slack is unreachable: {type(exc).__name__}") from None
        fetched.collections["users"] = Collection(upserts=members, replace=True, cursor={"listed": len(members)})
        return fetched

    def files(self, records: Mapping[str, Sequence[Payload]]) -> list[RecordFile]:
        return slack_files(records)


def slack_files(records: Mapping[str, Sequence[Payload]]) -> list[RecordFile]:
    rows = []
    for m in records.get("users", ()):
        profile = m.get("profile") or {}
        rows.append((f"id={m['id']} ({m.get('name') or '?'})", {
            "id": m["id"], "team_id": m.get("team_id") or "", "name": m.get("name") or "",
            "real_name": m.get("real_name") or profile.get("real_name") or "",
            "deleted": bool(m.get("deleted")), "is_bot": bool(m.get("is_bot")),
            "is_restricted": bool(m.get("is_restricted")), "is_ultra_restricted": bool(m.get("is_ultra_restricted")),
            "tz": m.get("tz") or "", "tz_label": m.get("tz_label") or "", "profile.email": profile.get("email") or "",
            "profile.title": profile.get("title") or "", "profile.display_name": profile.get("display_name") or "",
        }))
    return [RecordFile("Slack users.list", "slack_users", rows)]
