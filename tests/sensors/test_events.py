"""Events the hub raises from sensor values: congestion to mobility, pollutants to environment,
with hysteresis, one open event per entity (and pollutant); alert drafts from air-quality events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select

from parvis.kernel.events import Event
from parvis.modules.sensors import actions, events, ingest, rules, traffic
from parvis.modules.sensors.event_models import SensorEvent
from parvis.modules.sensors.models import Observation
from parvis.settings import Settings

KEY = "k-test"
T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
SEGMENT = "urn:ngsi-ld:TrafficFlowObserved:seg-1"
STATION = "urn:ngsi-ld:AirQualityObserved:st-1"


def _settings(**overrides) -> Settings:
    return Settings(_env_file=None, secret_key="x", **overrides)  # type: ignore[call-arg]


@pytest.fixture
def hub(db):
    """A road segment (free flow 40 km/h) and an air-quality station, fed as devices are."""
    rules.configure(db, _settings())
    actions.provision_device(db, api_key=KEY, device_id="seg-1", entity_id=SEGMENT,
                             entity_type="TrafficFlowObserved", attributes={"s": "averageVehicleSpeed"},
                             lon=107.58, lat=16.46, static={"freeFlowSpeed": 40, "name": "Lê Lợi"})
    actions.provision_device(db, api_key=KEY, device_id="st-1", entity_id=STATION,
                             entity_type="AirQualityObserved",
                             attributes={"p": "pm25", "n": "no2", "N": "NO2"}, lon=107.59, lat=16.47)
    return db


def send(db, device: str, minute: int, **measures) -> None:
    body = orjson.dumps({**measures, "t": (T0 + timedelta(minutes=minute)).isoformat()})
    outcome = ingest.ingest(db, _settings(), [ingest.Message(KEY, device, body, T0 + timedelta(minutes=minute))])
    assert outcome.dead == 0, outcome.reasons


def rows(db) -> list[SensorEvent]:
    with db.read() as session:
        return list(session.scalars(select(SensorEvent).order_by(SensorEvent.id)))


def test_congestion_opens_at_level_e_and_clears_only_after_three_calm_readings(hub):
    send(hub, "seg-1", 0, s=30)  # B
    send(hub, "seg-1", 1, s=17)  # D: under the raise level
    assert rows(hub) == []
    send(hub, "seg-1", 2, s=15)  # E (15/40 = 0.375): raised
    [event] = rows(hub)
    assert (event.kind, event.department, event.level, event.cleared_at) == ("congestion", "mobility", "E", None)
    assert event.raised_at == T0 + timedelta(minutes=2) and event.label == "Lê Lợi"
    assert event.location == {"type": "Point", "coordinates": [107.58, 16.46]}
    send(hub, "seg-1", 3, s=6)  # F: the same event, worse
    send(hub, "seg-1", 4, s=18)  # D: between the levels, stays open
    send(hub, "seg-1", 5, s=30)  # B: calm 1
    send(hub, "seg-1", 6, s=18)  # D again: the calm count starts over
    send(hub, "seg-1", 7, s=30)
    send(hub, "seg-1", 8, s=30)
    [event] = rows(hub)
    assert event.cleared_at is None and event.level == "B" and event.severity == "severe"
    assert event.peak == pytest.approx(6.67)  # the worst index seen: 40 / 6 km/h
    send(hub, "seg-1", 9, s=35)  # third calm reading in a row: cleared
    [event] = rows(hub)
    assert event.cleared_at == T0 + timedelta(minutes=9)
    send(hub, "seg-1", 10, s=10)  # a new jam: a new event
    assert [e.cleared_at is None for e in rows(hub)] == [False, True]
    with hub.read() as session:
        assert [e.kind for e in events.open_events(session, department="mobility")] == ["congestion"]
        assert events.open_events(session, department="environment") == []


def test_hysteresis_settings_change_the_levels_and_the_readings(db):
    rules.configure(db, _settings(sensors_congestion_raise_level="F", sensors_congestion_clear_level="D",
                                  sensors_event_clear_readings=1))
    actions.provision_device(db, api_key=KEY, device_id="seg-1", entity_id=SEGMENT,
                             entity_type="TrafficFlowObserved", attributes={"s": "averageVehicleSpeed"},
                             lon=107.58, lat=16.46, static={"freeFlowSpeed": 40})
    send(db, "seg-1", 0, s=15)  # E: not enough any more
    assert rows(db) == []
    send(db, "seg-1", 1, s=12)  # 0.30 of free flow: F
    send(db, "seg-1", 2, s=17)  # D: one calm reading is enough
    [event] = rows(db)
    assert event.cleared_at == T0 + timedelta(minutes=2) and event.threshold == pytest.approx(3.33, abs=0.01)


def test_clearing_can_also_wait_for_minutes(db):
    rules.configure(db, _settings(sensors_event_clear_readings=1, sensors_event_clear_minutes=5))
    actions.provision_device(db, api_key=KEY, device_id="seg-1", entity_id=SEGMENT,
                             entity_type="TrafficFlowObserved", attributes={"s": "averageVehicleSpeed"},
                             static={"freeFlowSpeed": 40})
    send(db, "seg-1", 0, s=5)
    send(db, "seg-1", 1, s=38)
    send(db, "seg-1", 4, s=38)
    assert rows(db)[0].cleared_at is None
    send(db, "seg-1", 6, s=38)
    assert rows(db)[0].cleared_at == T0 + timedelta(minutes=6)


def test_each_pollutant_over_its_threshold_raises_its_own_environment_event(hub, monkeypatch):
    send(hub, "st-1", 0, p=30, n=80)
    assert rows(hub) == []
    send(hub, "st-1", 1, p=62.5, n=210)  # PM2.5 over 50 and NO2 over 200 (QCVN 05:2023)
    opened = rows(hub)
    assert sorted((e.key, e.department, e.threshold) for e in opened) == [
        ("no2", "environment", 200.0), ("pm25", "environment", 50.0)]
    send(hub, "st-1", 2, p=120, n=170)  # PM2.5 more than twice its threshold: severe
    by_key = {e.key: e for e in rows(hub)}
    assert by_key["pm25"].severity == "severe" and by_key["pm25"].peak == 120
    assert by_key["no2"].cleared_at is None  # 170 is not under 80 % of 200
    for minute in (3, 4, 5):
        send(hub, "st-1", minute, p=45, n=100)  # PM2.5 under 50 but not under 40: stays open
    by_key = {e.key: e for e in rows(hub)}
    assert by_key["pm25"].cleared_at is None and by_key["no2"].cleared_at == T0 + timedelta(minutes=5)
    from parvis.kernel import i18n

    monkeypatch.setattr(i18n, "_fallback", i18n.Translator("en"))  # the msgids, not the catalogs
    with hub.read() as session:
        [view] = events.open_events(session)
        assert view.summary.startswith("PM2.5 at 45") and view.entity_type == "AirQualityObserved"


def test_the_smart_data_models_name_of_a_pollutant_counts_too(hub):
    send(hub, "st-1", 0, N=260)
    assert [(e.key, e.value) for e in rows(hub)] == [("no2", 260.0)]


def test_one_open_event_per_entity_even_when_two_batches_say_so(hub):
    send(hub, "seg-1", 0, s=5)
    send(hub, "seg-1", 1, s=4)
    with hub.read() as session:
        assert session.scalar(select(func.count()).select_from(SensorEvent)) == 1


def test_an_event_another_process_raised_meanwhile_does_not_fail_the_write(hub, monkeypatch):
    """Two writers raise the same event at once (PostgreSQL: neither sees the other's row before
    it commits): the second one's readings are stored all the same, and one event stays open."""
    send(hub, "seg-1", 0, s=5)  # the other process's event
    monkeypatch.setattr(rules, "_open_rows", lambda session, ids: {})  # read before it committed
    send(hub, "seg-1", 1, s=4)  # refused if its event's insert failed the transaction
    send(hub, "st-1", 1, p=300)  # raised
    send(hub, "st-1", 2, p=301, n=500)  # PM2.5's event exists, NO₂'s is new: it alone is added
    with hub.read() as session:
        assert sorted((e.kind, e.key) for e in events.open_events(session)) == [
            ("air_quality", "no2"), ("air_quality", "pm25"), ("congestion", "")]
        assert session.scalar(select(func.count()).select_from(SensorEvent)) == 3
        stored = session.scalar(select(func.count()).select_from(Observation))
    assert stored == 5  # every reading: 2 speeds, 2 PM2.5, 1 NO₂


def test_a_late_reading_does_not_clear_or_change_an_event(hub):
    send(hub, "seg-1", 10, s=5)
    for minute in (1, 2, 3):
        send(hub, "seg-1", minute, s=39)
    [event] = rows(hub)
    assert event.cleared_at is None and event.level == "F"


def test_the_same_reading_written_again_is_not_another_calm_reading(hub):
    """An NGSI-LD client retrying a request, or an operator correcting the free-flow speed, writes
    the segment without a new speed reading: the calm readings in a row are not counted again."""
    send(hub, "seg-1", 0, s=5)  # raised
    send(hub, "seg-1", 1, s=39)  # calm 1
    for free_flow in (41, 40, 41):  # the same speed reading (minute 1) each time
        actions.update_attributes(hub, SEGMENT, {traffic.FREE_FLOW: {"type": "Property", "value": free_flow}})
    [event] = rows(hub)
    assert event.cleared_at is None and event.calm_count == 1


def test_raising_emits_an_event_after_commit_and_deleting_the_entity_clears(hub):
    seen: list[Event] = []
    hub.bus.subscribe(rules.RAISED, seen.append)
    send(hub, "seg-1", 0, s=5)
    assert [e.payload["entity_id"] for e in seen] == [SEGMENT]
    assert seen[0].payload["lon"] == 107.58 and seen[0].payload["kind"] == "congestion"
    actions.delete_entity(hub, SEGMENT)
    assert rows(hub)[0].cleared_at is not None


def test_the_worker_relays_a_raised_event_only_while_it_is_open(hub):
    from parvis.kernel.db import Database
    from parvis.kernel.jobs import JobRegistry, Worker

    rules.configure(hub, _settings(sensors_event_clear_readings=1))
    worker_db = Database(hub.url)  # another process: its own bus, where other modules listen
    registry = JobRegistry()
    rules.register(registry, worker_db.bus, worker_db, _settings())
    seen: list[Event] = []
    worker_db.bus.subscribe(rules.RAISED, seen.append)
    try:
        send(hub, "seg-1", 0, s=5)
        Worker(worker_db, registry).run_once()
        assert [e.payload["entity_id"] for e in seen] == [SEGMENT]
        send(hub, "seg-1", 1, s=40)  # cleared
        send(hub, "seg-1", 2, s=5)  # raised again, then cleared before the worker runs
        send(hub, "seg-1", 3, s=40)
        Worker(worker_db, registry).run_once()
        assert len(seen) == 1
    finally:
        worker_db.dispose()


def test_the_database_refuses_a_second_open_event_for_the_same_entity_and_pollutant(db):
    from sqlalchemy.exc import IntegrityError

    def event(key: str, cleared: bool = False) -> SensorEvent:
        return SensorEvent(kind="air_quality", key=key, department="environment", entity_id=STATION,
                           entity_type="AirQualityObserved", label="", severity="moderate", raised_at=T0,
                           updated_at=T0, calm_count=0, cleared_at=T0 if cleared else None)

    with db.transaction() as session:  # cleared ones do not count; another pollutant is another event
        session.add_all([event("pm25", cleared=True), event("pm25", cleared=True), event("pm25"), event("no2")])
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(event("pm25"))


def test_a_clear_level_not_under_the_raise_level_clears_one_level_under_it():
    config = rules.Config.of(_settings(sensors_congestion_raise_level="D", sensors_congestion_clear_level="E"))
    assert (config.raise_rank, config.clear_rank) == (3, 2)  # D raises, C clears
