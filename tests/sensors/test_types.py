"""``GET /types`` and ``GET /attributes``: the entity types and attribute names a client may read."""

from __future__ import annotations

from urllib.parse import quote

from conftest import BASE, SDM, air, create, link


def test_the_types_a_client_may_read(client, w, r):
    create(client, w, air(1))
    create(client, w, air(2, O3={"type": "Property", "value": 60}))
    create(client, w, {"id": "urn:ngsi-ld:Meter:1", "type": "Meter",  # not a public type
                       "reading": {"type": "Property", "value": 3}})
    listed = client.get(f"{BASE}/types", headers=r)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["type"] == "EntityTypeList" and body["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert sorted(body["typeList"]) == ["AirQualityObserved", "Meter"]
    anonymous = client.get(f"{BASE}/types", headers={"Link": link(SDM)}).json()
    assert anonymous["typeList"] == ["AirQualityObserved"]  # a private type is not even named


def test_types_with_details_name_their_attributes(client, w, r):
    create(client, w, air(1))
    create(client, w, air(2, O3={"type": "Property", "value": 60}))
    details = client.get(f"{BASE}/types?details=true", headers=r)
    assert details.status_code == 200, details.text
    (air_type,) = details.json()
    assert air_type["type"] == "EntityType" and air_type["typeName"] == "AirQualityObserved"
    assert air_type["id"] == "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"
    assert air_type["attributeNames"] == ["NO2", "O3", "location"]


def test_types_in_json_ld_carry_their_context(client, w, r):
    create(client, w, air(1))
    answer = client.get(f"{BASE}/types", headers={**r, "Accept": "application/ld+json"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/ld+json")
    assert answer.json()["typeList"] == ["AirQualityObserved"] and "@context" in answer.json()


def test_no_entity_no_type(client, r):
    assert client.get(f"{BASE}/types", headers=r).json()["typeList"] == []
    assert client.get(f"{BASE}/types?details=true", headers=r).json() == []


def test_the_attributes_a_client_may_read(client, w, r):
    create(client, w, air(1, O3={"type": "Property", "value": 60}))
    create(client, w, {"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot",
                       "status": {"type": "Property", "value": "free"},
                       "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5, 16.4]}}})
    create(client, w, {"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "reading": {"type": "Property", "value": 3}})
    listed = client.get(f"{BASE}/attributes", headers=r).json()
    assert listed["type"] == "AttributeList" and listed["id"].startswith("urn:ngsi-ld:AttributeList:")
    assert listed["attributeList"] == ["NO2", "O3", "location", "reading", "status"]
    anonymous = client.get(f"{BASE}/attributes", headers={"Link": link(SDM)}).json()
    assert "reading" not in anonymous["attributeList"]  # only a private type's entities hold it
    details = {a["attributeName"]: a for a in client.get(f"{BASE}/attributes?details=true", headers=r).json()}
    assert details["location"]["typeNames"] == ["AirQualityObserved", "ParkingSpot"]
    assert details["status"] == {"id": "https://uri.etsi.org/ngsi-ld/status", "type": "Attribute",
                                 "attributeName": "status", "typeNames": ["ParkingSpot"]}


def test_one_types_information(client, w, r):
    create(client, w, air(1, O3={"type": "Property", "value": 60}))
    create(client, w, air(2, refDevice={"type": "Relationship", "object": "urn:ngsi-ld:Device:2"}))
    info = client.get(f"{BASE}/types/AirQualityObserved", headers=r)
    assert info.status_code == 200, info.text
    body = info.json()
    assert body["type"] == "EntityTypeInformation" and body["typeName"] == "AirQualityObserved"
    assert body["entityCount"] == 2
    assert {(a["attributeName"], tuple(a["attributeTypes"])) for a in body["attributeDetails"]} == {
        ("NO2", ("Property",)), ("O3", ("Property",)), ("location", ("GeoProperty",)),
        ("refDevice", ("Relationship",))}
    by_iri = client.get(f"{BASE}/types/{quote(body['id'], safe='')}", headers=r)
    assert by_iri.status_code == 200 and by_iri.json()["entityCount"] == 2
    missing = client.get(f"{BASE}/types/NoSuchType", headers=r)
    assert missing.status_code == 404 and missing.json()["type"].endswith("ResourceNotFound")


def test_a_private_types_information_is_not_told_without_a_key(client, w, r):
    create(client, w, {"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "reading": {"type": "Property", "value": 3}})
    assert client.get(f"{BASE}/types/Meter", headers=r).json()["entityCount"] == 1
    anonymous = client.get(f"{BASE}/types/Meter", headers={"Link": link(SDM)})
    assert anonymous.status_code == 404  # as good as absent, as an entity of that type would be
    assert client.get(f"{BASE}/attributes/reading", headers={"Link": link(SDM)}).status_code == 404


def test_one_attributes_information(client, w, r):
    create(client, w, air(1))
    create(client, w, air(2))
    create(client, w, {"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot",
                       "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5, 16.4]}}})
    info = client.get(f"{BASE}/attributes/location", headers=r)
    assert info.status_code == 200, info.text
    assert info.json() == {"id": "https://uri.etsi.org/ngsi-ld/location", "type": "Attribute",
                           "attributeName": "location", "attributeCount": 3, "attributeTypes": ["GeoProperty"],
                           "typeNames": ["AirQualityObserved", "ParkingSpot"]}
    missing = client.get(f"{BASE}/attributes/nothing", headers=r)
    assert missing.status_code == 404 and missing.json()["type"].endswith("ResourceNotFound")


def test_a_burst_of_attribute_requests_counts_the_entities_once(settings, db, keys, monkeypatch):
    from fastapi.testclient import TestClient

    from parvis.app import create_app
    from parvis.modules.sensors import queries

    counted = []
    real = queries.Session.execute

    def spy(session, statement, *args, **kwargs):
        if "json_each" in str(statement):
            counted.append(statement)
        return real(session, statement, *args, **kwargs)

    monkeypatch.setattr(queries.Session, "execute", spy)
    patient = settings.model_copy(update={"ngsi_census_seconds": 60})
    headers = {"X-Api-Key": keys["write"], "Link": link(SDM)}
    with TestClient(create_app(patient, database=db)) as client:
        create(client, headers, air(1))
        first = client.get(f"{BASE}/attributes", headers=headers).json()["attributeList"]
        create(client, headers, air(2, O3={"type": "Property", "value": 60}))
        for _ in range(5):
            assert client.get(f"{BASE}/attributes", headers=headers).json()["attributeList"] == first
        assert client.get(f"{BASE}/types/AirQualityObserved", headers=headers).status_code == 200
    assert len(counted) == 1  # six requests, one count: O3 shows within the setting's 60 s
