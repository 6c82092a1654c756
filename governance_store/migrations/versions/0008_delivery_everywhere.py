"""people choose where they are reached; outbox messages wait for unreachable people; used e-mail links

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance_store.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_via', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('seen_on', sa.String(length=16), nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempted_at', governance_store.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('reach', sa.JSON(), nullable=True))
    # Cards about requests still waiting for a decision that older releases gave up on (nobody could reach
    # the person) wait for them instead, and go out as soon as they can be reached.
    op.execute("UPDATE outbox SET status = 'waiting' WHERE status = 'undeliverable' AND change_id IN "
               "(SELECT id FROM change_requests WHERE state = 'submitted')")
    op.create_table('used_links',
    sa.Column('link_id', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('change_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('used_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['change_id'], ['change_requests.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('link_id')
    )


def downgrade() -> None:
    op.drop_table('used_links')
    op.execute("UPDATE outbox SET status = 'undeliverable' WHERE status = 'waiting'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('reach')
        batch_op.drop_column('attempted_at')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('seen_on')
        batch_op.drop_column('notify_via')
