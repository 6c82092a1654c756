"""change numbers from a sequence (PostgreSQL) or a counter row (SQLite); chat accounts' locale

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _highest_number() -> int:
    rows = op.get_bind().execute(sa.text("SELECT number FROM change_requests WHERE number LIKE 'GCR%'")).scalars()
    return max((int(n[3:]) for n in rows if n[3:].isdigit()), default=0)


def upgrade() -> None:
    op.create_table('counters',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('chat_identities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=35), nullable=True))
    highest = _highest_number()
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"CREATE SEQUENCE change_number_seq START WITH {highest + 1} OWNED BY change_requests.number")
    elif highest:
        op.execute(sa.text("INSERT INTO counters (name, value) VALUES ('change_number', :v)").bindparams(v=highest))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP SEQUENCE IF EXISTS change_number_seq")
    op.drop_table('counters')
    with op.batch_alter_table('chat_identities', schema=None) as batch_op:
        batch_op.drop_column('locale')
