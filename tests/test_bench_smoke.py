"""``python -m bench --quick`` runs and writes a table with a row per size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quick_resolve_benchmark_writes_the_table(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "resolve", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert "CPUs" in text and "CPython" in text
    rows = [line for line in text.splitlines() if line.startswith("| resolve |")]
    assert [row.split("|")[3].strip() for row in rows] == ["1,000", "2,000"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[3].endswith(" ms") and cells[4].endswith(" ms")  # p50, p99
        assert cells[6].startswith("naive extractOne/WRatio")  # baseline from the same run
        assert "agreement" in cells[8]


def test_rerunning_one_benchmark_keeps_the_others_rows(tmp_path: Path) -> None:
    from bench.__main__ import earlier_rows, render

    table = tmp_path / "benchmarks.md"
    old_rows = ["| import | sqlite | 100,000 | 41 s | - | < 60 s (met) | naive | 700 | x |",
                "| resolve | in-memory | 1,000 | 2 ms | 5 ms | - | naive | 41 | y |"]  # fmt: skip
    table.write_text("# Benchmarks\n\n| benchmark | b |\n|---|---|\n" + "\n".join(old_rows) + "\n", encoding="utf-8")
    kept = earlier_rows(table, {"resolve"})
    assert kept == old_rows[:1]
    row = {"benchmark": "resolve", "backend": "in-memory", "size": 2_000, "p50_ms": 1.0, "p99_ms": 2.0,
           "peak_rss_mb": 40, "goal": "-", "baseline": "naive", "notes": "z"}  # fmt: skip
    text = render([row], {"date": "d", "cpus": "2", "cpu": "c", "memory": "m", "python": "p", "platform": "x",
                          "libraries": "l"}, "python -m bench --only resolve", kept)  # fmt: skip
    assert "| resolve | in-memory | 2,000 |" in text and old_rows[0] in text and "| 1,000 |" not in text
    assert "kept from an earlier run" in text


def test_unknown_benchmark_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "nope", "--out", str(tmp_path / "x.md")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "unknown benchmark" in proc.stderr
    assert not (tmp_path / "x.md").exists()


def test_quick_scale_benchmark_measures_a_two_plant_organisation(tmp_path: Path) -> None:
    """``bench_scale`` on its smallest organisation: import, a driven week, a year copied, every measurement."""
    from governance_store.db import connection_problem
    from tests.conftest import IN_CI, PG_URL

    problem = connection_problem(PG_URL)
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable in CI: {problem}", pytrace=False)
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    out = tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "scale", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {cells[0]: cells for cells in (
        [c.strip() for c in line.strip("|").split("|")] for line in out.read_text(encoding="utf-8").splitlines()
        if line.startswith("| scale"))}  # fmt: skip
    assert set(rows) == {"scale", "scale-sweep", "scale-digest", "scale-audit"}
    assert all(cells[1] == "postgresql" and cells[2] == "2" for cells in rows.values())
    assert rows["scale"][3].endswith(" ms") and rows["scale"][4].endswith(" ms")  # resolve p50, p99
    assert rows["scale"][6].startswith("naive extractOne/WRatio")
    assert "after a year" in rows["scale"][8] and "per plant-year" in rows["scale"][8]
    assert "90-day outbox retention" in rows["scale"][8]
    assert "(met)" in rows["scale-sweep"][5]
    assert rows["scale-digest"][3].endswith(" s") and rows["scale-audit"][3].endswith(" ms")


def test_soak_seconds_reach_only_the_benchmarks_that_take_them(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.__main__ import run_one

    (tmp_path / "bench_takes.py").write_text(
        "def run(sizes=(1,), *, soak_seconds=None):\n    return [{'sizes': sizes, 'soak_seconds': soak_seconds}]\n")
    (tmp_path / "bench_ignores.py").write_text("QUICK_SIZES = (2,)\ndef run(sizes=(1,)):\n    return [{'sizes': sizes}]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run_one("bench_takes", False, {"soak_seconds": 90.0}) == [{"sizes": (1,), "soak_seconds": 90.0}]
    assert run_one("bench_takes", False, {"soak_seconds": None}) == [{"sizes": (1,), "soak_seconds": None}]
    assert run_one("bench_ignores", True, {"soak_seconds": 90.0}) == [{"sizes": (2,)}]
