"""NGSI-LD API at city scale: builds 100,000 entities (4 types over a 16 km x 16 km city), then
measures and prints

1. query by type + ``q`` + ``georel=near;maxDistance==1000`` (the issue's figure, target p95 < 50 ms);
2. query by type only, 100 entities a page (the anchor's "typed query");
3. query by type + ``q`` over the whole city with ``count=true`` (every entity of the type tested);
4. single-entity partial updates (``PATCH /entities/{id}/attrs``) over HTTP, 16 clients
   (target >= 2,000/s);
5. batch upserts (``POST /entityOperations/upsert?options=update``, 1,000 entities a request,
   4 clients): entity updates/s (target >= 50,000/s), each batch a run of neighbouring ids of one
   type (as an IoT agent or a platform sends its devices' readings);
6. the same with each batch's 1,000 entities drawn at random among the type's 25,000 (the pages a
   batch rewrites are then spread over the whole type: the harder case on SQLite).

Queries 1-3 go through the ASGI app in this process; 4-5 through a real ``parvis serve`` with
``--workers`` web processes (default 2), each a single-process server on its own loopback port,
the clients spread evenly over them (as a proxy's round robin does).

Run: `.venv/bin/python bench/ngsi.py [--entities 100000] [--database-url URL] [--seconds 10]`
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from parvis.app import create_app
from parvis.kernel.db import Database
from parvis.migrations import upgrade
from parvis.modules.sensors import actions
from parvis.modules.sensors.models import Entity
from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards import ngsi_ld
from parvis.settings import Settings
from serving import database_pids, http_load, p95, process_cpu, request_bytes, serve

KEY = "bench-ngsi-key"
LINK = ('<https://smartdatamodels.org/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; '
        'type="application/ld+json"')
HEADERS = {"X-Api-Key": KEY, "Link": LINK}
WEST, SOUTH, EAST, NORTH = 104.85, 11.48, 105.00, 11.63  # about 16 km x 16 km
TYPES = {"AirQualityObserved": ("pm25", "no2"),
         "OffStreetParking": ("availableSpotNumber", "totalSpotNumber"),
         "WasteContainer": ("fillingLevel", "temperature"),
         "TrafficFlowObserved": ("intensity", "averageVehicleSpeed")}
CLIENTS = 16
BATCH = 1000


def build(db: Database, count: int) -> None:
    """``count`` entities, a quarter of each type, at random places, inserted in bulk."""
    rng = random.Random(5)
    stamp = datetime(2026, 11, 30, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    iris = {name: actions.attribute_iri(name) for attrs in TYPES.values() for name in attrs}
    table = Entity.__table__
    rows = []
    for n in range(count):
        kind = list(TYPES)[n % len(TYPES)]
        lon, lat = rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH)
        point = {"type": "Point", "coordinates": [lon, lat]}
        attrs = {iris[name]: {"type": "Property", "value": round(rng.uniform(0, 100), 1),
                              "createdAt": stamp, "modifiedAt": stamp} for name in TYPES[kind]}
        attrs[actions.attribute_iri("location")] = {"type": "GeoProperty", "value": point,
                                                    "createdAt": stamp, "modifiedAt": stamp}
        rows.append({"id": f"urn:ngsi-ld:{kind}:bench-{n}", "type": actions.type_iri(kind),
                     "created_at": datetime.now(UTC), "modified_at": datetime.now(UTC),
                     "lon_min": lon, "lat_min": lat, "lon_max": lon, "lat_max": lat,
                     "location": point, "attrs": attrs})
        if len(rows) == 5000:
            with db.transaction() as session:
                session.execute(table.insert(), rows)
            rows = []
    if rows:
        with db.transaction() as session:
            session.execute(table.insert(), rows)


def timed(client: TestClient, params_of: list[dict[str, str]]) -> tuple[float, float, int]:
    """p50 and p95 (ms) of GET /entities over the parameter sets, and the median result size."""
    for params in params_of[:10]:
        assert client.get("/ngsi-ld/v1/entities", params=params, headers=HEADERS).status_code == 200
    times, sizes = [], []
    for params in params_of:
        t0 = time.perf_counter()
        response = client.get("/ngsi-ld/v1/entities", params=params, headers=HEADERS)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.text
        sizes.append(len(response.json()))
    times.sort()
    sizes.sort()
    return times[len(times) // 2] * 1000, p95(times), sizes[len(sizes) // 2]


def patch_requests(count: int) -> Callable[[int], Iterator[bytes]]:
    """Client n's partial updates: pm25 of a random AirQualityObserved."""
    def requests(n: int) -> Iterator[bytes]:
        rng = random.Random(n)
        while True:
            entity = f"urn:ngsi-ld:AirQualityObserved:bench-{rng.randrange(0, count, 4)}"
            body = orjson.dumps({"pm25": {"type": "Property", "value": round(rng.uniform(5, 20), 1)}})
            yield request_bytes("PATCH", f"/ngsi-ld/v1/entities/{entity}/attrs", HEADERS, body)
    return requests


def batch_body(names: list[str], rng: random.Random) -> bytes:
    """A batch of AirQualityObserved (``urn:ngsi-ld:AirQualityObserved:<name>``), a new pm25 each."""
    return orjson.dumps([{"id": f"urn:ngsi-ld:AirQualityObserved:{name}", "type": "AirQualityObserved",
                          "pm25": {"type": "Property", "value": round(rng.uniform(5, 20), 1)}}
                         for name in names])


def upsert_requests(count: int, spread: bool = False) -> Callable[[int], Iterator[bytes]]:
    """Client n's batches: 1,000 AirQualityObserved from a random place in the id range, or
    (``spread``) drawn at random among all of them (16 prepared bodies a client, sent in turn:
    building 1,000 entities is the client's work, not the server's)."""
    def requests(n: int) -> Iterator[bytes]:
        rng = random.Random(n)
        prepared = []
        for _ in range(16):
            first = rng.randrange(0, count - 4 * BATCH, 4)
            numbers = (rng.sample(range(0, count, 4), BATCH) if spread else
                       [first + 4 * i for i in range(BATCH)])
            body = batch_body([f"bench-{k}" for k in numbers], rng)
            prepared.append(request_bytes("POST", "/ngsi-ld/v1/entityOperations/upsert?options=update",
                                          HEADERS, body))
        while True:
            yield from prepared
    return requests


Load = tuple[dict[int, int], list[float], float]  # statuses, latencies, elapsed seconds


def run_patch_load(bases: list[str], count: int, seconds: float) -> Load:
    return asyncio.run(http_load(bases, patch_requests(count), CLIENTS, seconds))


def run_upsert_load(bases: list[str], count: int, seconds: float) -> Load:
    return asyncio.run(http_load(bases, upsert_requests(count), 4, seconds))


def run_spread_upsert_load(bases: list[str], count: int, seconds: float) -> Load:
    return asyncio.run(http_load(bases, upsert_requests(count, spread=True), 4, seconds))


def _errors(statuses: dict[int, int], ok: int) -> int:
    return sum(n for status, n in statuses.items() if status != ok)


def cpu_probe() -> float:
    """Milliseconds to decode and check a batch of 1,000 entities in this process (the median of
    20): pure Python, so it says how fast the machine is at the moment. On the 2-core development
    machine the same work took from 3.2 to 6.3 ms within an hour (2026-11-30), and the write
    figures moved with it (docs/sensors-write-performance.md)."""
    ctx = ldctx.shipped(ldctx.SDM_CONTEXT_URL)
    body = batch_body([f"probe-{i}" for i in range(BATCH)], random.Random(0))
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        for item in ngsi_ld.loads(body):
            ngsi_ld.parse_entity(item, ctx)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="parvis-bench-ngsi-"))
    url = args.database_url or f"sqlite:///{folder / 'parvis.db'}"
    upgrade(url)
    settings = Settings(_env_file=None, database_url=url, secret_key="bench-secret",  # type: ignore[call-arg]
                        data_dir=folder)
    db = Database(url)
    with db.read() as session:
        have = session.scalar(select(func.count()).select_from(Entity)
                              .where(Entity.id.like("%:bench-%"))) or 0
    started = time.perf_counter()
    if have != args.entities:
        if have:
            raise SystemExit(f"the database holds {have} bench entities, not {args.entities}: "
                             "use an empty one")
        build(db, args.entities)
    actions.issue_api_key(db, "bench", KEY, read=True, write=True) if not have else None
    print(f"engine: {db.dialect}; {args.entities:,} entities ready in {time.perf_counter() - started:.1f} s; "
          f"CPU probe {cpu_probe():.1f} ms (the machine's speed now: see cpu_probe)")
    rng = random.Random(9)

    def near() -> dict[str, str]:
        lon, lat = rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH)
        return {"type": "AirQualityObserved", "q": "pm25>35", "georel": "near;maxDistance==1000",
                "geometry": "Point", "coordinates": f"[{lon:.5f},{lat:.5f}]"}

    app = create_app(settings, database=db)
    with TestClient(app) as client:
        cases = [("1. type + q + near (1 km)", [near() for _ in range(args.requests)]),
                 ("2. type only, 100 a page",
                  [{"type": kind, "limit": "100", "offset": str(rng.randrange(0, args.entities // 4 - 100))}
                   for kind in list(TYPES) * (args.requests // 4)]),
                 ("3. type + q, whole city, count=true",
                  [{"type": "AirQualityObserved", "q": f"pm25>{rng.randrange(50, 99)}", "count": "true"}
                   for _ in range(max(20, args.requests // 10))])]
        for label, params in cases:
            p50, p95_ms, size = timed(client, params)
            print(f"{label}: p50 {p50:.1f} ms, p95 {p95_ms:.1f} ms (median {size} entities returned, "
                  f"{len(params)} requests)")
    # one single-process server per web process, the clients spread evenly over them: behind one
    # shared socket, which process accepts each of 4 long-lived connections is left to chance
    # (2-2, 3-1 or 4-0), and the batch figure with it (25,000 or 45,000/s in one hour's runs)
    env = {"PARVIS_DATABASE_URL": url, "PARVIS_DATA_DIR": str(folder)}
    servers = [serve(env, folder, 1, f"serve-{n}.log") for n in range(args.workers)]
    bases = [base for _server, base in servers]
    try:
        context = multiprocessing.get_context("spawn")
        def loaded(load: Callable[[list[str], int, float], Load]) -> tuple[Load, float]:
            """The load's outcome, and the server's CPU: web processes, and PostgreSQL's backends
            (those that started during the load count whole)."""
            def cpu() -> dict[int, float]:
                pids = [server.pid for server, _base in servers] + database_pids(db)
                return {pid: process_cpu(pid) for pid in pids}

            before = cpu()
            with context.Pool(1) as pool:
                outcome = pool.apply(load, (bases, args.entities, args.seconds))
            return outcome, sum(t - before.get(pid, 0.0) for pid, t in cpu().items())

        (statuses, lat, elapsed), cpu = loaded(run_patch_load)
        done = statuses.get(204, 0)
        print(f"4. partial updates over HTTP, {CLIENTS} clients, {args.workers} web processes: "
              f"{done / elapsed:,.0f}/s, p95 {p95(lat):.0f} ms, {_errors(statuses, 204)} errors; "
              f"server CPU {cpu / max(done, 1) * 1e6:,.0f} µs an update")
        for label, load in (("5. batch upsert", run_upsert_load),
                            ("6. batch upsert, entities drawn across the type", run_spread_upsert_load)):
            (statuses, lat, elapsed), cpu = loaded(load)
            done = statuses.get(204, 0)
            print(f"{label} ({BATCH} entities a request, 4 clients): "
                  f"{done * BATCH / elapsed:,.0f} entity updates/s, "
                  f"p95 {p95(lat):.0f} ms a request, {_errors(statuses, 204)} errors; "
                  f"server CPU {cpu / max(done, 1) * 1000:.1f} ms a request")
    finally:
        for server, _base in servers:
            server.terminate()
        for server, _base in servers:
            server.wait(timeout=10)
        db.dispose()


if __name__ == "__main__":
    main()
