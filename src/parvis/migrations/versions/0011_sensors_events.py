"""sensors: events raised from sensor values (congestion, air quality)

One row per event, open until cleared; a partial unique index keeps one open event per entity,
kind and key (pollutant) on SQLite and PostgreSQL alike.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 00:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parvis.kernel.db

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sensors_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('department', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=256), nullable=False),
    sa.Column('entity_type', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('level', sa.String(length=4), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('peak', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('raised_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('calm_count', sa.Integer(), nullable=False),
    sa.Column('calm_since', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('location', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensors_events'))
    )
    with op.batch_alter_table('sensors_events', schema=None) as batch_op:
        batch_op.create_index('uq_sensors_events_open', ['entity_id', 'kind', 'key'], unique=True,
                              sqlite_where=sa.text('cleared_at IS NULL'),
                              postgresql_where=sa.text('cleared_at IS NULL'))
        batch_op.create_index('ix_sensors_events_raised', ['raised_at'], unique=False)
        batch_op.create_index('ix_sensors_events_entity', ['entity_id', 'raised_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sensors_events', schema=None) as batch_op:
        batch_op.drop_index('ix_sensors_events_entity')
        batch_op.drop_index('ix_sensors_events_raised')
        batch_op.drop_index('uq_sensors_events_open')
    op.drop_table('sensors_events')
