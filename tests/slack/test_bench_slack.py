"""``bench.bench_slack`` stays runnable: a tiny catalog, a few requests, every answer accounted for."""

from __future__ import annotations

from bench import bench_slack


def test_slack_benchmark_smoke() -> None:
    [row] = bench_slack.run(concurrency=5, requests=20, sizes=(300,), core_processes=1)
    assert row["benchmark"] == "slack" and row["backend"] == "sqlite" and row["size"] == 300
    assert row["requests"] == 20
    assert row["errors"] == 0 and row["lost"] == 0
    assert row["p50_ms"] > 0 and row["p99_ms"] >= row["p50_ms"]
    assert row["goal"].startswith("p99 ack < 300 ms") and row["baseline"].startswith("one at a time")
    assert row["peak_rss_mb"] > 0
