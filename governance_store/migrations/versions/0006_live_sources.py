"""live sources: sync state per source and the last good copy of each source record

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 08:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance_store.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'source_syncs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('cursors', sa.JSON(), nullable=False),
        sa.Column('lease_owner', sa.String(length=100), nullable=True),
        sa.Column('lease_until', governance_store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_attempt_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_success_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_change_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_error_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_duration_seconds', sa.Float(), nullable=True),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('interval_seconds', sa.Float(), nullable=True),
        sa.Column('last_report', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source'),
    )
    op.create_table(
        'source_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('collection', sa.String(length=64), nullable=False),
        sa.Column('external_id', sa.String(length=200), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('fetched_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source', 'collection', 'external_id'),
    )


def downgrade() -> None:
    op.drop_table('source_records')
    op.drop_table('source_syncs')
