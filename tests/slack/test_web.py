"""The web host: health check, ``serve()`` in HTTP and Socket Mode, and ``govbot serve``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from bot.bootstrap import Container
from bot.settings import Settings
from bot.web import create_app, serve
from tests.slack import seed
from tests.slack.conftest import APP_TOKEN, make_settings
from tests.slack.fake_slack import FakeSlack, FakeSocketMode


@contextlib.asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_healthz_is_ok_when_the_database_answers(container: Container) -> None:
    async with running(create_app(container, slack=None)) as url, aiohttp.ClientSession() as http, \
            http.get(url + "/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok", "database": "ok", "slack": "off"}


async def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    settings = Settings(_env_file=None, database_url="postgresql+psycopg://govbot@127.0.0.1:1/nowhere")  # type: ignore[call-arg]
    box = Container(settings=settings)
    async with running(create_app(box, slack=None)) as url, aiohttp.ClientSession() as http, \
            http.get(url + "/healthz") as resp:
        assert resp.status == 503
        body = await resp.json()
        assert body["status"] == "unavailable"
    box.engine.dispose()


async def test_without_slack_settings_the_host_still_serves_health(db_target: tuple[str, str | None]) -> None:
    url, schema = db_target
    box = Container(settings=Settings(_env_file=None, database_url=url, database_schema=schema))  # type: ignore[call-arg]
    async with running(create_app(box)) as base, aiohttp.ClientSession() as http:
        async with http.get(base + "/healthz") as resp:
            assert resp.status == 200
        async with http.post(base + "/slack/events", data=b"x") as resp:
            assert resp.status == 404
    box.engine.dispose()


class Mount:
    """What the Teams adapter and the dashboard do to join the host."""

    def mount(self, app: web.Application) -> None:
        async def messages(request: web.Request) -> web.Response:
            return web.json_response({"mounted": True})

        app.router.add_post("/api/messages", messages)


async def test_other_adapters_mount_their_routes_on_the_same_host(container: Container) -> None:
    async with running(create_app(container, slack=None, mounts=[Mount()])) as url, \
            aiohttp.ClientSession() as http, http.post(url + "/api/messages") as resp:
        assert await resp.json() == {"mounted": True}


async def _serve(container: Container, *, core_processes: int) -> tuple[asyncio.Event, asyncio.Task[None], str]:
    stop = asyncio.Event()
    ready: asyncio.Future[Sequence[Any]] = asyncio.get_running_loop().create_future()
    from bot import bootstrap

    task = asyncio.create_task(serve(container, host="127.0.0.1", port=0, stop=stop, on_ready=ready.set_result,
                                     slack=bootstrap.build_slack(container, core_processes=core_processes),
                                     worker=bootstrap.build_worker(container)))
    addresses = await asyncio.wait_for(ready, 10)
    return stop, task, f"http://127.0.0.1:{addresses[0][1]}"


async def test_serve_in_http_mode(container: Container) -> None:
    stop, task, url = await _serve(container, core_processes=0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/healthz") as resp:
                assert resp.status == 200 and (await resp.json())["slack"] == "on"
            async with http.post(url + "/slack/events", data=b"token=x&text=who") as resp:
                assert resp.status == 401
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_serve_in_socket_mode(db_target: tuple[str, str | None], fake_slack: FakeSlack, corvane_dir: Any,
                                    slack_payload: Callable[[str], Any]) -> None:
    ws = await FakeSocketMode().start()
    fake_slack.socket_url = ws.url
    box = Container(settings=make_settings(db_target, fake_slack, slack_app_token=APP_TOKEN))
    with box.unit_of_work() as session:
        seed.seed_org(session, corvane_dir)
    # A worker process answers (the container reads the wall clock, as in production).
    stop, task, url = await _serve(box, core_processes=1)
    try:
        await ws.wait_connected()
        async with aiohttp.ClientSession() as http, http.post(url + "/slack/events", data=b"x") as resp:
            assert resp.status == 404  # no HTTP events in Socket Mode
        env = slack_payload("socket_mode_slash_commands_envelope.json")
        env["payload"].update({"user_id": seed.LUIS, "command": "/govbot", "text": "help",
                               "response_url": fake_slack.hook_url()})
        await ws.send(env)
        await ws.wait_for_ack(env["envelope_id"])
        [answer] = await fake_slack.wait_for("response_url", timeout=30)
        assert "who" in answer.all_text() and "Something went wrong" not in answer.all_text()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await ws.stop()
        box.engine.dispose()


async def test_serve_refuses_a_bot_token_given_as_app_token(db_target: tuple[str, str | None],
                                                          fake_slack: FakeSlack) -> None:
    box = Container(settings=make_settings(db_target, fake_slack, slack_app_token="xoxb-not-an-app-token"))
    with pytest.raises(SystemExit, match="xapp-"):
        await serve(box, port=0, stop=asyncio.Event())


async def test_worker_processes_refuse_a_frozen_clock_or_a_custom_core(container: Container) -> None:
    from bot.slack.app import SlackAdapter
    from tests.slack.stub_core import StubCore

    with pytest.raises(ValueError, match="wall clock"):
        SlackAdapter(container, core_processes=1)
    wall = Container(settings=container.settings)
    wall.use_router(StubCore())
    with pytest.raises(ValueError, match="default use cases"):
        SlackAdapter(wall, core_processes=1)


def test_govbot_serve_is_a_cli_command() -> None:
    from bot.cli import main

    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    assert "Socket Mode" in result.output
