"""Benchmark: ``govbot import`` of a generated plant (CMDB + OT inventory + directories).

For each size a synthetic plant is written once by ``bench.generate`` (cached
under ``bench/out/``): ``size`` CMDB rows, ``size`` Nozomi sightings (~96 %
matching the CMDB), the sites, hierarchy, zones, teams and people around them.
Each measurement runs in a fresh child process against an empty, migrated
store (a new SQLite file, or a new PostgreSQL schema): ``import_paths`` over
the folder plus the commit, timed inside the child, whose own peak RSS
(``ru_maxrss``) is reported.  A second child then imports the same folder
into that store again (nothing changes: every row is loaded, compared and
counted ``unchanged``); its time and peak RSS are in the notes.

Baseline, measured in the same run: the naive importer a first version would
write, ORM objects with one SELECT per row to find the system and a flush per
row, on the first 2,000 CMDB and OT rows of the same files (a tenth of them
for small sizes), extrapolated linearly to the full size.

Goal: 100k CMDB rows + 100k OT rows in under 60 s with peak RSS under 1 GB.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

NAME = "import"
QUICK_SIZES = (1_000,)
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
PG_URL = os.environ.get("GOVBOT_BENCH_POSTGRES_URL",
                        os.environ.get("GOVBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
GOAL_SECONDS = 60.0
GOAL_RSS_MB = 1024.0
NAIVE_ROWS = 2_000


def plant_dir(size: int, seed: int = 7) -> Path:
    """The generated plant for ``size`` systems, written once and reused."""
    from bench.generate import generate_plant

    folder = OUT / f"import-plant-{size}-{seed}"
    if not (folder / ".complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        generate_plant(folder, size, seed=seed)
        (folder / ".complete").write_text("ok", encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- stores


class Store:
    """An empty, migrated store on one backend; ``drop()`` removes it."""

    def __init__(self, backend: str, workdir: Path) -> None:
        from governance_store import db

        self.backend = backend
        self.schema: str | None = None
        if backend == "sqlite":
            path = workdir / f"{uuid.uuid4().hex[:8]}.db"
            self.url = f"sqlite:///{path}"
            db.upgrade(self.url)
        else:
            import sqlalchemy as sa

            self.url = PG_URL
            self.schema = f"govbot_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin = sa.create_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'create schema "{self.schema}"'))
            admin.dispose()
            db.upgrade(self.url, schema=self.schema)

    def drop(self) -> None:
        if self.schema:
            import sqlalchemy as sa

            admin = sa.create_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'drop schema if exists "{self.schema}" cascade'))
            admin.dispose()
        elif self.url.startswith("sqlite:///"):
            for suffix in ("", "-wal", "-shm"):
                Path(self.url[len("sqlite:///"):] + suffix).unlink(missing_ok=True)


def postgres_problem() -> str | None:
    from governance_store.db import connection_problem

    return connection_problem(PG_URL)


# --------------------------------------------------------------------------- child process


def worker(url: str, schema: str | None, folder: Path, mode: str, naive_limit: int = NAIVE_ROWS) -> dict[str, Any]:
    """Runs in the child: one measurement, printed as JSON."""
    import resource

    from governance_store import db

    engine = db.make_engine(url, schema=schema)
    factory = db.make_session_factory(engine)
    result: dict[str, Any] = {}
    if mode in ("import", "again"):
        from governance_store.importers import import_paths

        started = time.perf_counter()
        with db.unit_of_work(factory) as session:
            report = import_paths([folder], session=session)
        result["seconds"] = time.perf_counter() - started
        result["totals"] = report.totals()
        result["systems"] = report.counts.get("systems", {}).get("added", 0)
        result["sightings"] = report.counts.get("system_sources", {}).get("added", 0)
    else:
        started = time.perf_counter()
        result["rows"] = naive_import(factory, folder, naive_limit)
        result["seconds"] = time.perf_counter() - started
    engine.dispose()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def naive_import(factory: Any, folder: Path, limit: int) -> int:
    """The straightforward importer: ORM objects, a SELECT per row, a flush per row."""
    import sqlalchemy as sa

    from governance_store.models import System, SystemSource

    ny = dt.timezone(dt.timedelta(hours=-5))
    rows = 0
    with factory() as session:
        with open(folder / "cmdb_ci.csv", encoding="utf-8-sig", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                if i >= limit:
                    break
                system = session.scalars(sa.select(System).where(System.key == row["sys_id"])).first()
                if system is None:
                    system = System(key=row["sys_id"], name=row["name"], in_cmdb=True)
                    session.add(system)
                system.serial = row["serial_number"] or None
                system.ips = [row["ip_address"]] if row["ip_address"] else []
                system.macs = [row["mac_address"]] if row["mac_address"] else []
                system.site_code = row["u_site_code"] or None
                system.updated_at = dt.datetime.fromisoformat(row["sys_updated_on"]).replace(tzinfo=ny)
                session.flush()
                session.add(SystemSource(system_id=system.id, source="servicenow", external_id=row["sys_id"],
                                         attributes={}))
                session.flush()
                rows += 1
        with open(folder / "ot_inventory_nozomi.csv", encoding="utf-8-sig", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                if i >= limit:
                    break
                serial = row["serial_number"] or None
                system = None
                if serial:
                    system = session.scalars(sa.select(System).where(sa.func.lower(System.serial) == serial.lower())).first()
                if system is None:
                    system = session.scalars(sa.select(System).where(sa.func.lower(System.name) == row["name"].lower())).first()
                if system is None:
                    system = System(key=f"nozomi:{row['id']}", name=row["name"] or row["ip"], in_cmdb=False)
                    session.add(system)
                    session.flush()
                session.add(SystemSource(system_id=system.id, source="nozomi", external_id=row["id"],
                                         attributes={"level": row["level"]}))
                session.flush()
                rows += 1
        session.commit()
    return rows


def _child(store: Store, folder: Path, mode: str, naive_limit: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_import", "--worker", store.url, "--schema", store.schema or "",
         "--folder", str(folder), "--mode", mode, "--naive-rows", str(naive_limit)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import worker failed ({store.backend}, {mode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(backend: str, folder: Path, modes: tuple[str, ...], workdir: Path,
            naive_limit: int = NAIVE_ROWS) -> list[dict[str, Any]]:
    """Each mode in its own child process, one after the other, on one fresh store."""
    store = Store(backend, workdir)
    try:
        return [_child(store, folder, mode, naive_limit) for mode in modes]
    finally:
        store.drop()


# --------------------------------------------------------------------------- the benchmark


def run(sizes: tuple[int, ...] = (10_000, 100_000), backends: tuple[str, ...] = ("sqlite", "postgresql"),
        repeats: int | None = None) -> list[dict[str, Any]]:
    """One row per (size, backend); ``repeats`` runs each (default 3, or 2 below 10k systems)."""
    rows: list[dict[str, Any]] = []
    pg_problem = postgres_problem() if "postgresql" in backends else None
    with tempfile.TemporaryDirectory(prefix="govbot-bench-import-") as tmp:
        workdir = Path(tmp)
        for size in sizes:
            folder = plant_dir(size)
            for backend in backends:
                if backend == "postgresql" and pg_problem:
                    rows.append({
                        "benchmark": NAME, "backend": backend, "size": size, "median_s": None, "p99_s": None,
                        "p99_ms": None, "peak_rss_mb": None, "goal": "-", "baseline": "-",
                        "notes": f"skipped: PostgreSQL unreachable ({pg_problem})",
                    })
                    continue
                n = repeats or (3 if size >= 10_000 else 2)
                runs = [measure(backend, folder, ("import", "again"), workdir) for _ in range(n)]
                naive = measure(backend, folder, ("naive",), workdir, min(NAIVE_ROWS, max(100, size // 10)))[0]
                rows.append(_row(size, backend, runs, naive))
    return rows


def _row(size: int, backend: str, runs: list[list[dict[str, Any]]], naive: dict[str, Any]) -> dict[str, Any]:
    firsts = [first for first, _again in runs]
    agains = [again for _first, again in runs]
    times = sorted(r["seconds"] for r in firsts)
    median = statistics.median(times)
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    rss = max(r["peak_rss_mb"] for r in firsts)
    again_s = statistics.median(r["seconds"] for r in agains)
    again_rss = max(r["peak_rss_mb"] for r in agains)
    goal = "-"
    if size >= 100_000:
        limit = GOAL_SECONDS * size / 100_000
        met = p99 < limit and rss < GOAL_RSS_MB
        goal = f"< {limit:.0f} s and < {GOAL_RSS_MB:.0f} MB peak RSS" + (" (met)" if met else " (MISSED)")
    per_row = naive["seconds"] / max(1, naive["rows"])
    return {
        "benchmark": NAME,
        "backend": backend,
        "size": size,
        "median_s": round(median, 2),
        "p99_s": round(p99, 2),
        "p99_ms": None,
        "peak_rss_mb": round(rss),
        "goal": goal,
        "baseline": (f"naive ORM import (SELECT + flush per row): {naive['rows']:,} rows in {naive['seconds']:.1f} s, "
                     f"~{per_row * 2 * size:,.0f} s for {2 * size:,} rows (extrapolated)"),
        "notes": (f"{size:,} CMDB + {size:,} OT rows -> {firsts[0]['systems']:,} systems, "
                  f"{firsts[0]['sightings']:,} sightings, {2 * size / median:,.0f} rows/s; re-import of the same "
                  f"files (all unchanged): {again_s:.1f} s, peak RSS {again_rss:.0f} MB; {len(runs)} runs, each "
                  "in fresh processes and a fresh store"),
        "reimport_s": round(again_s, 2),
        "reimport_peak_rss_mb": round(again_rss),
        "naive_s_per_1k_rows": round(per_row * 1000, 2),
        "runs_s": [round(t, 2) for t in times],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", metavar="URL", help="run one measurement in this process (internal)")
    parser.add_argument("--schema", default="")
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--mode", choices=("import", "again", "naive"), default="import")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--naive-rows", type=int, default=NAIVE_ROWS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.schema or None, args.folder, args.mode, args.naive_rows)))
        return
    sizes = tuple(int(s) for s in args.sizes.split(","))
    for row in run(sizes, tuple(args.backends.split(",")), args.repeats):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
