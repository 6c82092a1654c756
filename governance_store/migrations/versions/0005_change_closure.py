"""when a change was closed and how: ServiceNow closed_at and close_code, and govbot's own closures

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance_store.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', governance_store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('close_code', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.drop_column('close_code')
        batch_op.drop_column('closed_at')
