"""The hourly VN_AQI (Decision 1459/QĐ-TCMT): breakpoints, NowCast, the station's index and
category; the public GeoJSON API and page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.sensors.conftest import create

from parvis.kernel.db import utcnow
from parvis.modules.sensors import air, observations
from parvis.modules.sensors.actions import attribute_iri


@pytest.mark.parametrize(("pollutant", "concentration", "expected"), [
    ("pm25", 0, 0), ("pm25", 12.4, 25), ("pm25", 25, 50), ("pm25", 35, 70), ("pm25", 50, 100),
    ("pm25", 100, 164), ("pm25", 250, 300), ("pm25", 500, 500), ("pm25", 900, 500),
    ("pm10", 200, 125), ("pm10", 50, 50), ("pm10", 385, 250),
    ("no2", 150, 75), ("no2", 450, 125), ("o3", 250, 125), ("o3", 160, 50),
    ("so2", 125, 50), ("co", 20_000, 75), ("pm25", -3, 0),
])
def test_sub_index_on_known_values(pollutant: str, concentration: float, expected: int) -> None:
    assert air.sub_index(pollutant, concentration) == expected


def test_categories_of_the_decision() -> None:
    assert [air.category(v).code for v in (0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500)] == [
        "good", "good", "moderate", "moderate", "poor", "poor", "bad", "bad", "very_bad", "very_bad",
        "hazardous", "hazardous"]
    assert air.category(70).colour == "#ffff00"


def test_nowcast() -> None:
    assert air.nowcast([30.0] * 12) == pytest.approx(30)
    assert air.nowcast([50.0, 10.0, None]) == pytest.approx((50 + 0.5 * 10) / 1.5)  # w = 1/5 -> 1/2
    assert air.nowcast([None, 40.0, 20.0]) == pytest.approx((0.5 * 40 + 0.25 * 20) / 0.75)
    assert air.nowcast([40.0, 36.0, 32.0]) == pytest.approx((40 + 0.8 * 36 + 0.64 * 32) / (1 + 0.8 + 0.64))
    assert air.nowcast([50.0, None, None, 20.0]) is None  # two of the three latest hours needed


def test_the_index_needs_particles_and_is_the_worst_pollutant() -> None:
    assert air.rate({"pm25": 35.0, "no2": 150.0})[:2] == (75, "no2")
    assert air.rate({"pm25": 35.0, "no2": 50.0})[:2] == (70, "pm25")
    assert air.rate({"no2": 300.0, "o3": 100.0})[:2] == (None, None)


def _station(n: int, lon: float, lat: float, **values: float) -> dict:
    when = utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    entity = {"id": f"urn:ngsi-ld:AirQualityObserved:st-{n}", "type": "AirQualityObserved",
              "name": {"type": "Property", "value": f"Station {n}"},
              "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}}
    for name, value in values.items():
        entity[name] = {"type": "Property", "value": value, "unitCode": "GQ", "observedAt": when}
    return entity


def test_stations_geojson_and_page(client, db, w) -> None:
    create(client, w, _station(1, 107.58, 16.46, pm25=35.0, NO2=20.0))
    create(client, w, _station(2, 107.60, 16.47, NO2=80.0))  # no particles: no index
    # station 1 had 60 µg/m³ of PM2.5 an hour ago: the NowCast weighs it in
    hour_ago = utcnow().replace(minute=30, second=0, microsecond=0) - timedelta(hours=1)
    with db.transaction() as session:
        observations.store(session, [{"entity_id": "urn:ngsi-ld:AirQualityObserved:st-1",
                                      "attribute": attribute_iri("pm25"), "observed_at": hour_ago,
                                      "number": 60.0, "value": 60.0}])
    response = client.get("/api/v1/sensors/air/stations")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    features = {f["properties"]["name"]: f for f in response.json()["features"]}
    one = features["Station 1"]["properties"]
    expected = air.nowcast([35.0, 60.0])  # w = 35/60: (35 + w * 60) / (1 + w)
    assert one["pollutants"]["pm25"]["rated"] == pytest.approx(expected, abs=0.05)
    assert one["aqi"] == air.sub_index("pm25", round(expected, 1)) and one["dominant"] == "pm25"
    assert one["category"] == air.category(one["aqi"]).code and one["index"] == "VN_AQI"
    assert one["pollutants"]["pm25"]["value"] == 35.0
    assert features["Station 1"]["geometry"]["coordinates"] == [107.58, 16.46]
    two = features["Station 2"]["properties"]
    assert two["aqi"] is None and two["pollutants"]["no2"]["aqi"] == 40
    page = client.get("/air", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.text
    assert "Station 1" in html and f">{one['aqi']}<" in html
    assert air.category(one["aqi"]).label in html  # the category in words, not only in colour
    assert "No index" in html


def test_station_aqi_for_live_maps() -> None:
    attrs = {attribute_iri("pm25"): {"type": "Property", "value": 35.0},
             attribute_iri("NO2"): {"type": "Property", "value": 450.0}}
    assert air.station_aqi(attrs) == (125, "poor")
    assert air.station_aqi({attribute_iri("NO2"): {"type": "Property", "value": 450.0}}) is None


def test_a_new_station_is_rated_on_its_latest_hour_without_nowcast(client, w) -> None:
    create(client, w, _station(3, 107.58, 16.46, pm25=120.0))
    props = client.get("/api/v1/sensors/air/stations").json()["features"][0]["properties"]
    assert props["aqi"] == 179 and props["category"] == "bad"  # 150 + 50 x (120 - 80) / 70
    assert props["pollutants"]["pm25"]["nowcast"] is False
