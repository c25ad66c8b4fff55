"""NGSI-LD temporal API: one entity, one day of minute data, hourly averages (target p95 < 50 ms).

Builds, in a fresh SQLite file (or the PostgreSQL database of ``--database-url``, which it
upgrades; each run uses its own entity ids, so a database can be reused):

- one traffic detector with one day of minute data for 4 attributes (1,440 readings through
  ``ingest.ingest``, 5,760 observations);
- background data: 500 entities x 1 day at 10-minute steps x 3 attributes (216,000
  observations, bulk inserted);

then runs requests through the ASGI app (FastAPI's TestClient) and prints p50/p95 for:

1. hourly averages of one attribute (the issue's figure);
2. hourly avg, min and max of the 4 attributes (aggregated by the database);
3. hourly avg and stddev of one attribute (stddev: aggregated in Python);
4. the day's 1,440 raw instances of one attribute (normalized).

Run: `.venv/bin/python bench/temporal.py [--requests 200] [--database-url URL]`
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from parvis.app import create_app
from parvis.kernel.db import Database
from parvis.migrations import upgrade
from parvis.modules.sensors import actions, ingest
from parvis.modules.sensors.models import Observation
from parvis.settings import Settings

DAY = datetime(2026, 11, 1, tzinfo=UTC)
MAPPING = {"f": "intensity", "s": "averageVehicleSpeed", "o": "occupancy", "mc": "motorcycleIntensity"}
BACKGROUND = 500
LINK = ('<https://smartdatamodels.org/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; '
        'type="application/ld+json"')


def build(db: Database, settings: Settings, run: str) -> str:
    main = f"urn:ngsi-ld:TrafficFlowObserved:bench-{run}"
    specs = [actions.DeviceSpec(api_key="bench", device_id=f"bench-{run}", entity_id=main,
                                entity_type="TrafficFlowObserved", attributes=MAPPING, lon=104.9,
                                lat=11.55)]
    specs += [actions.DeviceSpec(api_key="bench", device_id=f"bench-{run}-{n}",
                                 entity_id=f"urn:ngsi-ld:TrafficFlowObserved:bench-{run}-{n}",
                                 entity_type="TrafficFlowObserved", attributes=MAPPING)
              for n in range(BACKGROUND)]
    actions.provision_devices(db, specs)
    messages = []
    for minute in range(1440):
        at = DAY + timedelta(minutes=minute)
        body = {"f": 20 + minute % 60, "s": 30.5 + minute % 7, "o": (minute % 100) / 100,
                "mc": minute % 45, "t": at.isoformat()}
        messages.append(ingest.Message(api_key="bench", device_id=f"bench-{run}",
                                       body=orjson.dumps(body), received_at=at))
    outcome = ingest.ingest(db, settings, messages)
    assert outcome.stored == 1440 * 4, outcome
    iris = [actions.attribute_iri(name) for name in ("intensity", "averageVehicleSpeed", "occupancy")]
    table = Observation.__table__
    for n in range(BACKGROUND):
        rows = [{"entity_id": f"urn:ngsi-ld:TrafficFlowObserved:bench-{run}-{n}", "attribute": iri,
                 "observed_at": DAY + timedelta(minutes=10 * step), "number": float(step),
                 "value": step} for step in range(144) for iri in iris]
        with db.transaction() as session:
            session.execute(table.insert(), rows)
    return main


def measure(client: TestClient, path: str, params: dict[str, str], requests: int) -> tuple[float, float]:
    for _ in range(10):  # warm up
        assert client.get(path, params=params, headers={"Link": LINK}).status_code == 200
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(path, params=params, headers={"Link": LINK})
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="parvis-bench-temporal-"))
    url = args.database_url or f"sqlite:///{folder / 'parvis.db'}"
    upgrade(url)
    settings = Settings(_env_file=None, database_url=url, secret_key="bench-secret",  # type: ignore[call-arg]
                        data_dir=folder)
    db = Database(url)
    started = time.perf_counter()
    entity = build(db, settings, uuid.uuid4().hex[:8])
    print(f"engine: {db.engine.dialect.name}; data built in {time.perf_counter() - started:.1f} s")
    path = f"/ngsi-ld/v1/temporal/entities/{entity}"
    day = {"timerel": "between", "timeAt": DAY.isoformat().replace("+00:00", "Z"),
           "endTimeAt": (DAY + timedelta(days=1)).isoformat().replace("+00:00", "Z")}
    hourly = {**day, "options": "aggregatedValues", "aggrPeriodDuration": "PT1H"}
    cases = [("hourly avg, 1 attribute", {**hourly, "attrs": "intensity", "aggrMethods": "avg"}),
             ("hourly avg,min,max, 4 attributes", {**hourly, "aggrMethods": "avg,min,max"}),
             ("hourly avg,stddev, 1 attribute (in Python)",
              {**hourly, "attrs": "intensity", "aggrMethods": "avg,stddev"}),
             ("1,440 raw instances, 1 attribute", {**day, "attrs": "intensity"})]
    app = create_app(settings, database=db)
    with TestClient(app) as client:
        check = client.get(path, params=cases[0][1], headers={"Link": LINK}).json()
        assert len(check["intensity"]["avg"]) == 24, check
        for name, params in cases:
            p50, p95 = measure(client, path, params, args.requests)
            print(f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({args.requests} requests)")
    db.dispose()


if __name__ == "__main__":
    main()
