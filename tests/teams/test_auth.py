"""With an app id configured, /api/messages needs a valid Bot Framework token: no token or a malformed one is 401."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.bootstrap import Container
from bot.teams.app import TeamsMount, TeamsNotConfigured, teams_mount_from_settings
from tests.teams.conftest import NOW, TeamsHost, teams_settings

APP_ID = "6f0b1a52-7c3e-4d0e-9c1a-3b2f4e5d6a7b"


@pytest.fixture
def locked_container(org: sessionmaker[Session], db_target: tuple[str, str | None]) -> Container:
    settings = teams_settings(db_target, teams_app_id=APP_ID, teams_app_password="a-real-looking-secret-value",
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
