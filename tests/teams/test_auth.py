"""With an app id configured, /api/messages needs a valid Bot Framework token: no token or a malformed one is 401.

The rig runs this way for every Teams test; here are the requests it must refuse, and the development mode
without an app id, which it never uses.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from bot.bootstrap import Container
from bot.teams.app import TeamsMount, TeamsNotConfigured, build_adapter, teams_mount_from_settings
from tests.teams.conftest import TeamsHost, teams_settings, unauthenticated_dev_settings
from tests.teams.tokens import APP_ID, OUTBOUND_TOKEN, ConnectorKeys


@pytest.mark.parametrize("authorization", [None, "Bearer abc.def", "Basic Zm9vOmJhcg==", "Bearer"])
async def test_requests_without_a_valid_token_are_401_and_nothing_runs(
        make_teams_host, teams_container: Container, authorization: str | None) -> None:  # type: ignore[no-untyped-def]
    # The adapter exactly as production builds it: nothing here may reach the point of writing back.
    host: TeamsHost = await make_teams_host(teams_container, adapter=build_adapter(teams_container.settings))
    status, body = await host.post_unauthenticated(host.personal("who owns PLC-FIL-L3-07"),
                                                   authorization=authorization)
    assert status == 401, body
    assert host.fake.records == []


async def test_a_token_the_bot_connector_signed_is_accepted_and_nothing_else(
        teams_host: TeamsHost, bot_framework_tokens: ConnectorKeys) -> None:
    assert teams_host.container.settings.teams_app_id == APP_ID and teams_host.mount.authenticated
    activity = teams_host.personal("who owns PLC-FIL-L3-07")
    impostor = ConnectorKeys()
    impostor.kid = bot_framework_tokens.kid  # same key id, another key
    refused: dict[str, str | None] = {
        "no token": None,
        "another key": impostor.token(service_url=activity["serviceUrl"]),
        "another bot": bot_framework_tokens.token(service_url=activity["serviceUrl"], app_id="another-app-id"),
        "another issuer": bot_framework_tokens.token(service_url=activity["serviceUrl"], issuer="https://evil.example"),
        "another service url": bot_framework_tokens.token(service_url="https://smba.evil.example/"),
        "expired": bot_framework_tokens.token(service_url=activity["serviceUrl"], lifetime=dt.timedelta(hours=-1)),
    }
    for why, token in refused.items():
        status, _ = await teams_host.post_unauthenticated(activity, authorization=token and f"Bearer {token}")
        assert status == 401, why
    assert teams_host.fake.records == []
    status, _ = await teams_host.post(activity)
    assert status == 201
    [answer] = teams_host.fake.posted()
    assert "Gregory Maddox" in answer.all_text()
    assert answer.authorization == f"Bearer {OUTBOUND_TOKEN}"


async def test_unauthenticated_mode_needs_dev_mode_and_is_loudly_logged(
        db_target: tuple[str, str | None], caplog: pytest.LogCaptureFixture) -> None:
    production = Container(settings=unauthenticated_dev_settings(db_target, dev_mode=False))
    with pytest.raises(TeamsNotConfigured):
        TeamsMount(production)
    assert teams_mount_from_settings(production) is None
    dev = Container(settings=unauthenticated_dev_settings(db_target))
    mount = teams_mount_from_settings(dev)
    assert mount is not None and not mount.authenticated
    from aiohttp import web

    with caplog.at_level(logging.WARNING, logger="bot.teams.app"):
        mount.mount(web.Application())
    assert any("UNAUTHENTICATED" in r.getMessage() for r in caplog.records)
    locked = teams_mount_from_settings(Container(settings=teams_settings(db_target)))
    assert locked is not None and locked.authenticated
