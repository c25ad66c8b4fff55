"""Entities as GeoJSON (``Accept: application/geo+json``), for map clients."""

from __future__ import annotations

import pytest

from conftest import BASE, CORE, SDM, air, create, link

GEO = "application/geo+json"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"


@pytest.fixture
def stations(client, w):
    create(client, w, air(1, 104.90, 11.55, 20.0))
    create(client, w, air(2, 104.91, 11.56, 45.0, name={"type": "Property", "value": "Market"}))
    create(client, w, {"id": "urn:ngsi-ld:AirQualityObserved:3", "type": "AirQualityObserved",
                       "NO2": {"type": "Property", "value": 60}})  # not placed


def test_a_query_is_a_feature_collection(client, r, stations):
    response = client.get(f"{BASE}/entities?type=AirQualityObserved", headers={**r, "Accept": GEO})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(GEO)
    assert response.headers["link"] == link(SDM)  # the context of the properties' names
    body = response.json()
    assert body["type"] == "FeatureCollection"
    first, second, third = body["features"]
    assert first["type"] == "Feature" and first["id"] == "urn:ngsi-ld:AirQualityObserved:1"
    assert first["geometry"] == {"type": "Point", "coordinates": [104.90, 11.55]}
    assert first["properties"]["type"] == "AirQualityObserved"
    assert first["properties"]["NO2"]["value"] == 20.0
    assert second["properties"]["name"]["value"] == "Market"
    assert third["geometry"] is None  # an entity without a location is a feature without geometry
    # the context of the names travels in the body too, once at the collection's top (CIM 009
    # 4.5.16.3, the ETSI suite's 019_05_01 and 4516_01_03)
    assert body["@context"] == SDM and not any("@context" in feature for feature in body["features"])


def test_key_values_and_attrs_shape_the_properties(client, r, stations):
    response = client.get(f"{BASE}/entities?type=AirQualityObserved&options=keyValues&attrs=NO2",
                          headers={**r, "Accept": GEO})
    first = response.json()["features"][0]
    assert first["properties"] == {"type": "AirQualityObserved", "NO2": 20.0}
    assert first["geometry"]["coordinates"] == [104.90, 11.55]  # the geometry even when attrs leave it out


def test_one_entity_is_a_feature(client, r, stations):
    response = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2", headers={**r, "Accept": GEO})
    assert response.status_code == 200 and response.headers["content-type"].startswith(GEO)
    feature = response.json()
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
    assert feature["properties"]["location"]["type"] == "GeoProperty"
    assert feature["@context"] == SDM  # as an application/ld+json entity carries it (ETSI 018_05)
    assert set(feature) == {"id", "type", "geometry", "properties", "@context"}


def test_a_feature_carries_the_context_the_request_named(client, w, r, stations):
    """No Link header: the core context; a query in a body with its @context: that one."""
    key = {"X-Api-Key": r["X-Api-Key"], "Accept": GEO}
    core = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2", headers=key).json()
    assert core["@context"] == CORE
    inline = {"type": "Query", "entities": [{"type": "AirQualityObserved"}], "@context": [SDM, CORE]}
    posted = client.post(f"{BASE}/entityOperations/query", json=inline,
                         headers={**key, "Content-Type": "application/ld+json"})
    assert posted.status_code == 200, posted.text
    assert posted.json()["type"] == "FeatureCollection"
    assert posted.json()["@context"] == [SDM, CORE]


def test_another_geo_property_can_be_the_geometry(client, w, r):
    create(client, w, {"id": "urn:ngsi-ld:ParkingSpot:g1", "type": "ParkingSpot",
                       "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
                       "entrance": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [3, 4]}}})
    response = client.get(f"{BASE}/entities/urn:ngsi-ld:ParkingSpot:g1?geometryProperty=entrance",
                          headers={**r, "Accept": GEO})
    assert response.json()["geometry"]["coordinates"] == [3, 4]
    # CIM 009 5.7.2.4: geometryProperty asks for a GeoJSON answer's geometry, in no other answer
    for url in (f"{BASE}/entities/urn:ngsi-ld:ParkingSpot:g1?geometryProperty=entrance",
                f"{BASE}/entities?type=ParkingSpot&geometryProperty=entrance"):
        refused = client.get(url, headers={**r, "Accept": "application/json"})
        assert refused.status_code == 400 and refused.json()["type"] == ERR + "BadRequestData", url
        assert "application/geo+json" in refused.json()["detail"]


def test_geojson_only_where_entities_are_answered(client, r, stations):
    json_default = client.get(f"{BASE}/entities?type=AirQualityObserved", headers=r)
    assert json_default.headers["content-type"].startswith("application/json")  # unless asked
    refused = client.get(f"{BASE}/types", headers={**r, "Accept": GEO})
    assert refused.status_code == 406 and refused.json()["type"] == ERR + "NotAcceptable"
