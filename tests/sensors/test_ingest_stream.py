"""Ingestion at stream speed keeps its meaning: devices' provisioning followed, repeats found
whichever path wrote first, every changed entity handed to the hub's reactions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from sqlalchemy import func, select

from parvis.modules import sensors
from parvis.modules.sensors import actions, changes, ingest
from parvis.modules.sensors.ingest import Message
from parvis.modules.sensors.models import DeadLetter, Entity, Observation

NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
FLOW = {"f": "intensity", "s": "averageVehicleSpeed"}


def _entity(n: int) -> str:
    return f"urn:ngsi-ld:TrafficFlowObserved:seg-{n}"


def _provision(db, n: int, attributes: dict[str, str] = FLOW) -> None:
    sensors.provision_device(db, api_key="k3y", device_id=f"det-{n}", entity_id=_entity(n),
                             entity_type="TrafficFlowObserved", attributes=attributes, lon=107.58, lat=16.46)


def _msg(n: int, body: dict, at: datetime = NOW) -> Message:
    return Message(api_key="k3y", device_id=f"det-{n}", body=orjson.dumps(body), received_at=at)


def _attributes(db, n: int) -> dict[str, float | None]:
    """The stored observations of an entity: attribute name -> number."""
    with db.read() as session:
        return {a.rsplit("/", 1)[-1]: v for a, v in session.execute(
            select(Observation.attribute, Observation.number).where(Observation.entity_id == _entity(n)))}


def _count(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Observation)) or 0


def test_a_device_provisioned_after_its_first_message_is_stored_from_its_next_one(db, settings):
    _provision(db, 1)
    first = ingest.ingest(db, settings, [_msg(1, {"f": 1}), _msg(2, {"f": 2})])
    assert first.reasons == {"unknown_device": 1}
    _provision(db, 2)
    second = ingest.ingest(db, settings, [_msg(2, {"f": 3}, NOW + timedelta(seconds=1))])
    assert (second.stored, second.dead) == (1, 0)
    assert _attributes(db, 2) == {"intensity": 3.0}


def test_a_device_provisioned_again_over_http_is_followed_at_once(client, db, keys, w):
    def provision(mapping: dict[str, str]) -> None:
        device = {"device_id": "det-1", "apikey": "k3y", "entity_name": _entity(1),
                  "entity_type": "TrafficFlowObserved",
                  "attributes": [{"object_id": k, "name": v} for k, v in mapping.items()]}
        assert client.post("/iot/devices", json={"devices": [device]}, headers=w).status_code == 201

    def post(value: float, minute: int) -> object:
        t = (datetime.now(UTC) - timedelta(minutes=10 - minute)).isoformat()
        return client.post("/iot/json?k=k3y&i=det-1", json={"f": value, "t": t})

    provision({"f": "intensity"})
    assert post(10, 0).status_code == 200
    provision({"f": "occupancy"})
    assert post(0.5, 1).status_code == 200
    assert _attributes(db, 1) == {"intensity": 10.0, "occupancy": 0.5}
    assert client.delete("/iot/devices/det-1", headers=w).status_code == 204
    assert post(1, 2).status_code == 404  # no such device any more


def test_without_the_cache_a_listener_follows_provisioning_at_once(db, settings):
    settings = settings.model_copy(update={"sensors_device_cache_seconds": 0.0})
    _provision(db, 1, {"f": "intensity"})
    ingest.ingest(db, settings, [_msg(1, {"f": 10})])
    _provision(db, 1, {"f": "occupancy"})  # as by another process: this one is not told
    ingest.ingest(db, settings, [_msg(1, {"f": 0.5}, NOW + timedelta(minutes=1))])
    assert _attributes(db, 1) == {"intensity": 10.0, "occupancy": 0.5}


def test_a_running_listener_follows_a_device_provisioned_elsewhere_within_the_cache_time(db, settings):
    hour = settings.model_copy(update={"sensors_device_cache_seconds": 3600})
    _provision(db, 1, {"f": "intensity"})
    ingest.ingest(db, hour, [_msg(1, {"f": 10})])
    _provision(db, 1, {"f": "occupancy"})
    ingest.ingest(db, hour, [_msg(1, {"f": 11}, NOW + timedelta(minutes=1))])  # not yet
    time.sleep(0.06)
    moment = settings.model_copy(update={"sensors_device_cache_seconds": 0.05})  # this much has passed
    ingest.ingest(db, moment, [_msg(1, {"f": 0.5}, NOW + timedelta(minutes=2))])
    with db.read() as session:
        kept = sorted((a.rsplit("/", 1)[-1], n) for a, n in session.execute(
            select(Observation.attribute, Observation.number)))
    assert kept == [("intensity", 10.0), ("intensity", 11.0), ("occupancy", 0.5)]


@pytest.mark.parametrize("device_first", [True, False])
def test_an_observation_is_stored_once_whichever_path_wrote_it_first(db, settings, device_first):
    """The device's reading and an NGSI-LD write of the same value at the same time."""
    _provision(db, 1)
    at = datetime(2026, 11, 29, 0, 59, 30, 250000, tzinfo=UTC)
    iri = actions.attribute_iri("intensity")
    ngsi = {iri: {"type": "Property", "value": 12, "observedAt": at.isoformat().replace("+00:00", "Z")}}
    reading = _msg(1, {"f": 12, "t": at.astimezone(timezone(timedelta(hours=7))).isoformat()})
    if device_first:
        assert ingest.ingest(db, settings, [reading]).stored == 1
        actions.append_attributes(db, _entity(1), ngsi)
    else:
        actions.append_attributes(db, _entity(1), ngsi)
        again = ingest.ingest(db, settings, [reading])
        assert (again.stored, again.repeated) == (0, 1)
    assert _count(db) == 1


def test_every_entity_whose_values_changed_is_handed_to_the_reactions(db, settings, monkeypatch):
    seen: list[changes.Change] = []
    monkeypatch.setattr(changes, "reactions", lambda: [lambda _session, batch: seen.extend(batch)])
    for n in (1, 2, 3):
        _provision(db, n)
    ingest.ingest(db, settings, [_msg(3, {"f": 9, "t": "2026-11-29T08:00:00+07:00"})])
    seen.clear()
    ingest.ingest(db, settings, [
        _msg(1, {"f": 5, "s": 40, "t": "2026-11-29T07:58:00+07:00"}),
        _msg(1, {"f": 6, "t": "2026-11-29T07:59:00+07:00"}),  # newer: its intensity wins
        _msg(2, {"s": 31, "t": "2026-11-29T07:59:00+07:00"}),
        _msg(3, {"f": 1, "t": "2026-11-29T07:00:00+07:00"}),  # late: stored, current value kept
    ])
    by_id = {c.entity_id: c for c in seen}
    assert set(by_id) == {_entity(1), _entity(2)}
    intensity, speed = actions.attribute_iri("intensity"), actions.attribute_iri("averageVehicleSpeed")
    assert by_id[_entity(1)].changed == {intensity, speed}
    assert by_id[_entity(1)].attrs[intensity]["value"] == 6
    assert by_id[_entity(2)].changed == {speed}
    with db.read() as session:
        third = session.get(Entity, _entity(3))
    assert third.attrs[intensity]["value"] == 9
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Observation)
                              .where(Observation.entity_id == _entity(3))) == 2
    assert _count(db) == 1 + 3 + 1 + 1  # every measure once, the late one too


def test_an_entity_deleted_through_ngsi_ld_comes_back_with_its_devices_next_reading(db, settings):
    _provision(db, 1)
    actions.delete_entity(db, _entity(1))
    outcome = ingest.ingest(db, settings, [_msg(1, {"f": 4, "s": 30})])
    assert outcome.stored == 2
    with db.read() as session:
        row = session.get(Entity, _entity(1))
    assert row is not None and row.attrs[actions.attribute_iri("intensity")]["value"] == 4
    assert row.lon_min == pytest.approx(107.58)


def test_a_batch_of_many_devices_stores_each_measure_and_sets_aside_the_bad_ones(db, settings):
    for n in range(30):
        _provision(db, n)
    batch = [_msg(n, {"f": n, "s": 30.5, "t": f"2026-11-29T07:{m:02d}:00+07:00"})
             for m in range(5) for n in range(30)]
    batch += [_msg(3, {"f": float("inf")}), Message("k3y", "det-3", b"{", NOW)]
    outcome = ingest.ingest(db, settings, batch + batch[:10])  # and some repeats
    assert (outcome.stored, outcome.repeated, outcome.dead) == (300, 20, 2)
    with db.read() as session:
        assert sorted(session.scalars(select(DeadLetter.reason))) == ["bad_value", "not_json"]
        row = session.get(Entity, _entity(29))
    assert row.attrs[actions.attribute_iri("intensity")]["observedAt"] == "2026-11-29T00:04:00Z"
