"""The temporal store's one write: observations in batches, a repeat skipped by the unique index
on (entity, attribute, time). Used by device ingestion and by NGSI-LD writes that carry
``observedAt``."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from parvis.modules.sensors.models import Observation

_UNNEST = text(
    "INSERT INTO sensors_observations (entity_id, attribute, observed_at, number, value) "
    "SELECT * FROM unnest(CAST(:entity_ids AS text[]), CAST(:attributes AS text[]), "
    "CAST(:times AS timestamptz[]), CAST(:numbers AS float8[]), CAST(:values AS json[])) "
    "ON CONFLICT (entity_id, attribute, observed_at) DO NOTHING")


def store(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert a batch of observations in one statement; how many were new."""
    if session.get_bind().dialect.name == "postgresql":
        # arrays unnested by the server: one round trip, an exact count of what was new
        return session.execute(_UNNEST, {
            "entity_ids": [r["entity_id"] for r in rows], "attributes": [r["attribute"] for r in rows],
            "times": [r["observed_at"] for r in rows], "numbers": [r["number"] for r in rows],
            "values": [orjson.dumps(r["value"]).decode() for r in rows]}).rowcount
    table = Observation.__table__
    statement = sqlite.insert(table).on_conflict_do_nothing(
        index_elements=["entity_id", "attribute", "observed_at"])
    return session.execute(statement, [{k: v for k, v in r.items() if k != "entity_type"}
                                       for r in rows]).rowcount
