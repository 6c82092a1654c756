"""Benchmark: questions over HTTP against the real web host and a large catalog, Slack and Teams.

Set-up: a synthetic plant (``bench.generate``) of ``catalog_size`` systems is imported with the real importer
into SQLite (cached in ``bench/out/``) or a fresh PostgreSQL schema, and its catalog index written to the
host's index directory as ``govbot import`` does.  ``govbot serve`` runs as a separate process (HTTP mode,
its default core worker processes) with Slack and Teams configured: its Slack Web API and ``response_url``
point at the fake Slack of ``tests/slack/fake_slack.py``, its Teams replies go to the fake Bot Connector of
``tests/teams/fake_connector.py``, and the Bot Framework tokens it checks are signed by the bench the way
``tests/teams/tokens.py`` signs them (its OpenID metadata served from this process).

Load: ``concurrency`` people each ask a question, wait for the answer and ask the next (so ``concurrency``
questions are in flight at any time), ``requests`` questions in all: correctly signed ``/govbot who NAME``
slash commands (names sampled from the catalog, a fifth of them with a typo), then the same questions as
Teams messages (``who NAME`` in a personal chat, with a Bot Framework token).  An answer's latency runs from
sending the question to the moment the fake Slack receives the ``response_url`` post, or the fake connector
the reply activity.

Reported per surface: answer p50/p99, answers per second, Slack's acknowledgement p50/p99 (Slack's limit is
3 s), errors (refused requests, transport errors, error messages, answers refusing the asker) and lost answers, CPU
milliseconds per answer in the server's main process, its core workers and the load generator (contention
from other work on the machine stretches wall-clock figures, not these), the server's memory (RSS and
PSS: pages of the shared index file count once) and one question at a time.  A ``worker-start`` row
measures how long a new core worker takes to give its first answer.

Baseline: the same load, in the same run, against ``govbot serve`` as it was at ``bench.baseline.REVISION``
(each worker building its own catalog index; Teams answered in threads of the web host), on the same
generated catalog loaded by that revision's own migrations and importer.

Goals: answer p99 < 300 ms at 50 concurrent on 100k systems, at least 3x the baseline's answers per second,
no errors, no answer lost, for Slack and Teams; a new worker answers within 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
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

from bench import baseline as baseline_design

NAME = "slack"
QUICK_SIZES = (2_000,)
DEFAULT_SIZES = (100_000,)
# Catalogs below this size are smoke tests (``python -m bench --quick``): fewer requests.
SMOKE_SIZE = 10_000
SMOKE_REQUESTS = 100
GOAL_P99_ANSWER_MS = 300.0
GOAL_SPEEDUP = 3.0
GOAL_WORKER_START_S = 1.0
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SIGNING_SECRET = "bench-signing-secret-5f0c2a9e"
BOT_TOKEN = "xoxb-bench-0000-govbot"
BENCH_USER = "U0BENCH0001"
TEAMS_USER = "29:bench-user-0001"
TEAMS_AAD = "0b0e0c0a-0000-4000-8000-00000000be01"
TEAMS_BOT = "28:0b6fe6d1-fece-44f7-9a48-56465e2d5ab8"
TEAMS_TENANT = "50612dbb-0237-4969-b378-8d42590f9c00"
PG_URL = os.environ.get("GOVBOT_BENCH_POSTGRES_URL",
                        os.environ.get("GOVBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# An answer that is none: a failure, or the bench's asker not recognised (the catalog links it to a person).
NOT_ANSWERS = ("Something went wrong", "I don't know who you are", "you are not in govbot's directory")


def _not_an_answer(text: str) -> str | None:
    return next((f"not an answer: {marker}" for marker in NOT_ANSWERS if marker in text), None)


def _sign(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}


# --------------------------------------------------------------------------- the catalog


def _revision() -> str:
    from governance_store.db import MIGRATIONS_DIR

    versions = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
    digest = hashlib.sha256(b"bench-slack-catalog-2")  # what _load_catalog adds besides the plant
    for path in versions:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _load_catalog(url: str, schema: str | None, size: int, seed: int) -> float:
    """Migrate, import a generated plant of ``size`` systems, link the bench's Slack and Teams accounts to a
    person; seconds taken."""
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
            person.aad_object_id = TEAMS_AAD
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


# Loads the catalog with the baseline revision's own migrations and importer (the current schema may be newer
# than that revision accepts), then links the bench's Teams account as _load_catalog does.
BASELINE_LOAD = """
import sys
import sqlalchemy as sa
from bench.bench_slack import _load_catalog
url, schema, size, seed, slack_user, aad = sys.argv[1], sys.argv[2] or None, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
_load_catalog(url, schema, size, seed)
from governance_store import db
engine = db.make_engine(url, schema=schema)
with engine.begin() as conn:
    conn.execute(sa.text("update people set aad_object_id = :aad where id = (select person_id from chat_identities "
                         "where platform = 'slack' and external_id = :user)"), {"aad": aad, "user": slack_user})
engine.dispose()
"""


def _baseline_load(tree: Path, url: str, schema: str | None, size: int, seed: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBOT_")}
    env["PYTHONPATH"] = str(tree)
    subprocess.run([sys.executable, "-c", BASELINE_LOAD, url, schema or "", str(size), str(seed), BENCH_USER, TEAMS_AAD],
                   cwd=tree, env=env, check=True, capture_output=True, timeout=3600)


@contextlib.contextmanager
def _baseline_database(tree: Path, backend: str, size: int, seed: int) -> Iterator[tuple[str, str | None]]:
    """(url, schema) of the catalog as the baseline revision stores it; SQLite files are cached."""
    if backend == "sqlite":
        cached = OUT / f"slack-catalog-baseline-{baseline_design.REVISION[:12]}-{size}-s{seed}.db"
        if not cached.exists():
            partial = cached.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            _baseline_load(tree, f"sqlite:///{partial}", None, size, seed)
            partial.rename(cached)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "govbot.db"
            shutil.copy(cached, work)
            yield f"sqlite:///{work}", None
        return
    schema = f"bench_slack_base_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    try:
        _baseline_load(tree, PG_URL, schema, size, seed)
        yield PG_URL, schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


def _write_index(url: str, schema: str | None, directory: Path) -> float:
    """The catalog index written to the host's index directory, as ``govbot import`` does; seconds taken."""
    from governance_store import db
    from handlers.catalog import Catalog

    engine = db.make_engine(url, schema=schema)
    started = time.perf_counter()
    with db.make_session_factory(engine)() as session:
        Catalog(directory=directory).index_for(session)
    engine.dispose()
    return time.perf_counter() - started


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

# ``govbot serve`` as the bench runs it: Bot Framework tokens are checked against the bench's OpenID
# metadata and the bot writes to the fake connector with a fixed token (tests/teams/tokens.py), instead of
# Microsoft's keys and Entra ID.  The same for the baseline revision's tree.
SERVE = """
import os
from botframework.connector.auth import ChannelValidation
ChannelValidation.open_id_metadata_endpoint = os.environ["BENCH_OPENID_URL"]
import bot.teams.app as teams_app
from tests.teams import tokens
teams_app.build_adapter = tokens.authenticated_adapter
from bot.cli import main
main()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class _Server:
    process: subprocess.Popen[bytes]
    url: str
    peak_rss_mb: float = 0.0

    def processes(self) -> list[Any]:
        import psutil

        main = psutil.Process(self.process.pid)
        return [main, *main.children(recursive=True)]

    def sample_rss(self) -> None:
        """RSS of the server and its core worker processes together."""
        with contextlib.suppress(Exception):  # psutil missing or a process just ended
            rss = sum(p.memory_info().rss for p in self.processes()) / 2**20
            self.peak_rss_mb = max(self.peak_rss_mb, rss)

    def memory(self) -> dict[str, float]:
        out = {"rss_mb": 0.0, "pss_mb": 0.0, "workers": 0}
        with contextlib.suppress(Exception):
            procs = self.processes()
            for p in procs:
                info = p.memory_full_info()
                out["rss_mb"] += info.rss / 2**20
                out["pss_mb"] += getattr(info, "pss", info.rss) / 2**20
            out["workers"] = len(procs) - 1
        return out

    def cpu(self) -> dict[int, float]:
        out: dict[int, float] = {}
        with contextlib.suppress(Exception):
            for p in self.processes():
                with contextlib.suppress(Exception):
                    times = p.cpu_times()
                    out[p.pid] = times.user + times.system
        return out


async def _start_server(tree: Path, db_url: str, schema: str | None, api_url: str, log: Path,
                        core_processes: int | None, env_extra: dict[str, str]) -> _Server:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBOT_")}
    env.update({
        "GOVBOT_DATABASE_URL": db_url,
        "GOVBOT_SLACK_BOT_TOKEN": BOT_TOKEN,
        "GOVBOT_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "GOVBOT_SLACK_API_URL": api_url,
        "GOVBOT_AUDIT_KEY": "benchmark-audit-key-" + "0" * 32,
        "PYTHONPATH": str(tree),
        **env_extra,
    })
    if schema:
        env["GOVBOT_DATABASE_SCHEMA"] = schema
    cmd = [sys.executable, "-c", SERVE, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "WARNING"]
    if core_processes is not None:
        cmd += ["--core-processes", str(core_processes)]
    out = log.open("wb")
    process = subprocess.Popen(cmd, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = _Server(process, f"http://127.0.0.1:{port}")
    await _healthy(server, f"govbot serve (see {log})")
    return server


async def _healthy(server: _Server, what: str, timeout: float = 60.0) -> None:
    """Wait until ``server`` answers ``/healthz``; an exit or a timeout raises (and stops it)."""
    async with aiohttp.ClientSession() as http:
        for _ in range(int(timeout * 10)):
            if server.process.poll() is not None:
                raise RuntimeError(f"{what} exited with {server.process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(server.url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    server.process.terminate()
    raise RuntimeError(f"{what} did not become healthy")


def _stop(server: _Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


# --------------------------------------------------------------------------- the load


@dataclass
class _Answer:
    sent_at: float
    acked_at: float | None = None
    answered_at: float | None = None
    status: int | None = None
    error: str | None = None


@dataclass
class _Run:
    answers: list[_Answer] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    def answer_ms(self) -> list[float]:
        return [(a.answered_at - a.sent_at) * 1000 for a in self.answers if a.answered_at is not None and not a.error]

    def ack_ms(self) -> list[float]:
        return [(a.acked_at - a.sent_at) * 1000 for a in self.answers if a.acked_at is not None and a.status == 200]

    def errors(self) -> int:
        return sum(1 for a in self.answers if a.error and a.error != "lost")

    def lost(self) -> int:
        return sum(1 for a in self.answers if a.error == "lost")

    def throughput(self) -> float:
        done = [a.answered_at for a in self.answers if a.answered_at is not None]
        return len(done) / (max(done) - self.started) if done and max(done) > self.started else 0.0


class _Slack:
    name = "slack"

    def __init__(self, fake: Any, url: str, timeout: float) -> None:
        self.fake, self.url, self.timeout = fake, url, timeout

    async def ask(self, http: aiohttp.ClientSession, text: str, key: str, asker: int) -> _Answer:
        hook = self.fake.hook_url(key)
        fields = {
            "token": "bench", "team_id": "T0BENCH", "team_domain": "bench", "channel_id": "C0BENCH",
            "channel_name": "bench", "user_id": BENCH_USER, "user_name": "bench", "command": "/govbot",
            "text": text, "api_app_id": "A0BENCH", "is_enterprise_install": "false", "response_url": hook,
            "trigger_id": f"{key}.bench",
        }
        body = urlencode(fields)
        arrived = self.fake.expect(hook.split(str(self.fake.port), 1)[1])
        result = _Answer(sent_at=time.monotonic())
        try:
            async with http.post(self.url + "/slack/events", data=body.encode(), headers=_sign(body)) as resp:
                await resp.read()
                result.acked_at = time.monotonic()
                result.status = resp.status
            if resp.status != 200:
                result.error = f"HTTP {resp.status}"
                return result
            call = await asyncio.wait_for(arrived, self.timeout)
            result.answered_at = call.at
            result.error = _not_an_answer(call.all_text())
        except TimeoutError:
            result.error = "lost"
        except Exception as exc:  # noqa: BLE001 - counted as an error
            result.error = f"{type(exc).__name__}: {exc}"
        return result


class _Teams:
    name = "teams"

    def __init__(self, connector: Any, keys: Any, url: str, timeout: float) -> None:
        self.connector, self.url, self.timeout = connector, url, timeout
        # One token for the whole run, as the Bot Connector reuses its tokens (valid for an hour).
        self.authorization = f"Bearer {keys.token(service_url=connector.url)}"

    async def ask(self, http: aiohttp.ClientSession, text: str, key: str, asker: int) -> _Answer:
        activity_id = f"bench{key.replace('-', '')}"
        activity = {
            "type": "message", "id": activity_id, "timestamp": "2025-06-04T14:00:00.000Z",
            "serviceUrl": self.connector.url, "channelId": "msteams",
            "from": {"id": TEAMS_USER, "name": "Bench User", "aadObjectId": TEAMS_AAD},
            # Each asker in a 1:1 chat of its own, as many people asking at once would be.
            "conversation": {"conversationType": "personal", "id": f"a:bench-{asker}", "tenantId": TEAMS_TENANT},
            "recipient": {"id": TEAMS_BOT, "name": "govbot"}, "textFormat": "plain", "text": text,
            "locale": "en-US", "channelData": {"tenant": {"id": TEAMS_TENANT}},
        }
        arrived = self.connector.expect_reply(activity_id)
        result = _Answer(sent_at=time.monotonic())
        try:
            async with http.post(self.url + "/api/messages", data=json.dumps(activity),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": self.authorization}) as resp:
                await resp.read()
                result.acked_at = time.monotonic()
                result.status = 200 if resp.status in (200, 201) else resp.status
            if result.status != 200:
                result.error = f"HTTP {resp.status}"
                return result
            call = await asyncio.wait_for(arrived, self.timeout)
            result.answered_at = call.at
            result.error = _not_an_answer(call.all_text())
        except TimeoutError:
            result.error = "lost"
        except Exception as exc:  # noqa: BLE001 - counted as an error
            result.error = f"{type(exc).__name__}: {exc}"
        return result


async def _load(surface: Any, questions: Sequence[str], concurrency: int, prefix: str,
                server: _Server | None = None) -> _Run:
    """``concurrency`` askers, each asking its next question once its last is answered."""
    run = _Run()
    pending = iter(enumerate(questions))
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def asker(number: int) -> None:
        for i, text in pending:
            run.answers.append(await surface.ask(http, text, f"{prefix}-{i}", number))

    async def sample() -> None:
        while server is not None:
            server.sample_rss()
            await asyncio.sleep(0.5)

    async with aiohttp.ClientSession(connector=connector) as http:
        sampler = asyncio.ensure_future(sample())
        run.started = time.monotonic()
        await asyncio.gather(*(asker(k) for k in range(concurrency)))
        run.ended = time.monotonic()
        sampler.cancel()
    return run


# --------------------------------------------------------------------------- one design, both surfaces


PROBE = """
import asyncio, json, sys, time
from bot import bootstrap
from bot.core_runner import CoreRunner
from bot.settings import Settings
from bot.turn import Ask, ChatUser

async def first_answer(container, question):
    runner = CoreRunner(container, processes=1)
    started = time.perf_counter()
    reply = await runner.run(ChatUser(platform="slack", account_id=sys.argv[4]), Ask(question, slash=True))
    took = time.perf_counter() - started
    runner.close()
    return took, reply.text

async def main():
    container = bootstrap.build(Settings(_env_file=None, database_url=sys.argv[1], index_dir=sys.argv[2]))
    first, _ = await first_answer(container, sys.argv[3])
    extra, text = await first_answer(container, sys.argv[3])
    print(json.dumps({"first_pool_s": first, "extra_worker_s": extra, "error": "Something went wrong" in text}))

if __name__ == "__main__":
    asyncio.run(main())
"""


def _worker_start(tree: Path, db_url: str, index_dir: Path, question: str) -> dict[str, Any]:
    """A new core worker's first answer: the first pool of a fresh process, then one more worker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBOT_")}
    env["PYTHONPATH"] = str(tree)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "probe_worker_start.py"
        script.write_text(PROBE)
        done = subprocess.run([sys.executable, str(script), db_url, str(index_dir), question, BENCH_USER],
                              cwd=tree, env=env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        return {"failed": done.stderr.strip().splitlines()[-1:] or ["exit status " + str(done.returncode)]}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


async def _design(tree: Path, label: str, db_url: str, schema: str | None, questions: list[str], *,
                  concurrency: int, requests: int, core_processes: int | None, surfaces: Sequence[str],
                  answer_timeout: float, index_dir: Path, openid_url: str, keys: Any) -> dict[str, Any]:
    """Serve with the code in ``tree`` and run every surface's load against it."""
    import psutil

    sys.path.insert(0, str(ROOT))
    from tests.slack.fake_slack import FakeSlack
    from tests.teams.fake_connector import FakeConnector
    from tests.teams.tokens import APP_ID, APP_PASSWORD, OUTBOUND_TOKEN

    fake = await FakeSlack().start()
    connector = await FakeConnector(token=OUTBOUND_TOKEN).start()
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"slack-serve-{label}.log"
    env_extra = {"GOVBOT_TEAMS_APP_ID": APP_ID, "GOVBOT_TEAMS_APP_PASSWORD": APP_PASSWORD,
                 "GOVBOT_INDEX_DIR": str(index_dir), "BENCH_OPENID_URL": openid_url}
    started = time.monotonic()
    server = await _start_server(tree, db_url, schema, fake.api_url, log, core_processes, env_extra)
    results: dict[str, Any] = {}
    try:
        for name in surfaces:
            surface = (_Slack(fake, server.url, answer_timeout) if name == "slack"
                       else _Teams(connector, keys, server.url, answer_timeout))
            first = await _load(surface, questions[:1], 1, f"{label}-{name}-first")
            first_s = (first.answers[0].answered_at or float("nan")) - started if name == surfaces[0] else None
            await _load(surface, questions[1 : 1 + 2 * concurrency], concurrency, f"{label}-{name}-warm")
            single = await _load(surface, questions[-20:], 1, f"{label}-{name}-single")
            me = psutil.Process()
            cpu_before, me_before = server.cpu(), sum(me.cpu_times()[:2])
            load_before = os.getloadavg()[0]
            run = await _load(surface, questions[2 * concurrency + 1 : 2 * concurrency + 1 + requests], concurrency,
                              f"{label}-{name}-load", server)
            cpu_after, me_after = server.cpu(), sum(me.cpu_times()[:2])
            answered = max(1, len(run.answer_ms()))
            main_pid = server.process.pid
            main_cpu = (cpu_after.get(main_pid, 0.0) - cpu_before.get(main_pid, 0.0)) * 1000 / answered
            worker_cpu = sum(cpu_after[p] - cpu_before.get(p, 0.0) for p in cpu_after if p != main_pid) * 1000 / answered
            results[name] = {
                "run": run, "single": single, "first_s": first_s, "main_cpu_ms": main_cpu,
                "worker_cpu_ms": worker_cpu, "bench_cpu_ms": (me_after - me_before) * 1000 / answered,
                "memory": server.memory(), "load": max(load_before, os.getloadavg()[0]),
            }
        results["peak_rss_mb"] = server.peak_rss_mb
    finally:
        _stop(server)
        await fake.stop()
        await connector.stop()
    return results


# --------------------------------------------------------------------------- rows


def _surface_row(name: str, design: dict[str, Any], old: dict[str, Any] | None, *, backend: str, size: int,
                 concurrency: int, requests: int, core_processes: int | None, peak_rss: float) -> dict[str, Any]:
    run: _Run = design["run"]
    answers, acks = run.answer_ms(), run.ack_ms()
    errors, lost, throughput = run.errors(), run.lost(), run.throughput()
    p50, p99 = _percentile(answers, 50), _percentile(answers, 99)
    old_run: _Run | None = old["run"] if old else None
    speedup = throughput / old_run.throughput() if old_run and old_run.throughput() else None
    met = p99 < GOAL_P99_ANSWER_MS and errors == 0 and lost == 0 and (speedup is None or speedup >= GOAL_SPEEDUP)
    goal = (f"answer p99 < {GOAL_P99_ANSWER_MS:.0f} ms at {concurrency} concurrent, ≥ {GOAL_SPEEDUP:.0f}× the "
            f"baseline's answers/s, 0 errors, 0 lost" + (" (met)" if met else " (MISSED)"))
    if old_run is not None:
        old_answers = old_run.answer_ms()
        base = (f"as at {baseline_design.LABEL}, same run: answer p50 {_percentile(old_answers, 50):.0f} ms, "
                f"p99 {_percentile(old_answers, 99):.0f} ms, {old_run.throughput():.0f} answers/s")
    else:
        base = "baseline design not run"
    memory = design["memory"]
    single = design["single"].answer_ms()
    notes = (f"{requests} questions, {concurrency} in flight (each asker waits for its answer), answers timed at the "
             f"fake {'Slack' if name == 'slack' else 'Bot Connector'}; {throughput:.0f} answers/s"
             + (f" ({speedup:.1f}× the baseline)" if speedup else "")
             + (f"; ack p50 {_percentile(acks, 50):.0f} ms, p99 {_percentile(acks, 99):.0f} ms" if name == "slack" else "")
             + f"; {errors} errors, {lost} lost; CPU per answer: web host {design['main_cpu_ms']:.1f} ms, "
             f"core workers {design['worker_cpu_ms']:.1f} ms, load generator and fakes {design['bench_cpu_ms']:.1f} ms; "
             f"server memory RSS {memory['rss_mb']:.0f} MB, PSS {memory['pss_mb']:.0f} MB ({memory['workers']} "
             f"child processes); one at a time: answer p50 {_percentile(single, 50):.0f} ms; load average "
             f"{design['load']:.1f} on {os.cpu_count()} CPUs")
    return {
        "benchmark": name, "backend": backend, "size": size, "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
        "peak_rss_mb": round(peak_rss, 1), "goal": goal, "baseline": base, "notes": notes,
        "concurrency": concurrency, "requests": requests,
        "core_processes": core_processes if core_processes is not None else "default",
        "answer_p50_ms": round(p50, 1), "answer_p99_ms": round(p99, 1),
        "ack_p50_ms": round(_percentile(acks, 50), 1), "ack_p99_ms": round(_percentile(acks, 99), 1),
        "throughput_per_s": round(throughput, 1), "speedup": round(speedup, 2) if speedup else None,
        "errors": errors, "lost": lost, "main_cpu_ms": round(design["main_cpu_ms"], 2),
        "worker_cpu_ms": round(design["worker_cpu_ms"], 2), "bench_cpu_ms": round(design["bench_cpu_ms"], 2),
        "server_rss_mb": round(memory["rss_mb"], 1), "server_pss_mb": round(memory["pss_mb"], 1),
        "single_p50_ms": round(_percentile(single, 50), 1),
    }


def _baseline_row(name: str, old: dict[str, Any], *, backend: str, size: int, concurrency: int,
                  peak_rss: float) -> dict[str, Any]:
    run: _Run = old["run"]
    answers = run.answer_ms()
    memory = old["memory"]
    return {
        "benchmark": f"{name}-baseline", "backend": f"{backend}, {baseline_design.LABEL}", "size": size,
        "p50_ms": round(_percentile(answers, 50), 1), "p99_ms": round(_percentile(answers, 99), 1),
        "peak_rss_mb": round(peak_rss, 1), "goal": "-",
        "baseline": f"the design the {name} row replaced, same load",
        "notes": (f"{len(run.answers)} questions, {concurrency} in flight; {run.throughput():.0f} answers/s; "
                  f"{run.errors()} errors, {run.lost()} lost; CPU per answer: web host {old['main_cpu_ms']:.1f} ms, "
                  f"core workers {old['worker_cpu_ms']:.1f} ms, load generator and fakes {old['bench_cpu_ms']:.1f} ms; "
                  f"server memory RSS {memory['rss_mb']:.0f} MB, PSS {memory['pss_mb']:.0f} MB"
                  + (f"; first answer after start {old['first_s']:.1f} s" if old.get("first_s") else "")),
        "throughput_per_s": round(run.throughput(), 1),
    }


def _start_row(new: dict[str, Any], old: dict[str, Any] | None, *, backend: str, size: int,
               index_s: float, first_s: float | None) -> dict[str, Any]:
    extra = new.get("extra_worker_s", float("nan"))
    ok = "failed" not in new and not new.get("error") and extra < GOAL_WORKER_START_S
    if old and "failed" not in old:
        base = (f"as at {baseline_design.LABEL}: an extra worker {old['extra_worker_s']:.1f} s, a fresh process's "
                f"first pool {old['first_pool_s']:.1f} s (each worker builds the index)")
    else:
        base = "baseline design not run" if old is None else f"baseline failed: {old['failed']}"
    return {
        "benchmark": "worker-start", "backend": backend, "size": size, "p50_ms": round(extra * 1000, 1),
        "p99_ms": None, "peak_rss_mb": None,
        "goal": f"an extra worker answers within {GOAL_WORKER_START_S:.0f} s" + (" (met)" if ok else " (MISSED)"),
        "baseline": base,
        "notes": (f"time from starting one more core worker to its first answer (who NAME); a fresh process's "
                  f"first pool (fork server included) {new.get('first_pool_s', float('nan')):.2f} s; the index "
                  f"written once after the import in {index_s:.1f} s and mapped by every worker"
                  + (f"; govbot serve's first answer {first_s:.1f} s after start" if first_s else "")
                  + (f"; FAILED: {new['failed']}" if "failed" in new else "")),
    }


async def _run_async(concurrency: int, requests: int, catalog_size: int, backend: str, seed: int,
                     answer_timeout: float, core_processes: int | None, surfaces: Sequence[str],
                     compare: bool) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from tests.teams.tokens import ConnectorKeys, OpenIdMetadataServer

    keys = ConnectorKeys()
    openid = OpenIdMetadataServer(keys).start()
    try:
        with _database(backend, catalog_size, seed) as (db_url, schema, import_s), \
                tempfile.TemporaryDirectory(prefix="govbot-bench-index-") as tmp:
            index_dir = Path(tmp) / "index"
            index_s = _write_index(db_url, schema, index_dir)
            questions = _questions(db_url, schema, requests + 2 * concurrency + 22, seed)
            common = dict(concurrency=concurrency, requests=requests, core_processes=core_processes,
                          surfaces=surfaces, answer_timeout=answer_timeout, index_dir=index_dir,
                          openid_url=openid.url, keys=keys)
            new = await _design(ROOT, f"{backend}-{catalog_size}", db_url, schema, questions, **common)
            old: dict[str, Any] | None = None
            start_new = _worker_start(ROOT, db_url, index_dir, questions[0]) if schema is None else {"failed": "sqlite only"}
            start_old: dict[str, Any] | None = None
            if compare:
                try:
                    old_tree = baseline_design.tree()
                    with _baseline_database(old_tree, backend, catalog_size, seed) as (old_url, old_schema):
                        old = await _design(old_tree, f"baseline-{backend}-{catalog_size}", old_url, old_schema,
                                            questions, **common)
                        if old_schema is None:
                            start_old = _worker_start(old_tree, old_url, index_dir, questions[0])
                except (baseline_design.BaselineUnavailable, RuntimeError, subprocess.SubprocessError) as exc:
                    print(f"baseline design not measured: {exc}", file=sys.stderr)
    finally:
        openid.stop()

    rows = []
    for name in surfaces:
        rows.append(_surface_row(name, new[name], old[name] if old else None, backend=backend, size=catalog_size,
                                 concurrency=concurrency, requests=requests, core_processes=core_processes,
                                 peak_rss=new["peak_rss_mb"]))
        if old:
            rows.append(_baseline_row(name, old[name], backend=backend, size=catalog_size,
                                      concurrency=concurrency, peak_rss=old["peak_rss_mb"]))
    rows[0]["notes"] += f"; catalog import {import_s:.0f} s" if import_s else ""
    rows.append(_start_row(start_new, start_old, backend=backend, size=catalog_size, index_s=index_s,
                           first_s=new[surfaces[0]]["first_s"]))
    return rows


def run(concurrency: int = 50, requests: int = 500, catalog_size: int = 100_000, *, backend: str = "sqlite",
        sizes: Sequence[int] | None = None, seed: int = 7, answer_timeout: float = 120.0,
        core_processes: int | None = None, surfaces: Sequence[str] = ("slack", "teams"),
        compare: bool = True) -> list[dict[str, Any]]:
    """Rows (see bench/README.md) per catalog size on one backend: per surface the design and its baseline,
    and the worker start-up.

    ``sizes`` (what ``python -m bench`` passes) overrides ``catalog_size``; sizes under ``SMOKE_SIZE`` send
    ``SMOKE_REQUESTS`` requests.  ``core_processes`` is passed to ``govbot serve --core-processes`` (default:
    serve's own default); ``compare=False`` leaves the baseline design out.
    """
    rows = []
    for size in sizes or (catalog_size,):
        n = min(requests, SMOKE_REQUESTS) if size < SMOKE_SIZE else requests
        rows.extend(asyncio.run(_run_async(concurrency, n, size, backend, seed, answer_timeout, core_processes,
                                           tuple(surfaces), compare)))
    return rows


if __name__ == "__main__":  # pragma: no cover - manual runs
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for row in run(catalog_size=size):
        print(json.dumps(row, indent=2, default=str))
