"""With an app id configured, /api/messages needs a valid Bot Framework token: no token or a malformed one is 401."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.bootstrap import Container
from bot.teams.app import TeamsMount, TeamsNotConfigured, teams_mount_from_settings
from tests.teams.conftest import NOW, TeamsHost, seed_aad, teams_settings
from tests.teams.tokens import (
    APP_ID,
    APP_PASSWORD,
    OUTBOUND_TOKEN,
    ConnectorKeys,
    authenticated_adapter,
    bot_framework_tokens,
    connector_keys,
    openid_metadata,
)

__all__ = ["bot_framework_tokens", "connector_keys", "openid_metadata"]  # fixtures used below


@pytest.fixture
def locked_container(org: sessionmaker[Session], db_target: tuple[str, str | None]) -> Container:
    settings = teams_settings(db_target, teams_app_id=APP_ID, teams_app_password=APP_PASSWORD,
                              dev_mode=False, teams_allow_unauthenticated=False)
    return Container(settings=settings, clock=lambda: NOW)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer abc.def"}, {"Authorization": "Basic Zm9vOmJhcg=="},
                                     {"Authorization": "Bearer"}])
async def test_requests_without_a_valid_token_are_401_and_nothing_runs(
        make_teams_host, locked_container: Container, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    host: TeamsHost = await make_teams_host(locked_container)
    status, body = await host.post(host.personal("who owns PLC-FIL-L3-07"), headers=headers)
    assert status == 401, body
    assert host.fake.records == []


async def test_a_token_the_bot_connector_signed_is_accepted_and_nothing_else(
        make_teams_host, org: sessionmaker[Session], locked_container: Container,  # type: ignore[no-untyped-def]
        bot_framework_tokens: ConnectorKeys) -> None:
    seed_aad(org)
    host: TeamsHost = await make_teams_host(locked_container, adapter=authenticated_adapter(locked_container.settings))
    activity = host.personal("who owns PLC-FIL-L3-07")
    impostor = ConnectorKeys()
    impostor.kid = bot_framework_tokens.kid  # same key id, another key
    refused = {
        "another key": impostor.token(service_url=activity["serviceUrl"]),
        "another bot": bot_framework_tokens.token(service_url=activity["serviceUrl"], app_id="another-app-id"),
        "another issuer": bot_framework_tokens.token(service_url=activity["serviceUrl"], issuer="https://evil.example"),
        "another service url": bot_framework_tokens.token(service_url="https://smba.evil.example/"),
        "expired": bot_framework_tokens.token(service_url=activity["serviceUrl"], lifetime=dt.timedelta(hours=-1)),
    }
    for why, token in refused.items():
        status, _ = await host.post(activity, headers={"Authorization": f"Bearer {token}"})
        assert status == 401, why
    assert host.fake.records == []
    status, _ = await host.post(activity, headers=bot_framework_tokens.headers(activity))
    assert status == 201
    [answer] = host.fake.posted()
    assert "Gregory Maddox" in answer.all_text()
    assert answer.headers["Authorization"] == f"Bearer {OUTBOUND_TOKEN}"


async def test_unauthenticated_mode_needs_dev_mode_and_is_loudly_logged(
        db_target: tuple[str, str | None], caplog: pytest.LogCaptureFixture) -> None:
    production = Container(settings=teams_settings(db_target, dev_mode=False))
    with pytest.raises(TeamsNotConfigured):
        TeamsMount(production)
    assert teams_mount_from_settings(production) is None
    dev = Container(settings=teams_settings(db_target))
    mount = teams_mount_from_settings(dev)
    assert mount is not None
    from aiohttp import web

    with caplog.at_level(logging.WARNING, logger="bot.teams.app"):
        mount.mount(web.Application())
    assert any("UNAUTHENTICATED" in r.getMessage() for r in caplog.records)
