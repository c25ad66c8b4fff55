"""Cost of the event rules inside ingestion: what congestion and air-quality rules add to storing
device readings (the rules run in the writing transaction, ``sensors/rules.py``).

Builds, in a fresh SQLite file (or the PostgreSQL database of ``--database-url``, which it
upgrades; each run uses its own ids), 1,000 road segments (free flow 40 km/h), then ingests
``--batches`` batches of 500 readings (one per segment, the size of the MQTT listener's batches)
with a speed that keeps every segment between levels A and D (the common case: no event), then
the same with a fifth of the segments jammed (events raised, then followed), and prints the
observations stored per second and the time spent in the rules (per reading, and as a share of the
ingestion's time).

Run: `.venv/bin/python bench/traffic_rules.py [--batches 20] [--database-url URL]`
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import orjson

from parvis.kernel.db import Database
from parvis.migrations import upgrade
from parvis.modules.sensors import actions, ingest, rules
from parvis.settings import Settings

SEGMENTS = 1000
BATCH = 500
START = datetime(2026, 11, 1, tzinfo=UTC)


def build(db: Database, run: str) -> list[str]:
    ids = [f"bench-{run}-{n}" for n in range(SEGMENTS)]
    actions.provision_devices(db, [actions.DeviceSpec(
        api_key="bench", device_id=i, entity_id=f"urn:ngsi-ld:TrafficFlowObserved:{i}",
        entity_type="TrafficFlowObserved", attributes={"s": "averageVehicleSpeed", "f": "intensity"},
        lon=104.9, lat=11.55, static={"freeFlowSpeed": 40}) for i in ids])
    return ids


def run_batches(db: Database, settings: Settings, ids: list[str], batches: int, minute0: int,
                jammed: float) -> float:
    rng = random.Random(minute0)
    stored = 0
    began = time.perf_counter()
    for b in range(batches):
        at = START + timedelta(minutes=minute0 + b)
        chunk = ids[(b * BATCH) % SEGMENTS:][:BATCH]
        messages = [ingest.Message("bench", i, orjson.dumps(
            {"s": rng.uniform(3, 10) if n < jammed * len(chunk) else rng.uniform(17, 40), "f": 20,
             "t": at.isoformat()}), at) for n, i in enumerate(chunk)]
        stored += ingest.ingest(db, settings, messages).stored
    return stored / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    spent = [0.0]
    original = rules.on_changes

    def timed(session: Any, changes: Any) -> None:
        began = time.perf_counter()
        original(session, changes)
        spent[0] += time.perf_counter() - began

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        settings = Settings(_env_file=None, database_url=url, secret_key="bench",  # type: ignore[call-arg]
                            sensors_max_past_hours=24 * 365 * 5)
        db = Database(url)
        rules.configure(db, settings)
        ids = build(db, uuid.uuid4().hex[:8])
        run_batches(db, settings, ids, 2, 0, 0.0)  # warm up
        print(f"database: {db.dialect}; {SEGMENTS} segments, {args.batches} batches of {BATCH} readings")
        with mock.patch.object(rules, "on_changes", timed):
            for label, minute0, jammed in (("no event", 1000, 0.0), ("20 % of segments jammed", 3000, 0.2)):
                spent[0] = 0.0
                began = time.perf_counter()
                rate = run_batches(db, settings, ids, args.batches, minute0, jammed)
                total = time.perf_counter() - began
                per = spent[0] / (args.batches * BATCH) * 1e6
                print(f"{label}: {rate:,.0f} observations stored/s (2 per reading); "
                      f"rules {per:.1f} µs per reading, {100 * spent[0] / total:.1f} % of the ingestion time")
        db.dispose()


if __name__ == "__main__":
    main()
