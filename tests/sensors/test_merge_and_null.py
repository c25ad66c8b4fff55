"""Merge entity (PATCH /entities/{id}), replace attribute (PUT .../attrs/{attr}), NGSI-LD Null,
and NGSI-LD's own errors for what is not served."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from conftest import BASE, air, create
from parvis.modules.sensors import aggregates
from parvis.modules.sensors.actions import attribute_iri
from parvis.modules.sensors.models import Observation
from parvis.settings import Settings

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
E1 = "urn:ngsi-ld:AirQualityObserved:1"


def get(client, r) -> dict:
    return client.get(f"{BASE}/entities/{E1}?options=sysAttrs", headers=r).json()


def test_merge_adds_merges_and_deletes_with_null(client, w, r):
    create(client, w, air(1, name={"type": "Property", "value": "Market"}))
    created = get(client, r)["NO2"]["createdAt"]
    body = {"NO2": {"type": "Property", "value": 12},  # unitCode and observedAt stay
            "O3": {"type": "Property", "value": 60},   # added
            "name": {"type": "Property", "value": "urn:ngsi-ld:null"}}  # deleted
    response = client.patch(f"{BASE}/entities/{E1}", json=body, headers=w)
    assert response.status_code == 204, response.text
    after = get(client, r)
    assert after["NO2"]["value"] == 12 and after["NO2"]["unitCode"] == "GQ"
    assert after["NO2"]["observedAt"] == "2026-11-29T08:00:00Z" and after["NO2"]["createdAt"] == created
    assert after["O3"]["value"] == 60 and "name" not in after
    missing = client.patch(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:404", json=body, headers=w)
    assert missing.status_code == 404 and missing.json()["type"] == ERR + "ResourceNotFound"
    other = client.patch(f"{BASE}/entities/{E1}", json={"id": "urn:x:other", **body}, headers=w)
    assert other.status_code == 400


def test_null_in_a_partial_update_deletes_the_attribute(client, w, r):
    create(client, w, air(1, O3={"type": "Property", "value": 60}))
    assert client.patch(f"{BASE}/entities/{E1}/attrs/O3", json={"value": "urn:ngsi-ld:null"},
                        headers=w).status_code == 204
    assert "O3" not in get(client, r)
    update = {"NO2": {"type": "Property", "value": "urn:ngsi-ld:null"}}
    assert client.patch(f"{BASE}/entities/{E1}/attrs", json=update, headers=w).status_code == 204
    assert "NO2" not in get(client, r)


def test_a_deleted_location_leaves_the_geo_queries(client, w, r):
    create(client, w, air(1, 104.0, 11.0))
    near = f"{BASE}/entities?georel=near;maxDistance==10&geometry=Point&coordinates=[104.0,11.0]"
    assert [e["id"] for e in client.get(near, headers=r).json()] == [E1]
    gone = {"location": {"type": "GeoProperty", "value": "urn:ngsi-ld:null"}}
    assert client.patch(f"{BASE}/entities/{E1}", json=gone, headers=w).status_code == 204
    assert client.get(near, headers=r).json() == []


def test_replace_attribute_keeps_its_creation_time(client, w, r):
    create(client, w, air(1))
    created = get(client, r)["NO2"]["createdAt"]
    new = {"type": "Property", "value": 99}
    assert client.put(f"{BASE}/entities/{E1}/attrs/NO2", json=new, headers=w).status_code == 204
    no2 = get(client, r)["NO2"]
    assert no2["value"] == 99 and "unitCode" not in no2 and no2["createdAt"] == created  # replaced whole
    absent = client.put(f"{BASE}/entities/{E1}/attrs/O3", json=new, headers=w)
    assert absent.status_code == 404 and absent.json()["type"] == ERR + "ResourceNotFound"
    assert "O3" not in get(client, r)


def test_local_true_lists_entities(client, w, r):
    create(client, w, air(1))
    response = client.get(f"{BASE}/entities?local=true", headers=r)
    assert response.status_code == 200 and [e["id"] for e in response.json()] == [E1]


def test_what_is_not_served_is_answered_in_ngsi_ld_errors(client, r):
    unknown = client.get(f"{BASE}/jsonldContexts", headers=r)
    assert unknown.status_code == 404 and unknown.json()["type"] == ERR + "ResourceNotFound"
    assert unknown.headers["content-type"].startswith("application/json")
    method = client.delete(f"{BASE}/entities", headers=r)
    assert method.status_code == 405 and method.json()["type"] == ERR + "OperationNotSupported"
    assert "DELETE" in method.json()["detail"]


def test_scopes_are_refused_plainly_not_dropped(client, w, r):
    with_scope = {**air(9), "scope": "/Hue/Citadel"}
    response = client.post(f"{BASE}/entities", json=with_scope, headers=w)
    assert response.status_code == 422 and response.json()["type"] == ERR + "OperationNotSupported"
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:9", headers=r).status_code == 404
    query = client.get(f"{BASE}/entities?type=AirQualityObserved&scopeQ=/Hue", headers=r)
    assert query.status_code == 422 and "scopeQ" in query.json()["detail"]


def test_a_language_property_is_deleted_by_its_null_language_map(client, w, r):
    """A LanguageProperty's Null is ``"languageMap": {"@none": "urn:ngsi-ld:null"}`` (CIM 009 4.5.1)."""
    street = {"type": "LanguageProperty", "languageMap": {"fr": "Rue du marché", "vi": "Phố Chợ"}}
    create(client, w, air(1, street=street, name={"type": "LanguageProperty", "languageMap": {"fr": "Gare"}}))
    null = {"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}}
    assert client.patch(f"{BASE}/entities/{E1}/attrs/street", json=null, headers=w).status_code == 204
    assert "street" not in get(client, r)
    assert client.patch(f"{BASE}/entities/{E1}/attrs", json={"name": null}, headers=w).status_code == 204
    assert "name" not in get(client, r)


NULL = "urn:ngsi-ld:null"
ADDRESS = {"type": "Property", "value": {"street": "Lê Lợi", "city": "Huế", "country": "Việt Nam"}}


def test_a_new_entity_has_null_nowhere(client, w, r):
    """CIM 009 5.2.1, 5.5.4 (ETSI 521_01_03, 554_01_02): Null deletes; a new entity has nothing to
    delete, in a sub-attribute or inside a value either."""
    for attr in ({"type": "Property", "value": 1, "accuracy": {"type": "Property", "value": NULL}},
                 {"type": "Property", "value": 1, "providedBy": {"type": "Relationship", "object": NULL}},
                 {"type": "Property", "value": {"country": NULL}},
                 {"type": "Property", "value": {"geo": {"country": NULL}}},
                 {"type": "Property", "value": [1, NULL]},
                 {"type": "Relationship", "object": ["urn:ngsi-ld:Device:1", NULL]}):
        response = client.post(f"{BASE}/entities", json=air(1, address=attr), headers=w)
        assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData", attr
        assert "Null" in response.json()["detail"]
        assert client.get(f"{BASE}/entities/{E1}", headers=r).status_code == 404


def test_null_inside_a_value_is_refused_but_by_a_merge(client, w, r):
    """CIM 009 5.5.4 (ETSI 554_01_03): Null is a whole value; only a merge takes it inside one."""
    create(client, w, air(1, address=ADDRESS))
    part = {"type": "Property", "value": {"country": NULL}}
    for method, path, body in [("PATCH", "/attrs/address", {"value": {"country": NULL}}),
                               ("PATCH", "/attrs", {"address": part}), ("POST", "/attrs", {"address": part}),
                               ("PUT", "/attrs/address", part),
                               ("PUT", "", {"type": "AirQualityObserved", "address": part})]:
        response = client.request(method, f"{BASE}/entities/{E1}{path}", json=body, headers=w)
        assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData", (method, path)
        assert get(client, r)["address"]["value"] == ADDRESS["value"]  # untouched
    merged = client.patch(f"{BASE}/entities/{E1}", json={"address": part}, headers=w)
    assert merged.status_code == 204, merged.text
    # Null as the whole value still deletes the attribute
    assert client.patch(f"{BASE}/entities/{E1}/attrs/address", json={"value": NULL}, headers=w).status_code == 204
    assert "address" not in get(client, r)


def test_a_merge_goes_into_an_object_value(client, w, r):
    """CIM 009 5.5.12 (ETSI 554_01_04): a merge patches a Property's object value as RFC 7396
    does: members given replace, Null removes, the others stay; Null is never stored."""
    value = {"street": "Straße des 17. Juni", "city": "Berlin", "country": "Germany",
             "geo": {"district": "Mitte", "zone": "A"}}
    create(client, w, air(1, address={"type": "Property", "value": value}))
    patch = {"address": {"type": "Property", "value": {"street": "Pariser Platz", "country": NULL,
                                                       "geo": {"zone": NULL, "block": 7}}}}
    assert client.patch(f"{BASE}/entities/{E1}", json=patch, headers=w).status_code == 204
    stored = client.get(f"{BASE}/entities/{E1}", headers=r)
    assert stored.json()["address"]["value"] == {"street": "Pariser Platz", "city": "Berlin",
                                                 "geo": {"district": "Mitte", "block": 7}}
    assert NULL not in stored.text
    # a new attribute's Null members are dropped; Null as an array item is still refused
    new = {"site": {"type": "Property", "value": {"name": "Hall", "floor": NULL}}}
    assert client.patch(f"{BASE}/entities/{E1}", json=new, headers=w).status_code == 204
    assert client.get(f"{BASE}/entities/{E1}", headers=r).json()["site"]["value"] == {"name": "Hall"}
    listed = {"site": {"type": "Property", "value": {"floors": [1, NULL]}}}
    response = client.patch(f"{BASE}/entities/{E1}", json=listed, headers=w)
    assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData"
    # the batch merge does the same
    at = "2026-11-29T09:00:00Z"
    batch = [{"id": E1, "type": "AirQualityObserved",
              "address": {"type": "Property", "value": {"city": NULL}, "observedAt": at}}]
    assert client.post(f"{BASE}/entityOperations/merge", json=batch, headers=w).status_code == 204
    merged = {"street": "Pariser Platz", "geo": {"district": "Mitte", "block": 7}}
    assert client.get(f"{BASE}/entities/{E1}", headers=r).json()["address"]["value"] == merged
    # the history holds the value as merged, not the patch
    history = client.get(f"{BASE}/temporal/entities/{E1}?attrs=address", headers=r)
    assert [i["value"] for i in history.json()["address"]] == [merged], history.text


def test_null_where_a_merge_cannot_remove_anything_is_refused(client, w, r):
    """Null inside an array (at any depth) or inside a GeoProperty's value is no member a merge
    removes: refused, nothing stored."""
    create(client, w, air(1, address=ADDRESS))
    for attr in ({"type": "Property", "value": {"rooms": [{"n": 1, "label": NULL}]}},
                 {"type": "Property", "value": [[1, NULL]]},
                 {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2], "bbox": NULL}}):
        response = client.patch(f"{BASE}/entities/{E1}", json={"site": attr}, headers=w)
        assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData", attr
    assert "site" not in get(client, r)


def test_a_merge_removes_a_sub_attribute_or_a_language_given_null(client, w, r):
    """CIM 009 5.5.12: a sub-attribute or a language given Null is removed by a merge, the rest
    kept; other writes refuse Null there (it is never stored)."""
    create(client, w, air(1, NO2={"type": "Property", "value": 20, "unitCode": "GQ",
                                  "accuracy": {"type": "Property", "value": 0.5},
                                  "method": {"type": "Property", "value": "chemiluminescence"}},
                          label={"type": "LanguageProperty", "languageMap": {"fr": "Marché", "vi": "Chợ"}}))
    patch = {"NO2": {"type": "Property", "value": 21, "accuracy": {"type": "Property", "value": NULL}},
             "label": {"type": "LanguageProperty", "languageMap": {"vi": NULL, "en": "Market"}}}
    assert client.patch(f"{BASE}/entities/{E1}", json=patch, headers=w).status_code == 204
    after = client.get(f"{BASE}/entities/{E1}", headers=r)
    no2 = after.json()["NO2"]
    assert no2["value"] == 21 and "accuracy" not in no2 and no2["method"]["value"] == "chemiluminescence"
    assert after.json()["label"]["languageMap"] == {"fr": "Marché", "en": "Market"}
    assert NULL not in after.text
    for path, body in [("/attrs", patch), ("/attrs", {"label": patch["label"]})]:
        response = client.patch(f"{BASE}/entities/{E1}{path}", json=body, headers=w)
        assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData", body
    assert NULL not in client.get(f"{BASE}/entities/{E1}", headers=r).text


def test_a_merged_typed_literal_is_replaced_whole(client, w, r):
    when = {"@type": "DateTime", "@value": "2026-11-29T08:00:00Z"}
    create(client, w, air(1, opened={"type": "Property", "value": when}))
    later = {"@type": "DateTime", "@value": "2026-11-30T08:00:00Z"}
    assert client.patch(f"{BASE}/entities/{E1}", json={"opened": {"type": "Property", "value": later}},
                        headers=w).status_code == 204
    assert get(client, r)["opened"]["value"] == later
    plain = {"note": "moved"}
    assert client.patch(f"{BASE}/entities/{E1}", json={"opened": {"type": "Property", "value": plain}},
                        headers=w).status_code == 204
    assert get(client, r)["opened"]["value"] == plain


def test_a_merge_without_observed_at_adds_no_instance_to_the_history(client, db, w, r):
    """A merge (or a partial update) without observedAt keeps the stored time, at which the new
    value was not observed: nothing joins the history, even once the old instance has expired."""
    now = datetime.now(UTC)
    old = (now - timedelta(days=50)).isoformat().replace("+00:00", "Z")
    create(client, w, air(1, O3={"type": "Property", "value": 60, "observedAt": old}))
    aggregates.rollup(db, "Asia/Ho_Chi_Minh")
    recent = {"NO2": {"type": "Property", "value": 30, "observedAt": now.isoformat().replace("+00:00", "Z")}}
    assert client.patch(f"{BASE}/entities/{E1}/attrs", json=recent, headers=w).status_code == 204
    aggregates.rollup(db, "Asia/Ho_Chi_Minh")  # the mark moves past the old instance
    settings = Settings(_env_file=None, sensors_retention_days={}, sensors_retention_default_days=30)  # type: ignore[call-arg]
    assert aggregates.expire(db, settings, now=now) == 1
    o3 = attribute_iri("O3")

    def instances() -> int:
        with db.read() as session:
            return session.scalar(select(func.count()).select_from(Observation).where(
                Observation.attribute == o3)) or 0
    assert instances() == 0
    assert client.patch(f"{BASE}/entities/{E1}", json={"O3": {"type": "Property", "value": 61}},
                        headers=w).status_code == 204
    batch = [{"id": E1, "type": "AirQualityObserved", "O3": {"type": "Property", "value": 62}}]
    assert client.post(f"{BASE}/entityOperations/merge", json=batch, headers=w).status_code == 204
    assert client.patch(f"{BASE}/entities/{E1}/attrs/O3", json={"value": 63}, headers=w).status_code == 204
    assert instances() == 0
    o3_now = get(client, r)["O3"]
    assert (o3_now["value"], o3_now["observedAt"]) == (63, old)


def test_an_attribute_cannot_be_named_as_the_entity_s_system_attributes(client, w):
    body = air(1, **{"https://uri.etsi.org/ngsi-ld/modifiedAt": {"type": "Property", "value": "x"}})
    response = client.post(f"{BASE}/entities", json=body, headers=w)
    assert response.status_code == 400 and "modifiedAt" in response.json()["detail"]
