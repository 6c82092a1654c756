"""``python -m bench --quick`` runs and writes a table with a row per size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
