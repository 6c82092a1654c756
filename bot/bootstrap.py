"""The one place that wires settings, database and services together."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from governance_store import db
from handlers.dashboard import LINKS_KEY, DashboardLinks

if TYPE_CHECKING:
    from notifications.digest import DigestScope

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Container:
    settings: Settings
    clock: Clock = field(default=utc_now)

    @cached_property
    def engine(self) -> Engine:
        self.settings.ensure_sqlite_dir()
        return db.make_engine(self.settings.database_url, schema=self.settings.database_schema)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return db.make_session_factory(self.engine)

    def upgrade_database(self) -> None:
        db.upgrade(self.settings.database_url, schema=self.settings.database_schema, engine=self.engine)

    @cached_property
    def dashboard_links(self) -> DashboardLinks:
        """Where chat links to the dashboard point, and the key that signs personal passes."""
        return dashboard_links(self.settings)

    @cached_property
    def digest_scopes(self) -> list[DigestScope] | None:
        """The digest scopes of ``GOVBOT_DIGEST_SCOPES_FILE``; ``None``: derived from the role assignments.

        Raises ``notifications.digest_scopes.DigestScopesError`` (naming the file and entry) for a bad file."""
        if self.settings.digest_scopes_file is None:
            return None
        from notifications.digest_scopes import load_scopes

        return load_scopes(self.settings.digest_scopes_file)

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with db.unit_of_work(self.session_factory) as session:
            session.info[LINKS_KEY] = self.dashboard_links
            yield session


def dashboard_links(settings: Settings) -> DashboardLinks:
    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token is not None else None
    return DashboardLinks.configure(settings.dashboard_url(), token=token,
                                    lifetime=dt.timedelta(hours=settings.dashboard_link_hours))


def settings_clock(settings: Settings) -> Clock | None:
    """A development clock from ``GOVBOT_FAKE_NOW`` / ``GOVBOT_CLOCK_OFFSET_SECONDS`` (dev mode only).

    A fake "now" is where the clock starts; it then advances in real time, so
    backoff, Retry-After and pacing behave as in production.
    """
    if not settings.dev_mode or (settings.fake_now is None and not settings.clock_offset_seconds):
        return None
    start = settings.fake_now or utc_now()
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    origin = time.monotonic()
    offset = dt.timedelta(seconds=settings.clock_offset_seconds)

    def clock() -> dt.datetime:
        return start + offset + dt.timedelta(seconds=time.monotonic() - origin)

    return clock


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> Container:
    from governance_store.changes import configure_policies

    settings = settings or Settings()
    if settings.change_policy:
        configure_policies(settings.change_policy)
    return Container(settings=settings, clock=clock or settings_clock(settings) or utc_now)
