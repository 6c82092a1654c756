"""Large organisations: the systems and gaps pages come in pages, filter by site / severity / kind, and a
slow governance lint is reused for a minute instead of running on every page view."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import Session, sessionmaker

from bot.bootstrap import Container
from bot.dashboard import DashboardMount, queries
from bot.web import create_app
from governance_store import lint
from governance_store.models import System
from tests.dashboard.test_pages import text_of

ROW = re.compile(r'<tr><td><a href="/systems/(\d+)">')


def _names(factory: sessionmaker[Session], site: str | None = None) -> list[int]:
    query = sa.select(System.id).order_by(System.name, System.id)
    if site:
        query = query.where(System.site_code == site)
    with factory() as s:
        return list(s.scalars(query).all())


async def test_systems_come_in_pages_in_name_order(client: TestClient, org: sessionmaker[Session],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "PER_PAGE", 7)
    expected = _names(org)
    pages = -(-len(expected) // 7)
    assert pages >= 3, "the sample has enough systems for three pages of seven"
    seen: list[int] = []
    for n in range(1, pages + 1):
        html = await text_of(client, f"/systems?page={n}")
        rows = [int(x) for x in ROW.findall(html)]
        assert len(rows) == (7 if n < pages else len(expected) - 7 * (pages - 1))
        assert f"page {n} of {pages}" in html
        assert f"{7 * (n - 1) + 1}–{7 * (n - 1) + len(rows)} of {len(expected)} systems" in html
        assert ('rel="next"' in html) == (n < pages) and ('rel="prev"' in html) == (n > 1)
        seen += rows
    assert seen == expected  # every system once, in name order
    # Out-of-range and malformed page numbers show the nearest real page, never an error.
    assert [int(x) for x in ROW.findall(await text_of(client, "/systems?page=9999"))] == expected[7 * (pages - 1):]
    assert [int(x) for x in ROW.findall(await text_of(client, "/systems?page=abc"))] == expected[:7]


async def test_site_filter_and_gap_filter_combine(client: TestClient, org: sessionmaker[Session]) -> None:
    german = _names(org, "DE-RGB")
    assert german and len(german) < len(_names(org))
    html = await text_of(client, "/systems?site=DE-RGB")
    assert [int(x) for x in ROW.findall(html)] == german
    assert '<option value="DE-RGB" selected>' in html
    with org() as s:
        counts, _ = queries.gap_counts(session=s)
    both = await text_of(client, "/systems?site=DE-RGB&gaps=1")
    assert [int(x) for x in ROW.findall(both)] == [i for i in german if counts.get(i)]
    assert "at DE-RGB with governance gaps" in both
    # The pager keeps the filters.
    assert 'href="/systems?site=DE-RGB"' in both  # "show all" stays on the site


async def test_gaps_page_filters_and_pages(client: TestClient, org: sessionmaker[Session],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with org() as s:
        report = lint.run_lint(session=s)
    high = [f for f in report.findings if f.severity == "high"]
    assert high and len(high) < len(report.findings)
    monkeypatch.setattr(queries, "PER_PAGE", 2)  # four findings a page
    first = await text_of(client, "/gaps")
    assert first.count('<span class="badge sev-') == 4
    assert f"{len(report.findings)} findings" in first and 'rel="next"' in first
    only_high = ""
    for n in range(1, -(-len(high) // 4) + 1):
        only_high += await text_of(client, f"/gaps?severity=high&page={n}")
    assert only_high.count('<span class="badge sev-high">') == len(high)
    assert 'sev-medium">' not in only_high
    code = "DEPARTED_OWNER"
    wanted = [f for f in report.findings if f.code == code]
    html = await text_of(client, f"/gaps?code={code}")
    assert f"{code} ({len(wanted)})" in html
    assert html.count(f"<td>{code}</td>") == min(4, len(wanted))
    assert 'href="/gaps?code=DEPARTED_OWNER&amp;page=2"' in html or len(wanted) <= 4


def test_slow_lint_is_reused_for_its_ttl_and_fast_lint_never(org: sessionmaker[Session],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = lint.run_lint

    def counted(*, session: Session) -> lint.LintReport:
        calls.append(1)
        return real(session=session)

    monkeypatch.setattr(lint, "run_lint", counted)
    now = [0.0]
    slow = queries.LintCache(ttl=60, slow=-1, clock=lambda: now[0])  # every pass counts as slow
    with org() as s:
        _, first, as_of = slow.get(session=s)
        assert as_of is None and len(calls) == 1  # made just now
        now[0] = 59
        _, again, as_of = slow.get(session=s)
        assert again is first and as_of is not None and len(calls) == 1
        now[0] = 61
        _, fresh, as_of = slow.get(session=s)
        assert fresh is not first and as_of is None and len(calls) == 2

        fast = queries.LintCache(ttl=60, slow=3600, clock=lambda: now[0])
        fast.get(session=s)
        fast.get(session=s)
        assert len(calls) == 4  # a quick lint is never kept


async def test_pages_say_how_old_a_kept_lint_is(container: Container, client: TestClient) -> None:
    assert "as of" not in await text_of(client, "/gaps")  # the sample lints in milliseconds: always fresh
    mount = DashboardMount(container)
    mount.lint = queries.LintCache(slow=-1)  # as if it were a large organisation
    app = create_app(container, slack=None, mounts=[mount])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as big:
        assert "as of" not in await text_of(big, "/gaps")  # the first pass is fresh
        for path in ("/gaps", "/systems", "/"):
            assert "Governance gaps as of" in await text_of(big, path)
