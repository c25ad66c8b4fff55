"""Querying entities: type, ids, idPattern, q, attrs, paging, count and geo-queries."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from conftest import BASE, air, create

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
# Three stations in Phnom Penh-ish coordinates: 0 and 1 are ~1.1 km apart, 2 is ~11 km away.
STATIONS = [(104.90, 11.55, 20.0), (104.91, 11.55, 45.0), (105.00, 11.55, 80.0)]


@pytest.fixture
def stations(client, w):
    for n, (lon, lat, no2) in enumerate(STATIONS):
        create(client, w, air(n, lon, lat, no2, name={"type": "Property", "value": f"Station {n}"}))
    create(client, w, {"id": "urn:ngsi-ld:ParkingSpot:p1", "type": "ParkingSpot",
                       "status": {"type": "Property", "value": "free"}})


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"].rsplit(":", 1)[1] for e in response.json()]


def test_type_id_and_pattern(client, r, stations):
    assert ids(client.get(f"{BASE}/entities?type=AirQualityObserved", headers=r)) == ["0", "1", "2"]
    assert ids(client.get(f"{BASE}/entities?type=AirQualityObserved,ParkingSpot", headers=r)) == [
        "0", "1", "2", "p1"]
    both = "urn:ngsi-ld:AirQualityObserved:0,urn:ngsi-ld:AirQualityObserved:2"
    assert ids(client.get(f"{BASE}/entities?id={both}", headers=r)) == ["0", "2"]
    assert ids(client.get(f"{BASE}/entities?idPattern=.*:[12]$", headers=r)) == ["1", "2"]
    bad = client.get(f"{BASE}/entities?idPattern=(", headers=r)
    assert bad.status_code == 400 and bad.json()["type"] == ERR + "BadRequestData"
    assert client.get(f"{BASE}/entities?idPattern={'a' * 300}", headers=r).status_code == 400


def test_id_pattern_searches_anywhere_in_the_id(client, r, stations):
    # Orion-LD, Stellio and Scorpio search the pattern (unanchored): ^ and $ anchor it.
    assert ids(client.get(f"{BASE}/entities?idPattern=:[12]$", headers=r)) == ["1", "2"]
    assert ids(client.get(f"{BASE}/entities?idPattern=Parking", headers=r)) == ["p1"]
    assert ids(client.get(f"{BASE}/entities?idPattern=^Parking", headers=r)) == []


@pytest.mark.parametrize("pattern", ["(?=urn)", "(a)\\1", "(", "a{1001}"])
def test_patterns_re2_cannot_compile_are_bad_request_data(client, r, pattern):
    for url in (f"{BASE}/entities?idPattern={quote(pattern)}",
                f"{BASE}/entities?type=AirQualityObserved&q={quote(f'name~={json.dumps(pattern)}')}"):
        response = client.get(url, headers=r)
        assert response.status_code == 400, response.text
        assert response.json()["type"] == ERR + "BadRequestData"


@pytest.mark.parametrize("pattern", ["urn:((a+))+$", "urn:(a|aa)*$", "urn:((a*)*)*b"])
def test_nested_quantifiers_run_in_linear_time(client, w, r, pattern):
    # With backtracking these take 2^n steps on "urn:aaa...a!": RE2 matches in linear time.
    victim = "urn:" + "a" * 30 + "!"
    create(client, w, {"id": victim, "type": "ParkingSpot", "name": {"type": "Property", "value": victim}})
    anonymous = {"Link": r["Link"]}  # ParkingSpot is a public type: no key needed
    started = time.monotonic()
    by_id = client.get(f"{BASE}/entities?type=ParkingSpot&idPattern={quote(pattern)}", headers=anonymous)
    by_q = client.get(f"{BASE}/entities?type=ParkingSpot&q={quote(f'name~={json.dumps(pattern)}')}",
                      headers=r)
    assert time.monotonic() - started < 2
    assert by_id.status_code == 200 and by_id.json() == [], by_id.text
    assert by_q.status_code == 200 and by_q.json() == [], by_q.text


@pytest.mark.parametrize("q, expected", [
    ("NO2>40", ["1", "2"]),
    ("NO2>=45", ["1", "2"]),
    ("NO2<45", ["0"]),
    ("NO2<=45", ["0", "1"]),
    ("NO2==80", ["2"]),
    ("NO2!=80", ["0", "1"]),
    ("NO2==20,80", ["0", "2"]),
    ("NO2==30..50", ["1"]),
    ('name=="Station 1"', ["1"]),
    ("NO2>30;NO2<50", ["1"]),
    ("NO2<30|NO2>50", ["0", "2"]),
    ("(NO2<30|NO2>50);name==\"Station 2\"", ["2"]),
    ("name", ["0", "1", "2"]),
    ('name~="Station [02]"', ["0", "2"]),
])
def test_q(client, r, stations, q, expected):
    assert ids(client.get(f"{BASE}/entities?type=AirQualityObserved&q={quote(q)}", headers=r)) == expected


@pytest.fixture
def observed(client, w):
    """Three stations observed at different times, with addresses (a compound value)."""
    for n, (at, town) in enumerate([("2026-11-29T08:00:00Z", "Huế"), ("2026-11-29T09:30:00.000Z", "Hanoi"),
                                    ("2026-11-30T00:00:00Z", "Huế")]):
        entity = air(n, address={"type": "Property",
                                 "value": {"addressLocality": town, "postal": {"code": f"5300{n}"}}},
                     accuracy={"type": "Property", "value": 0.5 * n})
        entity["NO2"]["observedAt"] = at
        if n == 2:
            del entity["NO2"]["unitCode"]
        entity["NO2"]["accuracy"] = {"type": "Property", "value": 0.5 * n}
        create(client, w, entity)


@pytest.mark.parametrize("q, expected", [
    # members of an attribute, as clients of Orion-LD and Stellio write them
    ("NO2.observedAt>2026-11-29T08:30:00Z", ["1", "2"]),
    ("NO2.observedAt==2026-11-29T09:30:00Z", ["1"]),  # ".000Z" is the same time
    ("NO2.observedAt<2026-11-30T00:30:00Z", ["0", "1", "2"]),
    ("NO2.observedAt==2026-11-29T00:00:00Z..2026-11-29T23:59:59Z", ["0", "1"]),
    ('NO2.unitCode=="GQ"', ["0", "1"]),
    ("NO2.unitCode", ["0", "1"]),
    # a sub-attribute, by its name in the context
    ("NO2.accuracy>=0.5", ["1", "2"]),
    # a trailing path into a compound value
    ('address[addressLocality]=="Huế"', ["0", "2"]),
    ('address[postal.code]=="53001"', ["1"]),
    ('address[postal][code]=="53002"', ["2"]),
    ("address[missing]", []),
])
def test_q_on_members_sub_attributes_and_compound_values(client, r, observed, q, expected):
    assert ids(client.get(f"{BASE}/entities?type=AirQualityObserved&q={quote(q)}", headers=r)) == expected


@pytest.mark.parametrize("q", ["address[", "address[]", "address[a..b]", "address]x[", "NO2.", "NO2..x"])
def test_malformed_attribute_paths_are_invalid_requests(client, r, q):
    response = client.get(f"{BASE}/entities?type=AirQualityObserved&q={quote(q)}", headers=r)
    assert response.status_code == 400 and response.json()["type"] == ERR + "InvalidRequest", response.text


@pytest.mark.parametrize("q", ["NO2>", "(NO2>1", "NO2>1)", ">1", "NO2>1;;", "NO2==\"x",
                               "(" * 600 + "NO2>1" + ")" * 600])
def test_malformed_q_is_invalid_request(client, r, q):
    response = client.get(f"{BASE}/entities?type=AirQualityObserved&q={quote(q)}", headers=r)
    assert response.status_code == 400 and response.json()["type"] == ERR + "InvalidRequest"


def test_attrs_limit_offset_count(client, r, stations):
    page = client.get(f"{BASE}/entities?type=AirQualityObserved&limit=2&offset=1&count=true", headers=r)
    assert ids(page) == ["1", "2"] and page.headers["NGSILD-Results-Count"] == "3"
    filtered = client.get(f"{BASE}/entities?q=NO2>10&limit=1&count=true", headers=r)
    assert ids(filtered) == ["0"] and filtered.headers["NGSILD-Results-Count"] == "3"
    assert client.get(f"{BASE}/entities?type=AirQualityObserved&limit=1001", headers=r).status_code == 400
    assert client.get(f"{BASE}/entities?type=AirQualityObserved&limit=-1", headers=r).status_code == 400
    picked = client.get(f"{BASE}/entities?attrs=status", headers=r).json()
    assert [e["id"] for e in picked] == ["urn:ngsi-ld:ParkingSpot:p1"] and "status" in picked[0]
    empty = client.get(f"{BASE}/entities?type=AirQualityObserved&limit=0&count=true", headers=r)
    assert empty.json() == [] and empty.headers["NGSILD-Results-Count"] == "3"


def geo(client, r, georel: str, geometry: str, coordinates) -> list[str]:
    url = (f"{BASE}/entities?type=AirQualityObserved&georel={quote(georel)}&geometry={geometry}"
           f"&coordinates={quote(json.dumps(coordinates))}")
    return ids(client.get(url, headers=r))


def test_near(client, r, stations):
    assert geo(client, r, "near;maxDistance==500", "Point", [104.90, 11.55]) == ["0"]
    assert geo(client, r, "near;maxDistance==1200", "Point", [104.90, 11.55]) == ["0", "1"]
    assert geo(client, r, "near;maxDistance==12000", "Point", [104.90, 11.55]) == ["0", "1", "2"]
    assert geo(client, r, "near;minDistance==2000", "Point", [104.90, 11.55]) == ["2"]


def test_a_geo_query_on_another_geoproperty_tests_that_one(client, w, r, stations):
    """geoproperty (CIM 009 4.10): the GeoProperty named, not location; an entity without it
    does not match."""
    area = {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [
        [[104.0, 11.0], [104.1, 11.0], [104.1, 11.1], [104.0, 11.1], [104.0, 11.0]]]}}
    create(client, w, air(7, 104.90, 11.55, observationSpace=area))
    url = (f"{BASE}/entities?type=AirQualityObserved&georel=intersects&geometry=Point"
           f"&coordinates={quote('[104.05,11.05]')}")
    assert ids(client.get(url + "&geoproperty=observationSpace", headers=r)) == ["7"]
    assert ids(client.get(url, headers=r)) == []  # by location: none is there
    assert ids(client.get(url + "&geoproperty=location", headers=r)) == []
    near = (f"{BASE}/entities?type=AirQualityObserved&georel={quote('near;maxDistance==20000')}&geometry=Point"
            f"&coordinates={quote('[104.2,11.05]')}&geoproperty=observationSpace")
    assert ids(client.get(near, headers=r)) == ["7"]  # about 11 km from the area's edge
    posted = client.post(f"{BASE}/entityOperations/query", headers=r, json={
        "type": "Query", "entities": [{"type": "AirQualityObserved"}],
        "geoQ": {"georel": "intersects", "geometry": "Point", "coordinates": [104.05, 11.05],
                 "geoproperty": "observationSpace"}})
    assert ids(posted) == ["7"]


def test_within_and_intersects(client, r, stations):
    box = [[[104.895, 11.54], [104.915, 11.54], [104.915, 11.56], [104.895, 11.56], [104.895, 11.54]]]
    assert geo(client, r, "within", "Polygon", box) == ["0", "1"]
    assert geo(client, r, "intersects", "Polygon", box) == ["0", "1"]
    triangle = [[[104.895, 11.54], [104.909, 11.54], [104.895, 11.56], [104.895, 11.54]]]
    assert geo(client, r, "within", "Polygon", triangle) == ["0"]
    assert geo(client, r, "intersects", "Point", [105.00, 11.55]) == ["2"]


@pytest.mark.parametrize("georel, geometry, coordinates", [
    ("near", "Point", "[104.9, 11.55]"),
    ("near;maxDistance==-3", "Point", "[104.9, 11.55]"),
    ("near;maxDistance==0", "Point", "[104.9, 11.55]"),  # CIM 009 4.10: a positive number
    ("near;maxDistance==10;minDistance==1", "Point", "[104.9, 11.55]"),  # one distance
    ("around", "Point", "[104.9, 11.55]"),
    ("within", "Polygon", "[[[0,0],[1,1]]]"),
    ("within", "Point", "not json"),
    ("within", "Circle", "[1, 2]"),
    ("near;maxDistance==10", "Point", "[500, 2]"),
])
def test_bad_geo_queries(client, r, georel, geometry, coordinates):
    url = (f"{BASE}/entities?type=AirQualityObserved&georel={quote(georel)}&geometry={geometry}"
           f"&coordinates={quote(coordinates)}")
    response = client.get(url, headers=r)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ERR + "BadRequestData"


@pytest.mark.parametrize("param", ["limit=²", "offset=²", "limit=١", f"offset={'9' * 30}",
                                   f"limit={'9' * 5000}", "offset=10000001", "limit=0", "limit=0&count=false"])
def test_bad_limit_and_offset_are_bad_request_data(client, r, stations, param):
    response = client.get(f"{BASE}/entities?type=AirQualityObserved&{param}", headers=r)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ERR + "BadRequestData"


def test_the_largest_offset_is_fine(client, r, stations):
    assert ids(client.get(f"{BASE}/entities?type=AirQualityObserved&offset=10000000", headers=r)) == []
    assert ids(client.get(f"{BASE}/entities?q=NO2>1&offset=10000000", headers=r)) == []


@pytest.mark.parametrize("params", ["", "?limit=5", "?count=true", "?options=keyValues"])
def test_a_query_needs_a_filter(client, r, stations, params):
    response = client.get(f"{BASE}/entities{params}", headers=r)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ERR + "BadRequestData"


def test_deeply_nested_coordinates_are_bad_request_data(client, r):
    for coordinates in ("[" * 5000, "[" * 5000 + "]" * 5000, "[" * 500 + "1" + "]" * 500, "[NaN, 1]"):
        url = (f"{BASE}/entities?type=AirQualityObserved&georel=within&geometry=Polygon"
               f"&coordinates={quote(coordinates)}")
        response = client.get(url, headers=r)
        assert response.status_code == 400, response.text
        assert response.json()["type"] == ERR + "BadRequestData"


def create_varied(client, w, array: list[int]) -> None:
    """Stations whose NO2 is a small, a big and a decimal number, a text, ``array``, missing, a
    boolean: each named so in its id."""
    values = {"small": 5, "big": 50, "float": 35.5, "text": "60", "array": array, "none": None,
              "bool": True}
    for name, value in values.items():
        entity = air(0, id=f"urn:ngsi-ld:AirQualityObserved:{name}")
        if value is None:
            del entity["NO2"]
        else:
            entity["NO2"] = {"type": "Property", "value": value}
        create(client, w, entity)


@pytest.mark.parametrize("q, expected", [
    ("NO2>35", ["array", "big", "float"]),
    ("NO2<10", ["array", "small"]),
    ("NO2==50", ["array", "big"]),
    ("NO2==49..51", ["array", "big"]),
    ("NO2==1,50", ["array", "big"]),
    ("NO2>35|NO2==\"60\"", ["array", "big", "float", "text"]),
    ("NO2>35;NO2<100", ["array", "big", "float"]),
])
def test_numeric_q_tested_by_the_database_gives_what_python_gives(client, w, r, q, expected):
    """Numeric comparisons are tested in SQL first: values that are not numbers (a text, an
    array a comparison takes item by item, a missing attribute) must come out as without SQL."""
    create_varied(client, w, array=[5, 50])
    response = client.get(f"{BASE}/entities", params={"type": "AirQualityObserved", "q": q, "limit": 100},
                          headers=r)
    assert response.status_code == 200, response.text
    assert sorted(e["id"].rsplit(":", 1)[1] for e in response.json()) == expected


@pytest.mark.parametrize("path, params", [
    ("/entities", "type=AirQualityObserved&tyep=Parking"),
    # geoQ is a member of a subscription's body, not a parameter: unfiltered, the client would
    # read every station as if near
    ("/entities", "type=AirQualityObserved&geoQ=georel%3Dnear%3BmaxDistance%3D%3D10"),
    ("/entities/urn:ngsi-ld:AirQualityObserved:0", "limit=5"),
    ("/temporal/entities/urn:ngsi-ld:AirQualityObserved:0", "lastN=2&lastn=2"),
    ("/subscriptions", "type=AirQualityObserved"),
])
def test_an_unknown_uri_parameter_is_named_not_ignored(client, r, stations, path, params):
    response = client.get(f"{BASE}{path}?{params}", headers=r)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == ERR + "BadRequestData"
    unknown = params.split("&")[-1].split("=")[0]
    assert f"Unknown URI parameter {unknown!r}" in body["detail"]


def test_an_unknown_parameter_of_a_write_is_refused_before_anything_is_written(client, w, r, stations):
    response = client.post(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:0/attrs?option=noOverwrite",
                           json={"NO2": {"type": "Property", "value": 99.0}}, headers=w)
    assert response.status_code == 400 and "'option'" in response.json()["detail"]
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:0", headers=r).json()["NO2"]["value"] == 20.0


def test_pages_link_to_the_next_and_previous_ones(client, r, stations):
    def links(response) -> dict[str, str]:
        return {rel: link["url"] for rel, link in response.links.items() if rel in ("next", "prev")}

    first = client.get(f"{BASE}/entities?type=AirQualityObserved&limit=2", headers=r)
    assert ids(first) == ["0", "1"]
    assert links(first) == {"next": f"{BASE}/entities?type=AirQualityObserved&limit=2&offset=2"}
    # the context's Link stays beside the pages'
    assert "json-ld#context" in first.headers["link"]
    last = client.get(links(first)["next"], headers=r)
    assert ids(last) == ["2"]
    assert links(last) == {"prev": f"{BASE}/entities?type=AirQualityObserved&limit=2&offset=0"}
    middle = client.get(f"{BASE}/entities?type=AirQualityObserved&limit=1&offset=1", headers=r)
    assert set(links(middle)) == {"next", "prev"}
    whole = client.get(f"{BASE}/entities?type=AirQualityObserved&limit=3", headers=r)
    assert ids(whole) == ["0", "1", "2"] and links(whole) == {}
    counted = client.get(f"{BASE}/entities?type=AirQualityObserved&limit=0&count=true", headers=r)
    assert links(counted) == {}


def test_value_lists_of_quoted_texts_and_their_negation(client, r, stations):
    """CIM 009 4.9: after == a value list is any of its values, after != none of them; a comma
    inside quotes is the text's own (no station is named "Station 0,Station 2")."""
    def query(q: str) -> list[str]:
        return ids(client.get(f"{BASE}/entities?type=AirQualityObserved&q={quote(q)}", headers=r))
    assert query('name=="Station 0","Station 2"') == ["0", "2"]
    assert query('name!="Station 0","Station 2"') == ["1"]
    assert query('name=="Station 0,Station 2"') == []
    assert query('name=="Station 1",20;NO2==45,"x"') == ["1"]
    assert query("NO2!=20,80") == ["1"]


def test_a_list_or_range_after_an_order_or_pattern_operator_is_invalid(client, r, stations):
    # the ETSI suite's 019_28_06: a>1..3 is refused
    for q in ("NO2>1..3", "NO2<20,80", 'name>="a","b"', 'name~="a","b"', "NO2==1,,2"):
        response = client.get(f"{BASE}/entities?type=AirQualityObserved&q={quote(q)}", headers=r)
        assert response.status_code == 400, (q, response.text)
        assert response.json()["type"] == ERR + "InvalidRequest", q


def test_value_lists_tested_by_the_database_give_what_python_gives(client, w, r):
    """A list of numbers is tested by SQL first; a list with a text, or a != list, only in Python."""
    create_varied(client, w, array=[5, 100])
    for q, expected in [('NO2==5,"60"', ["array", "small", "text"]), ("NO2!=5,50", ["bool", "float", "text"]),
                        ("NO2==35.5,50|NO2==\"60\"", ["big", "float", "text"]),
                        ("NO2==49..51", ["big"]), ("NO2==1,2,3;NO2>0", [])]:
        response = client.get(f"{BASE}/entities", params={"type": "AirQualityObserved", "q": q, "limit": 100},
                              headers=r)
        assert response.status_code == 200, (q, response.text)
        assert sorted(e["id"].rsplit(":", 1)[1] for e in response.json()) == expected, q


def test_a_type_selection_in_the_url(client, w, r, stations):
    create(client, w, {"id": "urn:ngsi-ld:WasteContainer:9", "type": "WasteContainer",
                       "fillingLevel": {"type": "Property", "value": 0.5}})
    for selection in ("(AirQualityObserved|WasteContainer)", "AirQualityObserved,WasteContainer",
                      "(WasteContainer|AirQualityObserved);(AirQualityObserved|WasteContainer)"):
        assert ids(client.get(f"{BASE}/entities?type={quote(selection)}", headers=r)) == ["0", "1", "2", "9"]
    assert ids(client.get(f"{BASE}/entities?type={quote('(WasteContainer)')}", headers=r)) == ["9"]
    unclosed = client.get(f"{BASE}/entities?type={quote('(WasteContainer')}", headers=r)
    assert unclosed.status_code == 400 and "type selection" in unclosed.json()["detail"]
    assert unclosed.json()["detail"].startswith("type: ")  # named as the client wrote it


def test_a_relationship_is_compared_for_equality_only(client, w, r):
    """CIM 009 4.9: >, >=, < and <= never match a Relationship (the ETSI suite's 5744_02_04), a
    number too (which the database tests first: it finds no value there either)."""
    create(client, w, air(1, refDevice={"type": "Relationship", "object": "urn:ngsi-ld:Device:b"}))
    create(client, w, air(2))

    def query(q: str) -> list[str]:
        return ids(client.get(f"{BASE}/entities", params={"type": "AirQualityObserved", "q": q}, headers=r))
    for q in ('refDevice>"urn:a"', 'refDevice>="urn:a"', 'refDevice<"urn:z"', "refDevice<=urn:z",
              "refDevice>0", "refDevice<=10;NO2>0"):
        assert query(q) == [], q
    assert query('refDevice=="urn:ngsi-ld:Device:b"') == ["1"]
    assert query('refDevice!="urn:ngsi-ld:Device:a"') == ["1"]
    assert query('refDevice=="urn:ngsi-ld:Device:a","urn:ngsi-ld:Device:b"') == ["1"]
    assert query('refDevice>"urn:a"|NO2>30') == ["1", "2"]  # the other term still decides


def test_a_language_filter_reads_one_language_or_any(client, w, r):
    """CIM 009 4.9: ``label[fr]`` is a LanguageProperty's French text, ``label[*]`` its text in
    any language (the ETSI suite's 5744_02_08 and 5744_06_08, on the temporal query too)."""
    create(client, w, air(1, label={"type": "LanguageProperty", "languageMap": {"en": "red", "fr": "rouge"}}))
    create(client, w, air(2, label={"type": "LanguageProperty", "languageMap": {"en": "black", "fr": "rouge"}}))
    create(client, w, air(3, label={"type": "LanguageProperty", "languageMap": {"en": "hello", "fr": "bonjour"}}))

    def query(q: str, path: str = "/entities") -> list[str]:
        return ids(client.get(f"{BASE}{path}", params={"type": "AirQualityObserved", "q": q}, headers=r))
    assert query('label[*]=="rouge"') == ["1", "2"]
    assert query('label[fr]=="rouge"') == ["1", "2"] and query('label[en]=="rouge"') == []
    assert query('label[en]=="red"') == ["1"]
    assert query('label[*]!="rouge"') == ["3"]  # in no language
    assert query('label[*]=="bonjour"', "/temporal/entities") == ["3"]
    assert query('label[en]=="bonjour"', "/temporal/entities") == []


def test_a_q_on_system_attributes_alone_selects_no_entities_and_is_refused(client, r, stations):
    """CIM 009 5.7.2.4 (ETSI 5722_01_02): createdAt/modifiedAt are not attributes that select
    entities; beside a real filter the same q is fine."""
    q = quote('modifiedAt>"2020-01-01T00:00:00Z"')
    alone = client.get(f"{BASE}/entities?q={q}", headers=r)
    assert alone.status_code == 400 and alone.json()["type"] == ERR + "BadRequestData"
    assert "system attributes" in alone.json()["detail"]
    assert client.get(f"{BASE}/entities?type=AirQualityObserved&q={q}", headers=r).status_code == 200


def test_a_q_reads_the_entity_s_own_creation_and_modification_times(client, w, r, stations):
    """``q=modifiedAt>...`` beside a type compares the entity's own modifiedAt (and createdAt)."""
    time.sleep(0.05)
    mark = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2?options=sysAttrs",
                      headers=r).json()["modifiedAt"]
    time.sleep(0.05)
    patched = client.patch(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1/attrs/NO2",
                           json={"value": 46}, headers=w)
    assert patched.status_code == 204
    url = f"{BASE}/entities?type=AirQualityObserved&q="
    assert ids(client.get(url + quote(f'modifiedAt>"{mark}"'), headers=r)) == ["1"]
    assert ids(client.get(url + quote(f"modifiedAt<={mark}"), headers=r)) == ["0", "2"]
    assert ids(client.get(url + quote(f'createdAt>"{mark}"'), headers=r)) == []
    assert ids(client.get(url + quote(f'createdAt<="{mark}";NO2>30'), headers=r)) == ["1", "2"]
