"""Entities read and written in bulk, straight through the database driver.

The hub's hot writes (batch operations, attribute updates grouped by ``kernel.group_commit``,
device readings) read a set of entities and write back their attributes. Through SQLAlchemy a
thousand of them cost ~20 ms each way, mostly in per-row type processing; through the driver,
with JSON by orjson, a few milliseconds. Writes that also change the type or the location
columns stay on SQLAlchemy Core (``actions._write_batch``): they are the rare ones.

PostgreSQL: the rows are locked in the order of their ids, so two writers sharing entities wait
for each other rather than deadlock; the ids are given as one JSON array (``raw_sql.PG_IDS``) and the
update is one statement taking one JSON document ``{id: attributes}`` (no escaping of each value
by the driver). SQLite: ``executemany``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from parvis.modules.sensors.raw_sql import PG_IDS, driver, is_postgres, sqlite_time

_PG_READ = ("SELECT id, type, attrs::text FROM sensors_entities WHERE id = ANY(" + PG_IDS + ") "
            "ORDER BY id FOR UPDATE")
_PG_UPDATE = ("UPDATE sensors_entities AS e SET attrs = u.value, modified_at = %s "
              "FROM json_each(%s::json) AS u WHERE e.id = u.key")
_SQLITE_UPDATE = "UPDATE sensors_entities SET attrs = ?, modified_at = ? WHERE id = ?"
_SQLITE_PARAMETERS = 500  # ids per statement: under SQLite's limit on parameters


def read(session: Session, ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The type and attributes of those of ``ids`` that exist (locked on PostgreSQL)."""
    if not ids:
        return {}
    conn = driver(session)
    if is_postgres(session):
        with conn.cursor() as cursor:
            cursor.execute(_PG_READ, (orjson.dumps(ids).decode(),))
            rows = cursor.fetchall()
    else:
        rows = []
        cursor = conn.cursor()
        try:
            for start in range(0, len(ids), _SQLITE_PARAMETERS):
                part = ids[start:start + _SQLITE_PARAMETERS]
                marks = ",".join("?" * len(part))
                cursor.execute(f"SELECT id, type, attrs FROM sensors_entities WHERE id IN ({marks})", part)
                rows.extend(cursor.fetchall())
        finally:
            cursor.close()
    return {i: (t, orjson.loads(a) if a else {}) for i, t, a in rows}


def write_attrs(session: Session, updates: dict[str, dict[str, Any]], now: datetime) -> None:
    """Store these entities' attributes (and ``modified_at``); nothing else of theirs changes."""
    if not updates:
        return
    conn = driver(session)
    if is_postgres(session):
        with conn.cursor() as cursor:
            cursor.execute(_PG_UPDATE, (now, orjson.dumps(updates).decode()))
        return
    cursor = conn.cursor()
    try:
        at = sqlite_time(now)
        cursor.executemany(_SQLITE_UPDATE, [(orjson.dumps(attrs).decode(), at, entity_id)
                                            for entity_id, attrs in updates.items()])
    finally:
        cursor.close()
