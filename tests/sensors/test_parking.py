"""Free parking near me: ordered by (estimated) walking distance, full car parks left out unless
asked; the public API and the citizen page, and a car park's occupancy by weekday and hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.sensors.conftest import BASE, create

from parvis.kernel.db import utcnow
from parvis.modules.sensors import aggregates, parking
from parvis.modules.sensors.actions import attribute_iri

HERE = (107.58, 16.46)  # lon, lat
DEG_LAT_M = 111_195.0  # metres of a degree of latitude on the haversine sphere (6,371,008.8 m)


def _now() -> str:
    return utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z")


def car_park(n: str, lon: float, lat: float, free: int | None, total: int = 50, *,
             kind: str = "OffStreetParking", observed: str | None = None, **extra: Any) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:{kind}:{n}", "type": kind,
        "name": {"type": "Property", "value": f"Car park {n}"},
        "totalSpotNumber": {"type": "Property", "value": total},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}, **extra}
    if free is not None:
        entity["availableSpotNumber"] = {"type": "Property", "value": free, "observedAt": observed or _now()}
    return entity


@pytest.fixture
def city_parks(client, w) -> None:
    lon, lat = HERE
    create(client, w, car_park("north-full", lon, lat + 0.0005, 0))  # 56 m, full
    create(client, w, car_park("east", lon + 0.0012, lat, 5))  # 128 m
    create(client, w, car_park("south", lon, lat - 0.002, 20))  # 222 m
    create(client, w, car_park("far", lon, lat + 0.02, 40))  # 2.2 km
    create(client, w, {"id": "urn:ngsi-ld:ParkingSpot:s1", "type": "ParkingSpot",
                       "status": {"type": "Property", "value": "free", "observedAt": _now()},
                       "location": {"type": "GeoProperty",
                                    "value": {"type": "Point", "coordinates": [lon - 0.0015, lat]}}})  # 160 m
    create(client, w, car_park("unknown", lon, lat + 0.0001, None))  # 11 m, no count yet


def test_nearest_walk_first_and_full_ones_left_out(client, city_parks) -> None:
    response = client.get("/api/v1/sensors/parking/near", params={"lat": HERE[1], "lon": HERE[0]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == "great-circle x 1.3"
    assert [r["id"].rsplit(":", 1)[-1] for r in body["results"]] == ["east", "s1", "south"]
    east = body["results"][0]
    assert east["availableSpotNumber"] == 5 and east["totalSpotNumber"] == 50
    assert east["straightDistanceM"] == pytest.approx(128, abs=2)
    assert east["walkingDistanceM"] == pytest.approx(east["straightDistanceM"] * 1.3, abs=1)
    assert east["stale"] is False
    spot = body["results"][1]
    assert (spot["type"], spot["availableSpotNumber"], spot["totalSpotNumber"]) == ("ParkingSpot", 1, 1)


def test_full_ones_on_request_and_radius_and_limit(client, city_parks) -> None:
    params: dict[str, Any] = {"lat": HERE[1], "lon": HERE[0], "includeFull": "true"}
    names = [r["id"].rsplit(":", 1)[-1] for r in
             client.get("/api/v1/sensors/parking/near", params=params).json()["results"]]
    assert names == ["north-full", "east", "s1", "south", "unknown"]  # no count yet: last
    params = {"lat": HERE[1], "lon": HERE[0], "radius": 3000, "limit": 2}
    body = client.get("/api/v1/sensors/parking/near", params=params).json()
    assert [r["id"].rsplit(":", 1)[-1] for r in body["results"]] == ["east", "s1"]
    params = {"lat": HERE[1], "lon": HERE[0], "radius": 200}  # 128 m x 1.3 = 166 m: only "east"
    body = client.get("/api/v1/sensors/parking/near", params=params).json()
    assert [r["id"].rsplit(":", 1)[-1] for r in body["results"]] == ["east"]
    params = {"lat": HERE[1], "lon": HERE[0], "radius": 3000}
    body = client.get("/api/v1/sensors/parking/near", params=params).json()
    assert body["results"][-1]["id"].endswith(":far")


def test_bad_parameters_are_problems(client) -> None:
    response = client.get("/api/v1/sensors/parking/near", params={"lat": 95, "lon": 107})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/sensors/parking/near", params={"lon": 107}).status_code == 422
    too_far = {"lat": 16, "lon": 107, "radius": 50_000}
    assert client.get("/api/v1/sensors/parking/near", params=too_far).status_code == 422


def test_an_old_count_is_marked_stale(client, w) -> None:
    old = (utcnow() - timedelta(hours=3)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    create(client, w, car_park("old", HERE[0], HERE[1] + 0.001, 7, observed=old))
    result = client.get("/api/v1/sensors/parking/near", params={"lat": HERE[1], "lon": HERE[0]}).json()
    assert result["results"][0]["stale"] is True
    # a car park a little farther with a fresh count comes first: the old one's spaces may be gone
    create(client, w, car_park("fresh", HERE[0], HERE[1] + 0.003, 3))
    result = client.get("/api/v1/sensors/parking/near", params={"lat": HERE[1], "lon": HERE[0]}).json()
    assert [(r["id"].rsplit(":", 1)[1], r["stale"]) for r in result["results"]] == [("fresh", False),
                                                                                    ("old", True)]


def test_facilities_geojson(client, city_parks) -> None:
    response = client.get("/api/v1/sensors/parking/facilities")
    assert response.headers["content-type"].startswith("application/geo+json")
    features = {f["id"].rsplit(":", 1)[-1]: f for f in response.json()["features"]}
    assert features["north-full"]["properties"]["full"] is True
    assert features["east"]["geometry"]["coordinates"] == [HERE[0] + 0.0012, HERE[1]]


def test_before_a_place_is_chosen_the_map_shows_car_parks_not_every_single_space(client, city_parks) -> None:
    page = client.get("/parking")
    assert page.status_code == 200
    assert "Car park east" in page.text and "ParkingSpot:s1" not in page.text


def test_the_citizen_page_lists_the_nearest_without_javascript(client, city_parks) -> None:
    page = client.get("/parking", params={"lat": HERE[1], "lon": HERE[0]})
    assert page.status_code == 200
    html = page.text.split('id="results"')[1]
    assert html.index("Car park east") < html.index("s1") < html.index("Car park south")
    assert "Car park north-full" not in html
    assert "5 / 50" in html
    empty = client.get("/parking")
    assert empty.status_code == 200 and 'name="lat"' in empty.text


def test_occupancy_by_weekday_and_hour(client, db, w) -> None:
    create(client, w, car_park("busy", HERE[0], HERE[1], 10, total=40))
    iri = attribute_iri("occupiedSpotNumber")
    now = datetime(2026, 11, 30, 5, tzinfo=UTC)  # Monday 12:00 in Hanoi
    from parvis.modules.sensors import observations

    with db.transaction() as session:
        observations.store(session, [
            {"entity_id": "urn:ngsi-ld:OffStreetParking:busy", "attribute": iri,
             "observed_at": now - timedelta(days=7 * week, hours=1), "number": 30.0, "value": 30}
            for week in (1, 2)])
    aggregates.rollup(db, "Asia/Ho_Chi_Minh")
    with db.read() as session:
        place = parking.one(session, "urn:ngsi-ld:OffStreetParking:busy")
        assert place is not None
        shares = parking.occupancy_profile(session, place, timezone="Asia/Ho_Chi_Minh", now=now)
    assert shares == {(0, 11): 0.75}  # Monday 11:00 local: 30 of 40 spaces taken
    page = client.get("/parking/urn:ngsi-ld:OffStreetParking:busy")
    assert page.status_code == 200
    assert "Car park busy" in page.text and "10 / 40" in page.text
    assert client.get("/parking/urn:ngsi-ld:OffStreetParking:nope").status_code == 404


def test_entities_of_another_type_are_not_car_parks(client, w) -> None:
    create(client, w, {"id": "urn:ngsi-ld:AirQualityObserved:x", "type": "AirQualityObserved",
                       "location": {"type": "GeoProperty",
                                    "value": {"type": "Point", "coordinates": list(HERE)}}})
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:x").status_code == 200
    assert client.get("/parking/urn:ngsi-ld:AirQualityObserved:x").status_code == 404


def test_from_the_centre_of_a_district_and_bad_coordinates(client, db, city_parks) -> None:
    from tests import factories

    district = factories.district(db, "P1", HERE[0] - 0.0005, HERE[1] - 0.0005, size=0.001)
    page = client.get("/parking", params={"district_id": district, "radius": 500})
    assert page.status_code == 200
    listing = page.text.split('id="results"')[1]
    assert listing.index("Car park east") < listing.index("Car park south")
    assert f'<option value="{district}" selected>' in page.text
    wrong = client.get("/parking", params={"lat": "north", "lon": "107"}, headers={"Accept-Language": "en"})
    assert wrong.status_code == 200 and "The coordinates are not valid" in wrong.text
    assert 'id="results"' not in wrong.text


def test_the_demo_street_parking_and_spaces(client, db, settings) -> None:
    from tests import factories

    from parvis.modules.sensors import demo_parking

    factories.district(db, "P1", HERE[0] - 0.0005, HERE[1] - 0.0005, size=0.001)
    assert demo_parking.provision(db, settings, history_hours=1) == 4
    assert demo_parking.provision(db, settings, history_hours=1) == 4  # safe to run again
    body = client.get("/api/v1/sensors/parking/near",
                      params={"lat": HERE[1], "lon": HERE[0], "includeFull": "true"}).json()
    kinds = {r["type"] for r in body["results"]}
    assert kinds == {"OnStreetParking", "ParkingSpot"}
    street = next(r for r in body["results"] if r["type"] == "OnStreetParking")
    assert street["totalSpotNumber"] == 24 and 0 <= street["availableSpotNumber"] <= 24
    assert street["stale"] is False
