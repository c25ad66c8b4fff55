"""Attributes (append, update, partial update, delete) and batch entity operations."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from conftest import BASE, air, create

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
E1 = "urn:ngsi-ld:AirQualityObserved:1"
NO2_IRI = "https://smartdatamodels.org/dataModel.Environment/NO2"
O3_IRI = "https://smartdatamodels.org/dataModel.Environment/O3"


def get(client, r, entity_id: str = E1) -> dict:
    return client.get(f"{BASE}/entities/{entity_id}", headers=r).json()


def test_append_with_and_without_overwrite(client, w, r):
    create(client, w, air(1))
    extra = {"O3": {"type": "Property", "value": 60}, "NO2": {"type": "Property", "value": 99}}
    assert client.post(f"{BASE}/entities/{E1}/attrs", json=extra, headers=w).status_code == 204
    assert get(client, r)["NO2"]["value"] == 99 and get(client, r)["O3"]["value"] == 60
    more = {"pm10": {"type": "Property", "value": 5}, "NO2": {"type": "Property", "value": 1}}
    partial = client.post(f"{BASE}/entities/{E1}/attrs?options=noOverwrite", json=more, headers=w)
    assert partial.status_code == 207
    assert partial.json()["notUpdated"][0]["attributeName"] == "NO2"
    assert partial.json()["updated"] == ["pm10"]
    assert get(client, r)["NO2"]["value"] == 99 and get(client, r)["pm10"]["value"] == 5


def test_update_existing_attributes_only(client, w, r):
    create(client, w, air(1))
    body = {"NO2": {"type": "Property", "value": 7}, "CO": {"type": "Property", "value": 1}}
    response = client.patch(f"{BASE}/entities/{E1}/attrs", json=body, headers=w)
    assert response.status_code == 207 and response.json()["notUpdated"][0]["attributeName"] == "CO"
    assert get(client, r)["NO2"]["value"] == 7 and "CO" not in get(client, r)
    only = client.patch(f"{BASE}/entities/{E1}/attrs", json={"NO2": {"type": "Property", "value": 8}},
                        headers=w)
    assert only.status_code == 204
    missing = client.patch(f"{BASE}/entities/urn:x:404/attrs", json=body, headers=w)
    assert missing.status_code == 404 and missing.json()["type"] == ERR + "ResourceNotFound"


def test_attributes_named_by_their_full_iri_in_the_path(client, w, r):
    # clients that keep expanded names send the IRI, percent-encoded, as the attribute's name
    create(client, w, air(1, O3={"type": "Property", "value": 60}))
    no2 = quote(NO2_IRI, safe="")
    assert client.patch(f"{BASE}/entities/{E1}/attrs/{no2}", json={"value": 12}, headers=w).status_code == 204
    assert get(client, r)["NO2"]["value"] == 12
    o3 = quote(O3_IRI, safe="")
    assert client.delete(f"{BASE}/entities/{E1}/attrs/{o3}", headers=w).status_code == 204
    assert "O3" not in get(client, r) and get(client, r)["NO2"]["value"] == 12
    gone = client.delete(f"{BASE}/entities/{E1}/attrs/{o3}", headers=w)
    assert gone.status_code == 404 and gone.json()["type"] == ERR + "ResourceNotFound"
    assert client.get(f"{BASE}/entities/{E1}", headers=r).status_code == 200  # the entity stays


def test_partial_attribute_update_and_delete(client, w, r):
    create(client, w, air(1))
    assert client.patch(f"{BASE}/entities/{E1}/attrs/NO2", json={"value": 55}, headers=w).status_code == 204
    no2 = get(client, r)["NO2"]
    assert no2["value"] == 55 and no2["unitCode"] == "GQ"
    moved = {"value": {"type": "Point", "coordinates": [104.0, 11.0]}}
    assert client.patch(f"{BASE}/entities/{E1}/attrs/location", json=moved, headers=w).status_code == 204
    near = client.get(f"{BASE}/entities?georel=near;maxDistance==10&geometry=Point&coordinates=[104.0,11.0]",
                      headers=r)
    assert [e["id"] for e in near.json()] == [E1]
    bad = client.patch(f"{BASE}/entities/{E1}/attrs/location",
                       json={"value": {"type": "Point", "coordinates": [1000, 0]}}, headers=w)
    assert bad.status_code == 400
    assert client.patch(f"{BASE}/entities/{E1}/attrs/CO", json={"value": 1}, headers=w).status_code == 404
    assert client.delete(f"{BASE}/entities/{E1}/attrs/NO2", headers=w).status_code == 204
    assert "NO2" not in get(client, r)
    assert client.delete(f"{BASE}/entities/{E1}/attrs/NO2", headers=w).status_code == 404
    assert client.delete(f"{BASE}/entities/{E1}/attrs/location", headers=w).status_code == 204
    again = client.get(f"{BASE}/entities?georel=near;maxDistance==10&geometry=Point&coordinates=[104.0,11.0]",
                       headers=r)
    assert again.json() == []


def test_batch_create_full_and_partial_success(client, w, r):
    created = client.post(f"{BASE}/entityOperations/create", json=[air(1), air(2)], headers=w)
    assert created.status_code == 201 and created.json() == [E1, "urn:ngsi-ld:AirQualityObserved:2"]
    mixed = client.post(f"{BASE}/entityOperations/create",
                        json=[air(3), air(1), {"id": "bad id", "type": "T"}], headers=w)
    assert mixed.status_code == 207
    body = mixed.json()
    assert body["success"] == ["urn:ngsi-ld:AirQualityObserved:3"]
    assert [(e["entityId"], e["error"]["type"]) for e in body["errors"]] == [
        (E1, ERR + "AlreadyExists"), ("bad id", ERR + "BadRequestData")]
    assert get(client, r, "urn:ngsi-ld:AirQualityObserved:3")["NO2"]["value"] == 40.0


def test_a_batch_item_with_null_inside_a_value_fails_alone(client, w, r):
    """NGSI-LD's Null stands for a whole value (ETSI 554_01): in a batch as for one entity."""
    inside = air(2, address={"type": "Property", "value": {"street": "urn:ngsi-ld:null", "town": "Huế"}})
    for operation in ("create", "upsert", "update"):
        answer = client.post(f"{BASE}/entityOperations/{operation}", json=[air(1), inside], headers=w)
        assert answer.status_code == 207, (operation, answer.text)
        (error,) = answer.json()["errors"]
        assert error["entityId"] == "urn:ngsi-ld:AirQualityObserved:2" and "Null" in error["error"]["detail"]
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2", headers=r).status_code == 404


def test_batch_upsert_update_delete(client, w, r):
    create(client, w, air(1))
    upsert = client.post(f"{BASE}/entityOperations/upsert", json=[air(1, no2=1), air(2)], headers=w)
    assert upsert.status_code == 201 and upsert.json() == ["urn:ngsi-ld:AirQualityObserved:2"]
    assert get(client, r)["NO2"]["value"] == 1
    assert client.post(f"{BASE}/entityOperations/upsert", json=[air(1, no2=2)], headers=w).status_code == 204
    patch = {"id": E1, "type": "AirQualityObserved", "O3": {"type": "Property", "value": 3}}
    update = client.post(f"{BASE}/entityOperations/update?options=noOverwrite",
                         json=[patch, {**patch, "id": "urn:x:404"}], headers=w)
    assert update.status_code == 207 and update.json()["errors"][0]["entityId"] == "urn:x:404"
    assert get(client, r)["O3"]["value"] == 3 and get(client, r)["NO2"]["value"] == 2
    deleted = client.post(f"{BASE}/entityOperations/delete", json=[E1, "urn:x:404"], headers=w)
    assert deleted.status_code == 207 and deleted.json()["success"] == [E1]
    assert deleted.json()["errors"][0]["error"]["type"] == ERR + "ResourceNotFound"
    assert client.post(f"{BASE}/entityOperations/delete", json=["urn:ngsi-ld:AirQualityObserved:2"],
                       headers=w).status_code == 204


def test_batch_rejects_what_is_not_a_list_and_needs_write(client, w, r):
    assert client.post(f"{BASE}/entityOperations/create", json={"id": "urn:x:1"}, headers=w).status_code == 400
    assert client.post(f"{BASE}/entityOperations/create", json=[], headers=w).status_code == 400
    assert client.post(f"{BASE}/entityOperations/create", json=[air(1)], headers=r).status_code == 403
    assert client.post(f"{BASE}/entityOperations/nope", json=[air(1)], headers=w).status_code == 404
    too_many = [air(n) for n in range(1001)]
    assert client.post(f"{BASE}/entityOperations/upsert", json=too_many, headers=w).status_code == 400


@pytest.mark.parametrize("patch", [{"type": "Property", "value": "x"}, {"value": 5}, {"value": "x"},
                                   {"type": "Property", "value": 5}, {"type": "Relationship",
                                                                      "object": "urn:x:1"},
                                   {"value": {"type": "Circle", "coordinates": [1, 2]}}])
def test_location_stays_a_geoproperty_with_a_geometry(client, w, r, patch):
    create(client, w, air(1))
    response = client.patch(f"{BASE}/entities/{E1}/attrs/location", json=patch, headers=w)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ERR + "BadRequestData"
    assert get(client, r)["location"]["value"] == {"type": "Point", "coordinates": [104.9, 11.55]}
    typed = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [104.5, 11.5]}}
    assert client.patch(f"{BASE}/entities/{E1}/attrs/location", json=typed, headers=w).status_code == 204
    assert get(client, r)["location"]["value"]["coordinates"] == [104.5, 11.5]


def test_concurrent_upserts_of_one_new_id_all_succeed(db):
    import threading

    from parvis.modules.sensors import actions
    from parvis.modules.sensors.standards.ngsi_ld import EntityIn

    env = "https://smartdatamodels.org/dataModel.Environment/"
    barrier = threading.Barrier(6)
    created: list[bool] = []
    failures: list[BaseException] = []

    def upsert(n: int) -> None:
        entity = EntityIn(id="urn:ngsi-ld:AirQualityObserved:race", type=f"{env}AirQualityObserved",
                          attrs={f"{env}NO2": {"type": "Property", "value": n}})
        barrier.wait()
        try:
            created.append(actions.upsert_entity(db, entity, replace=False))
        except BaseException as exc:  # the test reports whatever escaped
            failures.append(exc)

    threads = [threading.Thread(target=upsert, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures == [] and sorted(created) == [False] * 5 + [True]


def test_a_batch_is_written_at_once_and_answers_in_item_order(client, w, r):
    create(client, w, air(1))
    items = [air(2), air(1), {"id": "not a uri", "type": "T"}, air(2, no2=7), air(3)]
    created = client.post(f"{BASE}/entityOperations/create", json=items, headers=w)
    assert created.status_code == 207
    body = created.json()
    assert body["success"] == ["urn:ngsi-ld:AirQualityObserved:2", "urn:ngsi-ld:AirQualityObserved:3"]
    assert [e["entityId"] for e in body["errors"]] == [E1, "not a uri", "urn:ngsi-ld:AirQualityObserved:2"]
    # the same new id twice in an upsert: created by the first, replaced by the second
    twice = client.post(f"{BASE}/entityOperations/upsert", json=[air(4, no2=1), air(4, no2=2)], headers=w)
    assert twice.status_code == 201 and twice.json() == ["urn:ngsi-ld:AirQualityObserved:4"]
    assert get(client, r, "urn:ngsi-ld:AirQualityObserved:4")["NO2"]["value"] == 2


def test_batch_update_reports_the_attributes_no_overwrite_kept(client, w, r):
    create(client, w, air(1))
    create(client, w, air(2))
    kept = {"id": E1, "type": "AirQualityObserved",
            "NO2": {"type": "Property", "value": 99, "observedAt": "2026-11-29T09:00:00Z"}}
    mixed = {"id": "urn:ngsi-ld:AirQualityObserved:2", "type": "AirQualityObserved",
             "NO2": {"type": "Property", "value": 99}, "O3": {"type": "Property", "value": 7}}
    update = client.post(f"{BASE}/entityOperations/update?options=noOverwrite", json=[kept, mixed], headers=w)
    assert update.status_code == 207, update.text
    assert [e["entityId"] for e in update.json()["errors"]] == [E1, "urn:ngsi-ld:AirQualityObserved:2"]
    assert "not updated" in update.json()["errors"][0]["error"]["detail"]
    assert get(client, r)["NO2"]["value"] == 40.0
    history = client.get(f"{BASE}/temporal/entities/{E1}?options=temporalValues", headers=r).json()
    assert [v for v, _at in history["NO2"]["values"]] == [40.0]  # what was kept is no instance
    second = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2", headers=r).json()
    assert second["NO2"]["value"] == 40.0 and second["O3"]["value"] == 7  # the new one written


def test_a_batch_request_that_is_malformed_as_a_whole_is_refused_whole(client, w, r):
    ld = {**w, "Content-Type": "application/ld+json"}  # and w's Link header: one context too many
    body = [{**air(1), "@context": "https://smartdatamodels.org/context.jsonld"}]
    refused = client.post(f"{BASE}/entityOperations/create", json=body, headers=ld)
    assert refused.status_code == 400 and refused.json()["type"] == ERR + "BadRequestData"
    with_null = client.post(f"{BASE}/entityOperations/create", json=[air(1), None], headers=w)
    assert with_null.status_code == 400
    assert client.get(f"{BASE}/entities/{E1}", headers=r).status_code == 404  # nothing written
