"""The Teams adapter reuses its connector clients across turns, and still authenticates every request."""

from __future__ import annotations

from typing import Any

import pytest
from botframework.connector.auth import _connector_factory_impl

from bot.teams.connectors import ReusingAuthentication
from tests.teams.conftest import LUIS, TeamsHost, personal_conversation


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The connector clients botbuilder builds, by service URL."""
    made: list[str] = []
    original = _connector_factory_impl._ConnectorFactoryImpl.create

    async def counting(self: Any, service_url: str, audience: str | None = None) -> Any:
        made.append(service_url)
        return await original(self, service_url, audience)

    monkeypatch.setattr(_connector_factory_impl._ConnectorFactoryImpl, "create", counting)
    return made


async def test_one_connector_client_answers_many_turns(teams_host: TeamsHost, built: list[str]) -> None:
    assert isinstance(teams_host.mount.adapter.bot_framework_authentication, ReusingAuthentication)
    for question in ("who owns PLC-FIL-L3-07", "who owns SIS-NH3-01", "who owns PLC-FIL-L3-07"):
        status, _ = await teams_host.post(teams_host.personal(question))
        assert status in (200, 201)
    replies = teams_host.fake.calls("reply") or teams_host.fake.calls("send")
    assert len(replies) == 3 and all(c.conversation_id == personal_conversation(LUIS) for c in replies)
    assert "Gregory Maddox" in replies[0].all_text()
    assert built == [teams_host.fake.url]  # built once; every reply carried the bot's token (the rig checks)


async def test_a_reused_client_does_not_let_an_unauthenticated_request_through(
        teams_host: TeamsHost, built: list[str]) -> None:
    status, _ = await teams_host.post(teams_host.personal("who owns PLC-FIL-L3-07"))
    assert status in (200, 201)
    for authorization in (None, "Bearer not-a-token", teams_host.bot_connector_headers(
            teams_host.personal("x"))["Authorization"][:-4] + "AAAA"):
        status, _ = await teams_host.post_unauthenticated(teams_host.personal("who owns SIS-NH3-01"),
                                                          authorization=authorization)
        assert status == 401
    assert len(teams_host.fake.calls("reply") or teams_host.fake.calls("send")) == 1


def test_slack_and_teams_share_one_pool_of_core_workers(db_target: tuple[str, str | None]) -> None:
    from bot import bootstrap
    from bot.bootstrap import Container
    from bot.teams.app import TeamsMount
    from tests.teams.conftest import teams_settings

    box = Container(settings=teams_settings(db_target, slack_bot_token="xoxb-bench-share-1",
                                            slack_signing_secret="a-signing-secret-for-tests"))
    runner = bootstrap.build_core_runner(box, threads=1)
    try:
        [teams] = [m for m in bootstrap.build_mounts(box, host="127.0.0.1", dashboard=False, runner=runner)
                   if isinstance(m, TeamsMount)]
        slack = bootstrap.build_slack(box, runner=runner)
        assert slack is not None and slack.runner is runner and teams.bot.runner is runner
    finally:
        runner.close()
        box.engine.dispose()
