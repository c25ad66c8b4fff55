"""sensors: indexes for the operations room's live feed

The live feed (``sensors/live.py``) asks, every second and for each open operations room, which
entities of the map's types changed after a cursor, in (modified_at, id) order: one range scan
of this index instead of a scan of the table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 00:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sensors_entities', schema=None) as batch_op:
        batch_op.create_index('ix_sensors_entities_modified_at', ['modified_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sensors_entities', schema=None) as batch_op:
        batch_op.drop_index('ix_sensors_entities_modified_at')
