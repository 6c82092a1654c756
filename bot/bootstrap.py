"""The one place that wires settings, database and services together."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from governance_store import db

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

    def unit_of_work(self):  # type: ignore[no-untyped-def]
        return db.unit_of_work(self.session_factory)


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> Container:
    return Container(settings=settings or Settings(), clock=clock or utc_now)
