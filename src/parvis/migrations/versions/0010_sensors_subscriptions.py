"""sensors: NGSI-LD subscriptions and their notification outbox

A subscription keeps its filters expanded (full IRIs), its endpoint and its delivery state
(times sent, last success and failure, the next moment it may send: throttling and retries).
The outbox holds the entity changes it matched until the notifier sends them, indexed by
subscription for the sender's claims.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 00:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parvis.kernel.db

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sensors_subscriptions',
    sa.Column('id', sa.String(length=256), nullable=False),
    sa.Column('owner_digest', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=256), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('entities', sa.JSON(), nullable=False),
    sa.Column('watched', sa.JSON(), nullable=True),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.Column('q', sa.Text(), nullable=True),
    sa.Column('q_terms', sa.JSON(), nullable=True),
    sa.Column('geo_q', sa.JSON(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('sys_attrs', sa.Boolean(), nullable=False),
    sa.Column('endpoint', sa.String(length=2000), nullable=False),
    sa.Column('accept', sa.String(length=64), nullable=False),
    sa.Column('receiver_info', sa.JSON(), nullable=True),
    sa.Column('context', sa.JSON(), nullable=True),
    sa.Column('throttling', sa.Float(), nullable=False),
    sa.Column('expires_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('modified_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('times_sent', sa.Integer(), nullable=False),
    sa.Column('last_notification', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_failure', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('delivery_status', sa.String(length=16), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_until', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensors_subscriptions'))
    )
    op.create_table('sensors_subscription_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscription_id', sa.String(length=256), nullable=False),
    sa.Column('entity_id', sa.String(length=256), nullable=False),
    sa.Column('entity_type', sa.String(length=256), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=True),
    sa.Column('created_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensors_subscription_outbox'))
    )
    with op.batch_alter_table('sensors_subscription_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_sensors_subscription_outbox_subscription', ['subscription_id', 'id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sensors_subscription_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_sensors_subscription_outbox_subscription')
    op.drop_table('sensors_subscription_outbox')
    op.drop_table('sensors_subscriptions')
