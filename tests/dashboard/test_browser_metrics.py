"""The pages a manager reads, in a real headless browser (Debian's chromium), on SQLite and PostgreSQL: the
overview's trends, the metrics page with the baseline and the bottlenecks, a change and a system.  Each test
takes a screenshot into its temporary folder and asserts on what the page shows."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from bot.dashboard import DashboardMount, MetricsMount
from bot.web import create_app
from tests.conftest import CORVANE, HISTORY, loaded_store
from tests.dashboard.conftest import FakeClock, container_on
from tests.dashboard.test_browser import LiveServer, browser, page  # noqa: F401 - fixtures used below
from tests.dashboard.test_dashboard_fixes import BRIAN, _acknowledge, _approve, _escalate
from tests.dashboard.test_pages import submit_change


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    yield from loaded_store(request, tmp_path_factory, [CORVANE, HISTORY])


@pytest.fixture(scope="module")
def site(store: sessionmaker[Session]) -> Iterator[tuple[str, str]]:
    """(base URL, number of a change raised in govbot that breached, was acknowledged at level 3 and decided)."""
    clock = FakeClock()
    number = submit_change(store, clock, 'change PLC-FIL-L3-07 "Firmware v33"')
    _escalate(store, clock, number, until_minutes=285)
    _acknowledge(store, clock, number, level=3, email=BRIAN)
    clock.advance(minutes=5)
    _approve(store, clock, number)
    container = container_on(store, clock)
    server = LiveServer(create_app(container, slack=None, mounts=[MetricsMount(container), DashboardMount(container)]))
    yield server.start(), number
    server.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def _shoot(page: Any, shots: Path, name: str, backend: str) -> Path:  # noqa: F811 - the fixture's value
    path = shots / f"{name}-{backend}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 20_000
    return path


def _charts_drawn(page: Any) -> int:  # noqa: F811
    """Chart images the browser decoded, each followed by its data table."""
    return int(page.evaluate("""() => [...document.querySelectorAll('figure.chart')].filter(f => {
        const img = f.querySelector('img');
        const table = f.parentElement.querySelector('table');
        return img && img.complete && img.naturalWidth > 300 && table && table.rows.length > 1;
    }).length"""))


def test_overview(page: Any, site: tuple[str, str], shots: Path, store: sessionmaker[Session]) -> None:  # noqa: F811
    base, _number = site
    backend = store.kw["bind"].dialect.name
    page.goto(base + "/")
    assert page.locator("h1").inner_text() == "Governance overview"
    assert _charts_drawn(page) == 4
    headline = page.locator("#headline").inner_text()
    assert re.search(r"Imported history \(baseline\): median \d+\.\d d, 90th percentile \d+\.\d d", headline)
    assert re.search(r"In govbot: median \d+\.\d h", headline) and "against the baseline" in headline
    assert "Top bottleneck:" in headline
    assert page.locator("#trend-coverage td", has_text="87 %").count() > 0  # after Gregory Maddox left
    _shoot(page, shots, "overview", backend)
    page.locator(".site-switcher .site-links a", has_text="DE-RGB").click()
    page.wait_for_url(re.compile(r"site=DE-RGB"))
    assert page.locator("h1").inner_text() == "Governance overview · DE-RGB"
    assert "Europe/Berlin" in page.locator("#zone").inner_text()
    assert _charts_drawn(page) == 4


def test_metrics_page(page: Any, site: tuple[str, str], shots: Path, store: sessionmaker[Session],  # noqa: F811
                      tmp_path: Path) -> None:
    base, _number = site
    backend = store.kw["bind"].dialect.name
    page.goto(base + "/metrics-page")
    assert page.locator("#card-baseline .num").inner_text() == "4.1 d"
    assert "351 decisions in the imported history" in page.locator("#card-baseline").inner_text()
    assert page.locator("#card-govbot .num").inner_text().endswith(" h")
    assert page.locator("#card-change .num").inner_text().startswith("-")
    assert _charts_drawn(page) >= 1 and page.locator("figure.chart img").count() == 2
    assert page.locator("#weekly-table tbody tr").count() >= 53
    findings = page.locator("details.finding summary").all_inner_texts()
    assert any("decides on Tuesdays" in f for f in findings)
    assert any("wait on the IT side" in f for f in findings)
    assert any("slowed before leaving on 2025-02-28" in f for f in findings)
    assert any("stalled until re-routed" in f for f in findings)
    rerouted = page.locator("details.finding", has_text="stalled until re-routed")
    assert rerouted.locator("table tbody tr").count() == 10
    assert "IT side median 3.0 bd (4.1 cd)" in page.locator("#bottlenecks").inner_text()
    _shoot(page, shots, "metrics", backend)
    with page.expect_download() as download:
        page.locator("a.download", has_text="Excel").click()
    saved = tmp_path / "metrics.xlsx"
    download.value.save_as(saved)
    book = load_workbook(io.BytesIO(saved.read_bytes()))
    assert "Bottlenecks" in book.sheetnames and book["Bottlenecks"].max_row >= 6
    page.goto(base + "/metrics-page?view=business&site=DE-RGB")
    assert page.locator("h1").inner_text() == "Decision metrics · DE-RGB"
    assert page.locator("#card-baseline .num").inner_text().endswith(" bd")


def test_change_page(page: Any, site: tuple[str, str], shots: Path, store: sessionmaker[Session]) -> None:  # noqa: F811
    base, number = site
    backend = store.kw["bind"].dialect.name
    page.goto(f"{base}/changes/{number}")
    sla = page.locator("#sla").inner_text()
    assert re.search(r"Breached\s+yes at 2025-06-04 14:00 EDT", sla), sla
    assert "L3 · acknowledged at L3" in sla
    assert "America/New_York (EDT)" in page.locator("#zone").inner_text()
    assert "UTC" not in page.locator("main").inner_text()
    assert page.locator("ol.trail li", has_text="change.sla_breached").count() == 1
    _shoot(page, shots, "change", backend)
    page.goto(base + "/changes")
    row = page.locator("#changes tr", has_text=number)
    assert "breached" in row.inner_text() and "decided 2025-06-04 14:50 EDT" in row.inner_text()


def test_system_page(page: Any, site: tuple[str, str], shots: Path, store: sessionmaker[Session]) -> None:  # noqa: F811
    base, _number = site
    backend = store.kw["bind"].dialect.name
    page.goto(base + "/systems")
    row = page.locator("table.systems tr", has_text="PLC-FIL-L3-07").first
    listed = row.locator("td").last.inner_text()
    row.locator("a", has_text="PLC-FIL-L3-07").click()
    page.wait_for_url(re.compile(r"/systems/\d+$"))
    assert page.locator("#gaps li").count() == int(listed) == 3
    assert "Luis Ortega (acting for Gregory Maddox, who left 2025-02-28)" in page.locator("main").inner_text()
    assert page.locator("dt", has_text="Key").count() == 0
    assert page.locator("#history summary").count() >= 10  # its imported history and the change raised in govbot
    _shoot(page, shots, "system", backend)


def test_raci_matrix_keeps_its_activity_column_and_header_in_view(page: Any, site: tuple[str, str],  # noqa: F811
                                                                  shots: Path, store: sessionmaker[Session]) -> None:
    base, _number = site
    page.set_viewport_size({"width": 1024, "height": 700})
    page.goto(base + "/raci?site=US-FDL")
    heights = page.evaluate("() => [...document.querySelectorAll('table.matrix tbody th')].map(th => th.getBoundingClientRect().height)")
    line = float(page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('table.matrix tbody th')).lineHeight)"))
    assert heights and max(heights) <= 2 * line + 16, (max(heights), line)  # at most two lines an activity
    box = page.locator("div.scroll")
    first = page.locator("table.matrix tbody tr").first.locator("th")
    header = page.locator("table.matrix thead th.role").first
    left = box.bounding_box()["x"]
    top = box.bounding_box()["y"]
    page.evaluate("() => { const b = document.querySelector('div.scroll'); b.scrollLeft = b.scrollWidth; b.scrollTop = b.scrollHeight; }")
    page.wait_for_timeout(100)
    assert page.evaluate("() => document.querySelector('div.scroll').scrollLeft") > 200, "the roles scroll sideways"
    assert abs(first.bounding_box()["x"] - left) <= 2, "the activity column stays at the left"
    assert abs(header.bounding_box()["y"] - top) <= 2, "the role header stays at the top"
    _shoot(page, shots, "raci", store.kw["bind"].dialect.name)

