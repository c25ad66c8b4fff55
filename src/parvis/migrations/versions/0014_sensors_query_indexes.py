"""sensors: indexes for entity queries at city scale

- A geo-query's box is tested in the index: ``(type, lon_min, lat_min, lon_max, lat_max)``
  replaces ``(type, lon_min, lat_min)``, whose range on ``lon_min`` read every row of half the
  type to test ``lon_max`` and ``lat_max`` (a near query at 100,000 entities: p95 59 ms on SQLite).
- Pages of one type in id order (``GET /entities?type=...&offset=...``) read ``(type, id)`` in
  order instead of sorting every entity of the type (p50 319 ms at 25,000 entities of a type).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 01:50:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sensors_entities', schema=None) as batch_op:
        batch_op.drop_index('ix_sensors_entities_type_box')
        batch_op.create_index('ix_sensors_entities_type_box',
                              ['type', 'lon_min', 'lat_min', 'lon_max', 'lat_max'], unique=False)
        batch_op.create_index('ix_sensors_entities_type_id', ['type', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sensors_entities', schema=None) as batch_op:
        batch_op.drop_index('ix_sensors_entities_type_id')
        batch_op.drop_index('ix_sensors_entities_type_box')
        batch_op.create_index('ix_sensors_entities_type_box', ['type', 'lon_min', 'lat_min'], unique=False)
