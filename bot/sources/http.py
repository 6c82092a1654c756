"""One HTTP session policy for every connector that speaks plain HTTP (NetBox, ServiceNow, Graph).

Rate limits and outages are waited out, not hammered: 429 and 503 answers are retried after the
server's ``Retry-After`` (capped, so a hostile or broken server cannot park a sync for hours), other
5xx answers and dropped connections with exponential backoff.  Every request has a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

Sleep = Callable[[float], None]

DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 5
DEFAULT_MAX_WAIT = 300.0
USER_AGENT = "govbot-sync/0.1"


def retry_policy(*, retries: int = DEFAULT_RETRIES, max_wait: float = DEFAULT_MAX_WAIT,
                 sleep: Sleep = time.sleep) -> Retry:
    """urllib3's Retry, honouring Retry-After up to ``max_wait`` seconds and sleeping through ``sleep``."""

    class _Policy(Retry):
        def sleep_for_retry(self, response: Any) -> bool:
            wait = self.get_retry_after(response)
            if wait is None:
                return False
            sleep(min(max(wait, 0.0), max_wait))
            return True

        def _sleep_backoff(self) -> None:
            backoff = self.get_backoff_time()
            if backoff > 0:
                sleep(min(backoff, max_wait))

    return _Policy(total=retries, connect=retries, read=2, status=retries, backoff_factor=0.5,
                   status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset({"GET", "POST"}),
                   respect_retry_after_header=True, raise_on_status=False)


class _TimeoutAdapter(HTTPAdapter):
    def __init__(self, *, timeout: float, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def session(*, ca_bundle: str | None = None, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
            max_wait: float = DEFAULT_MAX_WAIT, sleep: Sleep = time.sleep) -> requests.Session:
    s = requests.Session()
    adapter = _TimeoutAdapter(timeout=timeout, max_retries=retry_policy(retries=retries, max_wait=max_wait,
                                                                         sleep=sleep))
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    if ca_bundle:
        s.verify = ca_bundle
    # Credentials come from settings only, never from ~/.netrc or proxy variables' userinfo.
    s.trust_env = False
    return s


def short(response: requests.Response) -> str:
    """``HTTP 403 Forbidden: <first line of the body>`` for an error message (never the request headers)."""
    body = (response.text or "").strip().splitlines()
    first = body[0][:300] if body else ""
    return f"HTTP {response.status_code} {response.reason}" + (f": {first}" if first else "")
