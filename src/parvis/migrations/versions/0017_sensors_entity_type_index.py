"""sensors: drop the entities' index on type alone

``(type, id)`` and ``(type, box)`` already serve every look-up by type (a B-tree answers on its
leading column). On PostgreSQL each index costs every entity update an insertion (the updated
``modified_at`` is indexed, so no update is "heap-only"): a batch of a thousand updates wrote
~15 % faster without this one.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 06:10:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sensors_entities', schema=None) as batch_op:
        batch_op.drop_index('ix_sensors_entities_type')


def downgrade() -> None:
    with op.batch_alter_table('sensors_entities', schema=None) as batch_op:
        batch_op.create_index('ix_sensors_entities_type', ['type'], unique=False)
