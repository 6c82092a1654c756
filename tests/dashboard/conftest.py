"""Fixtures for the dashboard: a Container on the test store and an aiohttp client of the web host."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import Session, sessionmaker

from bot.bootstrap import Container
from bot.dashboard import ChatMount, DashboardMount, MetricsMount, WebInbox
from bot.settings import Settings
from bot.web import create_app
from governance_store.models import Person

START = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)  # Wednesday 10:00 EDT in Findlay
JESSICA = "jessica.park@corvane.example"
LUIS = "luis.ortega@corvane.example"


class FakeClock:
    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


def container_on(factory: sessionmaker[Session], clock: Callable[[], dt.datetime], **settings: Any) -> Container:
    """A Container sharing the test store's engine (SQLite file or PostgreSQL schema)."""
    engine = factory.kw["bind"]
    container = Container(Settings(database_url="sqlite://", dev_mode=False, slack_bot_token=None,
                                   slack_app_token=None, **settings), clock=clock)
    container.engine = engine  # type: ignore[misc]
    container.session_factory = factory  # type: ignore[misc]
    return container


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def container(org: sessionmaker[Session], clock: FakeClock) -> Container:
    return container_on(org, clock)


@pytest.fixture
def inbox() -> WebInbox:
    return WebInbox()


@pytest.fixture
async def client(container: Container, inbox: WebInbox) -> AsyncIterator[TestClient]:
    app = create_app(container, slack=None, mounts=[MetricsMount(container), DashboardMount(container),
                                                    ChatMount(container, inbox)])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        yield c


def person_id(factory: sessionmaker[Session], email: str) -> int:
    with factory() as s:
        return int(s.scalar(sa.select(Person.id).where(Person.email == email)))
