"""people's preferred language, longer site language tags, plant shutdown days

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('site_shutdowns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_code', sa.String(length=32), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('site_shutdowns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_shutdowns_site_code'), ['site_code'], unique=False)
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preferred_language', sa.String(length=16), nullable=True))
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.alter_column('language', existing_type=sa.String(length=8), type_=sa.String(length=16),
                              existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.alter_column('language', existing_type=sa.String(length=16), type_=sa.String(length=8),
                              existing_nullable=True)
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('preferred_language')
    with op.batch_alter_table('site_shutdowns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_shutdowns_site_code'))
    op.drop_table('site_shutdowns')
