"""A real headless browser (Debian's chromium driven by Playwright) against a live web host.

The browser is never downloaded: ``make test`` installs Debian's chromium.  Without it
the tests skip locally and fail in CI (``CI=true``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.bootstrap import Container
from bot.dashboard import ChatMount, DashboardMount, MetricsMount, WebInbox
from bot.web import create_app
from governance_store import db
from tests.conftest import CORVANE, IN_CI
from tests.dashboard.conftest import FakeClock, container_on

CHROMIUM = os.environ.get("GOVBOT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"browser test cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


class LiveServer:
    """The web host on 127.0.0.1 and an ephemeral port, served from a background thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(app)
        self.port = 0

    def start(self) -> str:
        self.thread.start()

        async def up() -> int:
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            return int(self.runner.addresses[0][1])

        self.port = asyncio.run_coroutine_threadsafe(up(), self.loop).result(timeout=30)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def base_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from governance_store.importers import import_paths

    path = tmp_path_factory.mktemp("browser") / "govbot.db"
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    factory = db.make_session_factory(engine)
    with db.unit_of_work(factory) as session:
        import_paths([CORVANE], session=session)
    container: Container = container_on(factory, FakeClock())
    app = create_app(container, slack=None, mounts=[MetricsMount(container), DashboardMount(container),
                                                    ChatMount(container, WebInbox())])
    server = LiveServer(app)
    url = server.start()
    yield url
    server.stop()
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is not installed (make test installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    p.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    p.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    p.errors = errors
    yield p
    context.close()
    assert errors == [], errors


PAGES = [
    ("/", "Governance overview"),
    ("/systems", "Systems"),
    ("/raci?site=US-FDL", "RACI matrix · US-FDL"),
    ("/changes", "Open change requests"),
    ("/metrics-page", "Decision metrics"),
    ("/gaps", "Governance gaps"),
]


def test_pages_render(page: Any, base_url: str) -> None:
    for path, heading in PAGES:
        response = page.goto(base_url + path)
        assert response is not None and response.status == 200, path
        assert heading in page.locator("h1").first.inner_text(), path
    page.goto(base_url + "/systems")
    page.locator("table.systems a", has_text="PLC-FIL-L3-07").first.click()
    page.wait_for_url(re.compile(r"/systems/\d+$"))
    assert "PLC-FIL-L3-07" in page.locator("h1").inner_text()
    assert page.locator("#raci table").count() == 1 and page.locator("#chain").count() == 1
    page.goto(base_url + "/chat")
    assert page.locator("#person option").count() > 5


def test_search_box_finds_the_ammonia_safety_controller(page: Any, base_url: str) -> None:
    page.goto(base_url + "/systems")
    page.fill("#system-search", "ammonia safety controller")
    page.press("#system-search", "Enter")
    page.wait_for_url(re.compile(r"/systems/\d+$"))
    assert "SIS-NH3-01" in page.locator("h1").inner_text()
    assert "Gregory Maddox" in page.content()


def test_web_chat_answers_and_a_button_click_works(page: Any, base_url: str) -> None:
    page.goto(base_url + "/chat")
    luis = page.locator("#person option", has_text="Luis Ortega").first.get_attribute("value")
    page.select_option("#person", value=luis)
    page.fill("#message", "who owns the ammonia safety controller?")
    page.press("#message", "Enter")
    answer = page.locator(".turn.bot").first
    answer.wait_for()
    assert "SIS-NH3-01 is owned by Luis Ortega (acting for Gregory Maddox, who left on 2025-02-28)" in answer.inner_text()
    answer.locator("button.act", has_text="RACI for changes").click()
    page.locator(".turn.bot").nth(1).wait_for()
    second = page.locator(".turn.bot").nth(1).inner_text()
    assert "ACT-01" in second or "RACI" in second
    page.fill("#message", "change")
    page.press("#message", "Enter")
    form = page.locator("form.reply-form").first
    form.wait_for()
    form.locator("input[name=system]").fill("PLC-FIL-L3-07")
    form.locator("input[name=title]").fill("Firmware v33")
    form.locator("button[type=submit]").click()
    page.locator(".turn.bot").nth(3).wait_for()
    assert "GCR" in page.locator(".turn.bot").nth(3).inner_text()
