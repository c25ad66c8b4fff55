"""Alembic environment: one linear history for SQLite and PostgreSQL."""

from __future__ import annotations

import warnings

from alembic import context
from sqlalchemy.exc import SAWarning

from parvis.kernel.db import make_engine
from parvis.models import metadata

# Columns and tables that live only on one engine and are managed by hand in migrations:
# the PostGIS geometry column, the SQLite R*Tree index and the ranges of rowids that keep the
# sensor hub's entities together by type on SQLite (migration 0020).
HAND_MANAGED_TABLES = {"city_districts_rtree", "spatial_ref_sys", "sensors_entity_ranges"}
HAND_MANAGED_COLUMNS = {("city_districts", "geom")}


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and (name in HAND_MANAGED_TABLES or name.startswith("city_districts_rtree")):
        return False
    if type_ == "column" and (obj.table.name, name) in HAND_MANAGED_COLUMNS:
        return False
    return not (type_ == "index" and name and name.startswith("ix_city_districts_geom"))


def run_migrations() -> None:
    # The PostGIS column is hand-managed (see include_object): its type is unknown to us.
    warnings.filterwarnings("ignore", "Did not recognize type 'geometry'", SAWarning)
    url = context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
