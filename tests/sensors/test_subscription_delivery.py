"""NGSI-LD notifications: what a subscriber's endpoint receives after entity writes and device
readings, filtered by watched attributes, q and geoQ, coalesced by throttling, retried on
failure, never for paused or expired subscriptions nor for writes that roll back."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select
from subscription_receiver import Receiver

from conftest import BASE, CORE, SDM, air, create, link
from parvis.kernel.jobs import Worker
from parvis.modules import sensors
from parvis.modules.sensors import actions, ingest, subscriptions
from parvis.modules.sensors.ingest import Message
from parvis.modules.sensors.notifier import Notifier
from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.subscription_models import PendingNotification, Subscription

AIR = "urn:ngsi-ld:AirQualityObserved:1"


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def fast(settings):
    return settings.model_copy(update={"sensors_notify_retry_seconds": 0.0,
                                       "sensors_notify_max_attempts": 3})


@pytest.fixture
def notifier(db, fast):
    n = Notifier(db, fast)
    yield n
    n.stop()


def subscribe(client, w, receiver, **extra) -> str:
    payload = {"type": "Subscription", "entities": [{"type": "AirQualityObserved"}],
               "notification": {"endpoint": {"uri": receiver.url}}, **extra}
    response = client.post(f"{BASE}/subscriptions", json=payload, headers=w)
    assert response.status_code == 201, response.text
    return response.headers["location"].rsplit("/", 1)[-1]


def no2(client, w, value: float, entity: str = AIR) -> None:
    response = client.patch(f"{BASE}/entities/{entity}/attrs", headers=w,
                            json={"NO2": {"type": "Property", "value": value}})
    assert response.status_code == 204, response.text


def pending(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(PendingNotification)) or 0


def state(client, w, sub_id: str) -> dict:
    return client.get(f"{BASE}/subscriptions/{sub_id}", headers=w).json()


def test_a_deleted_attribute_is_notified_as_null(client, w, receiver, notifier):
    create(client, w, air(1, O3={"type": "Property", "value": 60}))
    subscribe(client, w, receiver, notificationTrigger=["attributeDeleted"])
    assert client.delete(f"{BASE}/entities/{AIR}/attrs/O3", headers=w).status_code == 204
    assert notifier.deliver_due() == 1
    (entity,) = receiver.bodies()[0]["data"]
    assert entity["O3"] == {"type": "Property", "value": "urn:ngsi-ld:null"}  # what was deleted
    assert entity["NO2"]["value"] == 40.0  # and what the entity still has


def test_an_entity_update_reaches_the_endpoint_at_once(client, w, receiver, notifier):
    create(client, w, air(1))
    sub_id = subscribe(client, w, receiver, watchedAttributes=["NO2"])
    notifier.start()
    sent = time.monotonic()
    no2(client, w, 63.5)
    got = receiver.wait(1, timeout=5)
    assert len(got) == 1
    assert got[0]["at"] - sent < 1.0  # woken by the commit itself, not by a later look for work
    note = got[0]["body"]
    assert note["type"] == "Notification" and note["subscriptionId"] == sub_id
    assert note["id"].startswith("urn:ngsi-ld:Notification:") and note["notifiedAt"].endswith("Z")
    [entity] = note["data"]
    assert entity["id"] == AIR and entity["type"] == "AirQualityObserved"
    assert entity["NO2"]["value"] == 63.5 and entity["NO2"]["type"] == "Property"
    assert "location" in entity  # without notification.attributes, the whole entity
    assert got[0]["headers"]["Content-Type"] == "application/json"
    assert got[0]["headers"]["Link"] == link(SDM)
    deadline = time.monotonic() + 5
    while state(client, w, sub_id)["notification"].get("status") != "ok" and time.monotonic() < deadline:
        time.sleep(0.02)
    info = state(client, w, sub_id)["notification"]
    assert info["status"] == "ok" and info["timesSent"] == 1
    assert info["lastSuccess"] == info["lastNotification"]
    assert pending(client.app.state.db) == 0


def test_a_device_reading_is_notified_in_its_own_terms(client, db, settings, w, receiver, notifier):
    sensors.provision_device(db, api_key="k3y", device_id="det-1", entity_id="urn:ngsi-ld:TrafficFlowObserved:a",
                             entity_type="TrafficFlowObserved", attributes={"f": "intensity"}, lon=107.58,
                             lat=16.46)
    subscribe(client, w, receiver, entities=[{"type": "TrafficFlowObserved"}],
              notification={"endpoint": {"uri": receiver.url}, "attributes": ["intensity"],
                            "format": "keyValues"})
    reading = Message(api_key="k3y", device_id="det-1", body=orjson.dumps({"f": 42}),
                      received_at=datetime.now(UTC))
    assert ingest.ingest(db, settings, [reading]).stored == 1
    assert notifier.deliver_due() == 1
    [note] = receiver.bodies()
    assert note["data"] == [{"id": "urn:ngsi-ld:TrafficFlowObserved:a", "type": "TrafficFlowObserved",
                             "intensity": 42}]


def test_only_watched_attributes_trigger(client, w, receiver, notifier):
    create(client, w, air(1, PM10={"type": "Property", "value": 20}))
    subscribe(client, w, receiver, watchedAttributes=["NO2"])
    client.patch(f"{BASE}/entities/{AIR}/attrs", headers=w, json={"PM10": {"type": "Property", "value": 25}})
    assert notifier.deliver_due() == 0 and receiver.bodies() == []
    no2(client, w, 41)
    assert notifier.deliver_due() == 1
    assert receiver.bodies()[0]["data"][0]["NO2"]["value"] == 41


def test_q_and_geo_q_must_hold_on_the_new_state(client, w, receiver, notifier):
    create(client, w, air(1, lon=104.9, lat=11.55))
    create(client, w, air(2, lon=105.5, lat=11.9))  # some 75 km away
    subscribe(client, w, receiver, q="NO2>50",
              geoQ={"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": [104.91, 11.55]})
    no2(client, w, 40)
    no2(client, w, 80, entity="urn:ngsi-ld:AirQualityObserved:2")
    assert notifier.deliver_due() == 0 and pending(client.app.state.db) == 0
    no2(client, w, 60)
    assert notifier.deliver_due() == 1
    assert [d["id"] for d in receiver.bodies()[0]["data"]] == [AIR]


def test_a_q_on_the_entity_s_modification_time_tests_the_change(client, w, receiver, notifier):
    """``q=modifiedAt>...`` reads the entity's modifiedAt, the change's time; createdAt, which a
    change does not carry, is refused when the subscription is made, not left to match nothing."""
    create(client, w, air(1))
    subscribe(client, w, receiver, q='modifiedAt>"2999-01-01T00:00:00Z"')
    subscribe(client, w, receiver, q='modifiedAt>"2020-01-01T00:00:00Z"')
    no2(client, w, 40)
    assert notifier.deliver_due() == 1
    payload = {"type": "Subscription", "entities": [{"type": "AirQualityObserved"}],
               "q": 'createdAt>"2020-01-01T00:00:00Z"', "notification": {"endpoint": {"uri": receiver.url}}}
    refused = client.post(f"{BASE}/subscriptions", json=payload, headers=w)
    assert refused.status_code == 400 and "createdAt" in refused.json()["detail"]


def test_a_geo_q_on_another_geoproperty_tests_that_one(client, w, receiver, notifier):
    """geoproperty (CIM 009 4.10): the sensor's station is far, the area it observes is near."""
    near_area = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [104.91, 11.55]}}
    create(client, w, air(1, lon=105.5, lat=11.9, observationSpace=near_area))
    create(client, w, air(2, lon=104.91, lat=11.55))  # its location is near, it has no such area
    sub_id = subscribe(client, w, receiver, geoQ={"georel": "near;maxDistance==2000", "geometry": "Point",
                                                  "coordinates": [104.91, 11.55], "geoproperty": "observationSpace"})
    assert state(client, w, sub_id)["geoQ"]["geoproperty"] == "observationSpace"
    no2(client, w, 70, entity="urn:ngsi-ld:AirQualityObserved:2")
    assert notifier.deliver_due() == 0
    no2(client, w, 60)
    assert notifier.deliver_due() == 1
    assert [d["id"] for d in receiver.bodies()[0]["data"]] == [AIR]


def test_throttling_coalesces_what_comes_meanwhile(client, w, receiver, notifier):
    create(client, w, air(1))
    create(client, w, air(2))
    sub_id = subscribe(client, w, receiver, throttling=0.4)
    no2(client, w, 1)
    assert notifier.deliver_due() == 1
    first = time.monotonic()
    no2(client, w, 2)
    no2(client, w, 3)
    no2(client, w, 9, entity="urn:ngsi-ld:AirQualityObserved:2")
    assert notifier.deliver_due() == 0  # inside the window: nothing goes
    while notifier.next_due_in():
        time.sleep(0.05)
    assert time.monotonic() - first >= 0.35
    assert notifier.deliver_due() == 1
    second = receiver.bodies()[1]["data"]
    assert {d["id"]: d["NO2"]["value"] for d in second} == {AIR: 3, "urn:ngsi-ld:AirQualityObserved:2": 9}
    assert state(client, w, sub_id)["notification"]["timesSent"] == 2


def test_a_failing_endpoint_is_retried_then_given_up(client, w, receiver, notifier):
    create(client, w, air(1))
    sub_id = subscribe(client, w, receiver)
    receiver.status = 500
    no2(client, w, 50)
    assert notifier.deliver_due() == 1
    info = state(client, w, sub_id)["notification"]
    assert info["status"] == "failed" and info["lastFailure"] and "lastSuccess" not in info
    assert "500" in info["lastFailureReason"] and pending(client.app.state.db) == 1  # kept for a retry
    receiver.status = 200
    assert notifier.deliver_due() == 1  # the retry carries the same change
    assert [b["data"][0]["NO2"]["value"] for b in receiver.bodies()] == [50, 50]
    info = state(client, w, sub_id)["notification"]
    assert info["status"] == "ok" and info["timesSent"] == 2 and pending(client.app.state.db) == 0
    receiver.status = 503
    no2(client, w, 51)
    for _ in range(3):  # sensors_notify_max_attempts
        assert notifier.deliver_due() == 1
    assert pending(client.app.state.db) == 0  # given up
    assert notifier.deliver_due() == 0
    assert state(client, w, sub_id)["notification"]["status"] == "failed"


def test_an_unreachable_endpoint_fails_without_stopping_the_others(client, w, receiver, notifier):
    create(client, w, air(1))
    dead = subscribe(client, w, receiver, notification={"endpoint": {"uri": "http://127.0.0.1:9/x"}})
    subscribe(client, w, receiver)
    no2(client, w, 5)
    assert notifier.deliver_due() == 2
    assert len(receiver.bodies()) == 1
    assert state(client, w, dead)["notification"]["status"] == "failed"


def test_paused_expired_and_deleted_subscriptions_stay_silent(client, w, receiver, notifier):
    create(client, w, air(1))
    paused = subscribe(client, w, receiver, isActive=False)
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    subscribe(client, w, receiver, expiresAt=soon)  # a past expiresAt is refused: it expires in a second
    gone = subscribe(client, w, receiver)
    assert client.delete(f"{BASE}/subscriptions/{gone}", headers=w).status_code == 204
    time.sleep(1.2)
    no2(client, w, 70)
    assert pending(client.app.state.db) == 0 and notifier.deliver_due() == 0
    # Resumed: what changed while paused is not sent, what changes now is.
    assert client.patch(f"{BASE}/subscriptions/{paused}", json={"isActive": True}, headers=w).status_code == 204
    no2(client, w, 71)
    assert notifier.deliver_due() == 1
    assert [b["data"][0]["NO2"]["value"] for b in receiver.bodies()] == [71]


def test_a_write_that_rolls_back_notifies_nothing(client, db, w, receiver, notifier):
    create(client, w, air(1))
    subscribe(client, w, receiver)
    no2_iri = actions.attribute_iri("NO2")
    with pytest.raises(RuntimeError), db.transaction() as session:
        actions.apply_observations(session, {(AIR, actions.type_iri("AirQualityObserved")):
                                             {no2_iri: (datetime.now(UTC), 99.0)}}, {})
        raise RuntimeError("the batch fails after the entity was written")
    assert pending(db) == 0 and notifier.deliver_due() == 0 and receiver.bodies() == []


def test_deletion_is_notified_when_asked(client, w, receiver, notifier):
    create(client, w, air(1))
    subscribe(client, w, receiver, notificationTrigger=["entityDeleted"])
    no2(client, w, 10)
    assert client.delete(f"{BASE}/entities/{AIR}", headers=w).status_code == 204
    assert notifier.deliver_due() == 1
    [note] = receiver.bodies()
    assert note["data"][0]["id"] == AIR and "deletedAt" in note["data"][0]


def test_json_ld_and_concise_notifications(client, w, receiver, notifier):
    create(client, w, air(1))
    subscribe(client, w, receiver, notification={
        "endpoint": {"uri": receiver.url, "accept": "application/ld+json",
                     "receiverInfo": [{"key": "X-Token", "value": "s3cret"}]},
        "format": "concise", "attributes": ["NO2"]})
    no2(client, w, 12)
    assert notifier.deliver_due() == 1
    [got] = receiver.received
    assert got["headers"]["Content-Type"] == "application/ld+json" and got["headers"]["X-Token"] == "s3cret"
    assert "Link" not in got["headers"]
    # CIM 009 5.3.1 (ETSI 046_14): each entity of data carries the @context; the notification
    # too, as Orion-LD has always sent it
    assert got["body"]["@context"] == SDM
    assert got["body"]["data"] == [{"id": AIR, "type": "AirQualityObserved", "NO2": 12, "@context": SDM}]


def test_the_worker_sends_them_and_another_process_subscriptions_are_seen(client, db, w, receiver):
    create(client, w, air(1))
    # A subscription written by another process: this one learns of it within the refresh delay.
    subscriptions.configure(0.2)
    try:
        subscriptions.on_changes  # noqa: B018 (the module is loaded: its cache is in use)
        no2(client, w, 1)  # the cache is fresh now, and empty
        with db.transaction() as session:
            now = datetime.now(UTC)
            session.add(Subscription(id="urn:ngsi-ld:Subscription:elsewhere", entities=[],
                                     watched=[actions.attribute_iri("NO2")], triggers=["attributeUpdated"],
                                     format="normalized", endpoint=receiver.url, accept="application/json",
                                     throttling=0.0, is_active=True, created_at=now, modified_at=now,
                                     times_sent=0, attempts=0, sys_attrs=False, context=SDM))
        time.sleep(0.25)
        no2(client, w, 2)
    finally:
        subscriptions.configure(1.0)
    assert Worker(db, client.app.state.registry).run_once() >= 1  # `parvis worker --once`
    [note] = receiver.bodies()
    assert note["subscriptionId"] == "urn:ngsi-ld:Subscription:elsewhere"
    assert note["data"][0]["NO2"]["value"] == 2


def test_the_outbox_of_a_deleted_subscription_is_cleared(client, db, w, receiver, notifier):
    with db.transaction() as session:
        session.add(PendingNotification(subscription_id="urn:ngsi-ld:Subscription:none", entity_id=AIR,
                                        entity_type="x", attrs={}, created_at=datetime.now(UTC)
                                        - timedelta(seconds=1)))
    notifier.housekeeping()
    assert pending(db) == 0


def test_two_senders_never_take_the_same_subscription(client, db, fast, w, receiver, notifier):
    create(client, w, air(1))
    subscribe(client, w, receiver)
    subscribe(client, w, receiver)
    no2(client, w, 3)
    other = Notifier(db, fast)
    first = notifier.claim(10)
    assert len(first) == 2 and other.claim(10) == []  # leased by the first sender
    with db.transaction() as session:  # the first sender died: its lease runs out
        for row in session.scalars(select(Subscription)):
            row.lease_until = datetime.now(UTC) - timedelta(seconds=1)
    again = other.claim(10)
    assert sorted(c.id for c in again) == sorted(c.id for c in first)
    for item in again:
        other.send(item)
    assert len(receiver.bodies()) == 2 and pending(db) == 0


def test_a_commit_by_another_process_wakes_the_sender(client, db, w, receiver, notifier):
    """No in-process signal here (a Core transaction, as another process's would be): SQLite's
    poll or PostgreSQL's LISTEN/NOTIFY must wake the sender well before its safety-net timeout."""
    create(client, w, air(1))
    sub_id = subscribe(client, w, receiver)
    notifier.pg_idle_seconds = 30.0
    notifier.start()
    # the sender is waiting, and on PostgreSQL listening (its connection may take a while on a
    # loaded machine: a NOTIFY before the LISTEN is lost, and the test with it, as one CI run saw)
    assert db.is_sqlite or notifier.listening.wait(10)
    no2(client, w, 20.0)  # a first notification: the sender's HTTP client and threads are warm
    assert len(receiver.wait(1, timeout=15)) == 1  # (a cold start under a loaded CI took seconds)
    time.sleep(0.3)
    with db.engine.begin() as conn:
        conn.execute(PendingNotification.__table__.insert().values(
            subscription_id=sub_id, entity_id=AIR, entity_type=actions.type_iri("AirQualityObserved"),
            attrs={}, created_at=datetime.now(UTC)))
        if not db.is_sqlite:
            conn.exec_driver_sql(f"NOTIFY {subscriptions.CHANNEL}")
    written = time.monotonic()
    [_warm, got] = receiver.wait(2, timeout=10)
    assert got["at"] - written < 2.0 and got["body"]["data"][0]["id"] == AIR


def test_a_new_entity_is_notified_and_a_patched_endpoint_used(client, w, receiver, notifier):
    sub_id = subscribe(client, w, receiver, notification={"endpoint": {"uri": "http://127.0.0.1:9/old"}})
    patch = {"notification": {"endpoint": {"uri": receiver.url}, "attributes": ["NO2"]}}
    assert client.patch(f"{BASE}/subscriptions/{sub_id}", json=patch, headers=w).status_code == 204
    create(client, w, air(7, no2=33.0))  # created: its attributes are created (the default trigger)
    assert notifier.deliver_due() == 1
    [note] = receiver.bodies()
    assert note["data"] == [{"id": "urn:ngsi-ld:AirQualityObserved:7", "type": "AirQualityObserved",
                             "NO2": {"type": "Property", "value": 33.0, "unitCode": "GQ",
                                     "observedAt": "2026-11-29T08:00:00Z"}}]
    assert state(client, w, sub_id)["notification"]["endpoint"]["uri"] == receiver.url


def test_entities_by_id_and_id_pattern(client, w, receiver, notifier):
    for n in (1, 2, 30):
        create(client, w, air(n))
    by_id = subscribe(client, w, receiver, entities=[{"type": "AirQualityObserved", "id": AIR}])
    by_pattern = subscribe(client, w, receiver, entities=[{"type": "AirQualityObserved", "idPattern": ":3[0-9]$"}])
    wrong_type = subscribe(client, w, receiver, entities=[{"type": "WasteContainer", "id": AIR}])
    for n in (1, 2, 30):
        no2(client, w, n, entity=f"urn:ngsi-ld:AirQualityObserved:{n}")
    assert notifier.deliver_due() == 2
    seen = {b["subscriptionId"]: [d["id"] for d in b["data"]] for b in receiver.bodies()}
    assert seen == {by_id: [AIR], by_pattern: ["urn:ngsi-ld:AirQualityObserved:30"]}
    assert wrong_type not in seen


def test_a_change_committed_late_with_a_lower_id_is_still_sent(client, db, w, receiver, notifier):
    """On PostgreSQL an outbox id is taken at insert and seen at commit: a writer that took a lower
    id may commit after the sender read the rows. Only the rows read are deleted once sent."""
    create(client, w, air(1))
    create(client, w, air(2))
    sub_id = subscribe(client, w, receiver)
    no2(client, w, 5)
    [item] = notifier.claim(10)
    with db.transaction() as session:  # the late commit, with an id below those read
        session.add(PendingNotification(id=min(item.ids) - 1, subscription_id=sub_id,
                                        entity_id="urn:ngsi-ld:AirQualityObserved:2",
                                        entity_type=actions.type_iri("AirQualityObserved"),
                                        attrs={actions.attribute_iri("NO2"): {"type": "Property", "value": 8}},
                                        created_at=datetime.now(UTC)))
    notifier.send(item)
    assert pending(db) == 1
    assert notifier.deliver_due() == 1
    assert [d["id"] for d in receiver.bodies()[1]["data"]] == ["urn:ngsi-ld:AirQualityObserved:2"]


def test_a_subscription_being_sent_does_not_make_the_sender_spin(client, db, w, receiver, notifier):
    create(client, w, air(1))
    sub_id = subscribe(client, w, receiver, throttling=1)
    no2(client, w, 5)
    with db.transaction() as session:  # due since a second, and being sent (leased) right now
        row = session.get(Subscription, sub_id)
        row.next_at = datetime.now(UTC) - timedelta(seconds=1)
        row.lease_until = datetime.now(UTC) + timedelta(seconds=30)
    assert notifier.next_due_in() is None  # its end wakes the sender: no wait of 0 s in a loop


def test_a_listener_of_a_stopped_sender_ends(notifier):
    """A sender started again (after a failure, or stopped and started) has its own LISTEN
    connection: the former one's listener must end, not hold a connection forever."""
    import threading

    notifier._wake = threading.Event()  # the current run's
    former = threading.Thread(target=notifier._listen, args=(threading.Event(),), daemon=True)
    former.start()
    former.join(timeout=3)
    assert not former.is_alive()


def test_a_subscription_change_committed_out_of_order_is_seen(client, db, w, receiver):
    """Two writes of different subscriptions commit in the reverse order of their stamps: the stamp
    (count, newest modification) does not move, yet the cache must see the late one."""
    now = datetime.now(UTC)

    def row(n: int, at: datetime) -> Subscription:
        return Subscription(id=f"urn:ngsi-ld:Subscription:s{n}", entities=[],
                            watched=[actions.attribute_iri("NO2")], triggers=["attributeUpdated"],
                            format="normalized", endpoint=receiver.url, accept="application/json",
                            throttling=0.0, is_active=True, created_at=at, modified_at=at,
                            times_sent=0, attempts=0, sys_attrs=False, context=SDM)

    with db.transaction() as session:
        session.add_all([row(1, now - timedelta(seconds=2)), row(2, now)])
    with db.read() as session:
        cache = subscriptions._cache_of(session)
        subscriptions.invalidate()
        cache.refresh(session)
        assert {c.id for c in cache.untyped} == {"urn:ngsi-ld:Subscription:s1", "urn:ngsi-ld:Subscription:s2"}
    with db.transaction() as session:  # paused by a write stamped before s2's, committed after it
        late = session.get(Subscription, "urn:ngsi-ld:Subscription:s1")
        late.is_active, late.modified_at = False, now - timedelta(seconds=1)
    with db.read() as session:
        cache.checked = -1e9  # the refresh delay has passed
        cache.refresh(session)
        assert {c.id for c in cache.untyped} == {"urn:ngsi-ld:Subscription:s2"}


def test_a_notification_carries_the_latest_state_whatever_the_backlog(client, db, w, receiver, notifier,
                                                                      monkeypatch):
    """Only an entity's latest state is sent: a backlog of older states (a throttled or failing
    subscription on a busy type) must neither be sent instead of it nor pile up."""
    from parvis.modules.sensors import notifier as notifier_module

    monkeypatch.setattr(notifier_module, "MAX_ENTITIES", 2)  # fewer than the states queued
    create(client, w, air(1))
    create(client, w, air(2))
    subscribe(client, w, receiver, watchedAttributes=["NO2"])
    for value in (1, 2, 3):
        no2(client, w, value)
    no2(client, w, 7, entity="urn:ngsi-ld:AirQualityObserved:2")
    notifier.housekeeping()
    assert pending(db) == 2  # one state per entity is kept
    for value in (4, 5):
        no2(client, w, value)
    assert notifier.deliver_due() == 1
    [note] = receiver.bodies()
    assert {d["id"]: d["NO2"]["value"] for d in note["data"]} == {AIR: 5, "urn:ngsi-ld:AirQualityObserved:2": 7}
    assert pending(db) == 0



def test_system_attributes_are_notified_when_the_subscription_asks(client, w, receiver, notifier):
    create(client, w, air(1))
    asked = subscribe(client, w, receiver, notification={"endpoint": {"uri": receiver.url}, "sysAttrs": True})
    plain = subscribe(client, w, receiver)
    no2(client, w, 12)
    assert notifier.deliver_due() == 2
    got = {body["subscriptionId"]: body["data"] for body in receiver.bodies()}
    [entity] = got[asked]
    stored = client.get(f"{BASE}/entities/{AIR}", params={"options": "sysAttrs"}, headers=w).json()
    # the entity's own, as a retrieval with sysAttrs shows them, and its attributes'
    assert entity["createdAt"] == stored["createdAt"] and entity["modifiedAt"] == stored["modifiedAt"]
    assert entity["createdAt"] <= entity["modifiedAt"]
    assert entity["NO2"]["modifiedAt"] == stored["NO2"]["modifiedAt"]
    [bare] = got[plain]
    assert "createdAt" not in bare and "modifiedAt" not in bare and "modifiedAt" not in bare["NO2"]


def test_a_json_notification_links_the_context_its_subscription_lists(client, w, keys, receiver, notifier):
    """A subscription whose @context is a list of URLs (ETSI 046_10_01) is named in its
    application/json notifications' Link header, not the core context: the URL alone, or the
    user context beside the core's, or (one link only) the first of several; an inline context
    cannot be linked, the core's is."""

    environment = ("https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/"
                   "context.jsonld")
    sdm = ldctx.shipped(SDM)
    inline = {term: sdm.expand(term) for term in ("AirQualityObserved", "NO2", "location")}
    expected = {}
    create(client, w, air(1))
    for context, linked in (([SDM], SDM), ([SDM, CORE], SDM), ([CORE, SDM], SDM),
                            ([environment, SDM], environment), (SDM, SDM), (inline, CORE)):
        payload = {"type": "Subscription", "entities": [{"type": "AirQualityObserved"}],
                   "notification": {"endpoint": {"uri": receiver.url, "accept": "application/json"}},
                   "@context": context}
        response = client.post(f"{BASE}/subscriptions", content=orjson.dumps(payload),
                               headers={"X-Api-Key": keys["write"], "Content-Type": "application/ld+json"})
        assert response.status_code == 201, response.text
        expected[response.headers["location"].rsplit("/", 1)[-1]] = linked
    no2(client, w, 55)
    assert notifier.deliver_due() == len(expected)
    got = {r["body"]["subscriptionId"]: r for r in receiver.received}
    for sub_id, linked in expected.items():
        assert got[sub_id]["headers"]["Link"] == link(linked), sub_id
        [entity] = got[sub_id]["body"]["data"]
        assert entity["type"] == "AirQualityObserved" and entity["NO2"]["value"] == 55  # compacted with it


def test_a_deleted_attribute_is_notified_as_null_in_its_type(client, w, receiver, notifier):
    """A deleted Relationship, LanguageProperty or GeoProperty is notified as NGSI-LD's Null in
    its own form (ETSI 046_22_10), however it was deleted: DELETE, a Null PATCH, a batch replace."""
    create(client, w, air(1, refDevice={"type": "Relationship", "object": "urn:ngsi-ld:Device:1"},
                          name={"type": "LanguageProperty", "languageMap": {"en": "Station", "fr": "Gare"}},
                          observationSpace={"type": "GeoProperty",
                                            "value": {"type": "Point", "coordinates": [104.9, 11.55]}}))
    deleted_only = subscribe(client, w, receiver, notificationTrigger=["attributeDeleted"])
    updated = subscribe(client, w, receiver, notificationTrigger=["entityUpdated"])

    def notified(attr: str) -> list[dict]:
        """The deleted attribute as each subscription's notification shows it."""
        assert notifier.deliver_due() == 2
        bodies = {b["subscriptionId"]: b["data"] for b in receiver.bodies()[-2:]}
        assert bodies.keys() == {deleted_only, updated}
        assert all(entity["NO2"]["value"] == 40.0 for [entity] in bodies.values())  # what it keeps
        return [entity[attr] for [entity] in bodies.values()]

    assert client.delete(f"{BASE}/entities/{AIR}/attrs/refDevice", headers=w).status_code == 204
    assert notified("refDevice") == [{"type": "Relationship", "object": "urn:ngsi-ld:null"}] * 2
    response = client.patch(f"{BASE}/entities/{AIR}/attrs", headers=w,
                            json={"observationSpace": {"type": "GeoProperty", "value": "urn:ngsi-ld:null"}})
    assert response.status_code == 204, response.text
    assert notified("observationSpace") == [{"type": "GeoProperty", "value": "urn:ngsi-ld:null"}] * 2
    response = client.post(f"{BASE}/entityOperations/upsert", headers=w, json=[air(1)])  # replaced: no name
    assert response.status_code == 204, response.text
    null_text = {"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}}
    assert notified("name") == [null_text] * 2


def test_an_entity_type_selection_selects_each_of_its_types(client, w, receiver, notifier):
    """CIM 009 4.17: (A|B), A,B select entities of type A or B; ; is an AND of types."""
    create(client, w, air(1))
    create(client, w, {"id": "urn:ngsi-ld:TrafficFlowObserved:t", "type": "TrafficFlowObserved",
                       "intensity": {"type": "Property", "value": 1}})
    create(client, w, {"id": "urn:ngsi-ld:ParkingSpot:p", "type": "ParkingSpot",
                       "status": {"type": "Property", "value": "free"}})
    either = subscribe(client, w, receiver, entities=[{"type": "(AirQualityObserved|TrafficFlowObserved)"}])
    comma = subscribe(client, w, receiver, entities=[{"type": "ParkingSpot,TrafficFlowObserved",
                                                      "idPattern": ":t$"}])
    common = subscribe(client, w, receiver,
                       entities=[{"type": "(AirQualityObserved|ParkingSpot);ParkingSpot"}])
    no2(client, w, 50)
    for entity, attr, value in (("urn:ngsi-ld:TrafficFlowObserved:t", "intensity", 2),
                                ("urn:ngsi-ld:ParkingSpot:p", "status", "occupied")):
        response = client.patch(f"{BASE}/entities/{entity}/attrs", headers=w,
                                json={attr: {"type": "Property", "value": value}})
        assert response.status_code == 204, response.text
    assert notifier.deliver_due() == 3
    seen = {b["subscriptionId"]: sorted(d["id"] for d in b["data"]) for b in receiver.bodies()}
    assert seen == {either: [AIR, "urn:ngsi-ld:TrafficFlowObserved:t"],
                    comma: ["urn:ngsi-ld:TrafficFlowObserved:t"], common: ["urn:ngsi-ld:ParkingSpot:p"]}


def test_a_selectors_id_takes_precedence_over_its_id_pattern(client, w, receiver, notifier):
    """CIM 009 5.2.33: given both, id decides and idPattern is ignored (not ANDed with it)."""
    for n in (1, 2):
        create(client, w, air(n))
    both = subscribe(client, w, receiver, entities=[{"type": "AirQualityObserved", "id": AIR,
                                                     "idPattern": ":2$"}])
    for n in (1, 2):
        no2(client, w, 60 + n, entity=f"urn:ngsi-ld:AirQualityObserved:{n}")
    assert notifier.deliver_due() == 1
    [note] = receiver.bodies()
    assert note["subscriptionId"] == both and [d["id"] for d in note["data"]] == [AIR]
    # shown as given
    shown = state(client, w, both)["entities"]
    assert shown == [{"type": "AirQualityObserved", "id": AIR, "idPattern": ":2$"}]


def test_a_deleted_entity_is_notified_with_the_stamps_it_had(client, w, receiver, notifier):
    """entityDeleted with sysAttrs (ETSI 046_21_02): id, type, and the createdAt and modifiedAt the
    entity had beside its deletedAt; without sysAttrs, id, type and deletedAt (046_21_01). So
    whether it is deleted alone or in a batch."""
    for n in (1, 2):
        create(client, w, air(n))
    no2(client, w, 10)  # modified after its creation
    stamped = {"format": "keyValues", "sysAttrs": True, "endpoint": {"uri": receiver.url}}
    asked = subscribe(client, w, receiver, notificationTrigger=["entityDeleted"], notification=stamped)
    plain = subscribe(client, w, receiver, notificationTrigger=["entityDeleted"])
    had = {n: client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:{n}", params={"options": "sysAttrs"},
                         headers=w).json() for n in (1, 2)}
    assert had[1]["createdAt"] < had[1]["modifiedAt"]
    assert client.delete(f"{BASE}/entities/{AIR}", headers=w).status_code == 204
    response = client.post(f"{BASE}/entityOperations/delete", headers=w, json=["urn:ngsi-ld:AirQualityObserved:2"])
    assert response.status_code == 204, response.text
    while notifier.deliver_due():
        pass
    got: dict[str, list[dict]] = {}
    for body in receiver.bodies():
        got.setdefault(body["subscriptionId"], []).extend(body["data"])
    for entity, n in zip(got[asked], (1, 2), strict=True):
        assert list(entity) == ["id", "type", "createdAt", "modifiedAt", "deletedAt"]
        assert entity["id"] == had[n]["id"] and entity["type"] == "AirQualityObserved"
        assert (entity["createdAt"], entity["modifiedAt"]) == (had[n]["createdAt"], had[n]["modifiedAt"])
        assert entity["deletedAt"] >= entity["modifiedAt"]
    assert [sorted(entity) for entity in got[plain]] == [["deletedAt", "id", "type"]] * 2


def test_a_deleted_attribute_says_when_with_sys_attrs(client, w, receiver, notifier):
    """attributeDeleted with sysAttrs (ETSI 046_22_05): the deleted attribute, as NGSI-LD's Null,
    has the createdAt and modifiedAt it had and its deletedAt; without sysAttrs, none of them."""
    create(client, w, air(1, O3={"type": "Property", "value": 60}))
    stamped = subscribe(client, w, receiver, notificationTrigger=["attributeDeleted"],
                        notification={"sysAttrs": True, "endpoint": {"uri": receiver.url}})
    plain = subscribe(client, w, receiver, notificationTrigger=["attributeDeleted"])
    had = client.get(f"{BASE}/entities/{AIR}", params={"options": "sysAttrs"}, headers=w).json()["O3"]
    assert client.delete(f"{BASE}/entities/{AIR}/attrs/O3", headers=w).status_code == 204
    assert notifier.deliver_due() == 2
    got = {body["subscriptionId"]: body["data"][0] for body in receiver.bodies()}
    o3 = got[stamped]["O3"]
    assert {k: o3[k] for k in ("type", "value", "createdAt", "modifiedAt")} == {
        "type": "Property", "value": "urn:ngsi-ld:null", "createdAt": had["createdAt"],
        "modifiedAt": had["modifiedAt"]}
    assert o3["deletedAt"] == got[stamped]["modifiedAt"]  # the time of the deletion
    assert "deletedAt" not in got[stamped]["NO2"]  # what the entity keeps was not deleted
    assert got[plain]["O3"] == {"type": "Property", "value": "urn:ngsi-ld:null"}


def test_deleting_an_entity_deletes_the_watched_attributes_it_had(client, w, receiver, notifier):
    """CIM 009 v1.8 (ETSI 046_22_12, 046_22_13): an entity deleted is notified to attributeDeleted
    subscriptions watching an attribute it had, with those attributes as NGSI-LD's Null."""
    create(client, w, air(1, refDevice={"type": "Relationship", "object": "urn:ngsi-ld:Device:1"}))
    watching = subscribe(client, w, receiver, notificationTrigger=["attributeDeleted"],
                         watchedAttributes=["NO2", "refDevice"])
    stamped = subscribe(client, w, receiver, notificationTrigger=["attributeDeleted"], watchedAttributes=["NO2"],
                        notification={"sysAttrs": True, "endpoint": {"uri": receiver.url}})
    subscribe(client, w, receiver, notificationTrigger=["attributeDeleted"], watchedAttributes=["O3"])
    subscribe(client, w, receiver, notificationTrigger=["entityUpdated", "attributeUpdated"])
    had = client.get(f"{BASE}/entities/{AIR}", params={"options": "sysAttrs"}, headers=w).json()
    assert client.delete(f"{BASE}/entities/{AIR}", headers=w).status_code == 204
    assert notifier.deliver_due() == 2  # not to the one watching O3, which it had not, nor on update
    got = {body["subscriptionId"]: body["data"] for body in receiver.bodies()}
    [entity] = got[watching]
    deleted_at = entity.pop("deletedAt")
    assert entity == {"id": AIR, "type": "AirQualityObserved",
                      "NO2": {"type": "Property", "value": "urn:ngsi-ld:null"},
                      "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:null"}}
    [entity] = got[stamped]
    assert entity == {"id": AIR, "type": "AirQualityObserved", "createdAt": had["createdAt"],
                      "modifiedAt": had["modifiedAt"], "deletedAt": deleted_at,
                      "NO2": {"type": "Property", "value": "urn:ngsi-ld:null",
                              "createdAt": had["NO2"]["createdAt"], "modifiedAt": had["NO2"]["modifiedAt"],
                              "deletedAt": deleted_at}}


def test_a_subscription_on_a_geoproperty_with_a_long_iri_never_stops_the_writes(client, w, receiver, notifier):
    """Its geoproperty was checked as the client wrote it (short); stored expanded, it is long."""
    vocab = f"https://example.org/{'a' * 190}/"
    payload = {"type": "Subscription", "entities": [{"type": "https://example.org/Spot"}],
               "geoQ": {"georel": "near;maxDistance==2000", "geometry": "Point",
                        "coordinates": [104.91, 11.55], "geoproperty": "spot"},
               "notification": {"endpoint": {"uri": receiver.url}}, "@context": [{"@vocab": vocab}]}
    made = client.post(f"{BASE}/subscriptions", content=orjson.dumps(payload),
                       headers={"X-Api-Key": w["X-Api-Key"], "Content-Type": "application/ld+json"})
    assert made.status_code == 201, made.text
    spot = {"id": "urn:ngsi-ld:Spot:1", "type": "https://example.org/Spot",
            f"{vocab}spot": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [104.91, 11.55]}}}
    assert client.post(f"{BASE}/entities", json=spot, headers=w).status_code == 201
    create(client, w, air(1))  # and every other write
    assert notifier.deliver_due() == 1
