"""The operations room's live feed: what one open room costs the database, per poll.

Builds, in a fresh SQLite file (or the PostgreSQL database of ``--database-url``, which it upgrades;
each run uses its own ids), ``--entities`` sensors (traffic detectors by default, 10,000) with a
first reading each, through ``ingest.ingest``; then plays ``--rounds`` rounds where ``--changes``
of them send a reading (a city of 10,000 sensors reading once a minute makes ~170 a second) and an
operations room's feed polls once. Prints:

1. the poll of a busy feed (the round's changes to find, state, send): p50 / p95;
2. the poll of an idle feed (nothing changed): p50 / p95;
3. the first load (snapshot of every sensor, as GeoJSON): one figure;
4. whether every change of every round reached the feed (it must: 0 missed).

Run: `.venv/bin/python bench/operations.py [--entities 10000] [--changes 170] [--rounds 50]
[--database-url URL]`
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from parvis.kernel.db import Database, utcnow
from parvis.migrations import upgrade
from parvis.modules.sensors import actions, ingest, live
from parvis.settings import Settings

MAPPING = {"s": "averageVehicleSpeed", "f": "intensity"}


def build(db: Database, settings: Settings, run: str, count: int) -> list[str]:
    devices = [f"ops-{run}-{n}" for n in range(count)]
    specs = [actions.DeviceSpec(api_key="bench", device_id=d,
                                entity_id=f"urn:ngsi-ld:TrafficFlowObserved:{d}",
                                entity_type="TrafficFlowObserved", attributes=MAPPING,
                                lon=104.9 + (n % 100) * 0.001, lat=11.55 + (n // 100) * 0.001,
                                static={"freeFlowSpeed": 40.0})
             for n, d in enumerate(devices)]
    for start in range(0, len(specs), 1000):
        actions.provision_devices(db, specs[start:start + 1000])
    at = utcnow() - timedelta(minutes=30)
    send(db, settings, devices, at)
    return devices


def send(db: Database, settings: Settings, devices: list[str], at: datetime) -> None:
    for start in range(0, len(devices), 1000):
        batch = [ingest.Message(api_key="bench", device_id=d, body=orjson.dumps(
            {"s": 5.0 + (hash((d, at)) % 350) / 10, "f": 20, "t": at.isoformat()}), received_at=at)
            for d in devices[start:start + 1000]]
        ingest.ingest(db, settings, batch)


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.1f} / {p95 * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=170)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="parvis-bench-ops-"))
    url = args.database_url or f"sqlite:///{folder / 'parvis.db'}"
    upgrade(url)
    settings = Settings(_env_file=None, database_url=url, data_dir=folder)  # type: ignore[call-arg]
    db = Database(url)
    run = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    devices = build(db, settings, run, args.entities)
    print(f"{db.dialect}: {args.entities} sensors built in {time.perf_counter() - started:.1f} s")

    with db.read() as session:
        overlap = timedelta(seconds=settings.sensors_operations_overlap_seconds)
        feed = live.Feed(live.cursor_now(session), overlap)
        while feed.poll(session):  # the window behind the first cursor, sent once
            pass
    busy, idle, missed = [], [], 0
    base = utcnow()
    for n in range(args.rounds):
        changed = [devices[(n * args.changes + k) % len(devices)] for k in range(args.changes)]
        send(db, settings, changed, base + timedelta(seconds=n + 1))
        with db.read() as session:
            t0 = time.perf_counter()
            got = feed.poll(session)
            busy.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert feed.poll(session) == []
            idle.append(time.perf_counter() - t0)
        ids = {f["id"].rsplit(":", 1)[-1] for f in got}
        missed += len(set(changed) - ids)
    with db.read() as session:
        t0 = time.perf_counter()
        snapshot = live.snapshot(session)
        first = time.perf_counter() - t0
    print(f"busy poll ({args.changes} changes of {args.entities}): p50 / p95 {ms(busy)}")
    print(f"idle poll: p50 / p95 {ms(idle)}")
    print(f"first load ({len(snapshot['features'])} features, {len(orjson.dumps(snapshot)) // 1024} KiB): "
          f"{first * 1000:.0f} ms")
    print(f"changes missed by the feed: {missed} of {args.rounds * args.changes}")
    db.dispose()


if __name__ == "__main__":
    main()
