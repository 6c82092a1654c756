"""PostgreSQL: notify the workers when a timer or an outbox message becomes due sooner

Statement-level triggers on ``timers`` and ``outbox`` send one ``NOTIFY`` per
statement on the channel ``govbot_wake_`` + the first 16 hex digits of the md5
of the table's schema, with the earliest instant the statement made due as
``"<timer|outbox> <epoch seconds>"``.  Workers ``LISTEN`` there and sleep until
the earliest due instant instead of looking on a fixed interval.  Nothing
changes on SQLite (one process, woken in-process).

Revision ID: 0008
Revises: 0002
Create Date: 2026-12-02 09:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0002'
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    due timestamptz;
BEGIN
    SELECT min({column}) INTO due FROM changed WHERE {undone};
    IF due IS NOT NULL THEN
        PERFORM pg_notify('govbot_wake_' || left(md5(TG_TABLE_SCHEMA), 16),
                          '{kind} ' || extract(epoch FROM due)::text);
    END IF;
    RETURN NULL;
END
$$
"""

_TABLES = (
    # table, function, kind, due column, which rows can still become due
    ("timers", "govbot_wake_timers", "timer", "due_at", "state = 'pending'"),
    ("outbox", "govbot_wake_outbox", "outbox", "next_attempt_at", "status IN ('pending', 'sending')"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, kind, column, undone in _TABLES:
        op.execute(_FUNCTION.format(name=name, column=column, undone=undone, kind=kind))
        # A trigger with a transition table may fire on one event only: one for INSERT, one for UPDATE.
        for verb in ("insert", "update"):
            op.execute(f"CREATE TRIGGER {table}_wake_on_{verb} AFTER {verb.upper()} ON {table} "
                       f"REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {name}()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, _kind, _column, _undone in _TABLES:
        for verb in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_wake_on_{verb} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
