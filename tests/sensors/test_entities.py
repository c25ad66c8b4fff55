"""NGSI-LD entities: create, retrieve, delete, replace, and the spec's errors."""

from __future__ import annotations

import pytest

from conftest import BASE, CORE, SDM, air, create, link

ERR = "https://uri.etsi.org/ngsi-ld/errors/"


def test_create_then_retrieve_in_both_formats(client, w, r):
    response = client.post(f"{BASE}/entities", json=air(1), headers=w)
    assert response.status_code == 201
    assert response.headers["location"] == f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1"
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=r)
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
    assert got.headers["link"] == link(SDM)
    body = got.json()
    assert body["type"] == "AirQualityObserved"
    assert body["NO2"] == {"type": "Property", "value": 40.0, "unitCode": "GQ",
                           "observedAt": "2026-11-29T08:00:00Z"}
    assert body["location"]["value"] == {"type": "Point", "coordinates": [104.9, 11.55]}
    simple = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1?options=keyValues",
                        headers=r).json()
    assert simple["NO2"] == 40.0 and simple["location"]["type"] == "Point"
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1?format=simplified",
                      headers=r).json() == simple
    picked = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1?attrs=NO2", headers=r).json()
    assert set(picked) == {"id", "type", "NO2"}
    sys = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1?options=sysAttrs", headers=r)
    assert "createdAt" in sys.json() and "modifiedAt" in sys.json()["NO2"]


def test_duplicate_is_already_exists_and_unknown_is_not_found(client, w, r):
    create(client, w, air(1))
    again = client.post(f"{BASE}/entities", json=air(1), headers=w)
    assert again.status_code == 409 and again.json()["type"] == ERR + "AlreadyExists"
    assert again.headers["content-type"].startswith("application/json")
    missing = client.get(f"{BASE}/entities/urn:ngsi-ld:Nothing:1", headers=r)
    assert missing.status_code == 404 and missing.json()["type"] == ERR + "ResourceNotFound"
    assert client.delete(f"{BASE}/entities/urn:ngsi-ld:Nothing:1", headers=w).status_code == 404


def test_delete_and_replace(client, w, r):
    create(client, w, air(1))
    replaced = air(1, no2=12.0)
    del replaced["location"]
    assert client.put(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", json=replaced,
                      headers=w).status_code == 204
    body = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=r).json()
    assert body["NO2"]["value"] == 12.0 and "location" not in body
    assert client.delete(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=w).status_code == 204
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=r).status_code == 404


@pytest.mark.parametrize("entity, words", [
    ({"id": "not a uri", "type": "T"}, "URI"),
    ({"type": "T"}, "URI"),
    ({"id": "urn:x:1"}, "type"),
    ({"id": "urn:x:a\u0000b", "type": "T"}, "URI"),  # a control character (PostgreSQL refuses NUL)
    ({"id": "urn:x:a\nb", "type": "T"}, "URI"),
    ({"id": "urn:x:1", "type": "T", "a": {"unit": 5}}, "type among"),  # neither value, object nor languageMap
    ({"id": "urn:x:1", "type": "T", "a": None}, "cannot be null"),
    # CIM 009 4.5.2.2: members only the broker writes (ETSI 452_01_04, 452_03_02, 453_01_04)
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1, "previousValue": 0}}, "previousValue"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Relationship", "object": "urn:x:2",
                                          "previousObject": "urn:x:3"}}, "previousObject"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1, "entityIdSealed": "urn:x:1"}},
     "entityIdSealed"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Thing", "value": 1}}, "type among"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Property"}}, "needs a value"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Relationship", "object": "nope"}}, "URI"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1, "observedAt": "yesterday"}},
     "ISO 8601"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1,
                                          "observedAt": "3000-01-01T00:00:00Z"}}, "future"),
    # CIM 009 4.6.3: a DateTime is UTC with its Z, never an offset (ETSI 463_01_03)
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1,
                                          "observedAt": "2026-08-10T12:00:00+02:00"}}, "end with Z"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1,
                                          "observedAt": "2026-08-10T12:00:00"}}, "end with Z"),
    ({"id": "urn:x:1", "type": "T", "location": {"type": "GeoProperty",
                                                 "value": {"type": "Point", "coordinates": [200, 10]}}},
     "out of range"),
    ({"id": "urn:x:1", "type": "T", "location": {"type": "GeoProperty", "value": {
        "type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}}, "not a valid"),
    ({"id": "urn:x:1", "type": "T", "location": {"type": "GeoProperty", "value": {"type": "Point"}}},
     "location"),
    ({"id": "urn:x:1", "type": "T", "location": {"type": "Property", "value": 1}}, "GeoProperty"),
    # what the ETSI conformance suite checks: members that are not the type's, reserved names, Null
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1, "object": "urn:x:2"}},
     "The Property 'a' cannot have object"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Relationship", "object": "urn:x:2", "value": 1}},
     "cannot have value"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Relationship", "object": "urn:x:2", "unitCode": "MTR"}},
     "cannot have unitCode"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1, "languageMap": {"fr": "x"}}},
     "cannot have languageMap"),
    ({"id": "urn:x:1", "type": "T", "datasetId": {"type": "Property", "value": 1}}, "reserves"),
    ({"id": "urn:x:1", "type": "9Vehicle"}, "starts with a letter"),
    ({"id": "urn:x:1", "type": "T", "_a": {"type": "Property", "value": 1}}, "starts with a letter"),
    ({"id": "urn:x:1", "type": "T", "observedAt": {"type": "Property", "value": 1}}, "reserves"),
    ({"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": "urn:ngsi-ld:null"}},
     "cannot have NGSI-LD's Null (a)"),
])
def test_invalid_entities_are_bad_request_data(client, w, entity, words):
    response = client.post(f"{BASE}/entities", json=entity, headers=w)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ERR + "BadRequestData"
    assert words in response.json()["detail"]


@pytest.mark.parametrize("raw", [b"{", b"[1,", b'{"id": NaN}', b"\xff\xfe", b""])
def test_malformed_bodies_are_invalid_request_never_500(client, w, raw):
    response = client.post(f"{BASE}/entities", content=raw,
                           headers={**w, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["type"] == ERR + "InvalidRequest"


def test_nan_value_is_refused(client, w):
    raw = b'{"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": Infinity}}'
    response = client.post(f"{BASE}/entities", content=raw, headers={**w, "Content-Type": "application/json"})
    assert response.status_code == 400


def test_an_id_in_the_path_must_be_a_uri(client, r):
    response = client.get(f"{BASE}/entities/nope", headers=r)
    assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData"


def test_multi_attributes_are_refused_plainly(client, w):
    entity = air(1, NO2=[{"type": "Property", "value": 40, "datasetId": "urn:ngsi-ld:Dataset:a"},
                         {"type": "Property", "value": 42, "datasetId": "urn:ngsi-ld:Dataset:b"}])
    response = client.post(f"{BASE}/entities", json=entity, headers=w)
    assert response.status_code == 422 and response.json()["type"] == ERR + "OperationNotSupported"
    assert "datasetId" in response.json()["detail"]
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=w).status_code == 404


def test_body_too_large(client, w, settings):
    blob = {"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": "x" * 2_100_000}}
    response = client.post(f"{BASE}/entities", json=blob, headers=w)
    assert response.status_code == 413
    # the spec's problem, in English as every NGSI-LD error, not the web pages' generic one
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["type"] == ERR + "BadRequestData"
    assert "2000000 bytes" in response.json()["detail"]
    assert client.get(f"{BASE}/entities/urn:x:1", headers=w).status_code == 404


def test_a_100_mb_batch_is_refused_by_its_declared_length_before_it_is_read(client, w):
    headers = {**w, "Content-Type": "application/json", "Content-Length": str(100_000_000)}
    response = client.post(f"{BASE}/entityOperations/upsert", content=b"[" + b" " * 1000, headers=headers)
    assert response.status_code == 413 and response.json()["type"] == ERR + "BadRequestData"


def test_the_ngsi_ld_body_limit_is_the_citys_setting(settings, db, keys):
    from fastapi.testclient import TestClient

    from parvis.app import create_app

    roomy = settings.model_copy(update={"ngsi_max_body_bytes": 3_000_000})
    blob = {"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": "x" * 2_100_000}}
    with TestClient(create_app(roomy, database=db)) as client:
        headers = {"X-Api-Key": keys["write"], "Link": link(SDM)}
        assert client.post(f"{BASE}/entities", json=blob, headers=headers).status_code == 201
        stored = client.get(f"{BASE}/entities/urn:x:1", headers=headers).json()
        assert len(stored["a"]["value"]) == 2_100_000


def test_core_context_is_used_without_link(client, keys):
    headers = {"X-Api-Key": keys["write"]}
    create(client, headers, {"id": "urn:x:1", "type": "Thing",
                             "speed": {"type": "Property", "value": 3}})
    got = client.get(f"{BASE}/entities/urn:x:1", headers=headers)
    assert got.headers["link"] == link(CORE)
    assert got.json()["type"] == "Thing" and got.json()["speed"]["value"] == 3


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**64, 10**30, [1, {"a": 2**70}],
                                   _nested(33), {"a": _nested(40)}])
def test_values_that_cannot_be_served_back_are_refused(client, w, r, value):
    entity = {"id": "urn:ngsi-ld:Device:big", "type": "Device", "v": {"type": "Property", "value": value}}
    response = client.post(f"{BASE}/entities", json=entity, headers=w)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ERR + "BadRequestData"
    create(client, w, {**entity, "v": {"type": "Property", "value": 1}})
    patched = client.patch(f"{BASE}/entities/urn:ngsi-ld:Device:big/attrs/v", json={"value": value}, headers=w)
    assert patched.status_code == 400 and patched.json()["type"] == ERR + "BadRequestData"
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Device:big", headers=r).json()["v"]["value"] == 1
    page = client.get(f"{BASE}/entities?type=Device", headers=r)
    assert page.status_code == 200 and len(page.json()) == 1


def test_the_largest_values_are_served_back(client, w, r):
    value = [2**63 - 1, -(2**63), 12345678901234567890.5, "123456789012345678901234567890", _nested(31)]  # 32 deep
    create(client, w, {"id": "urn:ngsi-ld:Device:1234567890123456789012345", "type": "Device",
                       "v": {"type": "Property", "value": value}})
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:Device:1234567890123456789012345", headers=r)
    assert got.status_code == 200 and got.json()["v"]["value"] == value


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"id": "urn:x:1", "type": "T", "a": ' + b"[" * 5000,
                                 b"[" * 3000 + b"]" * 3000])
def test_deeply_nested_bodies_are_bad_request_data(client, w, raw):
    response = client.post(f"{BASE}/entities", content=raw, headers={**w, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ERR + "BadRequestData"
    batch = client.post(f"{BASE}/entityOperations/upsert", content=raw,
                        headers={**w, "Content-Type": "application/json"})
    assert batch.status_code == 400 and batch.json()["type"] == ERR + "BadRequestData"


def test_an_http_uri_id_with_slashes_is_addressable_through_its_location(client, w, r):
    entity = {"id": "https://city.example/sensors/air/7", "type": "AirQualityObserved",
              "NO2": {"type": "Property", "value": 22}}
    created = client.post(f"{BASE}/entities", json=entity, headers=w)
    assert created.status_code == 201
    location = created.headers["location"]
    assert location == f"{BASE}/entities/https:%2F%2Fcity.example%2Fsensors%2Fair%2F7"
    assert client.get(location, headers=r).json()["NO2"]["value"] == 22
    patched = client.patch(f"{location}/attrs/NO2", json={"value": 30}, headers=w)
    assert patched.status_code == 204, patched.text
    assert client.post(f"{location}/attrs", json={"PM10": {"type": "Property", "value": 9}},
                       headers=w).status_code == 204
    assert client.delete(f"{location}/attrs/PM10", headers=w).status_code == 204
    body = client.get(location, headers=r).json()
    assert body["NO2"]["value"] == 30 and "PM10" not in body
    assert client.delete(location, headers=w).status_code == 204
    assert client.get(location, headers=r).status_code == 404


@pytest.mark.parametrize("attr, detail", [
    ({"type": "Property", "value": 0.04, "unitCode": "GP"}, "NO2 is read in µg/m³ (unitCode GQ); GP was sent"),
    ({"type": "Property", "value": -3, "unitCode": "GQ"}, "NO2 cannot be negative"),
])
def test_values_the_hub_would_misread_are_refused_with_the_unit_it_reads(client, w, r, attr, detail):
    entity = air(1)
    entity["NO2"] = attr
    response = client.post(f"{BASE}/entities", json=entity, headers=w)
    assert response.status_code == 400 and detail in response.json()["detail"], response.text
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=r).status_code == 404
    create(client, w, air(1))  # µg/m³ as sent, or no unitCode: stored
    speed = {"type": "Property", "value": 30, "unitCode": "HM"}  # miles per hour
    patch = client.patch(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1/attrs",
                         json={"averageVehicleSpeed": speed}, headers=w)
    assert patch.status_code == 400 and "km/h" in patch.json()["detail"]
    one = client.patch(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1/attrs/NO2",
                       json={"value": -1}, headers=w)
    assert one.status_code == 400 and "negative" in one.json()["detail"]


def test_collections_answer_with_a_trailing_slash_as_other_brokers_do(client, w, r):
    """Clients written for Orion-LD or Stellio send POST /entities/ and /entityOperations/create/."""
    created = client.post(f"{BASE}/entities/", json=air(1), headers=w)
    assert created.status_code == 201, created.text
    batch = client.post(f"{BASE}/entityOperations/create/", json=[air(2), air(3)], headers=w)
    assert batch.status_code == 201, batch.text
    found = client.get(f"{BASE}/entities/?type=AirQualityObserved", headers=r)
    assert sorted(e["id"] for e in found.json()) == [f"urn:ngsi-ld:AirQualityObserved:{n}" for n in (1, 2, 3)]
    # an entity's attribute collection too (CIM 009 6.6 writes it .../attrs/)
    appended = client.post(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1/attrs/", headers=w,
                           json={"PM10": {"type": "Property", "value": 9}})
    assert appended.status_code == 204, appended.text
    updated = client.patch(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1/attrs/", headers=w,
                           json={"PM10": {"type": "Property", "value": 10}})
    assert updated.status_code == 204, updated.text
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=r).json()["PM10"]["value"] == 10
    # only to append and update: a DELETE of ".../attrs/" never becomes the DELETE of an entity
    # whose id ends in "/attrs"
    create(client, w, air(7, id="urn:ngsi-ld:AirQualityObserved:7/attrs"))
    assert client.delete(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:7/attrs/", headers=w).status_code != 204
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:7%2Fattrs", headers=r).status_code == 200
    # an id keeps its characters: a trailing slash there is part of the id
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1/", headers=r).status_code == 404


def test_retrieving_only_attributes_the_entity_lacks_is_resource_not_found(client, w, r):
    create(client, w, air(1))
    missing = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1?attrs=PM10,O3", headers=r)
    assert missing.status_code == 404 and missing.json()["type"] == ERR + "ResourceNotFound"
    some = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1?attrs=PM10,NO2", headers=r).json()
    assert some["NO2"]["value"] == 40.0 and "PM10" not in some


def test_the_members_ngsi_ld_1_8_added_are_kept(client, w, r):
    """valueType, objectType and a languageMap of several texts (CIM 009 v1.8)."""
    entity = {**air(1), "NO2": {"type": "Property", "value": 40.0, "valueType": "Number"},
              "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:1", "objectType": "Device"},
              "alias": {"type": "LanguageProperty", "languageMap": {"fr": ["Marché", "Grand marché"]}}}
    create(client, w, entity)
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=r).json()
    assert got["NO2"]["valueType"] == "Number" and got["refDevice"]["objectType"] == "Device"
    assert got["alias"]["languageMap"] == {"fr": ["Marché", "Grand marché"]}
    for bad in ({"type": "Property", "value": 1, "valueType": 5},
                {"type": "LanguageProperty", "languageMap": {"fr": "x"}, "valueType": "xsd:string"},
                {"type": "LanguageProperty", "languageMap": {"": "x"}}):
        assert client.post(f"{BASE}/entities", json={**air(2), "alias": bad}, headers=w).status_code == 400
    fine = {"type": "LanguageProperty", "languageMap": {"fr": "x"}, "valueType": "langString"}
    assert client.post(f"{BASE}/entities", json={**air(3), "alias": fine}, headers=w).status_code == 201


def test_a_type_parameter_names_the_entity_type_it_must_have(client, w, r):
    create(client, w, air(1))
    url = f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1"
    assert client.get(f"{url}?type=AirQualityObserved", headers=r).status_code == 200
    assert client.get(f"{url}?type=WasteContainer", headers=r).status_code == 404
    assert client.delete(f"{url}?type=WasteContainer", headers=w).status_code == 404
    assert client.get(url, headers=r).status_code == 200  # still there
    assert client.delete(f"{url}?type=AirQualityObserved", headers=w).status_code == 204


def test_a_write_with_a_type_parameter_leaves_an_entity_of_another_type_alone(client, w, r):
    create(client, w, air(1))
    url = f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1"
    other = "?type=WasteContainer"
    no2 = {"NO2": {"type": "Property", "value": 99}}
    for method, path, body in [("POST", "/attrs", no2), ("PATCH", "/attrs", no2),
                               ("PATCH", "/attrs/NO2", {"value": 99}),
                               ("PUT", "/attrs/NO2", {"type": "Property", "value": 99}),
                               ("DELETE", "/attrs/NO2", None), ("PATCH", "", no2),
                               ("PUT", "", {"type": "AirQualityObserved", **no2})]:
        answer = client.request(method, f"{url}{path}{other}", json=body, headers=w)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["type"] == ERR + "ResourceNotFound"
    assert client.get(url, headers=r).json()["NO2"]["value"] != 99  # nothing written
    same = "?type=AirQualityObserved"
    assert client.patch(f"{url}/attrs/NO2{same}", json={"value": 99}, headers=w).status_code == 204
    assert client.get(url, headers=r).json()["NO2"]["value"] == 99


@pytest.mark.parametrize("content_type", ["application/ld+json", "application/json"])
@pytest.mark.parametrize("raw", [b"[]", b'"urn:x:1"', b"42"])
def test_a_body_that_is_not_an_entity_object_is_invalid_request_whatever_its_media_type(client, w, raw,
                                                                                      content_type):
    """ETSI 001_02_02: ``[]`` posted as JSON-LD is a malformed request, not a missing @context."""
    headers = {"X-Api-Key": w["X-Api-Key"], "Content-Type": content_type}
    response = client.post(f"{BASE}/entities", content=raw, headers=headers)
    assert response.status_code == 400 and response.json()["type"] == ERR + "InvalidRequest", response.text


def test_an_entity_addressed_without_its_id_is_bad_request_data(client, w, r):
    """ETSI 054_02_02: PUT /entities/ is the replacement of an entity whose id is missing."""
    create(client, w, air(1))
    for method in ("PUT", "PATCH", "DELETE"):
        response = client.request(method, f"{BASE}/entities/", json=air(1), headers=w)
        assert response.status_code == 400, (method, response.text)
        assert response.json()["type"] == ERR + "BadRequestData" and "path" in response.json()["detail"]
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=r).status_code == 200
    # the collection's own methods still take the trailing slash
    assert [e["id"] for e in client.get(f"{BASE}/entities/?type=AirQualityObserved", headers=r).json()] == [
        "urn:ngsi-ld:AirQualityObserved:1"]


@pytest.mark.parametrize("entity", [
    {"id": "urn:x:1", "type": "type", "@context": ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"]},
    {"id": "urn:x:1", "type": "T", "@context": {"secret": "@id"}, "secret": {"type": "Property", "value": 1}},
    {"id": "urn:x:1", "type": "T", "@context": CORE,
     "a": {"type": "Property", "value": 1, "id": {"type": "Property", "value": 2}}},
])
def test_names_standing_for_json_ld_keywords_are_refused(client, w, r, entity):
    """ETSI 001_02_04: ``type`` is @type in the core context: it names no entity type, no attribute."""
    import json

    response = client.post(f"{BASE}/entities", content=json.dumps(entity),
                           headers={"X-Api-Key": w["X-Api-Key"], "Content-Type": "application/ld+json"})
    assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData", response.text
    assert "JSON-LD keyword" in response.json()["detail"]
    assert client.get(f"{BASE}/entities/urn:x:1", headers=r).status_code == 404


@pytest.mark.parametrize("point", [0x202E, 0x200B, 0xFEFF, 0xFE00, 0xFE0F, 0xE0100, 0xE01EF, 0xFDD0, 0xFDEF,
                                   0xFFFE, 0xFFFF, 0x1FFFE, 0x10FFFF, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800,
                                   0x00AD, 0xE000])
def test_ids_with_invisible_characters_are_refused(client, w, r, point):
    """ETSI 451_02: an id holding a character no reader sees reads back as another id."""
    from urllib.parse import quote

    entity_id = f"urn:ngsi-ld:Vehicle:A{chr(point)}B"
    response = client.post(f"{BASE}/entities", json=air(1, id=entity_id), headers=w)
    assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData", response.text
    assert f"U+{point:04X}" in response.json()["detail"]
    assert client.get(f"{BASE}/entities/{quote(entity_id)}", headers=r).status_code == 400
    hidden_object = air(2, refDevice={"type": "Relationship", "object": entity_id})
    assert client.post(f"{BASE}/entities", json=hidden_object, headers=w).status_code == 400


def test_ids_in_any_script_stay_accepted(client, w, r):
    from urllib.parse import quote

    ids = ["urn:ngsi-ld:Place:Huế", "urn:ngsi-ld:Place:Hue\u0301", "urn:ngsi-ld:Place:ភ្នំពេញ",
           "urn:ngsi-ld:Place:القاهرة", "urn:ngsi-ld:Place:서울", "urn:ngsi-ld:Ciudad:París",
           "urn:ngsi-ld:Place:می\u200cخواهم"]  # a zero-width non-joiner: how Persian is spelt
    for n, entity_id in enumerate(ids):
        create(client, w, air(n, id=entity_id, refDevice={"type": "Relationship", "object": ids[-1 - n]}))
        got = client.get(f"{BASE}/entities/{quote(entity_id)}", headers=r)
        assert got.status_code == 200 and got.json()["id"] == entity_id
        assert got.json()["refDevice"]["object"] == ids[-1 - n]


def test_a_geo_property_given_as_geojson_text_is_stored_as_its_geometry(client, w, r):
    """CIM 009 4.7.2 (ETSI 471_01_01): a geometry encoded as a JSON string is accepted, and served
    back as the geometry object."""
    text = '{"type": "Point", "coordinates": [17.1, 48.7]}'
    create(client, w, air(1, location={"type": "GeoProperty", "value": text}))
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=r).json()
    assert got["location"] == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [17.1, 48.7]}}
    near = client.get(f"{BASE}/entities?georel=near;maxDistance==10&geometry=Point&coordinates=[17.1,48.7]",
                      headers=r).json()
    assert [e["id"] for e in near] == ["urn:ngsi-ld:AirQualityObserved:1"]
    for value in ("not a geometry", '{"type": "Point", "coordinates": [200, 10]}', '{"type": "Feature"}',
                  '[17.1, 48.7]', '{"type": "Point", "coordinates": [1, 2]'):
        refused = client.post(f"{BASE}/entities", json=air(2, location={"type": "GeoProperty", "value": value}),
                              headers=w)
        assert refused.status_code == 400 and refused.json()["type"] == ERR + "BadRequestData", value
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2", headers=r).status_code == 404


@pytest.mark.parametrize("attrs, named", [("id,type", "id, type"), ("createdAt", "createdAt"),
                                          ("NO2,modifiedAt", "modifiedAt"), ("observedAt", "observedAt"),
                                          ("ngsi-ld:createdAt", "ngsi-ld:createdAt"), ("@context", "@context")])
def test_attrs_names_attributes_only(client, w, r, attrs, named):
    """ETSI 019_03_03, 5722_01_01: entity members and system attributes are not attributes to ask for
    (a query by them alone would be too wide), in every API that reads ``attrs``."""
    create(client, w, air(1))
    for url in (f"{BASE}/entities?attrs={attrs}", f"{BASE}/entities?type=AirQualityObserved&attrs={attrs}",
                f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1?attrs={attrs}",
                f"{BASE}/temporal/entities?attrs={attrs}&timerel=after&timeAt=2020-01-01T00:00:00Z",
                f"{BASE}/temporal/entities/urn:ngsi-ld:AirQualityObserved:1?attrs={attrs}"):
        response = client.get(url, headers=r)
        assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData", url
        assert named in response.json()["detail"]
    assert client.get(f"{BASE}/entities?attrs=NO2", headers=r).status_code == 200


def test_type_star_selects_every_type(client, w, r):
    """CIM 009 v1.9 6.4.3.2 (ETSI 019_26): ``type=*`` is the entities of every type, held here."""
    create(client, w, air(1))
    create(client, w, {"id": "urn:ngsi-ld:WasteContainer:1", "type": "WasteContainer",
                       "fillingLevel": {"type": "Property", "value": 0.5}})
    every = client.get(f"{BASE}/entities?type=*", headers=r)
    assert every.status_code == 200
    assert sorted(e["id"] for e in every.json()) == ["urn:ngsi-ld:AirQualityObserved:1",
                                                     "urn:ngsi-ld:WasteContainer:1"]
    assert [e["id"] for e in client.get(f"{BASE}/entities?type=*&q=fillingLevel>0.1", headers=r).json()] == [
        "urn:ngsi-ld:WasteContainer:1"]
    assert client.get(f"{BASE}/entities?type=*&local=true", headers=r).status_code == 200
    refused = client.get(f"{BASE}/entities?type=*&local=false", headers=r)
    assert refused.status_code == 400 and refused.json()["type"] == ERR + "BadRequestData"
    assert client.get(f"{BASE}/entities?type=*,AirQualityObserved", headers=r).status_code == 400


def test_an_observed_at_written_plus_zero_hours_is_utc_and_read_back_with_z(client, w, r):
    """Python's isoformat writes UTC as +00:00: that is no offset from UTC, it is taken."""
    entity = air(1)
    entity["NO2"]["observedAt"] = "2026-11-29T08:00:00+00:00"
    create(client, w, entity)
    got = client.get(f"{BASE}/entities/{entity['id']}", headers=r).json()
    assert got["NO2"]["observedAt"] == "2026-11-29T08:00:00Z"


def test_an_observed_at_in_utc_is_read_back_as_written(client, w, r):
    """ETSI 558_01_01: milliseconds given are milliseconds read back; the time is still a time
    (a q compares it as one, whatever digits it was written with)."""
    entity = air(1)
    entity["NO2"]["observedAt"] = "2026-11-29T08:00:00.000Z"
    create(client, w, entity)
    url = f"{BASE}/entities/{entity['id']}"
    assert client.get(url, headers=r).json()["NO2"]["observedAt"] == "2026-11-29T08:00:00.000Z"
    later = {"type": "Property", "value": 14, "observedAt": "2026-11-29T08:00:00.5Z"}
    assert client.patch(f"{url}/attrs/NO2", json=later, headers=w).status_code == 204
    assert client.get(url, headers=r).json()["NO2"]["observedAt"] == "2026-11-29T08:00:00.5Z"
    found = client.get(f"{BASE}/entities?type=AirQualityObserved&q=NO2.observedAt>2026-11-29T08:00:00Z",
                       headers=r).json()
    assert [e["id"] for e in found] == [entity["id"]]


def test_an_entity_may_be_written_with_json_ld_s_id_and_type(client, w, r):
    """CIM 009 4.4: requests may use @id and @type for id and type; answers use id and type."""
    entity = air(1)
    aliased = {"@id": entity.pop("id"), "@type": entity.pop("type"), **entity}
    assert client.post(f"{BASE}/entities", json=aliased, headers=w).status_code == 201
    got = client.get(f"{BASE}/entities/{aliased['@id']}", headers=r).json()
    assert got["id"] == aliased["@id"] and got["type"] == "AirQualityObserved" and "@id" not in got
    replaced = {"@id": aliased["@id"], "@type": "AirQualityObserved", "NO2": {"type": "Property", "value": 9}}
    response = client.put(f"{BASE}/entities/{aliased['@id']}", json=replaced, headers=w)
    assert response.status_code == 204, response.text
    assert client.get(f"{BASE}/entities/{aliased['@id']}", headers=r).json()["NO2"]["value"] == 9
    batch = [{"@id": "urn:ngsi-ld:AirQualityObserved:2", "@type": "AirQualityObserved",
              "NO2": {"type": "Property", "value": 3}}]
    assert client.post(f"{BASE}/entityOperations/upsert", json=batch, headers=w).status_code == 201
    both = {"id": "urn:ngsi-ld:AirQualityObserved:3", "@id": "urn:ngsi-ld:AirQualityObserved:4",
            "type": "AirQualityObserved"}
    refused = client.post(f"{BASE}/entities", json=both, headers=w)
    assert refused.status_code == 400 and "@id" in refused.json()["detail"]


def test_an_entity_may_be_written_in_the_concise_representation(client, w, r):
    """CIM 009 4.5.2.3, 4.5.3.3: a bare value is a Property, a geometry a GeoProperty, an object
    without a type is read by its value, object or languageMap; answers are normalized."""
    concise = {"id": "urn:ngsi-ld:AirQualityObserved:c1", "type": "AirQualityObserved",
               "NO2": 21, "name": "Chợ Đông Ba", "tags": ["market", "busy"],
               "location": {"type": "Point", "coordinates": [107.58, 16.47]},
               "area": {"value": {"type": "Point", "coordinates": [107.5, 16.4]}},
               "O3": {"value": 60, "unitCode": "GQ", "observedAt": "2026-11-29T08:00:00Z", "accuracy": 0.5},
               "refDevice": {"object": "urn:ngsi-ld:Device:1"},
               "label": {"languageMap": {"vi": "Chợ", "fr": "Marché"}}}
    assert client.post(f"{BASE}/entities", json=concise, headers=w).status_code == 201
    got = client.get(f"{BASE}/entities/{concise['id']}", headers=r).json()
    assert got["NO2"] == {"type": "Property", "value": 21}
    assert got["tags"] == {"type": "Property", "value": ["market", "busy"]}
    assert got["location"]["type"] == "GeoProperty" and got["area"]["type"] == "GeoProperty"
    assert got["O3"]["type"] == "Property" and got["O3"]["accuracy"] == {"type": "Property", "value": 0.5}
    assert got["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:1"}
    assert got["label"]["type"] == "LanguageProperty"
    near = f"{BASE}/entities?type=AirQualityObserved&georel=near;maxDistance==100&geometry=Point&coordinates=[107.58,16.47]"
    assert [e["id"] for e in client.get(near, headers=r).json()] == [concise["id"]]
    # an update and a merge take it too; Null given concisely deletes
    assert client.patch(f"{BASE}/entities/{concise['id']}/attrs", json={"NO2": 25}, headers=w).status_code == 204
    merged = client.post(f"{BASE}/entityOperations/merge", headers=w, json=[
        {"id": concise["id"], "type": "AirQualityObserved", "tags": "urn:ngsi-ld:null"}])
    assert merged.status_code == 204, merged.text
    got = client.get(f"{BASE}/entities/{concise['id']}", headers=r).json()
    assert got["NO2"]["value"] == 25 and "tags" not in got
    # an array of attribute instances is still a multi-attribute, refused plainly
    multi = {"id": "urn:ngsi-ld:AirQualityObserved:c2", "type": "AirQualityObserved",
             "NO2": [{"type": "Property", "value": 1, "datasetId": "urn:ngsi-ld:Dataset:a"},
                     {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:b"}]}
    assert client.post(f"{BASE}/entities", json=multi, headers=w).status_code == 422
