"""Hourly and daily aggregates, retention of raw observations and the weekday profile, on both
databases: rollups equal a direct computation, late readings fold in, re-runs change nothing."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from tests import factories

from parvis.kernel.events import EventBus
from parvis.kernel.jobs import JobRegistry
from parvis.modules import sensors
from parvis.modules.sensors import aggregates, observations
from parvis.modules.sensors.actions import attribute_iri, type_iri
from parvis.modules.sensors.aggregate_models import DailyAggregate, HourlyAggregate
from parvis.modules.sensors.models import Entity, Observation
from parvis.settings import Settings

TZ = "Asia/Ho_Chi_Minh"
PM25 = attribute_iri("pm25")
NO2 = attribute_iri("no2")
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 22:00 in Hanoi: the local day turns at 17:00 UTC


def _entity(db, entity_id: str, kind: str = "AirQualityObserved") -> None:
    with db.transaction() as session:
        session.add(Entity(id=entity_id, type=type_iri(kind), attrs={}))


def _store(db, rows: list[tuple[str, str, datetime, float | str]]) -> None:
    with db.transaction() as session:
        observations.store(session, [
            {"entity_id": e, "attribute": a, "observed_at": at, "value": v,
             "number": float(v) if isinstance(v, int | float) else None} for e, a, at, v in rows])


def _sample(seed: int, start: datetime, hours: int) -> list[tuple[str, str, datetime, float | str]]:
    rng = random.Random(seed)
    rows: list[tuple[str, str, datetime, float | str]] = []
    for entity in ("urn:e:1", "urn:e:2"):
        for attribute in (PM25, NO2):
            for minute in range(0, hours * 60, 7):
                at = start + timedelta(minutes=minute, seconds=rng.randint(0, 59))
                rows.append((entity, attribute, at, round(rng.uniform(0, 200), 3)))
    rows.append(("urn:e:1", PM25, start + timedelta(minutes=3, seconds=1), "broken"))  # not a number
    return rows


def _expected(rows, key) -> dict[tuple, tuple[int, float, float, float]]:
    groups: dict[tuple, list[float]] = defaultdict(list)
    for entity, attribute, at, value in rows:
        if isinstance(value, float):
            groups[(entity, attribute, key(at))].append(value)
    return {k: (len(v), sum(v), min(v), max(v)) for k, v in groups.items()}


def _hourly(db) -> dict[tuple, tuple[int, float, float, float]]:
    with db.read() as session:
        return {(r.entity_id, r.attribute, r.hour): (r.count, r.total, r.minimum, r.maximum)
                for r in session.scalars(select(HourlyAggregate))}


def _daily(db) -> dict[tuple, tuple[int, float, float, float]]:
    with db.read() as session:
        return {(r.entity_id, r.attribute, r.day): (r.count, r.total, r.minimum, r.maximum)
                for r in session.scalars(select(DailyAggregate))}


def _same(found: dict, expected: dict) -> None:
    assert found.keys() == expected.keys()
    for key, (count, total, low, high) in expected.items():
        assert found[key][0] == count, key
        assert found[key][1] == pytest.approx(total), key
        assert (found[key][2], found[key][3]) == pytest.approx((low, high)), key


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _local_day(zone: str):
    return lambda at: at.astimezone(ZoneInfo(zone)).date()


def test_rollup_equals_a_direct_computation_by_utc_hour_and_local_day(db) -> None:
    rows = _sample(1, T0, 4)  # 15:00-19:00 UTC: two local days in Hanoi
    _store(db, rows)
    assert aggregates.rollup(db, TZ, batch=50) > 0  # several transactions of 50 ids
    _same(_hourly(db), _expected(rows, _hour))
    daily = _daily(db)
    _same(daily, _expected(rows, _local_day(TZ)))
    assert {key[2] for key in daily} == {date(2026, 11, 20), date(2026, 11, 21)}
    with db.read() as session:
        assert aggregates.mark(session) == session.scalar(select(func.max(Observation.id)))


def test_a_rerun_changes_nothing_and_late_readings_fold_into_their_hour(db) -> None:
    rows = _sample(2, T0, 3)
    _store(db, rows)
    aggregates.rollup(db, TZ)
    first = _hourly(db), _daily(db)
    assert aggregates.rollup(db, TZ) == 0
    assert (_hourly(db), _daily(db)) == first
    late = [("urn:e:1", PM25, T0 + timedelta(minutes=1, seconds=30), 999.0),  # a new maximum
            ("urn:e:2", NO2, T0 - timedelta(days=2), 5.0)]  # an hour never seen before
    _store(db, late)
    aggregates.rollup(db, TZ)
    expected = _expected(rows + late, _hour)
    _same(_hourly(db), expected)
    assert _hourly(db)[("urn:e:1", PM25, T0)][3] == 999.0
    _same(_daily(db), _expected(rows + late, _local_day(TZ)))
    # a rebuild from the raw data gives the same rows
    aggregates.rebuild(db, TZ, T0 - timedelta(days=3), T0 + timedelta(hours=4))
    _same(_hourly(db), expected)
    _same(_daily(db), _expected(rows + late, _local_day(TZ)))


def test_local_days_follow_summer_time(db) -> None:
    # Paris leaves summer time on 2026-10-25 at 01:00 UTC: 23:30 UTC the day before is 01:30
    # local (UTC+2) of the 25th, 23:30 UTC on the 25th is 00:30 (UTC+1) of the 26th.
    at = [datetime(2026, 10, 24, 21, 30, tzinfo=UTC), datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
          datetime(2026, 10, 25, 22, 30, tzinfo=UTC), datetime(2026, 10, 25, 23, 30, tzinfo=UTC)]
    rows = [("urn:e:1", PM25, when, float(n)) for n, when in enumerate(at)]
    _store(db, rows)
    aggregates.rollup(db, "Europe/Paris")
    assert {k[2]: v[0] for k, v in _daily(db).items()} == {
        date(2026, 10, 24): 1, date(2026, 10, 25): 2, date(2026, 10, 26): 1}


def test_retention_deletes_only_aggregated_observations_past_their_type_retention(db) -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    _entity(db, "urn:traffic", "TrafficFlowObserved")
    _entity(db, "urn:bin", "WasteContainer")
    fill, speed = attribute_iri("fillingLevel"), attribute_iri("averageVehicleSpeed")
    old = [("urn:traffic", speed, now - timedelta(days=20, minutes=m), 30.0) for m in range(5)]
    old += [("urn:bin", fill, now - timedelta(days=20, minutes=m), 0.5) for m in range(5)]
    old += [("urn:bin", fill, now - timedelta(days=40, minutes=m), 0.4) for m in range(5)]
    _store(db, old)
    aggregates.rollup(db, TZ)
    _store(db, [("urn:gone", fill, now - timedelta(days=50), 0.1),  # not yet aggregated
                ("urn:bin", fill, now - timedelta(hours=1), 0.9)])  # recent
    settings = Settings(_env_file=None, sensors_retention_days={"TrafficFlowObserved": 14},  # type: ignore[call-arg]
                        sensors_retention_default_days=30)
    deleted = aggregates.expire(db, settings, now=now, batch=2)
    with db.read() as session:
        left = sorted((e, round((now - at).days)) for e, at in
                      session.execute(select(Observation.entity_id, Observation.observed_at)))
        mark = aggregates.mark(session)
        assert session.get(Observation, mark) is not None  # the row of the mark stays
    # traffic: 14 days (all 5 gone); bins: 30 days (the 40-day-old ones gone but the mark's row);
    # not aggregated yet: kept whatever its age
    assert left == sorted([("urn:bin", 20)] * 5 + [("urn:bin", 40), ("urn:gone", 50), ("urn:bin", 0)])
    assert deleted == 5 + 4
    # the aggregates keep what was deleted
    assert sum(v[0] for k, v in _hourly(db).items() if k[0] == "urn:traffic") == 5


def test_profile_gives_the_median_by_local_weekday_and_hour(db) -> None:
    now = datetime(2026, 11, 30, 5, tzinfo=UTC)  # Monday noon in Hanoi
    zone = ZoneInfo(TZ)

    def readings(weeks_back: range) -> list[tuple[str, str, datetime, float | str]]:
        rows: list[tuple[str, str, datetime, float | str]] = []
        for week in weeks_back:
            for h in range(168):
                hour = now - timedelta(weeks=week + 1) + timedelta(hours=h)
                local = hour.astimezone(zone)
                typical = local.weekday() * 100 + local.hour
                if week == 1 and (local.weekday(), local.hour) == (0, 8):
                    typical = 10_000  # a festival on one Monday morning: the median ignores it
                rows += [("urn:e:1", PM25, hour + timedelta(minutes=10), typical - 1.0),
                         ("urn:e:1", PM25, hour + timedelta(minutes=40), typical + 1.0)]
        return rows

    _store(db, readings(range(1, 3)))  # two and three weeks ago: aggregated
    _store(db, [("urn:e:1", PM25, now - timedelta(weeks=5), 77_777.0)])  # older than asked
    aggregates.rollup(db, TZ)
    _store(db, readings(range(0, 1)))  # last week: raw only, not yet aggregated
    with db.read() as session:
        typical = aggregates.profile(session, "urn:e:1", PM25, weeks=3, now=now)
        assert aggregates.profile(session, "urn:e:1", NO2, weeks=3, now=now) == {}
    assert len(typical) == 168
    assert typical[(0, 8)] == pytest.approx(8)
    assert all(value == pytest.approx(day * 100 + hour) for (day, hour), value in typical.items())


def test_the_worker_rolls_up_new_readings(db) -> None:
    registry = JobRegistry()
    settings = Settings(_env_file=None, timezone=TZ)  # type: ignore[call-arg]
    aggregates.register(registry, EventBus(), db, settings)
    assert len(registry.ticks) == 1
    rows = _sample(3, T0, 1)
    _store(db, rows)
    assert registry.ticks[0](db) == 0  # housekeeping: the worker keeps its idle pace
    _same(_hourly(db), _expected(rows, _hour))


def test_the_demo_city_pages_show_its_sensors(client, db, settings) -> None:
    factories.district(db, "D1", 107.58, 16.46)
    factories.district(db, "D2", 107.60, 16.46)
    assert sensors.provision_demo(db, settings, history_hours=1) > 0  # simulated readings
    aggregates.rollup(db, settings.timezone)
    assert _hourly(db)
    stations = client.get("/api/v1/sensors/air/stations").json()["features"]
    assert len(stations) == 2 and all(f["properties"]["aqi"] is not None for f in stations)
    assert client.get("/air").status_code == 200
    parks = client.get("/api/v1/sensors/parking/facilities").json()["features"]
    assert parks
    lon, lat = parks[0]["geometry"]["coordinates"]
    near = client.get("/api/v1/sensors/parking/near", params={"lon": lon, "lat": lat, "includeFull": "true"})
    assert near.json()["results"][0]["id"] == parks[0]["id"]
    assert client.get("/parking", params={"lon": lon, "lat": lat}).status_code == 200
    assert client.get(f"/parking/{parks[0]['id']}").status_code == 200


def test_a_late_old_reading_is_deleted_once_aggregated(db) -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    fill = attribute_iri("fillingLevel")
    _entity(db, "urn:bin", "WasteContainer")
    settings = Settings(_env_file=None, sensors_retention_days={}, sensors_retention_default_days=30)  # type: ignore[call-arg]
    _store(db, [("urn:bin", fill, now - timedelta(hours=2), 0.5)])
    aggregates.rollup(db, TZ)
    _store(db, [("urn:bin", fill, now - timedelta(days=50), 0.2)])  # late, for an hour long expired
    assert aggregates.expire(db, settings, now=now) == 0  # not aggregated yet
    aggregates.rollup(db, TZ)
    _store(db, [("urn:bin", fill, now - timedelta(hours=1), 0.6)])
    aggregates.rollup(db, TZ)  # the mark moves past the late reading
    assert aggregates.expire(db, settings, now=now) == 1
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Observation)) == 2
    assert _hourly(db)[("urn:bin", fill, _hour(now - timedelta(days=50)))][0] == 1  # kept aggregated


def test_raw_data_kept_longer_than_the_hourly_aggregates_still_expires(db) -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    fill = attribute_iri("fillingLevel")
    _entity(db, "urn:bin", "WasteContainer")
    settings = Settings(_env_file=None, sensors_retention_days={}, sensors_retention_default_days=30,  # type: ignore[call-arg]
                        sensors_hourly_keep_days=10)
    _store(db, [("urn:bin", fill, now - timedelta(days=20, minutes=m), 0.5) for m in range(3)])
    aggregates.rollup(db, TZ)
    assert aggregates.expire(db, settings, now=now) == 0  # 20 days old: kept; its hourly row goes
    _store(db, [("urn:bin", fill, now, 0.6)])
    aggregates.rollup(db, TZ)
    assert aggregates.expire(db, settings, now=now + timedelta(days=15)) == 3  # 35 days old: gone
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Observation)) == 1


def test_a_worker_with_an_older_view_of_the_ids_folds_nothing_twice(db, monkeypatch) -> None:
    rows = _sample(4, T0, 1)
    _store(db, rows)
    aggregates.rollup(db, TZ)  # another worker rolled everything up
    # this one read the highest id before (PostgreSQL reads it apart; SQLite under the lock)
    monkeypatch.setattr(aggregates, "_settled_top", lambda _db: 3)
    assert aggregates.rollup(db, TZ) == 0
    _same(_hourly(db), _expected(rows, _hour))


def test_a_rollup_committing_during_a_read_loses_and_doubles_nothing(db, monkeypatch) -> None:
    """PostgreSQL reads each statement at its own moment: the aggregates and the raw readings not
    yet folded in must be read at one moment, or a rollup in between hides its batch."""
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    rows = [("urn:e:1", PM25, now - timedelta(minutes=m), 10.0) for m in range(1, 4)]
    _store(db, rows[:1])
    aggregates.rollup(db, TZ)
    _store(db, rows[1:])
    real_mark = aggregates.mark

    def rollup_meanwhile(session):  # another worker's rollup commits between two statements
        aggregates.rollup(db, TZ)
        return real_mark(session)

    monkeypatch.setattr(aggregates, "mark", rollup_meanwhile)
    with db.read() as session:
        hours = aggregates.hourly(session, "urn:e:1", PM25, now - timedelta(hours=1), now)
    assert sum(count for count, _total, _low, _high in hours.values()) == 3


def test_retention_batches_go_on_from_the_last_one_not_from_the_start(db) -> None:
    """Rows kept below the expired ones (a type kept longer) are scanned once a run, not once a
    batch: each batch starts after the last id the one before deleted."""
    from sqlalchemy import event

    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    _entity(db, "urn:traffic", "TrafficFlowObserved")
    _entity(db, "urn:bin", "WasteContainer")
    fill, speed = attribute_iri("fillingLevel"), attribute_iri("averageVehicleSpeed")
    _store(db, [("urn:bin", fill, now - timedelta(days=20, minutes=m), 0.5) for m in range(10)])
    _store(db, [("urn:traffic", speed, now - timedelta(days=19, minutes=m), 30.0) for m in range(7)])
    _store(db, [("urn:bin", fill, now, 0.6)])
    aggregates.rollup(db, TZ)
    settings = Settings(_env_file=None, sensors_retention_days={"TrafficFlowObserved": 14},  # type: ignore[call-arg]
                        sensors_retention_default_days=30)
    lows: list[object] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT MAX") and "sensors_observations" in statement:
            values = parameters.values() if isinstance(parameters, dict) else parameters
            lows.append(next(iter(values)))  # the first bound: the id the scan starts after

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert aggregates.expire(db, settings, now=now, batch=2) == 7
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert lows[0] == 0 and lows[1:] == sorted(set(lows[1:])) and min(lows[1:]) > 10
