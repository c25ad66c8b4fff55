"""The temporal store's one write: observations in batches, a repeat skipped by the unique index
on (entity, attribute, time). Used by device ingestion and by NGSI-LD writes that carry
``observedAt``.

Straight to the driver, as a stream needs (no per-row type processing, JSON by orjson):
PostgreSQL gets the batch as one JSON array that the server expands (one statement, no escaping
of each value by the driver; COPY into a temporary table costs as much CPU, client and server
together); SQLite gets ``executemany`` on the driver's cursor, with the times written as
SQLAlchemy's SQLite DateTime writes them, so that a repeat is one whichever path wrote first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from parvis.modules.sensors.raw_sql import driver, is_postgres, sqlite_time

# (entity id, attribute IRI, observed at (aware), number or None, value)
Row = tuple[str, str, datetime, float | None, Any]

_PG_INSERT = ("INSERT INTO sensors_observations (entity_id, attribute, observed_at, number, value) "
              "SELECT r->>0, r->>1, (r->>2)::timestamptz, (r->>3)::float8, r->4 "
              "FROM json_array_elements(%s::json) AS r "
              "ON CONFLICT (entity_id, attribute, observed_at) DO NOTHING")
_SQLITE_INSERT = ("INSERT INTO sensors_observations (entity_id, attribute, observed_at, number, value) "
                  "VALUES (?, ?, ?, ?, ?) ON CONFLICT (entity_id, attribute, observed_at) DO NOTHING")
# SQLite's page cache of the connections that write observations (SQLite's default: 2 MB): the
# unique index's pages that a city's devices keep touching, about 16 KB per device
SQLITE_CACHE_KB = 65_536


def store_rows(session: Session, rows: list[Row]) -> int:
    """Insert observations (one per (entity, attribute, time) in ``rows``); how many were new."""
    if not rows:
        return 0
    times: dict[datetime, str] = {}  # the measures of a reading share its time
    for _e, _a, at, _n, _v in rows:
        if at not in times:
            if at.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            times[at] = sqlite_time(at)
    if is_postgres(session):
        with driver(session).cursor() as cursor:
            cursor.execute(_PG_INSERT, (orjson.dumps(rows).decode(),))
            return cursor.rowcount
    record = session.connection().connection
    if not record.info.get("parvis_observations_cache"):
        record.driver_connection.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
        record.info["parvis_observations_cache"] = True
    cursor = driver(session).cursor()
    try:
        cursor.executemany(_SQLITE_INSERT, [(e, a, times[at], n, orjson.dumps(v).decode())
                                            for e, a, at, n, v in rows])
        return cursor.rowcount
    finally:
        cursor.close()


def store(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert a batch of observations given as dicts (``entity_id``, ``attribute``, ``observed_at``,
    ``number``, ``value``); how many were new."""
    return store_rows(session, [(r["entity_id"], r["attribute"], r["observed_at"], r.get("number"),
                                 r["value"]) for r in rows])
