"""twin: the digital twin's raster layers, buildings, roof faces, zones and long runs

- ``twin_layers``: one GeoTIFF per kind (dtm, dsm, hazard, thermography) under ``data_dir/twin``.
- ``twin_buildings``: footprint as GeoJSON in lon/lat with its box (B-tree indexed, as the sensor
  hub's entities) and in local metres; heights, roof type, energy inputs; ``address_key`` (lower
  case, no accents) for address search; ``district_id`` without a foreign key (the city module
  owns districts).
- ``twin_roof_faces``: 3-D polygon in local metres, tilt, azimuth, area and the solar results;
  removed with their building.
- ``twin_zones``: zoning, flood hazard and protected areas; ``twin_runs``: progress of long
  computations.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 02:47:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parvis.kernel.db

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('twin_buildings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('address_key', sa.String(length=300), nullable=True),
    sa.Column('district_id', sa.Integer(), nullable=True),
    sa.Column('footprint', sa.Text(), nullable=False),
    sa.Column('lon_min', sa.Float(), nullable=False),
    sa.Column('lat_min', sa.Float(), nullable=False),
    sa.Column('lon_max', sa.Float(), nullable=False),
    sa.Column('lat_max', sa.Float(), nullable=False),
    sa.Column('footprint_local', sa.Text(), nullable=False),
    sa.Column('ground_m', sa.Float(), nullable=True),
    sa.Column('height_m', sa.Float(), nullable=False),
    sa.Column('roof_type', sa.String(length=16), nullable=False),
    sa.Column('roof_tilt', sa.Float(), nullable=True),
    sa.Column('storeys', sa.Integer(), nullable=True),
    sa.Column('construction_year', sa.Integer(), nullable=True),
    sa.Column('construction_period', sa.String(length=32), nullable=True),
    sa.Column('floor_area_m2', sa.Float(), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('households', sa.Integer(), nullable=True),
    sa.Column('attached_sides', sa.Integer(), nullable=True),
    sa.Column('wall_type', sa.String(length=32), nullable=True),
    sa.Column('roof_construction', sa.String(length=32), nullable=True),
    sa.Column('window_type', sa.String(length=32), nullable=True),
    sa.Column('heating_system', sa.String(length=32), nullable=True),
    sa.Column('heat_loss_level', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('imported_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_twin_buildings')),
    sa.UniqueConstraint('ref', name=op.f('uq_twin_buildings_ref'))
    )
    with op.batch_alter_table('twin_buildings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_twin_buildings_address_key'), ['address_key'], unique=False)
        batch_op.create_index('ix_twin_buildings_box', ['lon_min', 'lat_min', 'lon_max', 'lat_max'], unique=False)
        batch_op.create_index(batch_op.f('ix_twin_buildings_district_id'), ['district_id'], unique=False)

    op.create_table('twin_layers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('crs', sa.String(length=64), nullable=False),
    sa.Column('resolution', sa.Float(), nullable=False),
    sa.Column('west', sa.Float(), nullable=False),
    sa.Column('south', sa.Float(), nullable=False),
    sa.Column('east', sa.Float(), nullable=False),
    sa.Column('north', sa.Float(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('imported_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_twin_layers')),
    sa.UniqueConstraint('kind', name=op.f('uq_twin_layers_kind'))
    )
    op.create_table('twin_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('started_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('created_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_twin_runs'))
    )
    with op.batch_alter_table('twin_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_twin_runs_kind'), ['kind'], unique=False)

    op.create_table('twin_zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('buildable', sa.Boolean(), nullable=True),
    sa.Column('hazard_level', sa.String(length=16), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('geometry', sa.Text(), nullable=False),
    sa.Column('lon_min', sa.Float(), nullable=False),
    sa.Column('lat_min', sa.Float(), nullable=False),
    sa.Column('lon_max', sa.Float(), nullable=False),
    sa.Column('lat_max', sa.Float(), nullable=False),
    sa.Column('geometry_local', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('imported_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_twin_zones'))
    )
    with op.batch_alter_table('twin_zones', schema=None) as batch_op:
        batch_op.create_index('ix_twin_zones_box', ['lon_min', 'lat_min', 'lon_max', 'lat_max'], unique=False)
        batch_op.create_index(batch_op.f('ix_twin_zones_kind'), ['kind'], unique=False)

    op.create_table('twin_roof_faces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('polygon_local', sa.Text(), nullable=False),
    sa.Column('tilt', sa.Float(), nullable=False),
    sa.Column('azimuth', sa.Float(), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('annual_kwh_m2', sa.Float(), nullable=True),
    sa.Column('monthly_kwh_m2', sa.Text(), nullable=True),
    sa.Column('usable_area_m2', sa.Float(), nullable=True),
    sa.Column('kwp', sa.Float(), nullable=True),
    sa.Column('yearly_kwh', sa.Float(), nullable=True),
    sa.Column('saving', sa.Float(), nullable=True),
    sa.Column('computed_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['twin_buildings.id'], name=op.f('fk_twin_roof_faces_building_id_twin_buildings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_twin_roof_faces'))
    )
    with op.batch_alter_table('twin_roof_faces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_twin_roof_faces_building_id'), ['building_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('twin_roof_faces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_twin_roof_faces_building_id'))
    op.drop_table('twin_roof_faces')
    with op.batch_alter_table('twin_zones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_twin_zones_kind'))
        batch_op.drop_index('ix_twin_zones_box')
    op.drop_table('twin_zones')
    with op.batch_alter_table('twin_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_twin_runs_kind'))
    op.drop_table('twin_runs')
    op.drop_table('twin_layers')
    with op.batch_alter_table('twin_buildings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_twin_buildings_district_id'))
        batch_op.drop_index('ix_twin_buildings_box')
        batch_op.drop_index(batch_op.f('ix_twin_buildings_address_key'))
    op.drop_table('twin_buildings')
