"""Benchmark: fuzzy system resolution (``governance_store.lookup.SystemIndex``).

For each size a synthetic plant is generated in memory (``bench.generate``),
its systems are turned into ``SystemRecord`` rows as the importer would store
them (``bench.plant_records``) and streamed into ``SystemIndex.build``; no
database is involved.  Then ~1,000 realistic queries run against the index:

    exact names, names with one typo (character dropped, swapped or
    replaced), aliases, IPs, MACs, serials, and free text with location
    words ("Line 3 filler PLC in Findlay", "historian in Regensburg").

The baseline is the naive full scan a first version would use:
``rapidfuzz.process.extractOne(query, all_names, scorer=WRatio)`` over every
system name (names pre-processed once with ``default_process``), timed in
the same run on a sample of the same queries (300 up to 10k systems, 200 up
to 100k, 20 beyond: one naive query takes about 2 s at 1M).

Reported per size: build time; p50 / p99 resolve latency, wall clock, for
the index and the naive scan (the CPU time per query and the machine's load
average are in the notes: other work on a shared machine stretches
wall-clock figures); index memory (deep size of the index's arrays and
strings, and the RSS growth while building it); peak RSS; top-1 agreement
with the naive scan on the name and typo queries (where the naive scan is a
fair reference); and how often each finds the system a name or typo query
was made from.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process, utils

from bench import baseline
from bench.generate import Plant
from bench.plant_records import iter_records
from governance_store.lookup import SystemIndex, SystemRecord

NAME = "resolve"
QUICK_SIZES = (1_000, 2_000)
DEFAULT_SIZES = (1_000, 100_000, 1_000_000)
GOALS = {100_000: ("p99 < 25 ms", 25.0, None), 1_000_000: ("p99 < 15 ms, index < 300 MB", 15.0, 300.0)}

QUERY_MIX = [("name", 15), ("typo", 30), ("alias", 12), ("ip", 10), ("mac", 4), ("serial", 4), ("free", 25)]


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover - psutil is a test dependency
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def typo(text: str, rng: random.Random) -> str:
    """One keyboard slip in the middle of ``text``: a character dropped, swapped or replaced."""
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]
    c = text[i]
    repl = rng.choice("0123456789") if c.isdigit() else rng.choice("abcdefghijklmnopqrstuvwxyz")
    return text[:i] + (repl.upper() if c.isupper() else repl) + text[i + 1 :]


def _city(record: SystemRecord) -> str:
    site_name = record.context[-1] if record.context else ""
    return site_name.split()[-1] if site_name else ""


def make_queries(sample: Sequence[SystemRecord], n: int, seed: int) -> list[tuple[str, str, int]]:
    """(kind, query, id of the system the query was made from)."""
    rng = random.Random(seed)
    kinds = [k for k, w in QUERY_MIX for _ in range(w)]
    out: list[tuple[str, str, int]] = []
    while len(out) < n:
        rec = rng.choice(sample)
        kind = rng.choice(kinds)
        if kind == "name":
            q = rec.name
        elif kind == "typo":
            q = typo(rec.name, rng)
        elif kind == "alias" and rec.aliases:
            q = rec.aliases[0] if rng.random() < 0.5 else typo(rec.aliases[0], rng)
        elif kind == "ip" and rec.ips:
            q = rec.ips[0]
        elif kind == "mac" and rec.macs:
            q = rec.macs[0].upper().replace(":", "-")
        elif kind == "serial" and rec.serial:
            q = rec.serial.lower()
        elif kind == "free":
            what = rec.aliases[0] if rec.aliases else (rec.class_name or rec.name)
            q = f"the {what} in {_city(rec)}" if rng.random() < 0.5 else f"{what} {_city(rec)}"
        else:
            kind, q = "typo", typo(rec.name, rng)
        out.append((kind, q, rec.id))
    return out


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _naive_sample_size(size: int) -> int:
    if size <= 10_000:
        return 300
    return 200 if size <= 100_000 else 20


def _vocabulary(module: Any) -> Any:
    """The language vocabulary the catalog builds its index with, as ``module``'s ``Vocabulary``."""
    from handlers import phrasebook

    if module is None:
        return phrasebook.vocabulary()
    original = phrasebook.Vocabulary
    phrasebook.Vocabulary = module.Vocabulary  # type: ignore[attr-defined, misc]
    try:
        return phrasebook.vocabulary.__wrapped__()
    finally:
        phrasebook.Vocabulary = original  # type: ignore[misc]


def _measure(index: Any, queries: list[tuple[str, str, int]]) -> tuple[list[float], list[float], list[Any]]:
    """Wall-clock and CPU latency (ms) of every query, and its resolution."""
    for _, q, _ in queries[:20]:  # warm the caches the way a running bot has them warm
        index.resolve(q)
    latencies: list[float] = []
    cpu: list[float] = []
    results: list[Any] = []
    for _, q, _ in queries:
        c, t = time.process_time(), time.perf_counter()
        res = index.resolve(q)
        latencies.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        results.append(res)
    return latencies, cpu, results


def _same(a: Any, b: Any) -> bool:
    return a.status == b.status and [dataclasses.asdict(m) for m in a.matches] == [dataclasses.asdict(m) for m in b.matches]


def _baseline_design(size: int, seed: int, queries: list[tuple[str, str, int]], results: list[Any]) -> dict[str, Any]:
    """The index as it was at the baseline revision, built and queried on the same plant and queries."""
    from bench import baseline

    try:
        old = baseline.module("governance_store/lookup.py", "baseline_lookup")
    except baseline.BaselineUnavailable as exc:
        return {"error": str(exc)}
    gc.collect()
    rss_before = _rss_mb()
    vocabulary = _vocabulary(old)
    fields = [f.name for f in dataclasses.fields(SystemRecord)]
    started = time.perf_counter()
    generating = 0.0

    def records() -> Iterator[Any]:
        nonlocal generating
        source = iter_records(Plant(size, seed))
        while True:
            t = time.perf_counter()
            rec = next(source, None)
            generating += time.perf_counter() - t
            if rec is None:
                return
            yield old.SystemRecord(**{f: getattr(rec, f) for f in fields})

    index = old.SystemIndex.build(records(), vocabulary=vocabulary)
    build_s = time.perf_counter() - started - generating
    gc.collect()
    rss_mb = max(0.0, _rss_mb() - rss_before)
    latencies, cpu, old_results = _measure(index, queries)
    identical = sum(_same(a, b) for a, b in zip(results, old_results, strict=True))
    out = {"build_s": build_s, "index_mb": index.memory_bytes() / 2**20, "rss_mb": rss_mb,
           "p50": _percentile(latencies, 50), "p99": _percentile(latencies, 99), "cpu_p50": _percentile(cpu, 50),
           "cpu_p99": _percentile(cpu, 99), "identical": identical, "peak_rss_mb": _peak_rss_mb()}
    del index
    gc.collect()
    return out


def _file_figures(index: SystemIndex, queries: list[tuple[str, str, int]], results: list[Any]) -> dict[str, Any]:
    """The shared file: its size, how long writing it and mapping it (checksum included) take."""
    from governance_store import index_file

    vocabulary = index.vocabulary
    with tempfile.TemporaryDirectory(prefix="govbot-index-") as tmp:
        path = Path(tmp) / "index.idx"
        t = time.perf_counter()
        index_file.write(path, index, meta={"vocabulary": vocabulary.digest()})
        write_s = time.perf_counter() - t
        loads = []
        for _ in range(3):
            t = time.perf_counter()
            mapped = index_file.read(path, vocabulary=vocabulary)
            loads.append(time.perf_counter() - t)
        same = all(_same(mapped.resolve(q), r) for (_, q, _), r in zip(queries[:200], results[:200], strict=True))
        size_mb = path.stat().st_size / 2**20
        del mapped
    return {"write_s": write_s, "load_ms": min(loads) * 1000, "file_mb": size_mb, "same": same}


def run_size(size: int, *, n_queries: int = 1_000, seed: int = 7, compare: bool = True) -> list[dict[str, Any]]:
    """Build the index for one plant size and measure it against the naive scan and the baseline design."""
    gc.collect()
    rss_before = _rss_mb()
    rng = random.Random(seed)
    sample: list[SystemRecord] = []
    keep = 3_000

    generating = 0.0

    def records() -> Iterator[SystemRecord]:
        nonlocal generating
        source = iter_records(Plant(size, seed))
        i = 0
        while True:
            t = time.perf_counter()
            rec = next(source, None)
            generating += time.perf_counter() - t
            if rec is None:
                return
            if i < keep:
                sample.append(rec)
            else:
                j = rng.randrange(i + 1)
                if j < keep:
                    sample[j] = rec
            i += 1
            yield rec

    started = time.perf_counter()
    index = SystemIndex.build(records(), vocabulary=_vocabulary(None))
    build_s = time.perf_counter() - started - generating
    gc.collect()
    index_rss_mb = max(0.0, _rss_mb() - rss_before)
    index_mb = index.memory_bytes() / 2**20

    queries = make_queries(sample, n_queries, seed)
    load_before = os.getloadavg()[0]
    latencies, cpu, results = _measure(index, queries)
    answers = [res.matches[0].system_id if res.status != "not_found" and res.matches else None for res in results]
    files = _file_figures(index, queries, results)
    peak_rss = _peak_rss_mb()
    del index
    gc.collect()

    # The naive scan needs every name in memory: regenerate them after measuring the index.
    names: list[str] = []
    ids: list[int] = []
    for rec in iter_records(Plant(size, seed)):
        names.append(utils.default_process(rec.name))
        ids.append(rec.id)
    n_naive = _naive_sample_size(size)
    pick = random.Random(seed + 1).sample(range(len(queries)), min(n_naive, len(queries)))
    naive_latencies: list[float] = []
    agree = comparable = hit_index = hit_naive = 0
    for i in pick:
        kind, q, wanted = queries[i]
        t = time.perf_counter()
        best = process.extractOne(utils.default_process(q), names, scorer=fuzz.WRatio, processor=None)
        naive_latencies.append((time.perf_counter() - t) * 1000)
        if kind in ("name", "typo"):
            naive_id = ids[best[2]] if best else None
            comparable += 1
            agree += naive_id == answers[i]
            hit_index += answers[i] == wanted
            hit_naive += naive_id == wanted
    del names, ids
    load = max(load_before, os.getloadavg()[0])
    old = _baseline_design(size, seed, queries, results) if compare else {"error": "not compared"}

    goal, p99_goal, mem_goal = GOALS.get(size, ("-", None, None))
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    cpu_p99 = _percentile(cpu, 99)
    busy = load > (os.cpu_count() or 1)
    # On a machine busier than its CPU count, other processes' work stretches wall-clock
    # latency; the CPU time per query is then the figure that belongs to the index.
    judged = cpu_p99 if busy else p99
    ok = (p99_goal is None or judged < p99_goal) and (mem_goal is None or index_mb < mem_goal)
    verdict = " (met)" if ok else " (MISSED)"
    if busy and goal != "-":
        verdict += f" on CPU time p99 {cpu_p99:.1f} ms: load average {load:.1f} > {os.cpu_count()} CPUs"
    kinds = sorted({k for k, _, _ in queries})
    if "error" in old:
        old_text = f"baseline design unavailable ({old['error']})"
    else:
        old_text = (f"index as at {baseline.LABEL}: p50 {old['p50']:.1f} ms, p99 {old['p99']:.1f} ms, "
                    f"{old['index_mb']:.0f} MB")
    row = {
        "benchmark": NAME,
        "backend": "in-memory",
        "size": size,
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "peak_rss_mb": round(peak_rss),
        "goal": goal + ("" if goal == "-" else verdict),
        "baseline": (
            f"naive extractOne/WRatio: p50 {_percentile(naive_latencies, 50):.1f} ms, "
            f"p99 {_percentile(naive_latencies, 99):.1f} ms (n={len(naive_latencies)}); {old_text}"
        ),
        "notes": (
            f"build {build_s:.1f} s (+{generating:.0f} s generating the plant); index {index_mb:.0f} MB "
            f"(RSS +{index_rss_mb:.0f} MB); shared file {files['file_mb']:.0f} MB, written in {files['write_s']:.2f} s, "
            f"mapped and checked in {files['load_ms']:.0f} ms; "
            f"{len(queries)} queries ({', '.join(kinds)}), CPU time p50 {_percentile(cpu, 50):.1f} ms / p99 "
            f"{_percentile(cpu, 99):.1f} ms, load average {load:.1f} on {os.cpu_count()} CPUs; top-1 agreement with naive "
            f"{agree / comparable:.0%} and found the intended system {hit_index}/{comparable} vs naive "
            f"{hit_naive}/{comparable} on name+typo queries"
            + ("" if "error" in old else f"; resolutions identical to the baseline design's: {old['identical']}/{len(queries)}")
            if comparable
            else f"build {build_s:.1f} s; index {index_mb:.0f} MB"
        ),
        "build_s": round(build_s, 2),
        "generate_s": round(generating, 2),
        "index_mb": round(index_mb, 1),
        "index_rss_mb": round(index_rss_mb, 1),
        "file_mb": round(files["file_mb"], 1),
        "file_write_s": round(files["write_s"], 3),
        "file_load_ms": round(files["load_ms"], 1),
        "file_same": files["same"],
        "cpu_p50_ms": round(_percentile(cpu, 50), 2),
        "cpu_p99_ms": round(_percentile(cpu, 99), 2),
        "load_average": round(load, 2),
        "naive_p50_ms": round(_percentile(naive_latencies, 50), 2),
        "naive_p99_ms": round(_percentile(naive_latencies, 99), 2),
        "agreement": round(agree / comparable, 4) if comparable else None,
        "hit_index": hit_index,
        "hit_naive": hit_naive,
        "compared": comparable,
        "identical_to_baseline": old.get("identical"),
    }
    rows = [row]
    if "error" not in old:
        rows.append({
            "benchmark": NAME + "-baseline",
            "backend": f"in-memory, {baseline.LABEL}",
            "size": size,
            "p50_ms": round(old["p50"], 2),
            "p99_ms": round(old["p99"], 2),
            "peak_rss_mb": round(old["peak_rss_mb"]),
            "goal": "-",
            "baseline": "the design the resolve row replaced, same plant and queries",
            "notes": (f"build {old['build_s']:.1f} s; index {old['index_mb']:.0f} MB (RSS +{old['rss_mb']:.0f} MB), "
                      f"built by every process; CPU time p50 {old['cpu_p50']:.1f} ms / p99 {old['cpu_p99']:.1f} ms"),
            "build_s": round(old["build_s"], 2),
            "index_mb": round(old["index_mb"], 1),
        })
    return rows


def run(sizes: Sequence[int] = DEFAULT_SIZES) -> list[dict[str, Any]]:
    return [row for size in sizes for row in run_size(size)]
