"""sensors: hourly and daily aggregates of observations, kept after raw data expires

Hours are UTC hours, days the city's local days; count, sum, min and max per (entity,
attribute, period), so that late readings merge in and averages follow. The state row keeps the
highest observation id folded in (the rollup is incremental by id); the hours table the
highest id folded into each hour (it bounds the retention's scan of the observations).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 00:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parvis.kernel.db

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counts() -> list[sa.Column]:
    return [sa.Column('count', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
            sa.Column('total', sa.Float(), nullable=False),
            sa.Column('minimum', sa.Float(), nullable=False),
            sa.Column('maximum', sa.Float(), nullable=False)]


def upgrade() -> None:
    op.create_table('sensors_aggregates_hourly',
    sa.Column('entity_id', sa.String(length=256), nullable=False),
    sa.Column('attribute', sa.String(length=256), nullable=False),
    sa.Column('hour', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    *_counts(),
    sa.PrimaryKeyConstraint('entity_id', 'attribute', 'hour', name=op.f('pk_sensors_aggregates_hourly'))
    )
    op.create_index('ix_sensors_aggregates_hourly_hour', 'sensors_aggregates_hourly', ['hour'], unique=False)
    op.create_table('sensors_aggregates_daily',
    sa.Column('entity_id', sa.String(length=256), nullable=False),
    sa.Column('attribute', sa.String(length=256), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    *_counts(),
    sa.PrimaryKeyConstraint('entity_id', 'attribute', 'day', name=op.f('pk_sensors_aggregates_daily'))
    )
    op.create_index('ix_sensors_aggregates_daily_day', 'sensors_aggregates_daily', ['day'], unique=False)
    op.create_table('sensors_aggregate_hours',
    sa.Column('hour', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('max_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('hour', name=op.f('pk_sensors_aggregate_hours'))
    )
    op.create_table('sensors_aggregate_state',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('updated_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_sensors_aggregate_state'))
    )


def downgrade() -> None:
    op.drop_table('sensors_aggregate_state')
    op.drop_table('sensors_aggregate_hours')
    op.drop_index('ix_sensors_aggregates_daily_day', table_name='sensors_aggregates_daily')
    op.drop_table('sensors_aggregates_daily')
    op.drop_index('ix_sensors_aggregates_hourly_hour', table_name='sensors_aggregates_hourly')
    op.drop_table('sensors_aggregates_hourly')
