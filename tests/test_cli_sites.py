"""Site codes on the command line: any case finds the site; a typo is an error naming the nearest codes and
every site, and runs nothing (never a campaign, digest or blackout over no site at all)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import main
from tests.conftest import CORVANE


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'govbot.db'}"
    assert CliRunner().invoke(main, ["--database-url", url, "import", str(CORVANE)]).exit_code == 0
    return url


def run(url: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--database-url", url, *args])


def _rows(url: str, table: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(f"select * from {table}"))]
    finally:
        engine.dispose()


def test_attestation_campaign_site_in_any_case_and_typos_refused(db_url: str) -> None:
    upper = run(db_url, "attest", "start", "--site", "DE-RGB", "--dry-run")
    lower = run(db_url, "attest", "start", "--site", "de-rgb", "--dry-run")
    assert upper.exit_code == 0 and lower.exit_code == 0, lower.output
    assert lower.output == upper.output and "would ask 0 people" not in lower.output

    typo = run(db_url, "attest", "start", "--site", "DE-RBG")
    assert typo.exit_code == 2
    assert "no site 'DE-RBG'" in typo.output and "Did you mean DE-RGB?" in typo.output
    assert "Sites: CORP, DE-RGB, US-FDL." in typo.output
    assert _rows(db_url, "attestation_campaigns") == [] and _rows(db_url, "outbox") == []


def test_digest_preview_scope_checked(db_url: str) -> None:
    ok = run(db_url, "digest", "preview", "--scope", "site:us-fdl", "--json")
    assert ok.exit_code == 0, ok.output
    assert '"scope": "site:US-FDL"' in ok.output
    assert run(db_url, "digest", "preview", "--scope", "OT").exit_code == 0

    unknown = run(db_url, "digest", "preview", "--scope", "site:US-FLD")
    assert unknown.exit_code == 2 and "Did you mean US-FDL?" in unknown.output
    nonsense = run(db_url, "digest", "preview", "--scope", "plant")
    assert nonsense.exit_code == 2 and "use site:CODE, ot, security or all" in nonsense.output


def test_blackout_site_in_any_case_and_typos_refused(db_url: str) -> None:
    added = run(db_url, "blackout", "add", "--site", "us-fdl", "--from", "2025-07-01T00:00", "--to",
                "2025-07-02T00:00", "--reason", "shutdown")
    assert added.exit_code == 0, added.output
    assert "US-FDL" in added.output and "(America/New_York)" in added.output
    refused = run(db_url, "blackout", "add", "--site", "XX-NOPE", "--from", "2025-07-01T00:00", "--to",
                  "2025-07-02T00:00", "--reason", "typo")
    assert refused.exit_code == 2 and "no site 'XX-NOPE'" in refused.output
    sites = _rows(db_url, "blackout_windows")
    assert len(sites) == 1 and "US-FDL" in sites[0]


def test_metrics_site_in_any_case(db_url: str) -> None:
    upper = run(db_url, "metrics", "show", "--site", "DE-RGB")
    lower = run(db_url, "metrics", "show", "--site", "de-rgb")
    assert upper.exit_code == 0 and lower.exit_code == 0, lower.output
    assert lower.output == upper.output and "Europe/Berlin" in lower.output
    typo = run(db_url, "metrics", "show", "--site", "DE-RBG")
    assert typo.exit_code == 2 and "Did you mean DE-RGB?" in typo.output
