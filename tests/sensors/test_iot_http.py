"""Devices over HTTP (IoT Agent JSON conventions): provisioning, measures, refusals, back-pressure,
and what ingestion did, as a city's IT team would see it."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from conftest import BASE, SDM, link
from parvis.app import create_app
from parvis.modules.sensors import iot_api

DEVICE = {"device_id": "air-cho-1", "apikey": "k3y", "entity_name": "urn:ngsi-ld:AirQualityObserved:cho-1",
          "entity_type": "AirQualityObserved", "lon": 107.58, "lat": 16.46,
          "attributes": [{"object_id": "p", "name": "pm25", "type": "Number"},
                         {"object_id": "n", "name": "no2", "type": "Number"}]}


def _provision(client, headers) -> None:
    response = client.post("/iot/devices", json={"devices": [DEVICE]}, headers=headers)
    assert response.status_code == 201, response.text


def test_provisioning_needs_a_key_that_may_write(client, keys, w, r):
    assert client.post("/iot/devices", json={"devices": [DEVICE]}).status_code == 401
    assert client.post("/iot/devices", json={"devices": [DEVICE]}, headers=r).status_code == 403
    _provision(client, w)
    _provision(client, w)  # again: same device, nothing doubled
    listed = client.get("/iot/devices", headers=r).json()
    assert listed["count"] == 1
    assert listed["devices"][0]["attributes"] == [{"object_id": "p", "name": "pm25"},
                                                  {"object_id": "n", "name": "no2"}]
    # the device's key is enough to post readings as the device: only writers see it
    assert "apikey" not in listed["devices"][0]
    assert client.get("/iot/devices", headers=w).json()["devices"][0]["apikey"] == "k3y"
    assert client.get("/iot/devices", headers={}).status_code == 401
    assert client.get("/iot/devices/air-cho-1", headers=r).json()["entity_name"] == DEVICE["entity_name"]
    bad = client.post("/iot/devices", json={"devices": [{**DEVICE, "entity_name": "not a uri"}]}, headers=w)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    # a request's devices are provisioned all together or not at all
    second = {**DEVICE, "device_id": "air-cho-2", "entity_name": "urn:ngsi-ld:AirQualityObserved:cho-2"}
    half = client.post("/iot/devices", headers=w, json={"devices": [second, {**DEVICE, "device_id": "x", "lat": None}]})
    assert half.status_code == 422
    unusable = {**second, "attributes": [{"object_id": "p", "name": "https://example.org/pm25"}]}
    assert client.post("/iot/devices", headers=w, json={"devices": [unusable]}).status_code == 422
    assert client.get("/iot/devices", headers=r).json()["count"] == 1
    assert client.delete("/iot/devices/air-cho-1", headers=w).status_code == 204
    assert client.get("/iot/devices/air-cho-1", headers=r).status_code == 404


def test_a_reading_posted_by_a_device_is_the_entitys_current_value_in_ngsi_ld(client, keys, w, r):
    _provision(client, w)
    at = datetime.now(UTC).replace(microsecond=0).isoformat()
    response = client.post("/iot/json?k=k3y&i=air-cho-1", json={"p": 35.2, "n": 41, "t": at})
    assert response.status_code == 200, response.text
    entity = client.get(f"{BASE}/entities/{DEVICE['entity_name']}", headers=r)
    assert entity.status_code == 200, entity.text
    body = entity.json()
    assert body["type"] == "AirQualityObserved"
    assert body["pm25"]["value"] == 35.2 and body["no2"]["value"] == 41
    assert datetime.fromisoformat(body["pm25"]["observedAt"].replace("Z", "+00:00")) == datetime.fromisoformat(at)
    assert body["location"]["value"] == {"type": "Point", "coordinates": [107.58, 16.46]}
    # anyone can read air quality (a public type): no key needed
    public = client.get(f"{BASE}/entities/{DEVICE['entity_name']}", headers={"Link": link(SDM)})
    assert public.status_code == 200


def test_unusable_readings_are_refused_clearly_and_counted(client, keys, w, r):
    _provision(client, w)
    wrong = client.post("/iot/json?k=k3y&i=air-cho-1", content=b"{not json", headers={"Accept-Language": "en"})
    assert wrong.status_code == 422
    problem = wrong.json()
    assert problem["errors"] == [{"field": "body", "code": "not_json"}]
    assert "not_json" in problem["detail"] and "Traceback" not in wrong.text
    unknown = client.post("/iot/json?k=k3y&i=nobody", json={"p": 1})
    assert unknown.status_code == 404
    odd = client.post("/iot/json", params={"k": "k3y\x00", "i": "air cho"}, json={"p": 1})
    assert odd.status_code == 422 and "Traceback" not in odd.text
    assert client.post("/iot/json?k=k3y&i=air-cho-1", json={"p": 12}).status_code == 200
    seen = client.get("/iot/ingestion", headers=r).json()
    assert seen["last_24_hours"]["http"]["stored"] == 1
    assert seen["last_24_hours"]["http"]["dead"] == 2
    assert {(d["device_id"], d["reason"], d["count"]) for d in seen["dead_letters"]} == {
        ("air-cho-1", "not_json", 1), ("nobody", "unknown_device", 1)}
    assert client.get("/iot/ingestion").status_code == 401


def test_a_busy_hub_answers_429_with_retry_after_and_counts_it(settings, db, keys, w, r):
    app = create_app(settings.model_copy(update={"sensors_http_concurrency": 1}), database=db)
    with TestClient(app) as client:
        _provision(client, w)
        assert client.post("/iot/json?k=k3y&i=air-cho-1", json={"p": 1}).status_code == 200
        gate = iot_api._gates[id(app)]
        assert gate.acquire(blocking=False)  # a reading being stored right now
        try:
            busy = client.post("/iot/json?k=k3y&i=air-cho-1", json={"p": 2})
        finally:
            gate.release()
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
        assert client.post("/iot/json?k=k3y&i=air-cho-1", json={"p": 3}).status_code == 200
        counted = client.get("/iot/ingestion", headers=r).json()["last_24_hours"]["http"]
    assert (counted["stored"], counted["throttled"]) == (2, 1)
