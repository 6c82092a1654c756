"""Engines, sessions and the unit of work.

Service functions take a keyword-only ``session`` and never commit; the edge
(a CLI command, a chat turn, a sweep) opens one unit of work and commits once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def make_engine(url: str, *, schema: str | None = None, echo: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for SQLite or PostgreSQL.

    ``schema`` puts every table of a PostgreSQL database in that schema (used to
    isolate test runs and tenants); it is ignored for SQLite.
    """
    connect_args: dict[str, Any] = dict(kwargs.pop("connect_args", {}))
    if url.startswith("sqlite"):
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", 30)
        if url in ("sqlite://", "sqlite:///:memory:"):
            from sqlalchemy.pool import StaticPool

            kwargs.setdefault("poolclass", StaticPool)
    elif schema:
        connect_args["options"] = f"-csearch_path={schema}"
    engine = create_engine(url, echo=echo, connect_args=connect_args, future=True, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if not url.endswith(":memory:") and url != "sqlite://":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def connection_problem(url: str, *, timeout: int = 3) -> str | None:
    """None when the database at ``url`` answers, else a one-line reason."""
    connect_args = {"connect_timeout": timeout} if url.startswith("postgresql") else {}
    try:
        engine = create_engine(url, connect_args=connect_args)
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


def make_session_factory(engine: Engine, *, info: dict[str, Any] | None = None) -> sessionmaker[Session]:
    """Sessions on ``engine``; ``info`` is copied into every session's ``info`` (e.g. the audit keyring)."""
    return sessionmaker(bind=engine, expire_on_commit=False, future=True, info=dict(info or {}))


@contextlib.contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str, *, schema: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    return cfg


def upgrade(url: str, *, schema: str | None = None, revision: str = "head", engine: Engine | None = None) -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest)."""
    from alembic import command

    cfg = alembic_config(url, schema=schema)
    if engine is not None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    else:
        command.upgrade(cfg, revision)


def head_revision() -> str | None:
    """The newest schema revision this version of govbot knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def schema_problem(engine: Engine) -> str | None:
    """``None`` when the store is reachable and at the newest schema, else what to do about it, in one line."""
    where = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - any failure means the store cannot be used
        return f"cannot reach the governance store at {where}: {type(exc).__name__}: {exc}".splitlines()[0]
    if current is None:
        return (f"the governance store at {where} is empty: run `govbot db upgrade`, then `govbot import` "
                "with your exports (or examples/corvane)")
    head = head_revision()
    if current != head:
        return (f"the governance store at {where} has schema revision {current}; this govbot needs {head}: "
                "run `govbot db upgrade`")
    return None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
