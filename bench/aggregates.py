"""Sensor aggregates: rollup of raw observations into hourly and daily aggregates, retention,
and the weekday profile.

Builds, in a fresh SQLite file (or the PostgreSQL database of ``--database-url``, which it
upgrades; each run uses its own entity ids and restarts nothing, so a database can be reused):

- ``--entities`` entities (default 100) x 4 attributes x ``--minutes`` minutes of minute data
  (default 1,440: one day, 576,000 observations), bulk inserted;
- eight weeks of hourly aggregates for one entity (1,344 rows), for the profile;

then prints:

1. the first rollup of everything (observations folded per second);
2. an incremental rollup after one more minute of readings of every entity (ms);
3. an incremental rollup after late readings scattered over the day (ms);
4. ``profile()`` of one attribute over eight weeks (p50/p95 of 200 calls);
5. the retention deleting every raw observation of the day (observations deleted per second).

Run: `.venv/bin/python bench/aggregates.py [--entities 100] [--minutes 1440] [--database-url URL]`
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from parvis.kernel.db import Database
from parvis.migrations import upgrade
from parvis.modules.sensors import actions, aggregates
from parvis.modules.sensors.aggregate_models import HourlyAggregate
from parvis.modules.sensors.models import Entity, Observation
from parvis.settings import Settings

DAY = datetime(2026, 11, 1, tzinfo=UTC)
NAMES = ("intensity", "averageVehicleSpeed", "occupancy", "motorcycleIntensity")
TZ = "Asia/Ho_Chi_Minh"


def build(db: Database, run: str, entities: int, minutes: int) -> list[str]:
    ids = [f"urn:ngsi-ld:TrafficFlowObserved:agg-{run}-{n}" for n in range(entities)]
    kind = actions.type_iri("TrafficFlowObserved")
    with db.transaction() as session:
        session.add_all(Entity(id=i, type=kind, attrs={}) for i in ids)
    iris = [actions.attribute_iri(name) for name in NAMES]
    table = Observation.__table__
    for entity in ids:
        rows = [{"entity_id": entity, "attribute": iri, "observed_at": DAY + timedelta(minutes=m),
                 "number": float(m % 97), "value": m % 97} for m in range(minutes) for iri in iris]
        with db.transaction() as session:
            session.execute(table.insert(), rows)
    return ids


def timed(fn, *args, **kwargs) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100)
    parser.add_argument("--minutes", type=int, default=1440)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="parvis-bench-aggregates-"))
    url = args.database_url or f"sqlite:///{folder / 'parvis.db'}"
    upgrade(url)
    db = Database(url)
    run = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    aggregates.rollup(db, TZ)  # what an earlier run left
    ids = build(db, run, args.entities, args.minutes)
    count = args.entities * len(NAMES) * args.minutes
    print(f"engine: {db.engine.dialect.name}; {count:,} observations built in "
          f"{time.perf_counter() - started:.1f} s")

    seconds, _ = timed(aggregates.rollup, db, TZ)
    print(f"1. first rollup: {count:,} observations in {seconds:.2f} s "
          f"({count / seconds:,.0f} observations/s)")

    iris = [actions.attribute_iri(name) for name in NAMES]
    table = Observation.__table__
    now = DAY + timedelta(minutes=args.minutes)
    with db.transaction() as session:
        session.execute(table.insert(), [{"entity_id": e, "attribute": iri, "observed_at": now, "number": 1.0,
                                          "value": 1} for e in ids for iri in iris])
    seconds, _ = timed(aggregates.rollup, db, TZ)
    print(f"2. incremental rollup, one minute of {len(ids) * len(iris):,} readings: {seconds * 1000:.1f} ms")

    rng = random.Random(1)
    late = [{"entity_id": rng.choice(ids), "attribute": rng.choice(iris),
             "observed_at": DAY + timedelta(minutes=rng.randrange(args.minutes), seconds=30), "number": 5.0,
             "value": 5} for _ in range(1000)]
    unique = list({(r["entity_id"], r["attribute"], r["observed_at"]): r for r in late}.values())
    with db.transaction() as session:
        session.execute(table.insert(), unique)
    seconds, _ = timed(aggregates.rollup, db, TZ)
    print(f"3. incremental rollup, {len(unique):,} late readings over the day: {seconds * 1000:.1f} ms")

    target, iri = ids[0], iris[0]
    start = DAY - timedelta(weeks=8)
    with db.transaction() as session:
        session.execute(HourlyAggregate.__table__.insert(), [
            {"entity_id": target, "attribute": iri, "hour": start + timedelta(hours=h), "count": 60,
             "total": 60.0 * (h % 24), "minimum": 0.0, "maximum": 99.0} for h in range(8 * 168)])
    times = []
    with db.read() as session:
        for _ in range(200):
            seconds, typical = timed(aggregates.profile, session, target, iri, weeks=8, timezone=TZ,
                                     now=DAY + timedelta(days=1))
            times.append(seconds * 1000)
    times.sort()
    print(f"4. profile over 8 weeks ({len(typical):,} slots): p50 {statistics.median(times):.1f} ms, "  # type: ignore[arg-type]
          f"p95 {times[int(len(times) * 0.95) - 1]:.1f} ms")

    settings = Settings(_env_file=None, database_url=url, sensors_retention_days={},  # type: ignore[call-arg]
                        sensors_retention_default_days=1, sensors_hourly_keep_days=3650)
    with db.read() as session:
        before = session.scalar(select(func.count()).select_from(Observation))
    seconds, deleted = timed(aggregates.expire, db, settings, now=DAY + timedelta(days=30),
                             max_batches=10_000)
    print(f"5. retention: {deleted:,} of {before:,} observations deleted in {seconds:.2f} s "
          f"({deleted / seconds:,.0f} observations/s)")  # type: ignore[operator]
    db.dispose()


if __name__ == "__main__":
    main()
