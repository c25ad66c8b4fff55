"""twin owners: the accounts linked to a building of the twin (who may see its heat-loss level)

- ``twin_building_owners``: building (foreign key, removed with it), account id (no foreign key:
  the accounts module owns people), who linked it and when; one link per (building, account).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 03:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parvis.kernel.db

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('twin_building_owners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('linked_by', sa.Integer(), nullable=True),
    sa.Column('linked_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['twin_buildings.id'],
                            name=op.f('fk_twin_building_owners_building_id_twin_buildings'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_twin_building_owners')),
    sa.UniqueConstraint('building_id', 'user_id', name='uq_twin_building_owners_pair')
    )
    with op.batch_alter_table('twin_building_owners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_twin_building_owners_building_id'), ['building_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_twin_building_owners_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('twin_building_owners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_twin_building_owners_user_id'))
        batch_op.drop_index(batch_op.f('ix_twin_building_owners_building_id'))
    op.drop_table('twin_building_owners')
