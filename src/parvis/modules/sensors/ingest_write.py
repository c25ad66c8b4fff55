"""Device ingestion's writes, at the speed of a stream: a batch's observations and the newest value
of each attribute, straight to the driver (no ORM, no per-row type processing, JSON by orjson).

Same meaning as ``actions.apply_observations``, which stays the general path (both merge with
``actions.merge_newest``): a repeat (same
entity, attribute and time) is skipped by the unique index and not counted as stored; the newest
reading wins, a late one never replaces a newer current value; an entity
that does not exist (provisioned, then deleted through NGSI-LD) is created again by
``actions.apply_observations``; every entity whose current values changed is noted with
``changes.note`` (subscriptions and rules react to it in the same transaction).

The observations: ``observations.store_rows``. The entities: ``entity_rows`` (one read, one
update, through the driver).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from parvis.kernel.db import utcnow
from parvis.modules.sensors import actions, changes, entity_rows, observations
from parvis.modules.sensors.standards.ngsi_ld import ngsi_time

Row = observations.Row
# (entity id, type IRI) -> {attribute IRI: (observed at, value)}
Latest = dict[tuple[str, str], dict[str, tuple[datetime, Any]]]

store = observations.store_rows


def apply_latest(session: Session, latest: Latest, places: dict[str, tuple[float, float]]) -> None:
    """Make the newest observations the entities' current values (see ``actions.apply_observations``,
    whose meaning this keeps): one read and one update for the entities of a batch."""
    if not latest:
        return
    found = entity_rows.read(session, list(dict.fromkeys(entity_id for entity_id, _type in latest)))
    missing = {key: values for key, values in latest.items() if key[0] not in found}
    if missing:  # rare: the general path creates them
        actions.apply_observations(session, missing, places)
    now = utcnow()
    stamp = ngsi_time(now)
    updates: dict[str, dict[str, Any]] = {}
    stamps: dict[datetime, str] = {}  # times repeat within a batch: each one written once
    times: dict[str, datetime] = {}  # and read once
    for (entity_id, entity_type), values in latest.items():
        seen = found.get(entity_id)
        if seen is None:
            continue
        current = seen[1]
        written = actions.merge_newest(current, values, stamp, stamps=stamps, times=times)
        if written:
            updates[entity_id] = current
            changes.note(session, entity_id, entity_type, current, written, at=now)
    entity_rows.write_attrs(session, updates, now)
