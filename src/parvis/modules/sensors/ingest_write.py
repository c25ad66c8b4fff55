"""Device ingestion's writes, at the speed of a stream: a batch's observations and the newest value
of each attribute, straight to the driver (no ORM, no per-row type processing, JSON by orjson).

Same meaning as ``actions.apply_observations``, which stays the general path (both merge with
``actions.merge_newest``): a repeat (same
entity, attribute and time) is skipped by the unique index and not counted as stored; the newest
reading wins, a late one never replaces a newer current value; an entity
that does not exist (provisioned, then deleted through NGSI-LD) is created again by
``actions.apply_observations``; every entity whose current values changed is noted with
``changes.note`` (subscriptions and rules react to it in the same transaction).

The observations: ``observations.store_rows``. The entities: read with one statement, updated
with another (PostgreSQL: one JSON object of their attributes by id, expanded by the server;
SQLite: ``executemany`` on the driver's cursor).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from parvis.kernel.db import utcnow
from parvis.modules.sensors import actions, changes, observations

Row = observations.Row
# (entity id, type IRI) -> {attribute IRI: (observed at, value)}
Latest = dict[tuple[str, str], dict[str, tuple[datetime, Any]]]

# locked in the order of their ids: listeners sharing a subscription lock the same entities in the
# same order, so they wait for each other rather than deadlock
_PG_READ = "SELECT id, attrs::text FROM sensors_entities WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
# one JSON document {id: attrs} for the batch: no escaping of each value by the driver
_PG_UPDATE = ("UPDATE sensors_entities AS e SET attrs = u.value, modified_at = %s "
              "FROM json_each(%s::json) AS u WHERE e.id = u.key")
_SQLITE_UPDATE = "UPDATE sensors_entities SET attrs = ?, modified_at = ? WHERE id = ?"


store = observations.store_rows
_sqlite_time, _driver = observations.sqlite_time, observations.driver


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def apply_latest(session: Session, latest: Latest, places: dict[str, tuple[float, float]]) -> None:
    """Make the newest observations the entities' current values (see ``actions.apply_observations``,
    whose meaning this keeps): one read and one update for the entities of a batch."""
    if not latest:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    ids = list(dict.fromkeys(entity_id for entity_id, _type in latest))
    driver = _driver(session)
    if postgres:
        with driver.cursor() as cursor:
            cursor.execute(_PG_READ, (ids,))
            found = dict(cursor.fetchall())
    else:
        found = {}
        cursor = driver.cursor()
        try:
            for start in range(0, len(ids), 500):  # SQLite's limit on parameters
                part = ids[start:start + 500]
                marks = ",".join("?" * len(part))
                cursor.execute(f"SELECT id, attrs FROM sensors_entities WHERE id IN ({marks})", part)
                found.update(cursor.fetchall())
        finally:
            cursor.close()
    missing = {key: values for key, values in latest.items() if key[0] not in found}
    if missing:  # rare: the general path creates them
        actions.apply_observations(session, missing, places)
    now = utcnow()
    stamp = _stamp(now)
    updates: dict[str, dict[str, Any]] = {}
    stamps: dict[datetime, str] = {}  # times repeat within a batch: each one written once
    times: dict[str, datetime] = {}  # and read once
    for (entity_id, entity_type), values in latest.items():
        text = found.get(entity_id)
        if text is None:
            continue
        current: dict[str, Any] = orjson.loads(text) if text else {}
        written = actions.merge_newest(current, values, stamp, stamps=stamps, times=times)
        if written:
            updates[entity_id] = current
            changes.note(session, entity_id, entity_type, current, written)
    if not updates:
        return
    if postgres:
        with driver.cursor() as cursor:
            cursor.execute(_PG_UPDATE, (now, orjson.dumps(updates).decode()))
    else:
        cursor = driver.cursor()
        try:
            at = _sqlite_time(now)
            cursor.executemany(_SQLITE_UPDATE, [(orjson.dumps(attrs).decode(), at, entity_id)
                                                for entity_id, attrs in updates.items()])
        finally:
            cursor.close()
