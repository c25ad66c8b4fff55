"""Who may read and write through the NGSI-LD API: API keys with scopes, public types."""

from __future__ import annotations

from conftest import BASE, SDM, air, create, link
from parvis.modules import sensors
from parvis.modules.sensors import queries

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
BIN = {"id": "urn:ngsi-ld:Device:1", "type": "Device", "battery": {"type": "Property", "value": 0.8}}


def test_writing_needs_a_key_with_write_scope(client, keys):
    assert client.post(f"{BASE}/entities", json=BIN).status_code == 401
    refused = client.post(f"{BASE}/entities", json=BIN, headers={"X-Api-Key": keys["read"]})
    assert refused.status_code == 403
    assert client.post(f"{BASE}/entities", json=BIN,
                       headers={"Authorization": f"Bearer {keys['write']}"}).status_code == 201
    assert client.delete(f"{BASE}/entities/{BIN['id']}", headers={"X-Api-Key": keys["read"]}).status_code == 403
    assert client.post(f"{BASE}/entities", json=BIN, headers={"X-Api-Key": "wrong"}).status_code == 401


def test_public_types_are_readable_anonymously_others_are_not(client, w, keys):
    create(client, w, air(1))
    create(client, w, BIN)
    anonymous = {"Link": link(SDM)}
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=anonymous).status_code == 200
    hidden = client.get(f"{BASE}/entities/{BIN['id']}")
    assert hidden.status_code == 404 and hidden.json()["type"] == ERR + "ResourceNotFound"
    assert client.get(f"{BASE}/entities/{BIN['id']}", headers={"X-Api-Key": keys["read"]}).status_code == 200
    listing = client.get(f"{BASE}/entities?type=AirQualityObserved,Device", headers=anonymous).json()
    assert [e["id"] for e in listing] == ["urn:ngsi-ld:AirQualityObserved:1"]
    assert client.get(f"{BASE}/entities?type=Device").status_code == 401
    everything = client.get(f"{BASE}/entities?type=AirQualityObserved,Device",
                            headers={"X-Api-Key": keys["read"], "Link": link(SDM)}).json()
    assert len(everything) == 2


def test_a_revoked_key_stops_working(client, db, keys):
    with db.read() as session:
        key_id = queries.api_key(session, keys["write"]).id
    sensors.revoke_api_key(db, key_id)
    assert client.post(f"{BASE}/entities", json=BIN, headers={"X-Api-Key": keys["write"]}).status_code == 401


def test_keys_are_stored_as_digests(db, keys):
    with db.read() as session:
        stored = [k.digest for k in queries.api_keys(session)]
    assert keys["write"] not in stored and all(len(d) == 64 for d in stored)


def test_admins_issue_and_revoke_keys_through_the_api(client, db, settings):
    import factories
    from factories import PASSWORD
    from web_helpers import bearer

    factories.staff(db, settings, "admin@example.org", "admin")
    admin = bearer(client, "admin@example.org", PASSWORD)
    issued = client.post("/api/v1/sensors/keys", json={"name": "IoT agent", "write": True}, headers=admin)
    assert issued.status_code == 201 and issued.json()["can_write"] is True
    key = issued.json()["key"]
    assert client.post(f"{BASE}/entities", json=BIN, headers={"X-Api-Key": key}).status_code == 201
    listed = client.get("/api/v1/sensors/keys", headers=admin).json()
    assert [k["name"] for k in listed] == ["IoT agent"] and "key" not in listed[0]
    assert client.post(f"/api/v1/sensors/keys/{listed[0]['id']}/revoke", headers=admin).status_code == 204
    assert client.delete(f"{BASE}/entities/{BIN['id']}", headers={"X-Api-Key": key}).status_code == 401


def test_without_a_key_a_private_entity_looks_absent(client, w, db):
    create(client, w, BIN)
    hidden = client.get(f"{BASE}/entities/{BIN['id']}")
    missing = client.get(f"{BASE}/entities/urn:ngsi-ld:Device:nothing")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["type"] == missing.json()["type"] == ERR + "ResourceNotFound"
    assert hidden.json()["detail"].replace(BIN["id"], "X") == missing.json()["detail"].replace(
        "urn:ngsi-ld:Device:nothing", "X")
    writer = {"X-Api-Key": sensors.issue_api_key(db, "agent", "a-key", read=False, write=True)}
    assert client.get(f"{BASE}/entities/{BIN['id']}", headers=writer).status_code == 403
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Device:nothing", headers=writer).status_code == 404
