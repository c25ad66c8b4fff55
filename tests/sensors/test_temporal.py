"""The NGSI-LD temporal API: instances over time, lastN, representations, aggregation, errors and
access, on measures ingested from devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import orjson
import pytest

from conftest import BASE, SDM, air, create, link
from parvis.modules import sensors
from parvis.modules.sensors import ingest
from parvis.modules.sensors.ingest import Message
from parvis.modules.sensors.standards.ngsi_ld import ERRORS

AIR = "urn:ngsi-ld:AirQualityObserved:t-1"
BIN = "urn:ngsi-ld:WasteContainer:t-1"
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
SDM_LINK = {"Link": link(SDM)}


def _z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _feed(db, settings, device: str, readings: list[tuple[datetime, dict[str, Any]]]) -> None:
    batch = [Message(api_key="k3y", device_id=device, received_at=at,
                     body=orjson.dumps({**values, "t": _z(at)})) for at, values in readings]
    outcome = ingest.ingest(db, settings, batch)
    assert outcome.dead == 0


@pytest.fixture
def station(db, settings) -> str:
    """An air-quality station (a public type): NO2 = 1..120 one a minute from T0, and a text
    level changing every 30 minutes."""
    sensors.provision_device(db, api_key="k3y", device_id="aq-1", entity_id=AIR,
                             entity_type="AirQualityObserved",
                             attributes={"no2": "NO2", "lvl": "airQualityLevel"}, lon=104.9, lat=11.5)
    _feed(db, settings, "aq-1", [(T0 + timedelta(minutes=i), {"no2": i + 1,
                                                              "lvl": "good" if i // 30 % 2 else "moderate"})
                                 for i in range(120)])
    return AIR


@pytest.fixture
def waste_bin(db, settings) -> str:
    """A waste container: not a public type."""
    sensors.provision_device(db, api_key="k3y", device_id="bin-1", entity_id=BIN,
                             entity_type="WasteContainer", attributes={"f": "fillingLevel"})
    _feed(db, settings, "bin-1", [(T0 + timedelta(minutes=i), {"f": i / 100}) for i in range(5)])
    return BIN


def _get(client, path: str, headers: dict[str, str] | None = None, **params: Any):
    return client.get(f"{BASE}/temporal/entities{path}", params=params,
                      headers=SDM_LINK if headers is None else headers)


def _between(minutes_from: int, minutes_to: int) -> dict[str, str]:
    return {"timerel": "between", "timeAt": _z(T0 + timedelta(minutes=minutes_from)),
            "endTimeAt": _z(T0 + timedelta(minutes=minutes_to))}


def _problem(response, status: int, kind: str = "BadRequestData") -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == ERRORS + kind
    return body["detail"]


# ------------------------------------------------------------------------------ instances

def test_retrieve_normalized_gives_every_instance_in_time_order(client, station):
    response = _get(client, f"/{AIR}", attrs="NO2")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == AIR and body["type"] == "AirQualityObserved"
    assert set(body) == {"id", "type", "NO2"}
    instances = body["NO2"]
    assert len(instances) == 120
    assert instances[0] == {"type": "Property", "value": 1, "observedAt": "2026-11-28T10:00:00Z"}
    assert instances[-1]["observedAt"] == "2026-11-28T11:59:00Z"
    assert [i["value"] for i in instances] == list(range(1, 121))
    assert "rel=\"http://www.w3.org/ns/json-ld#context\"" in response.headers["link"]


def test_timerel_before_after_between(client, station):
    before = _get(client, f"/{AIR}", attrs="NO2", timerel="before", timeAt=_z(T0 + timedelta(minutes=3)))
    assert [i["value"] for i in before.json()["NO2"]] == [1, 2, 3]
    after = _get(client, f"/{AIR}", attrs="NO2", timerel="after", timeAt=_z(T0 + timedelta(minutes=117)))
    assert [i["value"] for i in after.json()["NO2"]] == [118, 119, 120]
    between = _get(client, f"/{AIR}", attrs="NO2", **_between(10, 13))
    assert [i["value"] for i in between.json()["NO2"]] == [11, 12, 13]
    zoned = _get(client, f"/{AIR}", attrs="NO2", timerel="before", timeAt="2026-11-28T17:02:00+07:00")
    assert [i["value"] for i in zoned.json()["NO2"]] == [1, 2]
    unencoded = client.get(f"{BASE}/temporal/entities/{AIR}?attrs=NO2&timerel=before"
                           "&timeAt=2026-11-28T17:02:00+07:00", headers=SDM_LINK)
    assert [i["value"] for i in unencoded.json()["NO2"]] == [1, 2]


def test_an_interval_without_instances_leaves_the_attribute_out(client, station):
    body = _get(client, f"/{AIR}", timerel="before", timeAt=_z(T0)).json()
    assert body == {"id": AIR, "type": "AirQualityObserved"}


def test_ngsi_ld_writes_with_observed_at_join_the_history(client, w):
    create(client, w, air(7, unit={"type": "Property", "value": "µg/m3"}))  # NO2 observed at 08:00Z
    entity = f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:7"
    later = {"NO2": {"type": "Property", "value": 45, "observedAt": "2026-11-29T09:00:00Z"}}
    assert client.patch(f"{entity}/attrs", json=later, headers=w).status_code == 204
    assert client.patch(f"{entity}/attrs", json=later, headers=w).status_code == 204  # again: once
    body = _get(client, "/urn:ngsi-ld:AirQualityObserved:7", lastN="5").json()
    assert [(i["value"], i["observedAt"]) for i in body["NO2"]] == [
        (40.0, "2026-11-29T08:00:00Z"), (45, "2026-11-29T09:00:00Z")]
    assert "unit" not in body  # a property without observedAt has no history


def test_relationships_written_with_observed_at_have_a_history(client, w):
    # a bin moved from one collection round to another: its relationship's objects over time
    bin_id = "urn:ngsi-ld:WasteContainer:r1"
    create(client, w, {"id": bin_id, "type": "WasteContainer",
                       "refRound": {"type": "Relationship", "object": "urn:ngsi-ld:Round:A",
                                    "observedAt": "2026-11-29T08:00:00Z"}})
    later = {"refRound": {"type": "Relationship", "object": "urn:ngsi-ld:Round:B",
                          "observedAt": "2026-11-29T12:00:00Z"}}
    assert client.patch(f"{BASE}/entities/{bin_id}/attrs", json=later, headers=w).status_code == 204
    body = client.get(f"{BASE}/temporal/entities/{bin_id}", headers=w).json()
    assert body["refRound"] == [
        {"type": "Relationship", "object": "urn:ngsi-ld:Round:A", "observedAt": "2026-11-29T08:00:00Z"},
        {"type": "Relationship", "object": "urn:ngsi-ld:Round:B", "observedAt": "2026-11-29T12:00:00Z"}]
    simplified = client.get(f"{BASE}/temporal/entities/{bin_id}?options=temporalValues", headers=w).json()
    assert simplified["refRound"] == {"type": "Relationship", "objects": [
        ["urn:ngsi-ld:Round:A", "2026-11-29T08:00:00Z"], ["urn:ngsi-ld:Round:B", "2026-11-29T12:00:00Z"]]}


def test_geo_and_language_properties_written_with_observed_at_have_a_history(client, w):
    """A vehicle's position and a sign's text over time; the temporal query finds the vehicle by
    its positions in the window (it has nothing else there)."""
    bus = "urn:ngsi-ld:Vehicle:b1"

    def at(lon: float, when: str) -> dict:
        return {"location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, 11.55]},
                             "observedAt": when},
                "sign": {"type": "LanguageProperty", "languageMap": {"fr": f"Arrêt {lon}"}, "observedAt": when}}

    create(client, w, {"id": bus, "type": "Vehicle", **at(104.90, "2026-11-29T08:00:00Z")})
    assert client.patch(f"{BASE}/entities/{bus}/attrs", json=at(104.91, "2026-11-29T08:05:00Z"),
                        headers=w).status_code == 204
    body = client.get(f"{BASE}/temporal/entities/{bus}", headers=w).json()
    assert [i["value"]["coordinates"][0] for i in body["location"]] == [104.90, 104.91]
    assert [i["languageMap"] for i in body["sign"]] == [{"fr": "Arrêt 104.9"}, {"fr": "Arrêt 104.91"}]
    simplified = client.get(f"{BASE}/temporal/entities/{bus}?options=temporalValues", headers=w).json()
    # CIM 009 4.5.9: each languageMap as the object {"languageMap": ...} (the ETSI suite's 020_12_02)
    assert simplified["sign"] == {"type": "LanguageProperty", "languageMaps": [
        [{"languageMap": {"fr": "Arrêt 104.9"}}, "2026-11-29T08:00:00Z"],
        [{"languageMap": {"fr": "Arrêt 104.91"}}, "2026-11-29T08:05:00Z"]]}
    assert simplified["location"]["values"][1] == [{"type": "Point", "coordinates": [104.91, 11.55]},
                                                   "2026-11-29T08:05:00Z"]  # other values as they are
    found = client.get(f"{BASE}/temporal/entities?type=Vehicle&timerel=between&timeAt=2026-11-29T07:00:00Z"
                       f"&endTimeAt=2026-11-29T09:00:00Z&georel=near%3BmaxDistance%3D%3D2000&geometry=Point"
                       f"&coordinates=%5B104.91%2C11.55%5D", headers=w).json()
    assert [e["id"] for e in found] == [bus]


def test_last_n_gives_the_last_instances_in_time_order(client, station):
    body = _get(client, f"/{AIR}", attrs="NO2", lastN="3").json()
    assert [i["value"] for i in body["NO2"]] == [118, 119, 120]
    within = _get(client, f"/{AIR}", attrs="NO2,airQualityLevel", lastN="2", **_between(0, 60)).json()
    assert [i["value"] for i in within["NO2"]] == [59, 60]
    assert [i["observedAt"] for i in within["airQualityLevel"]] == ["2026-11-28T10:58:00Z",
                                                                    "2026-11-28T10:59:00Z"]


def test_temporal_values_representation(client, station):
    for params in ({"options": "temporalValues"}, {"format": "temporalValues"},
                   {"format": "temporalValues", "options": "aggregatedValues"}):  # the format wins
        body = _get(client, f"/{AIR}", lastN="2", **params).json()
        assert body["NO2"] == {"type": "Property", "values": [[119, "2026-11-28T11:58:00Z"],
                                                              [120, "2026-11-28T11:59:00Z"]]}
        assert body["airQualityLevel"]["values"][-1] == ["good", "2026-11-28T11:59:00Z"]


def test_attribute_names_are_compacted_with_the_request_context(client, station):
    core = _get(client, f"/{AIR}", headers={}, lastN="1").json()
    assert not any(key == "NO2" for key in core)
    full = next(key for key in core if key.endswith("NO2"))
    assert full.startswith("https://")
    assert core["type"].startswith("https://")
    assert _get(client, f"/{AIR}", lastN="1", attrs=full, headers={}).json()[full][0]["value"] == 120
    ld = _get(client, f"/{AIR}", headers={**SDM_LINK, "Accept": "application/ld+json"}, lastN="1")
    assert ld.headers["content-type"].startswith("application/ld+json")
    assert ld.json()["@context"] and "NO2" in ld.json()


# ------------------------------------------------------------------------------ aggregation

def test_aggregation_over_the_requested_interval(client, station):
    body = _get(client, f"/{AIR}", attrs="NO2", options="aggregatedValues",
                aggrMethods="avg,min,max,sum,totalCount,sumsq", **_between(0, 60)).json()
    span = ["2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z"]
    assert body["NO2"] == {"type": "Property", "avg": [[30.5, *span]], "min": [[1, *span]],
                           "max": [[60, *span]], "sum": [[1830, *span]], "totalCount": [[60, *span]],
                           "sumsq": [[sum(n * n for n in range(1, 61)), *span]]}


def test_aggregation_by_period_gives_buckets_aligned_on_time_at(client, station):
    body = _get(client, f"/{AIR}", attrs="NO2", format="aggregatedValues", aggrMethods="avg,max",
                aggrPeriodDuration="PT1H", **_between(0, 120)).json()
    assert body["NO2"]["avg"] == [[30.5, "2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z"],
                                  [90.5, "2026-11-28T11:00:00Z", "2026-11-28T12:00:00Z"]]
    assert [b[0] for b in body["NO2"]["max"]] == [60, 120]
    shifted = _get(client, f"/{AIR}", attrs="NO2", options="aggregatedValues", aggrMethods="totalCount",
                   aggrPeriodDuration="PT45M", **_between(30, 120)).json()
    assert shifted["NO2"]["totalCount"] == [[45, "2026-11-28T10:30:00Z", "2026-11-28T11:15:00Z"],
                                            [45, "2026-11-28T11:15:00Z", "2026-11-28T12:00:00Z"]]


def test_aggregation_without_time_at_aligns_on_the_first_instance(client, station):
    body = _get(client, f"/{AIR}", attrs="NO2", options="aggregatedValues", aggrMethods="min",
                aggrPeriodDuration="P1D").json()
    assert body["NO2"]["min"] == [[1, "2026-11-28T10:00:00Z", "2026-11-29T10:00:00Z"]]


def test_text_values_count_but_do_not_add_up(client, station):
    body = _get(client, f"/{AIR}", attrs="airQualityLevel", options="aggregatedValues",
                aggrMethods="totalCount,distinctCount,avg", **_between(0, 120)).json()
    level = body["airQualityLevel"]
    assert level["totalCount"][0][0] == 120
    assert level["distinctCount"][0][0] == 2
    assert level["avg"][0][0] is None


@pytest.mark.parametrize("params", [
    {**_between(30, 120), "aggrPeriodDuration": "PT45M"},
    {**_between(7, 100), "aggrPeriodDuration": "PT7M"},
    {**_between(0, 1440), "aggrPeriodDuration": "P1D"},
    {"timerel": "after", "timeAt": _z(T0 + timedelta(minutes=50))},
    {"timerel": "after", "timeAt": _z(T0 + timedelta(minutes=50)), "aggrPeriodDuration": "PT1H"},
])
def test_the_database_and_python_aggregate_alike(client, station, monkeypatch, params):
    from parvis.modules.sensors import temporal

    query = {"options": "aggregatedValues", "aggrMethods": "totalCount,sum,sumsq,min,max,avg", **params}
    assert temporal.sql_aggregable(query["aggrMethods"].split(","),
                                   temporal.window(params["timerel"], params["timeAt"],
                                                   params.get("endTimeAt")), None, None)
    in_sql = _get(client, f"/{AIR}", **query).json()
    monkeypatch.setattr(temporal, "sql_aggregable", lambda *_args: False)
    in_python = _get(client, f"/{AIR}", **query).json()
    assert in_sql == in_python
    assert in_sql["NO2"]["totalCount"] and in_sql["airQualityLevel"]["avg"][0][0] is None


def test_stddev(client, station):
    body = _get(client, f"/{AIR}", attrs="NO2", options="aggregatedValues", aggrMethods="stddev",
                **_between(0, 3)).json()
    assert body["NO2"]["stddev"][0][0] == pytest.approx((2 / 3) ** 0.5)


# ------------------------------------------------------------------------------------ query

def test_query_selects_entities_then_gives_their_evolution(client, station, waste_bin, r):
    response = _get(client, "", headers=r, type="AirQualityObserved,WasteContainer", lastN="1",
                    options="temporalValues")
    assert response.status_code == 200, response.text
    by_id = {e["id"]: e for e in response.json()}
    assert by_id[AIR]["NO2"]["values"] == [[120, "2026-11-28T11:59:00Z"]]
    assert by_id[BIN]["type"] == "WasteContainer"
    assert by_id[BIN]["fillingLevel"]["values"] == [[0.04, "2026-11-28T10:04:00Z"]]
    counted = _get(client, "", headers=r, q="NO2>100", count="true", attrs="NO2", **_between(0, 2))
    assert counted.headers["NGSILD-Results-Count"] == "1"
    assert [[i["value"] for i in e["NO2"]] for e in counted.json()] == [[1, 2]]
    assert _get(client, "", headers=r, q="NO2>1000", timerel="before", timeAt=_z(T0)).json() == []


def test_the_query_in_a_post_body_answers_as_the_url_query(client, station, waste_bin, r):
    url = f"{BASE}/temporal/entityOperations/query"
    body = {"type": "Query", "entities": [{"type": "AirQualityObserved"}, {"type": "WasteContainer"}],
            "attrs": ["NO2", "fillingLevel"], "q": "NO2>100|fillingLevel>0.01",
            "temporalQ": {"timerel": "between", "timeAt": _z(T0 + timedelta(minutes=3)),
                          "endTimeAt": _z(T0 + timedelta(minutes=5))}}
    response = client.post(url, json=body, params={"count": "true"}, headers=r)
    assert response.status_code == 200, response.text
    assert response.headers["NGSILD-Results-Count"] == "2"
    by_id = {e["id"]: e for e in response.json()}
    assert [i["value"] for i in by_id[AIR]["NO2"]] == [4, 5]
    assert [i["value"] for i in by_id[BIN]["fillingLevel"]] == [0.03, 0.04]
    same = _get(client, "", headers=r, type="AirQualityObserved,WasteContainer", attrs="NO2,fillingLevel",
                q="NO2>100|fillingLevel>0.01", **_between(3, 5))
    assert response.json() == same.json()
    # lastN in the body, aggregation in the URL
    body = {"type": "Query", "entities": [{"type": "AirQualityObserved", "id": AIR}], "temporalQ": {"lastN": 2}}
    last = client.post(url, json=body, headers=r).json()
    assert [i["value"] for i in last[0]["NO2"]] == [119, 120]
    hourly = client.post(url, json={"type": "Query", "entities": [{"type": "AirQualityObserved", "id": AIR}], "attrs": ["NO2"]}, headers=r,
                         params={"options": "aggregatedValues", "aggrMethods": "max",
                                 "aggrPeriodDuration": "PT1H"}).json()
    assert [m[0] for m in hourly[0]["NO2"]["max"]] == [60, 120]
    # or in the body's aggrParams; PT0S: the whole window
    body = {"type": "Query", "entities": [{"type": "AirQualityObserved", "id": AIR}], "attrs": ["NO2"],
            "aggrParams": {"aggrMethods": ["max", "min"], "aggrPeriodDuration": "PT0S"}}
    whole = client.post(url, json=body, headers=r).json()
    assert [m[0] for m in whole[0]["NO2"]["max"]] == [120] and [m[0] for m in whole[0]["NO2"]["min"]] == [1]
    bogus = client.post(url, json={**body, "aggrParams": {"aggrMethods": ["median"]}}, headers=r)
    assert bogus.status_code == 400 and "median" in bogus.json()["detail"]
    # or in the temporalQ (CIM 009 5.2.21), an array or a text of names separated by commas
    for methods in (["max", "min"], "max,min"):
        within = {"type": "Query", "entities": [{"type": "AirQualityObserved", "id": AIR}], "attrs": ["NO2"],
                  "temporalQ": {"aggrMethods": methods, "aggrPeriodDuration": "PT0S"}}
        assert client.post(url, json=within, headers=r).json() == whole


@pytest.mark.parametrize(("body", "words"), [
    ({"entities": [{"type": "AirQualityObserved"}]}, "Query"),
    ({"type": "Query", "entities": [{"type": "AirQualityObserved"}], "temporalQ": "yesterday"}, "temporalQ"),
    ({"type": "Query", "entities": [{"type": "AirQualityObserved"}], "temporalQ": {"timerel": "around",
                                                                                   "timeAt": "2026-11-28T10:00:00Z"}},
     "timerel"),
    ({"type": "Query", "entities": [{"type": "AirQualityObserved"}], "temporalQ": {"lastN": "two"}}, "lastN"),
    ({"type": "Query", "entities": [{"type": "AirQualityObserved"}], "temporalQ": {"lastN": 0}}, "lastN"),
    ({"type": "Query", "entities": [{"type": "AirQualityObserved"}], "temporalQ": {"lastN": 1.5}}, "lastN"),
    ({"type": "Query", "entities": [{"type": "AirQualityObserved"}],
      "temporalQ": {"timerel": "between", "timeAt": "2026-11-28T10:00:00Z"}}, "endTimeAt"),
    ({"type": "Query", "entities": [{"type": "AirQualityObserved"}],
      "temporalQ": {"aggrMethods": ["avg"], "aggrPeriodDuration": "bogus"}}, "aggrPeriodDuration"),
    ({"type": "Query", "entities": [{"type": "AirQualityObserved"}],
      "temporalQ": {"aggrMethods": "avg,bogus"}}, "bogus"),
    # CIM 009 5.2.33: an entity selector's type is mandatory (the ETSI suite's 5233_01_03)
    ({"type": "Query", "entities": [{"id": AIR}], "temporalQ": {"lastN": 1}}, "needs a type"),
    ({"type": "Query", "entities": [{"type": "AirQualityObserved", "id": [AIR, 5]}]}, "URI"),
])
def test_a_bad_query_in_a_post_body_is_bad_request_data(client, station, r, body, words):
    response = client.post(f"{BASE}/temporal/entityOperations/query", json=body, headers=r)
    assert words in _problem(response, 400)


def test_query_needs_a_filter(client, station):
    _problem(_get(client, "", lastN="1"), 400)


# ----------------------------------------------------------------------------------- errors

@pytest.mark.parametrize(("params", "words"), [
    ({"timerel": "around", "timeAt": "2026-11-28T10:00:00Z"}, "timerel"),
    ({"timerel": "before"}, "timeAt"),
    ({"timerel": "between", "timeAt": "2026-11-28T10:00:00Z"}, "endTimeAt"),
    ({"timerel": "between", "timeAt": "2026-11-28T10:00:00Z", "endTimeAt": "2026-11-28T09:00:00Z"},
     "later"),
    ({"timerel": "after", "timeAt": "yesterday"}, "ISO 8601"),
    ({"timerel": "after", "timeAt": "2026-11-28T10:00:00"}, "zone"),
    ({"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "1 hour"}, "duration"),
    ({"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "P1M"}, "months"),
    ({"options": "aggregatedValues", "aggrMethods": "avg,median"}, "median"),
    ({"options": "aggregatedValues"}, "aggrMethods"),
    ({"options": "temporalValues,aggregatedValues", "aggrMethods": "avg"}, "together"),
    ({"lastN": "-1"}, "lastN"),
    ({"lastN": "0"}, "lastN"),
    ({"firstN": "0"}, "firstN"),
    ({"firstN": "10001"}, "at most"),
    ({"firstN": "5", "lastN": "5"}, "together"),
    ({"lastN": "5", "offsetN": "-5"}, "offsetN"),
    ({"firstN": "5", "options": "aggregatedValues", "aggrMethods": "avg"}, "aggregat"),
    ({"timeproperty": "modifiedAt"}, "observedAt"),
])
def test_bad_parameters_are_bad_request_data(client, station, params, words):
    assert words in _problem(_get(client, f"/{AIR}", **params), 400)


def test_an_unknown_format_or_option_is_an_invalid_request(client, station):
    """As the ETSI suite has it (021_20): a malformed request, not data the operation refuses."""
    assert "format" in _problem(_get(client, f"/{AIR}", format="table"), 400, "InvalidRequest")
    assert "Unknown option" in _problem(_get(client, f"/{AIR}", options="temporalValues,nope"), 400,
                                        "InvalidRequest")


def test_an_unknown_entity_is_resource_not_found(client, station):
    _problem(_get(client, "/urn:ngsi-ld:AirQualityObserved:nope"), 404, "ResourceNotFound")
    _problem(_get(client, "/not a uri"), 400)


def _page(response, status: int = 200) -> tuple[list[Any], dict[str, dict[str, str]]]:
    """The NO2 values of an answer, and its page links by rel (with the query of each)."""
    assert response.status_code == status, response.text
    links = {rel: {**link, "query": dict(parse_qsl(urlsplit(link["url"]).query))}
             for rel, link in response.links.items() if rel.startswith("interval")}
    return [i["value"] for i in response.json().get("NO2", [])], links


def _follow(client, link: dict[str, Any]):
    assert link["type"] == "application/ld+json"
    assert link["url"].startswith(f"{BASE}/temporal/entities")
    return client.get(link["url"], headers=SDM_LINK)


def test_more_instances_than_a_page_give_the_first_page_and_a_link_to_the_next(client, station, monkeypatch):
    from parvis.modules.sensors import temporal

    monkeypatch.setattr(temporal, "MAX_INSTANCES", 100)  # the default page size
    values, links = _page(_get(client, f"/{AIR}", attrs="NO2"))
    assert values == list(range(1, 101)) and set(links) == {"intervalafter"}
    assert links["intervalafter"]["query"] == {"attrs": "NO2", "firstN": "100", "offsetN": "100"}
    values, links = _page(_follow(client, links["intervalafter"]))
    assert values == list(range(101, 121)) and set(links) == {"intervalbefore"}
    assert links["intervalbefore"]["query"]["offsetN"] == "0"
    # a page that holds everything has no link; aggregation is not paged
    assert _page(_get(client, f"/{AIR}", attrs="NO2", **_between(0, 100))) == (list(range(1, 101)), {})
    aggregated = _get(client, f"/{AIR}", attrs="NO2", options="aggregatedValues", aggrMethods="totalCount")
    assert aggregated.json()["NO2"]["totalCount"][0][0] == 120
    assert not [rel for rel in aggregated.links if rel.startswith("interval")]


def test_first_n_pages_forwards_and_each_attribute_by_itself(client, station):
    assert _page(_get(client, f"/{AIR}", attrs="NO2", firstN="50"))[0] == list(range(1, 51))
    values, links = _page(_get(client, f"/{AIR}", attrs="NO2", firstN="50", offsetN="50"))
    assert values == list(range(51, 101))
    assert {rel: link["query"]["offsetN"] for rel, link in links.items()} == {"intervalafter": "100",
                                                                             "intervalbefore": "0"}
    body = _get(client, f"/{AIR}", attrs="NO2,airQualityLevel", firstN="30", offsetN="60",
                **_between(30, 120)).json()
    assert [i["value"] for i in body["NO2"]] == list(range(91, 121))
    assert body["airQualityLevel"][0]["observedAt"] == "2026-11-28T11:30:00Z"  # minute 90 too
    assert "NO2" not in _get(client, f"/{AIR}", attrs="NO2", firstN="50", offsetN="500").json()


def test_last_n_pages_backwards_in_time_order(client, station):
    values, links = _page(_get(client, f"/{AIR}", attrs="NO2", lastN="50"))
    assert values == list(range(71, 121))  # the last 50, oldest first
    assert set(links) == {"intervalbefore"}  # the next page holds earlier instances
    assert links["intervalbefore"]["query"] == {"attrs": "NO2", "lastN": "50", "offsetN": "50"}
    values, links = _page(_follow(client, links["intervalbefore"]))
    assert values == list(range(21, 71))
    assert {rel: link["query"]["offsetN"] for rel, link in links.items()} == {"intervalbefore": "100",
                                                                             "intervalafter": "0"}
    values, links = _page(_follow(client, links["intervalbefore"]))
    assert values == list(range(1, 21)) and set(links) == {"intervalafter"}


def test_page_links_stand_beside_the_context_link_and_follow_queries(client, station, waste_bin, r):
    response = _get(client, "", headers={**r, "Accept": "application/json"},
                    type="AirQualityObserved,WasteContainer", attrs="NO2,fillingLevel", lastN="4")
    assert response.status_code == 200, response.text
    assert set(response.links) == {"intervalbefore", "http://www.w3.org/ns/json-ld#context"}
    nxt = dict(parse_qsl(urlsplit(response.links["intervalbefore"]["url"]).query))
    assert nxt == {"type": "AirQualityObserved,WasteContainer", "attrs": "NO2,fillingLevel", "lastN": "4",
                   "offsetN": "4"}
    following = client.get(f"{BASE}/temporal/entities", params=nxt, headers=r).json()
    by_id = {e["id"]: e for e in following}
    assert [i["value"] for i in by_id[AIR]["NO2"]] == [113, 114, 115, 116]
    assert [i["value"] for i in by_id[BIN]["fillingLevel"]] == [0.0]  # the bin's 5th-last, and first
    assert response.headers["link"].startswith("<https://")  # the context's link comes first
    # the same page through the query in a body, and the next one by posting it to the link
    body = {"type": "Query", "entities": [{"type": "AirQualityObserved", "id": AIR}], "attrs": ["NO2"], "temporalQ": {"lastN": 4, "offsetN": 4}}
    posted = client.post(f"{BASE}/temporal/entityOperations/query", json=body, headers=r)
    assert [i["value"] for i in posted.json()[0]["NO2"]] == [113, 114, 115, 116]
    assert set(posted.links) == {"intervalbefore", "intervalafter", "http://www.w3.org/ns/json-ld#context"}
    earlier = client.post(posted.links["intervalbefore"]["url"], json=body, headers=r)
    assert [i["value"] for i in earlier.json()[0]["NO2"]] == [109, 110, 111, 112]


def test_a_previous_page_never_overlaps_and_odd_ids_keep_their_spelling(client, db, settings, station):
    values, links = _page(_get(client, f"/{AIR}", attrs="NO2", firstN="100", offsetN="30"))
    assert values == list(range(31, 121))
    assert links["intervalbefore"]["query"] == {"attrs": "NO2", "firstN": "30", "offsetN": "0"}
    assert _page(_follow(client, links["intervalbefore"]))[0] == list(range(1, 31))
    odd = "urn:ngsi-ld:AirQualityObserved:Huế-100%"
    sensors.provision_device(db, api_key="k3y", device_id="aq-2", entity_id=odd,
                             entity_type="AirQualityObserved", attributes={"no2": "NO2"}, lon=104.9, lat=11.5)
    _feed(db, settings, "aq-2", [(T0 + timedelta(minutes=i), {"no2": i}) for i in range(5)])
    response = _get(client, "/" + quote(odd, safe=":"), attrs="NO2", firstN="2")
    values, links = _page(response)
    assert values == [0, 1] and "Hu%E1%BA%BF-100%25" in links["intervalafter"]["url"]
    assert _page(_follow(client, links["intervalafter"]))[0] == [2, 3]


# ----------------------------------------------------------------------------------- access

def test_a_public_type_is_readable_anonymously(client, station):
    assert _get(client, f"/{AIR}", lastN="1").status_code == 200
    assert _get(client, "", type="AirQualityObserved", lastN="1").status_code == 200


def test_a_private_entity_needs_a_key(client, waste_bin, r):
    _problem(_get(client, f"/{BIN}"), 404, "ResourceNotFound")
    listed = _get(client, "", type="WasteContainer")
    assert listed.status_code == 401
    anonymous = _get(client, "", idPattern=".*", lastN="1")
    assert anonymous.status_code == 200 and anonymous.json() == []
    assert _get(client, f"/{BIN}", headers=r, lastN="1").json()["fillingLevel"][0]["value"] == 0.04
    assert _get(client, f"/{BIN}", headers={"X-Api-Key": "wrong"}).status_code == 401


def test_a_query_gives_only_the_entities_with_instances_in_the_window(client, station, waste_bin, r):
    """The bin's five readings are in the first five minutes: after them only the station shows,
    and asked for the bin's attribute after them, nothing does."""
    later = {"timerel": "after", "timeAt": _z(T0 + timedelta(minutes=10))}
    found = _get(client, "", headers=r, type="AirQualityObserved,WasteContainer", count="true", **later)
    assert [e["id"] for e in found.json()] == [AIR]
    assert found.headers["NGSILD-Results-Count"] == "1"
    assert _get(client, "", headers=r, type="WasteContainer", attrs="fillingLevel", **later).json() == []
    early = _get(client, "", headers=r, type="AirQualityObserved,WasteContainer", timerel="before",
                 timeAt=_z(T0 + timedelta(minutes=3)))
    assert sorted(e["id"] for e in early.json()) == [AIR, BIN]


def test_an_attribute_the_entity_never_had_is_resource_not_found(client, station):
    _problem(_get(client, f"/{AIR}", attrs="fillingLevel"), 404, "ResourceNotFound")
    # an attribute it has, without instances in the window asked: the entity, without it
    empty = _get(client, f"/{AIR}", attrs="NO2", timerel="before", timeAt=_z(T0))
    assert empty.status_code == 200 and "NO2" not in empty.json()
