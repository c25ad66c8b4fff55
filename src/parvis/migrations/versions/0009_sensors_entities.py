"""sensors: the NGSI-LD context broker's entities and its clients' API keys; devices, the
observations they send (the temporal store), dead letters and ingestion counters

Entities keep their type and attributes by full IRI (expanded with the JSON-LD context of each
request), the location as GeoJSON and as a bounding box: plain float columns and B-tree
indexes, the same on SQLite and PostgreSQL, prefilter geo-queries before the exact test.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 21:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parvis.kernel.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sensors_entities',
    sa.Column('id', sa.String(length=256), nullable=False),
    sa.Column('type', sa.String(length=256), nullable=False),
    sa.Column('created_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('modified_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lon_min', sa.Float(), nullable=True),
    sa.Column('lat_min', sa.Float(), nullable=True),
    sa.Column('lon_max', sa.Float(), nullable=True),
    sa.Column('lat_max', sa.Float(), nullable=True),
    sa.Column('location', sa.JSON(), nullable=True),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensors_entities'))
    )
    with op.batch_alter_table('sensors_entities', schema=None) as batch_op:
        batch_op.create_index('ix_sensors_entities_box', ['lon_min', 'lat_min', 'lon_max', 'lat_max'], unique=False)
        batch_op.create_index(batch_op.f('ix_sensors_entities_type'), ['type'], unique=False)
        batch_op.create_index('ix_sensors_entities_type_box', ['type', 'lon_min', 'lat_min'], unique=False)

    op.create_table('sensors_api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('can_read', sa.Boolean(), nullable=False),
    sa.Column('can_write', sa.Boolean(), nullable=False),
    sa.Column('created_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensors_api_keys')),
    sa.UniqueConstraint('digest', name=op.f('uq_sensors_api_keys_digest'))
    )
    op.create_table('sensors_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('api_key', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=256), nullable=False),
    sa.Column('entity_type', sa.String(length=256), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('created_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensors_devices')),
    sa.UniqueConstraint('device_id', name=op.f('uq_sensors_devices_device_id'))
    )
    with op.batch_alter_table('sensors_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sensors_devices_entity_id'), ['entity_id'], unique=False)

    op.create_table('sensors_observations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity_id', sa.String(length=256), nullable=False),
    sa.Column('attribute', sa.String(length=256), nullable=False),
    sa.Column('observed_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('number', sa.Float(), nullable=True),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensors_observations')),
    sa.UniqueConstraint('entity_id', 'attribute', 'observed_at',
                        name='uq_sensors_observations_entity_attribute_time')
    )
    op.create_table('sensors_dead_letters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('api_key', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensors_dead_letters'))
    )
    with op.batch_alter_table('sensors_dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sensors_dead_letters_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sensors_dead_letters_received_at'), ['received_at'], unique=False)

    op.create_table('sensors_ingest_counts',
    sa.Column('hour', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('count', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('hour', 'channel', 'outcome', name=op.f('pk_sensors_ingest_counts'))
    )


def downgrade() -> None:
    op.drop_table('sensors_ingest_counts')
    with op.batch_alter_table('sensors_dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sensors_dead_letters_received_at'))
        batch_op.drop_index(batch_op.f('ix_sensors_dead_letters_device_id'))
    op.drop_table('sensors_dead_letters')
    op.drop_table('sensors_observations')
    with op.batch_alter_table('sensors_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sensors_devices_entity_id'))
    op.drop_table('sensors_devices')
    op.drop_table('sensors_api_keys')
    with op.batch_alter_table('sensors_entities', schema=None) as batch_op:
        batch_op.drop_index('ix_sensors_entities_type_box')
        batch_op.drop_index(batch_op.f('ix_sensors_entities_type'))
        batch_op.drop_index('ix_sensors_entities_box')
    op.drop_table('sensors_entities')
