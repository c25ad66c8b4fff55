"""NGSI-LD subscriptions through the API: create, read, list, update, delete, who may, and the
spec's errors for what is not a valid subscription."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from conftest import BASE, CORE, SDM, link
from parvis.modules import sensors
from parvis.modules.sensors.subscription_models import Subscription

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
URL = "http://127.0.0.1:9/notify"


def body(**extra) -> dict:
    return {"type": "Subscription", "entities": [{"type": "AirQualityObserved"}],
            "watchedAttributes": ["NO2"], "notification": {"endpoint": {"uri": URL}}, **extra}


def make(client, headers, **extra) -> str:
    response = client.post(f"{BASE}/subscriptions", json=body(**extra), headers=headers)
    assert response.status_code == 201, response.text
    return response.headers["location"].rsplit("/", 1)[-1]


def test_create_read_list_update_and_delete(client, w):
    response = client.post(f"{BASE}/subscriptions", headers=w, json=body(
        id="urn:ngsi-ld:Subscription:no2", description="NO2 near schools", q="NO2>50",
        notification={"attributes": ["NO2"], "format": "keyValues", "endpoint": {"uri": URL}}))
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:no2"
    got = client.get(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:no2", headers=w)
    assert got.status_code == 200 and got.headers["link"] == link(SDM)
    sub = got.json()
    assert sub["type"] == "Subscription" and sub["entities"] == [{"type": "AirQualityObserved"}]
    assert sub["watchedAttributes"] == ["NO2"] and sub["q"] == "NO2>50"
    assert sub["notification"]["attributes"] == ["NO2"] and sub["notification"]["format"] == "keyValues"
    assert sub["notification"]["endpoint"] == {"uri": URL, "accept": "application/json"}
    assert sub["notification"]["timesSent"] == 0
    assert sub["status"] == "active" and sub["isActive"] is True
    assert sub["notificationTrigger"] == ["attributeCreated", "attributeUpdated"]
    # With the core context only, the terms are full IRIs.
    full = client.get(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:no2",
                      headers={**w, "Link": link(CORE)}).json()
    assert full["entities"][0]["type"].startswith("https://") and full["watchedAttributes"][0].startswith("https")

    other = make(client, w)
    assert other.startswith("urn:ngsi-ld:Subscription:")
    listed = client.get(f"{BASE}/subscriptions?count=true", headers=w)
    assert listed.headers["ngsild-results-count"] == "2"
    assert [s["id"] for s in listed.json()] == ["urn:ngsi-ld:Subscription:no2", other]
    assert len(client.get(f"{BASE}/subscriptions?limit=1&offset=1", headers=w).json()) == 1

    patched = client.patch(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:no2", headers=w,
                           json={"isActive": False, "throttling": 5, "q": None})
    assert patched.status_code == 204, patched.text
    sub = client.get(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:no2", headers=w).json()
    assert sub["status"] == "paused" and sub["throttling"] == 5 and "q" not in sub
    assert sub["watchedAttributes"] == ["NO2"]  # untouched

    assert client.delete(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:no2", headers=w).status_code == 204
    gone = client.get(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:no2", headers=w)
    assert gone.status_code == 404 and gone.json()["type"] == ERR + "ResourceNotFound"
    assert client.delete(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:no2", headers=w).status_code == 404


def test_same_id_twice_is_already_exists(client, w):
    make(client, w, id="urn:ngsi-ld:Subscription:1")
    again = client.post(f"{BASE}/subscriptions", json=body(id="urn:ngsi-ld:Subscription:1"), headers=w)
    assert again.status_code == 409 and again.json()["type"] == ERR + "AlreadyExists"


def test_json_ld_body_and_expired_subscription(client, keys):
    headers = {"X-Api-Key": keys["write"], "Content-Type": "application/ld+json"}
    past = client.post(f"{BASE}/subscriptions", headers=headers, content=json.dumps(
        {**body(expiresAt="2020-01-01T00:00:00Z"), "@context": SDM}))
    assert past.status_code == 400 and "in the past" in past.json()["detail"]  # refused, as the spec says
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    response = client.post(f"{BASE}/subscriptions", headers=headers, content=json.dumps(
        {**body(expiresAt=soon), "@context": SDM}))
    assert response.status_code == 201, response.text
    sub_id = response.headers["location"].rsplit("/", 1)[-1]
    time.sleep(1.2)
    got = client.get(f"{BASE}/subscriptions/{sub_id}",
                     headers={"X-Api-Key": keys["write"], "Link": link(SDM), "Accept": "application/ld+json"})
    assert got.headers["content-type"].startswith("application/ld+json")
    sub = got.json()
    assert sub["status"] == "expired" and sub["expiresAt"].startswith(soon[:19])
    assert sub["watchedAttributes"] == ["NO2"] and sub["@context"] == SDM


@pytest.mark.parametrize(("payload", "kind"), [
    ({"type": "Subscription", "notification": {"endpoint": {"uri": URL}}}, "BadRequestData"),
    (body(type="Registration"), "BadRequestData"),
    ({k: v for k, v in body().items() if k != "notification"}, "BadRequestData"),
    (body(id="not a uri"), "BadRequestData"),
    (body(notification={"endpoint": {"uri": "ftp://example.org/x"}}), "BadRequestData"),
    (body(notification={"endpoint": {"uri": "mqtt://broker/topic"}}), "BadRequestData"),
    (body(notification={"endpoint": {"uri": URL, "accept": "text/plain"}}), "BadRequestData"),
    (body(notification={"endpoint": {"uri": URL}, "format": "verbose"}), "BadRequestData"),
    (body(notification={"endpoint": {"uri": URL, "receiverInfo": [{"key": "Host", "value": "x"}]}}),
     "BadRequestData"),
    (body(throttling=-1), "BadRequestData"),
    (body(throttling="5"), "BadRequestData"),
    (body(isActive="yes"), "BadRequestData"),
    (body(expiresAt="tomorrow"), "BadRequestData"),
    (body(entities=[{"id": "urn:ngsi-ld:X:1"}]), "BadRequestData"),
    (body(entities=[{"type": "AirQualityObserved", "idPattern": "(a"}]), "BadRequestData"),
    (body(watchedAttributes=[]), "BadRequestData"),
    (body(notificationTrigger=["whenever"]), "BadRequestData"),
    (body(q="NO2>>"), "InvalidRequest"),
    (body(geoQ={"georel": "near;maxDistance==100", "geometry": "Point", "coordinates": [200, 95]}),
     "BadRequestData"),
    (body(geoQ={"georel": "nowhere", "geometry": "Point", "coordinates": [104.9, 11.5]}), "BadRequestData"),
    # KeyValuePair (CIM 009 5.2.22): text keys and values (ETSI 028_10)
    (body(notification={"endpoint": {"uri": URL, "notifierInfo": [{"key": "K", "value": {"a": 1}}]}}),
     "BadRequestData"),
    (body(notification={"endpoint": {"uri": URL, "notifierInfo": [{"key": "K"}]}}), "BadRequestData"),
    (body(notification={"endpoint": {"uri": URL, "receiverInfo": [{"key": "K", "value": 42}]}}),
     "BadRequestData"),
    # members of the spec Parvis does not implement: checked, then refused (ETSI 028_08, 028_09)
    (body(notification={"endpoint": {"uri": URL}, "pick": []}), "BadRequestData"),
    (body(notification={"endpoint": {"uri": URL}, "pick": ["NO2"], "attributes": ["NO2"]}), "BadRequestData"),
    (body(notification={"endpoint": {"uri": URL}, "pick": ["id"], "omit": ["id"]}), "BadRequestData"),
    (body(notification={"endpoint": {"uri": URL}, "format": "keyValues", "showChanges": True}),
     "BadRequestData"),
    (body(notification={"endpoint": {"uri": URL}, "join": "deep"}), "BadRequestData"),
    (body(notification={"endpoint": {"uri": URL}, "pick": ["id", "NO2"]}), "OperationNotSupported"),
    (body(notification={"endpoint": {"uri": URL}, "showChanges": True}), "OperationNotSupported"),
    (body(notification={"endpoint": {"uri": URL}, "join": "flat"}), "OperationNotSupported"),
    (body(notification={"endpoint": {"uri": URL, "cooldown": 1000}}), "OperationNotSupported"),
    (body(description="nul \x00 inside"), "BadRequestData"),
    (body(timeInterval=60), "OperationNotSupported"),
])
def test_invalid_subscriptions_are_refused_with_the_specs_errors(client, w, payload, kind):
    response = client.post(f"{BASE}/subscriptions", json=payload, headers=w)
    assert response.json()["type"] == ERR + kind, response.text
    assert response.status_code == (422 if kind == "OperationNotSupported" else 400)


def test_read_only_and_unknown_members_are_ignored(client, keys, w):
    """CIM 009 Table 5.2.12-2: read-only members given by a client are ignored; so are members the
    spec does not define (ETSI 5811_02_04 sends "__context"), at any depth: a GET shows what Parvis
    kept, nothing else. Those asking for what Parvis does anyway are accepted."""
    payload = {**body(id="urn:ngsi-ld:Subscription:ro"), "__context": "http://localhost:1111/hijacked.jsonld",
               "status": "expired", "createdAt": "2020-01-01T00:00:00Z", "colour": "blue",
               "entities": [{"type": "AirQualityObserved", "shape": "round"}],
               "notification": {"endpoint": {"uri": URL, "timeout": 2500, "x-extra": 1,
                                             "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}]},
                                "timesSent": 42, "lastFailure": "2020-01-01T00:00:00Z", "showChanges": False,
                                "join": "@none", "joinLevel": 2, "mood": "happy"}}
    response = client.post(f"{BASE}/subscriptions", headers={"X-Api-Key": keys["write"],
                                                             "Content-Type": "application/ld+json"},
                           content=json.dumps({**payload, "@context": [SDM]}))
    assert response.status_code == 201, response.text
    got = client.get(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:ro",
                     headers={**w, "Accept": "application/ld+json", "Link": link(SDM)})
    assert got.status_code == 200
    for word in ("__context", "hijacked", "colour", "shape", "x-extra", "mood", "2020-01-01"):
        assert word not in got.text, word
    sub = got.json()
    assert sub["status"] == "active" and sub["notification"]["timesSent"] == 0
    assert sub["entities"] == [{"type": "AirQualityObserved"}]
    assert sub["notification"]["endpoint"] == {"uri": URL, "accept": "application/json"}
    # a known member with a wrong value is still refused, wherever it is
    for wrong in ({"isActive": "yes", "colour": "blue"}, {"notification": {"endpoint": {"uri": URL, "timeout": -1}}},
                  {"notification": {"endpoint": {"uri": URL}, "joinLevel": 0}}):
        response = client.patch(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:ro", json=wrong, headers=w)
        assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData", wrong


def test_not_json_and_bad_patches(client, w):
    raw = client.post(f"{BASE}/subscriptions", content=b"{nope", headers={**w, "Content-Type": "application/json"})
    assert raw.status_code == 400 and raw.json()["type"] == ERR + "InvalidRequest"
    sub_id = make(client, w)
    for patch in ({"watchedAttributes": None, "entities": None}, {"throttling": -2}, {},
                  {"id": "urn:ngsi-ld:Subscription:other"}):
        response = client.patch(f"{BASE}/subscriptions/{sub_id}", json=patch, headers=w)
        assert response.status_code == 400, (patch, response.text)
    # A PATCH may drop the watched attributes when entities remain.
    assert client.patch(f"{BASE}/subscriptions/{sub_id}", json={"watchedAttributes": None},
                        headers=w).status_code == 204


def test_a_subscription_is_its_creators_alone(client, db, keys, w):
    sub_id = make(client, w)
    path = f"{BASE}/subscriptions/{sub_id}"
    assert client.get(path).status_code == 401
    assert client.get(f"{BASE}/subscriptions").status_code == 401
    read_only = {"X-Api-Key": keys["read"]}
    assert client.get(path, headers=read_only).status_code == 403
    assert client.post(f"{BASE}/subscriptions", json=body(), headers=read_only).status_code == 403
    other = {"X-Api-Key": sensors.issue_api_key(db, "other", "o-key", read=True, write=True)}
    assert client.get(path, headers=other).status_code == 404
    assert client.patch(path, json={"isActive": False}, headers=other).status_code == 404
    assert client.delete(path, headers=other).status_code == 404
    assert client.get(f"{BASE}/subscriptions", headers=other).json() == []
    write_only = {"X-Api-Key": sensors.issue_api_key(db, "wo", "wo-key", read=False, write=True)}
    assert client.post(f"{BASE}/subscriptions", json=body(), headers=write_only).status_code == 403
    assert client.get(path, headers=w).status_code == 200


def test_a_percent_encoded_q_is_read_as_the_client_meant_it(client, w):
    """ngsildclient sends a subscription's q percent-encoded, as it would in a URL."""
    sub_id = make(client, w, q="NO2%3E100%3BPM10%3C%3D50")
    sub = client.get(f"{BASE}/subscriptions/{sub_id}", headers=w).json()
    assert sub["q"] == "NO2>100;PM10<=50"


def test_an_entity_type_selection_is_kept_as_written(client, w):
    """CIM 4.17: , or | (or), ; (and), parentheses; shown back in the reader's context."""
    sub_id = make(client, w, entities=[{"type": "(AirQualityObserved|TrafficFlowObserved)"},
                                       {"type": "ParkingSpot,OffStreetParking", "idPattern": "^urn:"}])
    sub = client.get(f"{BASE}/subscriptions/{sub_id}", headers=w).json()
    assert sub["entities"] == [{"type": "(AirQualityObserved|TrafficFlowObserved)"},
                               {"type": "ParkingSpot,OffStreetParking", "idPattern": "^urn:"}]
    full = client.get(f"{BASE}/subscriptions/{sub_id}", headers={**w, "Link": link(CORE)}).json()
    first = full["entities"][0]["type"]
    assert first.startswith("(https://") and first.endswith(")") and first.count("|https://") == 1
    patched = client.patch(f"{BASE}/subscriptions/{sub_id}", headers=w,
                           json={"entities": [{"type": "(AirQualityObserved|ParkingSpot);ParkingSpot"}]})
    assert patched.status_code == 204, patched.text
    sub = client.get(f"{BASE}/subscriptions/{sub_id}", headers=w).json()
    assert sub["entities"] == [{"type": "(AirQualityObserved|ParkingSpot);ParkingSpot"}]


def test_a_malformed_type_selection_is_named_as_such(client, w):
    for selection in ("(AirQualityObserved|TrafficFlowObserved", "AirQualityObserved|", "A B", "()",
                      "AirQualityObserved|<x>"):
        response = client.post(f"{BASE}/subscriptions", json=body(entities=[{"type": selection}]), headers=w)
        assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData", selection
        assert "type selection" in response.json()["detail"] and "attribute" not in response.json()["detail"]
    # an entity has one type here: an AND of two different types could never match
    both = body(entities=[{"type": "AirQualityObserved;Building"}])
    response = client.post(f"{BASE}/subscriptions", json=both, headers=w)
    assert response.status_code == 400 and "selects no entity" in response.json()["detail"], response.text


def test_a_percent_encoded_text_in_q_is_decoded_as_in_a_url(client, w):
    """ETSI suite 046_05: 'name=="Eiffel%20Tower"' is the tower's name; a "%" itself is %25."""
    sub_id = make(client, w, q='name=="Eiffel%20Tower";rate=="10%25"')
    assert client.get(f"{BASE}/subscriptions/{sub_id}", headers=w).json()["q"] == 'name=="Eiffel Tower";rate=="10%"'


def test_a_subscription_read_while_its_notification_is_out_shows_the_outcome(client, db, w):
    """ETSI 046_12: a receiver reads the subscription as soon as it is notified; the sender
    records the outcome a moment after the receiver answered. The read waits for it (1 s at most)."""
    sub_id = make(client, w)
    path = f"{BASE}/subscriptions/{sub_id}"

    def set_lease(until, *, done: bool = False) -> None:
        with db.transaction() as session:
            row = session.get(Subscription, sub_id)
            row.lease_until = until
            if done:
                row.last_notification = row.last_success = datetime.now(UTC)
                row.delivery_status, row.times_sent = "ok", 1

    set_lease(datetime.now(UTC) + timedelta(minutes=5))  # a notification is out
    threading.Timer(0.3, set_lease, args=(None,), kwargs={"done": True}).start()
    started = time.monotonic()
    notification = client.get(path, headers=w).json()["notification"]
    assert time.monotonic() - started >= 0.25
    assert notification["status"] == "ok" and "lastSuccess" in notification
    # a sender that died holding its lease delays a read by a second, no more
    set_lease(datetime.now(UTC) + timedelta(minutes=5))
    started = time.monotonic()
    assert client.get(path, headers=w).status_code == 200
    assert 0.9 <= time.monotonic() - started < 5


def test_a_subscription_addressed_without_its_id_is_a_method_the_collection_does_not_take(client, w):
    """ETSI 029_01_01, 032_01_01: PATCH and DELETE /subscriptions/ are 405 (the collection's), where
    PUT /entities/ is 400 (an entity's replacement without its id, 054_02)."""
    for method in ("PATCH", "DELETE"):
        answer = client.request(method, f"{BASE}/subscriptions/", json=body(), headers=w)
        assert answer.status_code == 405, (method, answer.text)
    assert client.get(f"{BASE}/subscriptions/", headers=w).status_code == 200
