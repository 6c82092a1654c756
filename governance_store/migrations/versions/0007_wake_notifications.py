"""PostgreSQL: notify the workers when a timer or an outbox message becomes due sooner

Row triggers on ``timers`` and ``outbox`` send a ``NOTIFY`` when a row is
written that can fall due (a pending timer, an undelivered message), on the
channel ``govbot_wake_`` + the first 16 hex digits of the md5 of the table's
schema, with the instant it falls due as ``"<timer|outbox> <epoch seconds>"``
(PostgreSQL delivers the same notice once per transaction).  Workers
``LISTEN`` there and sleep until the earliest due instant instead of looking
on a fixed interval.  Nothing changes on SQLite.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('govbot_wake_' || left(md5(TG_TABLE_SCHEMA), 16),
                      '{kind} ' || extract(epoch FROM NEW.{column})::text);
    RETURN NULL;
END
$$
"""

_TABLES = (
    # table, function, kind, due column, the columns that move it, which rows can still become due
    ("timers", "govbot_wake_timers", "timer", "due_at", "due_at, state", "NEW.state = 'pending'"),
    ("outbox", "govbot_wake_outbox", "outbox", "next_attempt_at", "next_attempt_at, status",
     "NEW.status IN ('pending', 'sending')"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, kind, column, moved_by, undone in _TABLES:
        op.execute(_FUNCTION.format(name=name, column=column, kind=kind))
        # A row trigger with a condition: a delivered message or a stopped clock costs next to nothing, and
        # the notices of one transaction with the same text are delivered once.
        op.execute(f"CREATE TRIGGER {table}_wake AFTER INSERT OR UPDATE OF {moved_by} ON {table} "
                   f"FOR EACH ROW WHEN ({undone}) EXECUTE FUNCTION {name}()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, *_rest in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_wake ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
