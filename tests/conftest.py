"""Shared fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL: ``GOVBOT_TEST_POSTGRES_URL`` (default the local server).  Each test
session migrates its own schema and drops it at the end; each test starts from
empty tables.  With ``CI=true`` an unreachable PostgreSQL fails the run.

The Bot Framework token fixtures (``tests/teams/tokens.py``) are registered here for the whole suite: the
Teams rig needs them wherever it is used, in ``tests/teams`` and outside it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from governance_store import db
from governance_store.models import Base

pytest_plugins = ["tests.teams.tokens"]

# The suite runs like a production deployment: with an audit key in the environment (the tests of the
# refusal without one remove it).  Sessions opened without govbot's container sign with the development key.
TEST_AUDIT_KEY = "test-audit-key-0123456789abcdef0123456789abcdef"
os.environ.setdefault("GOVBOT_AUDIT_KEY", TEST_AUDIT_KEY)

ROOT = Path(__file__).resolve().parents[1]
CORVANE = ROOT / "examples" / "corvane"
HISTORY = ROOT / "examples" / "corvane-history"
VALDERA = ROOT / "examples" / "valdera"
# The zone of the user who made the sample's ServiceNow exports (its README; its govbot-import.toml says it too),
# for tests that import a sample file away from its folder.
SAMPLE_EXPORT_TIMEZONE = "America/New_York"
# Real Slack and Teams request payloads, read where they are kept (beside the checkout), never copied in.
SHARED_PAYLOADS = Path(os.environ.get("GOVBOT_TEST_PAYLOADS_DIR") or ROOT.parent / "shared" / "data" / "payloads")
PG_URL = os.environ.get("GOVBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Tests reuse one store identity for different contents (a PostgreSQL schema truncated between tests), so
# the system index is not kept in shared files unless a test asks for it (tests/store/test_index_file.py).
os.environ["GOVBOT_INDEX_DIR"] = ""


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    problem = db.connection_problem(PG_URL)
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable in CI: {problem}", pytrace=False)
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    schema = f"govbot_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    db.upgrade(PG_URL, schema=schema)
    yield schema
    with admin.begin() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    db.upgrade(f"sqlite:///{path}")
    return path


def _truncate_pg(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_target(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(url, schema) of an empty, migrated database on the requested backend."""
    if backend == "sqlite":
        path = tmp_path / "govbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}", None
    else:
        schema = request.getfixturevalue("pg_schema")
        engine = db.make_engine(PG_URL, schema=schema)
        _truncate_pg(engine)
        engine.dispose()
        yield PG_URL, schema


@pytest.fixture
def engine(db_target: tuple[str, str | None]) -> Iterator[Engine]:
    url, schema = db_target
    eng = db.make_engine(url, schema=schema)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return db.make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def corvane_dir() -> Path:
    return CORVANE


@pytest.fixture
def shared_payloads() -> Path:
    if not SHARED_PAYLOADS.is_dir():
        if IN_CI:
            pytest.fail(f"conformance payloads missing at {SHARED_PAYLOADS} (check out beside shared/, or set "
                        "GOVBOT_TEST_PAYLOADS_DIR)", pytrace=False)
        pytest.skip("../shared/data/payloads not beside the checkout")
    return SHARED_PAYLOADS


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def corvane_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """A store loaded with the sample org once per test module and backend (read-only use)."""
    yield from loaded_store(request, tmp_path_factory, [CORVANE])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def history_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """The sample org and its year of change history, once per test module and backend (read-only use)."""
    yield from loaded_store(request, tmp_path_factory, [CORVANE, HISTORY])


def loaded_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 paths: list[Path], **options: str) -> Iterator[sessionmaker[Session]]:
    """A fresh store on the backend ``request.param`` names, with ``paths`` imported; dropped afterwards."""
    from governance_store.importers import import_paths

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("corvane") / "govbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url, schema = f"sqlite:///{path}", None
    else:
        request.getfixturevalue("pg_schema")  # reachability check (fails in CI)
        schema = f"govbot_corvane_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
        admin.dispose()
        db.upgrade(PG_URL, schema=schema)
        url = PG_URL
    eng = db.make_engine(url, schema=schema)
    factory = db.make_session_factory(eng)
    with db.unit_of_work(factory) as session:
        import_paths(paths, session=session, **options)  # type: ignore[arg-type]
    yield factory
    eng.dispose()
    if schema:
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def valdera_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """A store loaded with the second sample org (Mexico, Poland, Spain) once per module and backend."""
    yield from loaded_store(request, tmp_path_factory, [VALDERA], export_timezone="Europe/Warsaw")


@pytest.fixture
def valdera(valdera_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = valdera_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def corvane(corvane_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = corvane_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def org(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """A fresh store with the sample org, for tests that write."""
    from governance_store.importers import import_paths

    with session_factory() as s, s.begin():
        import_paths([CORVANE], session=s)
    return session_factory
