"""What one Slack answer costs in CPU, part by part, and what a throughput goal leaves per answer.

``python -m bench.budget [--size 100000] [--requests 500] [--rate 281]``

On a machine with ``C`` CPUs, ``R`` answers per second can never take more than ``C / R`` CPU seconds each,
load generator included.  This tool measures the parts of the ``slack`` benchmark's answer separately, on the
same generated catalog, questions and load generator (``bench.bench_slack``):

* **the Slack round trip with nothing answered**: a bolt ``AsyncApp`` behind aiohttp (signatures checked),
  whose ``/govbot`` listener acknowledges and posts an already rendered answer to the ``response_url``.  It
  is the part of the web host that any design built on slack-bolt pays; ``govbot serve`` adds the hand-over
  to a core worker and back;
* **the load generator and the fake Slack** that receives the answers (they share the machine);
* **the core's answer in one process**: :meth:`bot.turn.Pipeline.answer` for the same questions, with no
  HTTP, no Slack and no process boundary (the asker's identity, language, the catalog's resolution and the
  ownership answer with its gaps);
* **rendering** the reply as Block Kit.

The sum is the least CPU an answer takes with today's core and slack-bolt; ``--rate`` (answers per second,
e.g. three times the baseline of the ``slack`` row) prints what that rate leaves per answer beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import bench_slack as slack

# The Slack side of a design that does nothing but acknowledge and post a finished answer: real slack-bolt,
# real aiohttp, the same signing secret check as govbot's web host.
FLOOR = """
import asyncio, itertools, json, os, sys
import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

port, api_url, secret, token, answers = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
bodies = itertools.cycle(json.loads(open(answers, encoding="utf-8").read()))
app = AsyncApp(name="floor", signing_secret=secret, client=AsyncWebClient(token=token, base_url=api_url))
tasks = set()

async def main():
    session = aiohttp.ClientSession()

    async def post(url, body):
        async with session.post(url, json=body) as resp:
            await resp.read()

    @app.command("/govbot")
    async def command(ack, command):
        await ack()
        task = asyncio.ensure_future(post(command["response_url"], next(bodies)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def events(request):
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", lambda request: web.Response(text="ok"))
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _core(db_url: str, questions: list[str], index_dir: Path) -> tuple[float, float, list[dict[str, Any]]]:
    """CPU ms per answer of the pipeline in this process and of its rendering; the rendered answers."""
    from pydantic import SecretStr

    from bot.bootstrap import build
    from bot.settings import Settings
    from bot.slack.render import render_reply
    from bot.turn import Ask, ChatUser

    settings = Settings(database_url=db_url, audit_key=SecretStr("benchmark-audit-key-" + "0" * 32), index_dir=index_dir)
    container = build(settings)
    user = ChatUser(platform="slack", account_id=slack.BENCH_USER, workspace_id="T0BENCH")
    pipeline = container.pipeline
    for text in questions[:50]:  # warm: the index mapped, statements compiled
        pipeline.answer(user, Ask(text, slash=True))
    started = time.process_time()
    replies = [pipeline.answer(user, Ask(text, slash=True)) for text in questions]
    core_ms = (time.process_time() - started) * 1000 / len(questions)
    refused = [r.text for r in replies if slack._not_an_answer(r.text)]
    if refused:
        raise RuntimeError(f"the core did not answer: {refused[0][:200]}")
    started = time.process_time()
    rendered = [render_reply(r, share_command="x") for r in replies]
    bodies = [dict(m[0].as_kwargs(), response_type="ephemeral") for m in rendered]
    render_ms = (time.process_time() - started) * 1000 / len(questions)
    container.engine.dispose()
    return core_ms, render_ms, bodies


async def _floor(bodies: list[dict[str, Any]], questions: list[str], concurrency: int) -> dict[str, float]:
    """CPU ms per answer of the bolt round trip and of the load generator, and the answers per second."""
    import psutil

    sys.path.insert(0, str(slack.ROOT))
    from tests.slack.fake_slack import FakeSlack

    fake = await FakeSlack().start()
    port = slack._free_port()
    with tempfile.TemporaryDirectory(prefix="govbot-budget-") as tmp:
        answers = Path(tmp) / "answers.json"
        answers.write_text(json.dumps(bodies), encoding="utf-8")
        process = subprocess.Popen([sys.executable, "-c", FLOOR, str(port), fake.api_url, slack.SIGNING_SECRET,
                                    slack.BOT_TOKEN, str(answers)], stdout=subprocess.DEVNULL)
        server = slack._Server(process, f"http://127.0.0.1:{port}")
        try:
            await slack._healthy(server, "the bolt round trip", timeout=30.0)
            surface = slack._Slack(fake, server.url, 60.0)
            await slack._load(surface, questions[: 2 * concurrency], concurrency, "budget-warm")
            me = psutil.Process()
            cpu_before, me_before = server.cpu(), sum(me.cpu_times()[:2])
            run = await slack._load(surface, questions, concurrency, "budget-load")
            cpu_after, me_after = server.cpu(), sum(me.cpu_times()[:2])
        finally:
            slack._stop(server)
            await fake.stop()
    answered = len(run.answer_ms())
    if answered != len(questions) or run.errors():
        raise RuntimeError(f"the bolt round trip answered {answered} of {len(questions)}, {run.errors()} errors")
    return {
        "bolt_ms": sum(cpu_after[p] - cpu_before.get(p, 0.0) for p in cpu_after) * 1000 / answered,
        "loadgen_ms": (me_after - me_before) * 1000 / answered,
        "rate": run.throughput(),
    }


def measure(size: int = 100_000, requests: int = 500, concurrency: int = 50, seed: int = 7) -> dict[str, Any]:
    with slack._database("sqlite", size, seed) as (db_url, schema, _import_s), \
            tempfile.TemporaryDirectory(prefix="govbot-budget-index-") as tmp:
        index_dir = Path(tmp) / "index"
        slack._write_index(db_url, schema, index_dir)
        questions = slack._questions(db_url, schema, requests + 2 * concurrency, seed)
        core_ms, render_ms, bodies = _core(db_url, questions, index_dir)
    floor = asyncio.run(_floor(bodies, questions, concurrency))
    return {"size": size, "requests": requests, "concurrency": concurrency, "cpus": os.cpu_count() or 1,
            "core_ms": core_ms, "render_ms": render_ms, **floor}


def report(figures: dict[str, Any], rate: float | None) -> str:
    parts = [
        ("Slack round trip with nothing answered (bolt + aiohttp, in and out)", figures["bolt_ms"]),
        ("load generator and fake Slack", figures["loadgen_ms"]),
        ("the core's answer in one process (no HTTP, no process boundary)", figures["core_ms"]),
        ("Block Kit rendering", figures["render_ms"]),
    ]
    total = sum(ms for _, ms in parts)
    cpus = figures["cpus"]
    lines = [f"CPU per answer, {figures['size']:,} systems, {figures['requests']} questions, "
             f"{figures['concurrency']} in flight, {cpus} CPUs:"]
    lines += [f"  {label:<72} {ms:6.2f} ms" for label, ms in parts]
    lines.append(f"  {'sum: the least an answer costs today':<72} {total:6.2f} ms"
                 f"  -> at most {cpus * 1000 / total:,.0f} answers/s")
    lines.append(f"  (the round trip alone, answers ready-made: {figures['rate']:,.0f} answers/s)")
    if rate:
        lines.append(f"  {rate:,.0f} answers/s leave {cpus * 1000 / rate:.2f} ms per answer for all of it")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.budget", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="systems in the generated catalog")
    parser.add_argument("--requests", type=int, default=500, help="questions measured")
    parser.add_argument("--concurrency", type=int, default=50, help="questions in flight")
    parser.add_argument("--rate", type=float, default=None, help="a goal in answers per second, to compare")
    args = parser.parse_args(argv)
    figures = measure(args.size, args.requests, args.concurrency)
    print(report(figures, args.rate))
    slack.OUT.mkdir(parents=True, exist_ok=True)
    (slack.OUT / "budget.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
