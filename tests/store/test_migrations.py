from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from governance_store import db
from governance_store.models import Base, Site


def test_migrations_create_every_model_table(engine: sa.Engine) -> None:
    tables = set(sa.inspect(engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert db.current_revision(engine) is not None


def test_timestamps_come_back_as_aware_utc(session) -> None:  # type: ignore[no-untyped-def]
    from governance_store.models import ImportRun

    berlin = dt.timezone(dt.timedelta(hours=2))
    session.add(ImportRun(started_at=dt.datetime(2025, 6, 1, 12, 0, tzinfo=berlin), files=[], summary={}))
    session.commit()
    got = session.scalars(sa.select(ImportRun)).one().started_at
    assert got == dt.datetime(2025, 6, 1, 10, 0, tzinfo=dt.UTC)
    assert got.utcoffset() == dt.timedelta(0)


def test_naive_timestamps_are_refused(session) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import StatementError

    from governance_store.models import ImportRun

    session.add(ImportRun(started_at=dt.datetime(2025, 6, 1, 12, 0), files=[], summary={}))
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_site_codes_are_unique(session) -> None:  # type: ignore[no-untyped-def]
    session.add_all([Site(code="US-FDL", name="a"), Site(code="US-FDL", name="b")])
    with pytest.raises(sa.exc.IntegrityError):
        session.flush()
