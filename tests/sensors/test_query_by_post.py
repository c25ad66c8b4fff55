"""``POST /entityOperations/query``: the query in the body, answered as ``GET /entities``."""

from __future__ import annotations

from conftest import BASE, air, create

ERR = "https://uri.etsi.org/ngsi-ld/errors/"


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"].rsplit(":", 1)[1] for e in response.json()]


def test_a_query_in_the_body(client, w, r):
    for n, (lon, no2) in enumerate([(104.90, 20.0), (104.91, 45.0), (105.00, 80.0)]):
        create(client, w, air(n, lon, 11.55, no2))
    url = f"{BASE}/entityOperations/query"
    everything = {"type": "Query", "entities": [{"type": "AirQualityObserved"}]}
    assert ids(client.post(url, json=everything, headers=r)) == ["0", "1", "2"]
    assert ids(client.post(url, json={**everything, "q": "NO2>30"}, headers=r)) == ["1", "2"]
    near = {**everything, "geoQ": {"geometry": "Point", "coordinates": [104.90, 11.55],
                                   "georel": "near;maxDistance==2000"}}
    assert ids(client.post(url, json=near, headers=r)) == ["0", "1"]
    by_id = {"type": "Query", "entities": [{"id": "urn:ngsi-ld:AirQualityObserved:2",
                                            "type": "AirQualityObserved"}]}
    assert ids(client.post(url, json=by_id, headers=r)) == ["2"]
    only = client.post(url, json={**everything, "attrs": ["NO2"]}, headers=r).json()[0]
    assert set(only) == {"id", "type", "NO2"}
    paged = client.post(f"{url}?limit=1&offset=1&count=true", json=everything, headers=r)
    assert ids(paged) == ["1"] and paged.headers["NGSILD-Results-Count"] == "3"


def test_a_body_that_is_not_a_query_is_refused(client, r):
    url = f"{BASE}/entityOperations/query"
    for body in ({"entities": [{"type": "AirQualityObserved"}]}, {"type": "Query", "entities": "x"},
                 {"type": "Query", "entities": [{"type": "AirQualityObserved"}], "attrs": []},
                 {"type": "Query", "entities": [{"type": "AirQualityObserved"}],
                  "temporalQ": {"timerel": "after", "timeAt": "2026-11-28T10:00:00Z"}},
                 {"type": "Query"}):  # the last: no filter at all
        response = client.post(url, json=body, headers=r)
        assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData", body


def test_a_selectors_id_takes_precedence_over_its_id_pattern(client, w, r):
    """CIM 009 5.2.33: given both, id decides and idPattern is ignored (not ANDed with it)."""
    for n in (1, 2):
        create(client, w, air(n))
    url = f"{BASE}/entityOperations/query"
    both = {"type": "Query", "entities": [{"type": "AirQualityObserved",
                                           "id": "urn:ngsi-ld:AirQualityObserved:1",
                                           "idPattern": "^urn:ngsi-ld:AirQualityObserved:2$"}]}
    assert ids(client.post(url, json=both, headers=r)) == ["1"]
    pattern = {"type": "Query", "entities": [{"type": "AirQualityObserved", "idPattern": ":2$"}]}
    assert ids(client.post(url, json=pattern, headers=r)) == ["2"]  # alone, a pattern still selects


def test_selectors_are_alternatives(client, w, r):
    """[{type A, id X}, {type B}] is X and every B, not the Bs that are X (CIM 009 5.2.33)."""
    for n in (1, 2, 3):
        create(client, w, air(n))
    create(client, w, {"id": "urn:ngsi-ld:WasteContainer:9", "type": "WasteContainer",
                       "fillingLevel": {"type": "Property", "value": 0.5}})
    url = f"{BASE}/entityOperations/query"
    body = {"type": "Query", "entities": [{"type": "AirQualityObserved", "id": "urn:ngsi-ld:AirQualityObserved:2"},
                                          {"type": "WasteContainer"}]}
    assert ids(client.post(url, json=body, headers=r)) == ["2", "9"]
    patterns = {"type": "Query", "entities": [{"type": "AirQualityObserved", "idPattern": ":1$"},
                                              {"type": "AirQualityObserved", "idPattern": ":3$"}]}
    counted = client.post(f"{url}?count=true", json=patterns, headers=r)
    assert ids(counted) == ["1", "3"] and counted.headers["NGSILD-Results-Count"] == "2"
    # the same selectors ask the temporal API
    temporal = client.post(f"{BASE}/temporal/entityOperations/query", json=body, headers=r)
    assert sorted(e["id"].rsplit(":", 1)[1] for e in temporal.json()) == ["2", "9"]


def test_an_entity_selector_has_a_type_and_ids_that_are_uris(client, w, r):
    """CIM 009 5.2.33: a selector's type is mandatory, its id a URI or an array of URIs (the ETSI
    suite's 5233_01_01, _03, _05); so for the temporal query's body too."""
    for n in (1, 2, 3):
        create(client, w, air(n))
    url = f"{BASE}/entityOperations/query"
    named = [f"urn:ngsi-ld:AirQualityObserved:{n}" for n in (1, 3)]
    body = {"type": "Query", "entities": [{"type": "AirQualityObserved", "id": named}]}
    assert ids(client.post(url, json=body, headers=r)) == ["1", "3"]
    # beside another selector, an array is alternatives too
    both = {"type": "Query", "entities": [{"type": "AirQualityObserved", "id": named},
                                          {"type": "AirQualityObserved", "idPattern": ":2$"}]}
    assert ids(client.post(url, json=both, headers=r)) == ["1", "2", "3"]
    for path in ("/entityOperations/query", "/temporal/entityOperations/query"):
        for selector, words in [({"id": named[0]}, "needs a type"), ({"idPattern": ":1$"}, "needs a type"),
                                ({"type": "", "id": named[0]}, "needs a type"),
                                ({"type": "AirQualityObserved", "id": [named[0], 5]}, "URI"),
                                ({"type": "AirQualityObserved", "id": []}, "array of URIs"),
                                ({"type": "AirQualityObserved", "id": ["not a uri"]}, "URI"),
                                ({"type": "AirQualityObserved", "idPattern": 5}, "idPattern")]:
            response = client.post(f"{BASE}{path}", json={"type": "Query", "entities": [selector]}, headers=r)
            assert response.status_code == 400, (path, selector, response.text)
            problem = response.json()
            assert problem["type"] == ERR + "BadRequestData" and words in problem["detail"], (path, selector)


def test_a_selector_of_every_type(client, w, r):
    """``"type": "*"`` in a selector is ``type=*`` (CIM 009 v1.9): every type, with its ids or
    pattern; beside another selector it still names every type."""
    create(client, w, air(1))
    create(client, w, {"id": "urn:ngsi-ld:WasteContainer:9", "type": "WasteContainer",
                       "fillingLevel": {"type": "Property", "value": 0.5}})
    url = f"{BASE}/entityOperations/query"
    every = {"type": "Query", "entities": [{"type": "*"}]}
    assert ids(client.post(url, json=every, headers=r)) == ["1", "9"]
    by_pattern = {"type": "Query", "entities": [{"type": "*", "idPattern": ":9$"}]}
    assert ids(client.post(url, json=by_pattern, headers=r)) == ["9"]
    mixed = {"type": "Query", "entities": [{"type": "*", "id": "urn:ngsi-ld:WasteContainer:9"},
                                           {"type": "AirQualityObserved", "idPattern": ":1$"}]}
    assert ids(client.post(url, json=mixed, headers=r)) == ["1", "9"]
    temporal = client.post(f"{BASE}/temporal/entityOperations/query", json=every, headers=r)
    assert temporal.status_code == 200, temporal.text
