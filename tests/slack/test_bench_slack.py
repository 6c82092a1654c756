"""``bench.bench_slack`` stays runnable: a tiny catalog, a few questions on Slack and Teams, every answer
accounted for."""

from __future__ import annotations

from bench import bench_slack


def test_slack_and_teams_benchmark_smoke() -> None:
    rows = bench_slack.run(concurrency=5, requests=20, sizes=(300,), core_processes=1, compare=False)
    assert [row["benchmark"] for row in rows] == ["slack", "teams", "worker-start"]
    for row in rows[:2]:
        assert row["backend"] == "sqlite" and row["size"] == 300 and row["requests"] == 20
        assert row["errors"] == 0 and row["lost"] == 0, row["notes"]
        assert row["p50_ms"] > 0 and row["p99_ms"] >= row["p50_ms"]
        assert row["goal"].startswith("answer p99 < 300 ms") and row["throughput_per_s"] > 0
        assert row["peak_rss_mb"] > 0 and row["worker_cpu_ms"] > 0
    assert rows[0]["ack_p50_ms"] > 0
    start = rows[2]
    assert start["p50_ms"] > 0 and "FAILED" not in start["notes"], start["notes"]


def test_answer_budget_smoke() -> None:
    """``python -m bench.budget`` measures every part of an answer and reports their sum."""
    from bench import budget

    figures = budget.measure(size=300, requests=20, concurrency=5)
    for part in ("bolt_ms", "loadgen_ms", "core_ms", "render_ms", "rate"):
        assert figures[part] > 0, part
    text = budget.report(figures, rate=100.0)
    total = sum(figures[p] for p in ("bolt_ms", "loadgen_ms", "core_ms", "render_ms"))
    assert f"{total:6.2f} ms" in text
    assert f"leave {figures['cpus'] * 1000 / 100.0:.2f} ms per answer" in text
