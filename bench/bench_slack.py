"""Benchmark: ``/govbot who …`` over HTTP against the real web host and a large catalog.

Set-up: a synthetic plant (``bench.generate``) of ``catalog_size`` systems is
imported with the real importer into SQLite (cached in ``bench/out/``) or a
fresh PostgreSQL schema; ``govbot serve`` runs as a separate process (HTTP
mode) whose Slack Web API and ``response_url`` point at the fake Slack from
``tests/slack/fake_slack.py``, running in this process.

Load: ``requests`` correctly signed slash commands (``who NAME`` for system
names sampled from the catalog, a fifth of them with a typo), ``concurrency``
in flight at a time.  Each request gets its own ``response_url``, so every
answer is matched to its request.

Reported: ack latency (HTTP response to the slash command; Slack's limit is
3 s) p50/p99, end-to-end answer latency (until the fake recorded the
``response_url`` post) p50/p99, throughput, errors (non-200 acks, transport
errors, answers that are error messages) and lost answers (acked but never
answered within ``answer_timeout``), the server's peak RSS, and the time the
first answer took (the catalog index is built on first use).  The baseline
is the same request sent one at a time.

Goal: p99 ack under 300 ms at 50 concurrent, zero errors, no answer lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import sqlalchemy as sa

NAME = "slack"
QUICK_SIZES = (2_000,)
DEFAULT_SIZES = (100_000,)
# Catalogs below this size are smoke tests (``python -m bench --quick``): fewer requests.
SMOKE_SIZE = 10_000
SMOKE_REQUESTS = 100
GOAL_P99_ACK_MS = 300.0
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SIGNING_SECRET = "bench-signing-secret-5f0c2a9e"
BOT_TOKEN = "xoxb-bench-0000-govbot"
BENCH_USER = "U0BENCH0001"
PG_URL = os.environ.get("GOVBOT_BENCH_POSTGRES_URL",
                        os.environ.get("GOVBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _sign(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}


# --------------------------------------------------------------------------- the catalog


def _revision() -> str:
    from governance_store.db import MIGRATIONS_DIR

    versions = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
    digest = hashlib.sha256()
    for path in versions:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _load_catalog(url: str, schema: str | None, size: int, seed: int) -> float:
    """Migrate, import a generated plant of ``size`` systems, add the bench's Slack user; seconds taken."""
    from bench.generate import generate_plant
    from governance_store import db
    from governance_store.importers import import_paths
    from governance_store.models import ChatIdentity, Person

    started = time.perf_counter()
    db.upgrade(url, schema=schema)
    with tempfile.TemporaryDirectory() as tmp:
        plant_dir = generate_plant(Path(tmp) / "plant", size, seed=seed)
        engine = db.make_engine(url, schema=schema)
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            import_paths([plant_dir], session=session)
            person = session.scalars(sa.select(Person).where(Person.active.is_(True)).order_by(Person.id)).first()
            if person is None:
                person = Person(email="bench.user@aldermoor.example", display_name="Bench User")
                session.add(person)
                session.flush()
            session.add(ChatIdentity(platform="slack", external_id=BENCH_USER, person_id=person.id,
                                     email=person.email, display_name=person.display_name))
        engine.dispose()
    return time.perf_counter() - started


@contextlib.contextmanager
def _database(backend: str, size: int, seed: int) -> Iterator[tuple[str, str | None, float]]:
    """(url, schema, import seconds) of a database holding the catalog; SQLite files are cached."""
    if backend == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        cached = OUT / f"slack-catalog-{size}-s{seed}-{_revision()}.db"
        for stale in OUT.glob(f"slack-catalog-{size}-s{seed}-*.db"):
            if stale != cached:
                stale.unlink()
        import_s = 0.0
        if not cached.exists():
            partial = cached.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            import_s = _load_catalog(f"sqlite:///{partial}", None, size, seed)
            partial.rename(cached)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "govbot.db"
            shutil.copy(cached, work)
            yield f"sqlite:///{work}", None, import_s
        return
    schema = f"bench_slack_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    try:
        yield PG_URL, schema, _load_catalog(PG_URL, schema, size, seed)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


def _questions(url: str, schema: str | None, n: int, seed: int) -> list[str]:
    from governance_store import db

    engine = db.make_engine(url, schema=schema)
    with engine.connect() as conn:
        total = conn.execute(sa.text("select count(*) from systems")).scalar_one()
        rng = random.Random(seed)
        ids = [rng.randint(1, max(1, total)) for _ in range(n)]
        names = dict(conn.execute(sa.text("select id, name from systems where id in :ids").bindparams(
            sa.bindparam("ids", expanding=True)), {"ids": sorted(set(ids))}).all())
    engine.dispose()
    out = []
    for i in ids:
        name = names.get(i) or next(iter(names.values()))
        if rng.random() < 0.2 and len(name) > 5:
            cut = rng.randrange(1, len(name) - 1)
            name = name[:cut] + name[cut + 1 :]
        out.append(f"who {name}")
    return out


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class _Server:
    process: subprocess.Popen[bytes]
    url: str
    peak_rss_mb: float = 0.0

    def sample_rss(self) -> None:
        """RSS of the server and its core worker processes together."""
        try:
            import psutil

            main = psutil.Process(self.process.pid)
            rss = sum(p.memory_info().rss for p in [main, *main.children(recursive=True)]) / 2**20
            self.peak_rss_mb = max(self.peak_rss_mb, rss)
        except Exception:  # noqa: BLE001 - psutil missing or a process just ended
            pass


async def _start_server(db_url: str, schema: str | None, api_url: str, log: Path,
                        core_processes: int | None) -> _Server:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBOT_")}
    env.update({
        "GOVBOT_DATABASE_URL": db_url,
        "GOVBOT_SLACK_BOT_TOKEN": BOT_TOKEN,
        "GOVBOT_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "GOVBOT_SLACK_API_URL": api_url,
        "GOVBOT_AUDIT_KEY": "benchmark-audit-key-" + "0" * 32,
        "PYTHONPATH": str(ROOT),
    })
    if schema:
        env["GOVBOT_DATABASE_SCHEMA"] = schema
    cmd = [sys.executable, "-c", "from bot.cli import main; main()", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "WARNING"]
    if core_processes is not None:
        cmd += ["--core-processes", str(core_processes)]
    out = log.open("wb")
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = _Server(process, f"http://127.0.0.1:{port}")
    async with aiohttp.ClientSession() as http:
        for _ in range(300):  # up to 30 s
            if process.poll() is not None:
                raise RuntimeError(f"govbot serve exited with {process.returncode}; see {log}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(server.url + "/healthz") as resp:
                    if resp.status == 200:
                        return server
            await asyncio.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"govbot serve did not become healthy; see {log}")


# --------------------------------------------------------------------------- the load


@dataclass
class _Result:
    sent_at: float
    acked_at: float | None = None
    status: int | None = None
    error: str | None = None


@dataclass
class _Run:
    results: dict[str, _Result] = field(default_factory=dict)

    def ack_ms(self) -> list[float]:
        return [(r.acked_at - r.sent_at) * 1000 for r in self.results.values() if r.acked_at and r.status == 200]


async def _fire(http: aiohttp.ClientSession, url: str, fake: Any, text: str, run: _Run, key: str) -> None:
    hook = fake.hook_url(key)
    fields = {
        "token": "bench", "team_id": "T0BENCH", "team_domain": "bench", "channel_id": "C0BENCH",
        "channel_name": "bench", "user_id": BENCH_USER, "user_name": "bench", "command": "/govbot", "text": text,
        "api_app_id": "A0BENCH", "is_enterprise_install": "false", "response_url": hook,
        "trigger_id": f"{key}.bench",
    }
    body = urlencode(fields)
    result = _Result(sent_at=time.monotonic())
    run.results[hook.split(str(fake.port), 1)[1]] = result
    try:
        async with http.post(url + "/slack/events", data=body.encode(), headers=_sign(body)) as resp:
            await resp.read()
            result.acked_at = time.monotonic()
            result.status = resp.status
    except Exception as exc:  # noqa: BLE001 - counted as an error
        result.error = f"{type(exc).__name__}: {exc}"


async def _load(server: _Server, fake: Any, questions: list[str], concurrency: int, prefix: str) -> _Run:
    run = _Run()
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def one(i: int, text: str) -> None:
        async with gate:
            await _fire(http, server.url, fake, text, run, f"{prefix}-{i}")
            server.sample_rss()

    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(one(i, q) for i, q in enumerate(questions)))
    return run


async def _answers(fake: Any, run: _Run, timeout: float) -> dict[str, Any]:
    """Wait for the answers (bounded); match them to their requests."""
    wanted = {path for path, r in run.results.items() if r.status == 200}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = {c.path for c in fake.calls("response_url")} & wanted
        if len(got) >= len(wanted):
            break
        await asyncio.sleep(0.05)
    first: dict[str, Any] = {}
    for call in fake.calls("response_url"):
        if call.path in run.results and call.path not in first:
            first[call.path] = call
    return first


# --------------------------------------------------------------------------- entry points


async def _run_async(concurrency: int, requests: int, catalog_size: int, backend: str, seed: int,
                     answer_timeout: float, core_processes: int | None) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.slack.fake_slack import FakeSlack

    with _database(backend, catalog_size, seed) as (db_url, schema, import_s):
        questions = _questions(db_url, schema, requests + 30, seed)
        fake = await FakeSlack().start()
        OUT.mkdir(parents=True, exist_ok=True)
        log = OUT / f"slack-serve-{backend}-{catalog_size}.log"
        server = await _start_server(db_url, schema, fake.api_url, log, core_processes)
        try:
            # Warm-up: the first answer builds the catalog index.
            warm = await _load(server, fake, questions[:1], 1, "warm")
            warm_answers = await _answers(fake, warm, answer_timeout)
            warm_call = next(iter(warm_answers.values()), None)
            [warm_result] = warm.results.values()
            warmup_s = (warm_call.at - warm_result.sent_at) if warm_call else float("nan")
            # Baseline: one request at a time.
            base = await _load(server, fake, questions[1:21], 1, "base")
            base_answers = await _answers(fake, base, answer_timeout)
            base_e2e = [(c.at - base.results[p].sent_at) * 1000 for p, c in base_answers.items()]
            # The measured run.
            started = time.monotonic()
            run = await _load(server, fake, questions[30 : 30 + requests], concurrency, "load")
            answers = await _answers(fake, run, answer_timeout)
            server.sample_rss()
        finally:
            server.process.terminate()
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
            await fake.stop()

    acks = run.ack_ms()
    e2e = [(c.at - run.results[p].sent_at) * 1000 for p, c in answers.items()]
    transport = [r for r in run.results.values() if r.error or r.status != 200]
    failed_answers = [c for c in answers.values() if "Something went wrong" in c.all_text()]
    errors = len(transport) + len(failed_answers)
    lost = sum(1 for p, r in run.results.items() if r.status == 200 and p not in answers)
    last = max((c.at for c in answers.values()), default=started)
    throughput = len(answers) / (last - started) if answers and last > started else 0.0
    p50, p99 = _percentile(acks, 50), _percentile(acks, 99)
    met = p99 < GOAL_P99_ACK_MS and errors == 0 and lost == 0
    return {
        "benchmark": NAME,
        "backend": backend,
        "size": catalog_size,
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "peak_rss_mb": round(server.peak_rss_mb, 1),  # the server with its core worker processes
        "goal": f"p99 ack < {GOAL_P99_ACK_MS:.0f} ms at {concurrency} concurrent, 0 errors, 0 lost"
                + (" (met)" if met else " (MISSED)"),
        "baseline": (f"one at a time: ack p50 {_percentile(base.ack_ms(), 50):.1f} ms, "
                     f"answer p50 {_percentile(base_e2e, 50):.0f} ms"),
        "notes": (f"{requests} signed /govbot who requests, {concurrency} in flight; answer p50 "
                  f"{_percentile(e2e, 50):.0f} ms, p99 {_percentile(e2e, 99):.0f} ms; {throughput:.1f} answers/s; "
                  f"{errors} errors, {lost} lost; first answer (index build) {warmup_s:.1f} s"
                  + (f"; catalog import {import_s:.0f} s" if import_s else "")),
        "concurrency": concurrency,
        "requests": requests,
        "core_processes": core_processes if core_processes is not None else "default",
        "ack_p50_ms": round(p50, 1),
        "ack_p99_ms": round(p99, 1),
        "ack_max_ms": round(max(acks), 1) if acks else None,
        "answer_p50_ms": round(_percentile(e2e, 50), 1),
        "answer_p99_ms": round(_percentile(e2e, 99), 1),
        "throughput_per_s": round(throughput, 1),
        "errors": errors,
        "lost": lost,
        "warmup_s": round(warmup_s, 2),
        "import_s": round(import_s, 1),
    }


def run(concurrency: int = 50, requests: int = 500, catalog_size: int = 100_000, *, backend: str = "sqlite",
        sizes: Sequence[int] | None = None, seed: int = 7, answer_timeout: float = 120.0,
        core_processes: int | None = None) -> list[dict[str, Any]]:
    """One row (see bench/README.md) per catalog size on one backend.

    ``sizes`` (what ``python -m bench`` passes) overrides ``catalog_size``; sizes under
    ``SMOKE_SIZE`` send ``SMOKE_REQUESTS`` requests.  ``core_processes`` is passed to
    ``govbot serve --core-processes`` (default: serve's own default).
    """
    rows = []
    for size in sizes or (catalog_size,):
        n = min(requests, SMOKE_REQUESTS) if size < SMOKE_SIZE else requests
        rows.append(asyncio.run(_run_async(concurrency, n, size, backend, seed, answer_timeout, core_processes)))
    return rows


if __name__ == "__main__":  # pragma: no cover - manual runs
    import json

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for row in run(catalog_size=size):
        print(json.dumps(row, indent=2))
