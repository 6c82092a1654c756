"""ownership: attestation campaigns, ownership transfers and claims, tracked gaps, facts confirmed in govbot

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 07:42:51.835839
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance_store.models


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attestation_campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_by', sa.String(length=254), nullable=False),
    sa.Column('due_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('policy', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('attestation_campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attestation_campaigns_state'), ['state'], unique=False)

    op.create_table('tracked_gaps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=500), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('system_ids', sa.JSON(), nullable=False),
    sa.Column('site_code', sa.String(length=32), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('assigned_because', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('opened_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('fixed_by_id', sa.Integer(), nullable=True),
    sa.Column('fix', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['fixed_by_id'], ['people.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('tracked_gaps', schema=None) as batch_op:
        batch_op.create_index('ix_tracked_gaps_assignee_state', ['assignee_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_tracked_gaps_site_code'), ['site_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_tracked_gaps_state'), ['state'], unique=False)

    op.create_table('attestations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('recorded_owner_id', sa.Integer(), nullable=True),
    sa.Column('site_code', sa.String(length=32), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('asked_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['answered_by_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['campaign_id'], ['attestation_campaigns.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recorded_owner_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['system_id'], ['systems.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'system_id')
    )
    with op.batch_alter_table('attestations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attestations_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index('ix_attestations_owner_state', ['owner_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestations_system_id'), ['system_id'], unique=False)

    op.create_table('confirmed_facts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('row_id', sa.Integer(), nullable=False),
    sa.Column('column_name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('how', sa.String(length=32), nullable=False),
    sa.Column('system_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('import_value', sa.JSON(), nullable=True),
    sa.Column('import_label', sa.String(length=300), nullable=True),
    sa.Column('disagreed_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['system_id'], ['systems.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('table_name', 'row_id', 'column_name')
    )
    with op.batch_alter_table('confirmed_facts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_confirmed_facts_system_id'), ['system_id'], unique=False)

    op.create_table('ownership_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('from_id', sa.Integer(), nullable=True),
    sa.Column('to_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('approver_id', sa.Integer(), nullable=True),
    sa.Column('needs_approval', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', governance_store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', governance_store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attestation_id', sa.Integer(), nullable=True),
    sa.Column('gap_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['approver_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['attestation_id'], ['attestations.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['from_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['gap_id'], ['tracked_gaps.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['system_id'], ['systems.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_id'], ['people.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ownership_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ownership_requests_approver_id'), ['approver_id'], unique=False)
        batch_op.create_index('ix_ownership_requests_system_state', ['system_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_ownership_requests_to_id'), ['to_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ownership_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ownership_requests_to_id'))
        batch_op.drop_index('ix_ownership_requests_system_state')
        batch_op.drop_index(batch_op.f('ix_ownership_requests_approver_id'))

    op.drop_table('ownership_requests')
    with op.batch_alter_table('confirmed_facts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_confirmed_facts_system_id'))

    op.drop_table('confirmed_facts')
    with op.batch_alter_table('attestations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attestations_system_id'))
        batch_op.drop_index('ix_attestations_owner_state')
        batch_op.drop_index(batch_op.f('ix_attestations_campaign_id'))

    op.drop_table('attestations')
    with op.batch_alter_table('tracked_gaps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tracked_gaps_state'))
        batch_op.drop_index(batch_op.f('ix_tracked_gaps_site_code'))
        batch_op.drop_index('ix_tracked_gaps_assignee_state')

    op.drop_table('tracked_gaps')
    with op.batch_alter_table('attestation_campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attestation_campaigns_state'))

    op.drop_table('attestation_campaigns')
