"""keyed audit chain (gap-free sequence, key id) and remembered signed requests

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 09:00:00

Existing audit entries are numbered in the order they were written and keep their unkeyed hashes
(``key_id`` NULL); the first keyed entry chains onto them, and ``govbot audit verify`` checks both.
"""
from __future__ import annotations

import sqlalchemy as sa

import governance_store.models
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('key_id', sa.String(length=32), nullable=True))
    audit = sa.table('audit_log', sa.column('id', sa.Integer()), sa.column('seq', sa.Integer()))
    numbered = sa.select(audit.c.id, sa.func.row_number().over(order_by=audit.c.id).label('n')).subquery()
    op.execute(audit.update().where(audit.c.id == numbered.c.id).values(seq=numbered.c.n))
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_seq'), ['seq'])
    op.create_table(
        'seen_requests',
        sa.Column('key', sa.String(length=96), nullable=False),
        sa.Column('expires_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_seen_requests')),
    )
    with op.batch_alter_table('seen_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_requests_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('seen_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_requests_expires_at'))
    op.drop_table('seen_requests')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_log_seq'), type_='unique')
        batch_op.drop_column('key_id')
        batch_op.drop_column('seq')
