"""Attacks on the dashboard and the web host, through ``bot.web.serve`` on a real socket with the mounts
``govbot serve`` uses (``dashboard_mounts``: metrics first, then the dashboard) and the web chat.

* a personal pass stops working the moment its holder leaves, on every mount;
* ``?token=`` and ``?pass=`` values never reach a log;
* every response carries the security headers; cookies are Secure behind a trusted TLS proxy;
* a page answers only to its own host names (DNS rebinding), the chat endpoints and health to any;
* a public URL means the dashboard needs the token, whatever the bind address (the reverse-proxy setup).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from bot.bootstrap import Container
from bot.cli import main
from bot.dashboard import ChatMount, WebInbox
from bot.dashboard.app import dashboard_mounts
from bot.dashboard.auth import DashboardAuthError
from bot.turn import Ask, ChatUser
from bot.web import serve
from governance_store.models import Person
from tests.dashboard.conftest import FakeClock, container_on

TOKEN = "a-dashboard-token-only-admins-know"
LUIS = "luis.ortega@corvane.example"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@asynccontextmanager
async def serving(container: Container, mounts: list[Any]) -> AsyncIterator[str]:
    """``govbot serve``'s web host on 127.0.0.1, an ephemeral port, with ``mounts``."""
    stop = asyncio.Event()
    ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(container, host="127.0.0.1", port=0, stop=stop, mounts=mounts,
                                     on_ready=lambda addresses: ready.set_result(addresses)))
    try:
        addresses = await asyncio.wait_for(ready, 10)
        yield f"http://127.0.0.1:{addresses[0][1]}"
    finally:
        stop.set()
        await task


def _link(container: Container, email: str) -> str:
    """The personal link the chat ``dashboard`` command gives ``email``: its path and query."""
    reply = container.pipeline.answer(ChatUser(platform="slack", email=email), Ask("dashboard"))
    assert reply.status == "link", reply.text
    url = next(word for word in reply.text.split() if word.startswith("http"))
    return "/" + url.split("/", 3)[3]


def _http() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_a_pass_stops_working_when_its_holder_leaves_on_the_serve_mounts(
        org: sessionmaker[Session], clock: FakeClock) -> None:
    container = container_on(org, clock, dashboard_token=TOKEN, public_url="http://govbot.plant.example")
    path = _link(container, LUIS)
    async with serving(container, dashboard_mounts(container, host="127.0.0.1")) as base, _http() as http:
        async with http.get(base + path, allow_redirects=False) as r:
            assert r.status == 302
        async with http.get(base + "/changes") as r:
            assert r.status == 200
        async with http.get(base + "/metrics") as r:
            assert r.status == 200
        with org() as s, s.begin():  # Luis leaves the company; the directory says so
            s.execute(sa.update(Person).where(Person.email == LUIS).values(active=False))
        for page in ("/changes", "/metrics", "/systems"):
            async with http.get(base + page) as r:
                assert r.status == 401, page


async def test_query_secrets_never_reach_a_log(org: sessionmaker[Session], clock: FakeClock,
                                                caplog: pytest.LogCaptureFixture) -> None:
    container = container_on(org, clock, dashboard_token=TOKEN, public_url="http://govbot.plant.example")
    path = _link(container, LUIS)
    secret_pass = path.split("pass=", 1)[1]
    caplog.set_level(logging.DEBUG)
    async with serving(container, dashboard_mounts(container, host="127.0.0.1")) as base, _http() as http:
        for url in (f"/?token={TOKEN}", f"/systems?gaps=1&token={TOKEN}", path, "/?pass=forged.pass",
                    f"/changes?token=wrong-{TOKEN}"):
            async with http.get(base + url, allow_redirects=False, headers={"Referer": f"{base}/?token={TOKEN}"}):
                pass
        logging.getLogger("bot.some.module").info("followed %s", base + path)  # our own logs go through it too
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /?token=[redacted]" in logged  # the access log still shows the request
    assert TOKEN not in logged and secret_pass not in logged and "forged.pass" not in logged


@pytest.mark.parametrize("path", ["/", "/systems", "/changes/NOPE", "/no-such-page", "/chat",
                                  "/dashboard-static/style.css", "/metrics", "/healthz"])
async def test_every_response_carries_the_security_headers(org: sessionmaker[Session], clock: FakeClock,
                                                           path: str) -> None:
    container = container_on(org, clock)
    mounts = [*dashboard_mounts(container, host="127.0.0.1"), ChatMount(container, WebInbox(), host="127.0.0.1")]
    async with serving(container, mounts) as base, _http() as http, http.get(base + path) as r:
        assert r.status in (200, 404, 503)
        csp = r.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers.get("X-Frame-Options") == "DENY"
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
        assert r.headers.get("Referrer-Policy") == "no-referrer"


async def test_a_refusal_carries_the_security_headers_too(org: sessionmaker[Session], clock: FakeClock) -> None:
    container = container_on(org, clock, dashboard_token=TOKEN, host="0.0.0.0")
    async with serving(container, dashboard_mounts(container, host="0.0.0.0")) as base, _http() as http, \
            http.get(base + "/systems") as r:
        assert r.status == 401
        assert r.headers.get("X-Frame-Options") == "DENY" and "Content-Security-Policy" in r.headers


async def test_pages_answer_only_to_their_own_host_names(org: sessionmaker[Session], clock: FakeClock) -> None:
    """DNS rebinding: attacker.example is pointed at 127.0.0.1 and the victim's browser sends its name."""
    container = container_on(org, clock, public_url="http://127.0.0.1:3000", allowed_hosts="govbot.lan")
    mounts = [*dashboard_mounts(container, host="127.0.0.1"), ChatMount(container, WebInbox(), host="127.0.0.1")]
    async with serving(container, mounts) as base, _http() as http:
        for path in ("/", "/systems", "/chat", "/chat/api/inbox?person_id=1", "/metrics"):
            async with http.get(base + path, headers={"Host": "attacker.example"}) as r:
                assert r.status == 421, path
        async with http.post(base + "/chat/api/say", json={"person_id": 1, "text": "who owns x"},
                             headers={"Host": "attacker.example:3000"}) as r:
            assert r.status == 421
        for name in ("localhost:3000", "127.0.0.1", "[::1]:3000", "govbot.lan"):
            async with http.get(base + "/", headers={"Host": name}) as r:
                assert r.status == 200, name
        async with http.get(base + "/healthz", headers={"Host": "attacker.example"}) as r:
            assert r.status in (200, 503)  # machines' endpoints answer any host


async def test_forwarded_headers_count_only_from_a_trusted_proxy(org: sessionmaker[Session], clock: FakeClock) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "govbot.plant.example"}
    trusting = container_on(org, clock, dashboard_token=TOKEN, public_url="http://govbot.plant.example",
                            trusted_proxies="127.0.0.1,::1")
    async with serving(trusting, dashboard_mounts(trusting, host="127.0.0.1")) as base, _http() as http, \
            http.get(f"{base}/?token={TOKEN}", allow_redirects=False, headers=forwarded) as r:
        assert r.status == 302
        cookie = r.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    untrusting = container_on(org, clock, dashboard_token=TOKEN, public_url="http://govbot.plant.example")
    async with serving(untrusting, dashboard_mounts(untrusting, host="127.0.0.1")) as base, _http() as http:
        async with http.get(f"{base}/?token={TOKEN}", allow_redirects=False, headers=forwarded) as r:
            assert r.status == 302 and "Secure" not in r.headers["Set-Cookie"]
        async with http.get(f"{base}/", headers={"X-Forwarded-Host": "attacker.example", "Host": "attacker.example"}) as r:
            assert r.status == 421


async def test_an_https_public_url_makes_cookies_secure(org: sessionmaker[Session], clock: FakeClock) -> None:
    container = container_on(org, clock, dashboard_token=TOKEN, public_url="https://govbot.plant.example")
    path = _link(container, LUIS)
    async with serving(container, dashboard_mounts(container, host="127.0.0.1")) as base, _http() as http:
        for url in (f"/?token={TOKEN}", path):
            async with http.get(base + url, allow_redirects=False) as r:
                assert r.status == 302
                cookie = r.headers["Set-Cookie"]
                assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=" in cookie


async def test_behind_a_reverse_proxy_the_dashboard_needs_the_token(org: sessionmaker[Session],
                                                                    clock: FakeClock) -> None:
    """The documented reverse-proxy deployment binds 127.0.0.1 and publishes GOVBOT_PUBLIC_URL: whoever reaches
    the proxy reaches the host, so without a token the dashboard is not served at all."""
    container = container_on(org, clock, public_url="https://govbot.plant.example")
    assert dashboard_mounts(container, host="127.0.0.1") == []
    with pytest.raises(DashboardAuthError, match="published at https://govbot.plant.example"):
        dashboard_mounts(container, host="127.0.0.1", wanted=True)
    async with serving(container, dashboard_mounts(container, host="127.0.0.1")) as base, _http() as http:
        async with http.get(base + "/", headers={"Host": "govbot.plant.example"}) as r:
            assert r.status == 404
        async with http.get(base + "/metrics", headers={"Host": "govbot.plant.example"}) as r:
            assert r.status == 404
    with_token = container_on(org, clock, public_url="https://govbot.plant.example", dashboard_token=TOKEN)
    async with serving(with_token, dashboard_mounts(with_token, host="127.0.0.1")) as base, _http() as http, \
            http.get(base + "/", headers={"Host": "govbot.plant.example"}) as r:
        assert r.status == 401


def _env_example(**overrides: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {}
    for line in (ROOT / "deploy" / "systemd" / "govbot.env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            env[name.strip()] = value.strip()
    env.update(overrides)
    return {k: (v if v != "" else None) for k, v in env.items()}


def test_the_systemd_deployment_does_not_serve_the_dashboard_without_a_token(
        db_target: tuple[str, str | None], tmp_path: Path) -> None:
    url, schema = db_target
    env = _env_example(GOVBOT_DATABASE_URL=url, GOVBOT_DATABASE_SCHEMA=schema or "",
                       GOVBOT_PUBLIC_URL="https://govbot.plant.example", GOVBOT_AUDIT_KEY="x" * 40,
                       GOVBOT_AUDIT_ANCHOR_FILE=str(tmp_path / "anchors.txt"))
    assert env["GOVBOT_HOST"] == "127.0.0.1" and env.get("GOVBOT_DASHBOARD_TOKEN") is None
    result = CliRunner().invoke(main, ["serve", "--dashboard", "--no-worker"], env=env)
    assert result.exit_code == 1, result.output
    assert "published at https://govbot.plant.example (GOVBOT_PUBLIC_URL) without authentication" in result.output

