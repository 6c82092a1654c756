"""The overview's trends and the metrics page on the sample with its year of history, their downloads and the
``govbot metrics`` command, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.dashboard import DashboardMount, MetricsMount
from bot.web import create_app
from governance_store.importers import import_paths
from governance_store.models import Person
from tests.conftest import CORVANE, HISTORY
from tests.dashboard.conftest import FakeClock, container_on
from tests.dashboard.test_pages import text_of

FINDINGS = (
    "Change Manager (CAB Chair) decides on Tuesdays: changes wait for that day",
    "Changes that need both IT and OT approval wait on the IT side",
    "Gregory Maddox&#39;s approvals slowed before leaving on 2025-02-28",
    "Approvals routed to Gregory Maddox (left 2025-02-28) stalled until re-routed",
)


@pytest.fixture
async def history_client(history_factory: sessionmaker[Session]) -> AsyncIterator[TestClient]:
    container = container_on(history_factory, FakeClock())
    app = create_app(container, slack=None, mounts=[MetricsMount(container), DashboardMount(container)])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        yield c


async def test_metrics_page_shows_the_baseline_and_the_bottlenecks(history_client: TestClient) -> None:
    html = await text_of(history_client, "/metrics-page")
    baseline = re.search(r'<div class="card" id="card-baseline"><span class="num">(.*?)</span>(.*?)</div>', html, re.S)
    assert baseline and baseline.group(1) == "4.1 d"
    assert "90th percentile 10.8 d · 351 decisions in the imported history" in baseline.group(2)
    assert "no change decided in govbot yet" in html
    for title in FINDINGS:
        assert title in html, title
    assert 'href="/changes/CHG0030405"' in html  # the changes behind a finding are links
    assert "DE-RGB: 24 changes; OT side median 1.0 bd (1.0 cd), IT side median 3.0 bd (4.1 cd)" in html
    assert html.count('src="data:image/svg+xml;base64,') == 2
    assert 'id="weekly-table"' in html and "<td>2024-W23</td>" in html
    assert "<h3>By site</h3>" in html and "<h3>By purdue level</h3>" in html
    assert "All times and weeks on this page in <strong>America/New_York" in html
    assert 'href="/metrics-page/export.xlsx"' in html and 'href="/metrics-page/export.csv"' in html


async def test_business_view_site_switcher_and_period(history_client: TestClient) -> None:
    business = await text_of(history_client, "/metrics-page?view=business")
    assert re.search(r'id="card-baseline"><span class="num">2\.6 bd</span>', business)
    rgb = await text_of(history_client, "/metrics-page?site=DE-RGB")
    assert "Decision metrics · DE-RGB" in rgb and "126 decisions in the imported history" in rgb
    assert "Europe/Berlin" in rgb and "site DE-RGB" in rgb
    assert "stalled until re-routed" not in rgb  # that was Findlay
    quarter = await text_of(history_client, "/metrics-page?from=2025-01-01&to=2025-03-31")
    assert "<td>2025-W01</td>" in quarter and "<td>2024-W52</td>" not in quarter
    bad = await text_of(history_client, "/metrics-page?from=yesterday&site=XX")
    assert "is not a date" in bad and "There is no site &#39;XX&#39;" in bad


async def test_overview_trends_with_their_tables(history_client: TestClient) -> None:
    html = await text_of(history_client, "/")
    for chart in ("chart-cycle", "chart-sla", "chart-coverage", "chart-gaps"):
        section = re.search(rf'<figure class="chart" id="{chart}">.*?</figure>\s*(.*?)</section>', html, re.S)
        assert section, chart
        assert "<table" in section.group(1), f"{chart} has its table"
    # Gregory Maddox's five systems lose their owner when he leaves: coverage drops in March 2025.
    assert "<td>2025-W09</td><td>2025-03-02</td><td>40</td><td>46</td><td>87 %</td>" in html
    assert "<td>2025-W08</td><td>2025-02-23</td><td>45</td><td>46</td><td>98 %</td>" in html
    assert "Top bottleneck: <strong>" in html
    fdl = await text_of(history_client, "/?site=US-FDL")
    assert "Governance overview · US-FDL" in fdl and 'aria-current="true">US-FDL</a>' in fdl


async def test_excel_and_csv_downloads(history_client: TestClient) -> None:
    response = await history_client.get("/metrics-page/export.xlsx?site=US-FDL")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="govbot-metrics-US-FDL-' in response.headers["Content-Disposition"]
    body = await response.read()
    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames[:2] == ["Summary", "By site"] and "Bottlenecks" in book.sheetnames
    summary = {row[0]: row[1:] for row in book["Summary"].iter_rows(min_row=3, values_only=True)}
    assert summary["decisions (someone had to approve)"][0] == 175
    assert summary["scope"][0] == "US-FDL"
    csv_all = await (await history_client.get("/metrics-page/export.csv")).text()
    assert csv_all.startswith('"Decision metrics"') and '"Where decisions wait, costliest first"' in csv_all
    weekly = await (await history_client.get("/metrics-page/export.csv?table=weekly")).text()
    rows = list(csv.reader(io.StringIO(weekly)))
    assert rows[0][:2] == ["ISO week", "Monday"] and rows[1][0] == "2024-W23"
    assert (await history_client.get("/metrics-page/export.csv?table=nope")).status == 404


async def test_exports_never_carry_a_formula(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        import_paths([HISTORY], session=s)
        marcus = s.scalars(sa.select(Person).where(Person.display_name == "Marcus Lee")).one()
        marcus.display_name = '=HYPERLINK("http://evil.example","Marcus")'
    container = container_on(org, FakeClock())
    app = create_app(container, slack=None, mounts=[DashboardMount(container)])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        body = await (await client.get("/metrics-page/export.xlsx")).read()
        text = await (await client.get("/metrics-page/export.csv")).text()
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert "<f>" not in xml and "<f " not in xml
    approvers = load_workbook(io.BytesIO(body))["Approvers"]
    cell = next(c for row in approvers.iter_rows() for c in row if "HYPERLINK" in str(c.value))
    assert cell.value.startswith("'=HYPERLINK") and cell.data_type == "s"
    for row in csv.reader(io.StringIO(text)):
        for value in row:
            assert not value.startswith(("=", "+", "@")), value


def test_metrics_command_shows_and_exports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'govbot.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["--database-url", url, "import", str(CORVANE), str(HISTORY)]).exit_code == 0
    shown = runner.invoke(main, ["--database-url", url, "metrics", "show"])
    assert shown.exit_code == 0, shown.output
    assert "before govbot (imported history): 351 decisions, median 4.1 days, p90 10.8 days" in shown.output
    assert "Changes that need both IT and OT approval wait on the IT side" in shown.output
    assert "CHG0030405" in shown.output
    out = tmp_path / "q1.xlsx"
    exported = runner.invoke(main, ["--database-url", url, "metrics", "export", "--format", "xlsx", "--output",
                                    str(out), "--site", "DE-RGB", "--from", "2025-01-01", "--to", "2025-03-31"])
    assert exported.exit_code == 0, exported.output
    assert "Europe/Berlin" in exported.output
    summary = {r[0]: r[1] for r in load_workbook(out)["Summary"].iter_rows(min_row=3, values_only=True)}
    assert summary["period (decided, else requested)"] == "2025-01-01 to 2025-03-31"
    weekly = tmp_path / "weekly.csv"
    assert runner.invoke(main, ["--database-url", url, "metrics", "export", "--format", "csv", "-o", str(weekly),
                                "--table", "weekly"]).exit_code == 0
    assert weekly.read_text(encoding="utf-8").startswith('"ISO week","Monday"')
    bad = runner.invoke(main, ["--database-url", url, "metrics", "show", "--site", "XX"])
    assert bad.exit_code == 2 and "no site 'XX'" in bad.output
    assert runner.invoke(main, ["--database-url", url, "metrics", "export", "-o", str(weekly),
                                "--table", "nope"]).exit_code == 2

