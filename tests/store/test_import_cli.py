"""``govbot import``: summary table, dry run, errors on stderr with exit code 1, automatic schema."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import main
from governance_store import db
from governance_store.models import ImportRun, System


def invoke(url: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--database-url", url, "import", *args])


def table(out: str) -> dict[str, list[int]]:
    """The summary table's rows: kind -> [added, changed, removed, unchanged]."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 7 and cells[2].isdigit():
            rows[cells[1]] = [int(c) for c in cells[2:6]]
    return rows


def count(url: str, model: type) -> int:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(model.__table__)).scalar_one())
    finally:
        engine.dispose()


def test_import_creates_the_schema_and_prints_a_summary(tmp_path: Path, corvane_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'govbot.db'}"
    result = invoke(url, str(corvane_dir))
    assert result.exit_code == 0, result.output
    assert "creating the schema" in result.stderr
    out = result.stdout
    assert "kind" in out and "added" in out and "unchanged" in out
    rows = table(out)
    assert rows["systems"] == [48, 0, 0, 0] and rows["system_sources"] == [93, 0, 0, 0]
    assert rows["total"] == [584, 0, 0, 0]
    assert "note:" in out and "OT Support Findlay" in out
    assert count(url, System) == 48
    assert count(url, ImportRun) == 1
    again = invoke(url, str(corvane_dir))
    assert again.exit_code == 0
    assert "creating the schema" not in again.stderr
    assert table(again.stdout)["total"] == [0, 0, 0, 584]


def test_dry_run_writes_nothing(tmp_path: Path, corvane_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'govbot.db'}"
    result = invoke(url, "--dry-run", str(corvane_dir))
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was written" in result.stdout
    assert table(result.stdout)["total"] == [584, 0, 0, 0]
    assert count(url, System) == 0 and count(url, ImportRun) == 0


def test_errors_go_to_stderr_with_exit_code_1(tmp_path: Path, corvane_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'govbot.db'}"
    bad = tmp_path / "bad.csv"
    bad.write_text('"site_code","name","timezone"\n"US-FDL","Plant 1","Mars/Olympus"\n"US-FDL","again","UTC"\n',
                   encoding="utf-8")
    result = invoke(url, str(corvane_dir), str(bad))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert f"{bad}:2: timezone: unknown time zone 'Mars/Olympus'" in lines
    assert f"{bad}:3: duplicate site_code 'US-FDL' (first on line 2)" in lines
    assert lines[-1] == "2 error(s); nothing was imported"
    assert result.stdout == ""
    assert count(url, System) == 0 and count(url, ImportRun) == 0
