"""Traffic: congestion index and level of service on known inputs, the traffic map's GeoJSON and
pages, and the demo's road segments."""

from __future__ import annotations

import math
from datetime import timedelta

import orjson
import pytest
from lxml import html
from sqlalchemy import select
from tests import factories
from tests.web_helpers import sign_in

from parvis.kernel.db import utcnow
from parvis.modules.city import actions as city
from parvis.modules.city.schemas import DepartmentCreate
from parvis.modules.sensors import actions, ingest
from parvis.modules.sensors.traffic import (
    FREE_FLOW,
    SPEED,
    congestion_index,
    level_of_service,
    pcu,
    segment_state,
)

KEY = "k-traffic"


@pytest.mark.parametrize(("speed", "level"), [
    (40, "A"), (34.01, "A"), (34, "B"),  # A: over 85 % of the free-flow speed (40 km/h)
    (26.81, "B"), (26.8, "C"),  # B: over 67 %
    (20.01, "C"), (20, "D"),  # C: over 50 %
    (16.01, "D"), (16, "E"),  # D: over 40 %
    (12.01, "E"), (12, "F"),  # E: over 30 %, F: 30 % or less
    (1, "F"), (0, "F"), (-5, "F"), (55, "A"),
])
def test_level_of_service_at_each_hcm_threshold(speed, level):
    assert level_of_service(congestion_index(speed, 40)) == level


def test_congestion_index_is_travel_time_over_free_flow_travel_time():
    assert congestion_index(40, 40) == 1.0
    assert congestion_index(20, 40) == 2.0
    assert congestion_index(50, 40) == pytest.approx(0.8)  # faster than free flow
    assert congestion_index(0, 40) == 10.0  # stopped: the worst, capped, never a division error
    assert congestion_index(float("nan"), 40) == 10.0
    with pytest.raises(ValueError):
        congestion_index(30, 0)
    assert level_of_service(math.inf) == "F"


def test_segment_state_needs_a_speed_and_a_free_flow_speed():
    assert segment_state({}) is None
    assert segment_state({SPEED: {"type": "Property", "value": 30}}) is None
    assert segment_state({SPEED: {"type": "Property", "value": "fast"}, FREE_FLOW: {"value": 40}}) is None
    state = segment_state({SPEED: {"type": "Property", "value": 14}, FREE_FLOW: {"type": "Property", "value": 40}})
    assert state is not None and (state.level, state.index, state.speed_kmh) == ("E", pytest.approx(2.857, abs=1e-3), 14)
    assert segment_state({SPEED: {"value": 0}, FREE_FLOW: {"value": 40}}).level == "F"


def test_passenger_car_units_count_a_motorcycle_as_three_tenths_of_a_car():
    assert pcu({"motorcycleIntensity": 40, "carIntensity": 8, "heavyVehicleIntensity": 2}) == 24.0
    assert pcu({"motorcycleIntensity": None}) is None


@pytest.fixture
def city_with_segment(db, settings):
    mobility = city.create_department(db, None, DepartmentCreate(code="mobility", name="Mobility", kind="mobility")).id
    roads = city.create_department(db, None, DepartmentCreate(code="parks", name="Parks", kind="environment")).id
    people = {"mob@example.org": ("agent", [mobility]), "env@example.org": ("agent", [roads]),
              "admin@example.org": ("admin", [])}
    line = {"type": "LineString", "coordinates": [[107.58, 16.46], [107.583, 16.461], [107.586, 16.463]]}
    for n, speed in ((1, 8.0), (2, 38.0)):
        actions.provision_device(db, api_key=KEY, device_id=f"seg-{n}",
                                 entity_id=f"urn:ngsi-ld:TrafficFlowObserved:seg-{n}",
                                 entity_type="TrafficFlowObserved",
                                 attributes={"s": "averageVehicleSpeed", "mc": "motorcycleIntensity",
                                             "car": "carIntensity", "hv": "heavyVehicleIntensity",
                                             "smc": "motorcycleAverageSpeed", "scar": "carAverageSpeed",
                                             "omc": "motorcycleOccupancy", "ocar": "carOccupancy"},
                                 lon=107.58, lat=16.46,
                                 static={"freeFlowSpeed": 40, "name": f"Lê Lợi {n}", "length": 420})
        actions.append_attributes(db, f"urn:ngsi-ld:TrafficFlowObserved:seg-{n}",
                                  {actions.attribute_iri("location"): {"type": "GeoProperty", "value": line}})
        now = utcnow().replace(microsecond=0)
        batch = [ingest.Message(KEY, f"seg-{n}", orjson.dumps(
            {"s": speed + k, "mc": 40, "car": 8, "hv": 2, "smc": speed + 3, "scar": speed - 1,
             "omc": 0.12, "ocar": 0.05, "t": (now - timedelta(minutes=k)).isoformat()}),
            now) for k in range(3)]
        assert ingest.ingest(db, settings, batch).dead == 0
    return people


def as_(client, db, settings, people: dict[str, tuple[str, list[int]]], who: str) -> None:
    """Sign in as one of the city's people (created now: hashing passwords is slow)."""
    if who.startswith("+"):
        factories.citizen(db, settings, who)
    else:
        role, departments = people[who]
        factories.staff(db, settings, who, role=role, department_ids=departments)
    sign_in(client, who, factories.PASSWORD)
    client.headers["Accept-Language"] = "en"  # the msgids: tests do not depend on the catalogs


def test_the_traffic_map_geojson_gives_each_segment_its_line_and_level(client, db, settings, city_with_segment):
    anonymous = client.get("/sensors/traffic/segments.geojson", headers={"Accept": "application/geo+json"})
    assert anonymous.status_code == 401
    assert client.get("/sensors/traffic", follow_redirects=False).headers["location"].startswith("/signin")
    as_(client, db, settings, city_with_segment, "mob@example.org")
    response = client.get("/sensors/traffic/segments.geojson")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/geo+json")
    features = {f["id"]: f for f in response.json()["features"]}
    assert features["seg-1"]["geometry"]["type"] == "LineString"
    jammed, free = features["seg-1"]["properties"], features["seg-2"]["properties"]
    assert (jammed["level"], jammed["congestionIndex"], jammed["speed"]) == ("F", 5.0, 8.0)
    assert free["level"] == "A" and free["motorcycles"] == 40 and free["pcu"] == 24.0
    assert jammed["url"] == "/sensors/traffic/seg-1"


def test_the_traffic_map_page_shows_levels_as_letters_and_the_open_congestion(client, db, settings, city_with_segment):
    as_(client, db, settings, city_with_segment, "mob@example.org")
    page = client.get("/sensors/traffic")
    assert page.status_code == 200
    assert 'id="traffic-map"' in page.text and "/static/traffic.js" in page.text
    assert '<span class="los los-F"' in page.text and "Lê Lợi 1" in page.text
    assert "Congestion on Lê Lợi 1" in page.text  # the open event, for mobility


def test_citizens_do_not_see_the_traffic_pages(client, db, settings, city_with_segment):
    as_(client, db, settings, city_with_segment, "+84912345678")
    assert client.get("/sensors/traffic").status_code == 403
    assert client.get("/sensors/traffic/seg-1").status_code == 403


def test_the_segment_page_draws_todays_charts_against_the_typical_weekday(client, db, settings, city_with_segment):
    as_(client, db, settings, city_with_segment, "env@example.org")
    page = client.get("/sensors/traffic/seg-1")
    assert page.status_code == 200
    text = page.text
    assert text.count("<svg class=\"chart\"") == 4
    assert 'id="chart-averageVehicleSpeed"' in text
    assert '<polyline class="chart-today"' in text or '<circle class="chart-today"' in text
    assert "Lê Lợi 1" in text and "los-F" in text and "motorcycles" in text
    assert "Congestion on" not in text  # the environment agent does not see mobility's events
    assert client.get("/sensors/traffic/no-such-segment").status_code == 404


def test_the_segment_page_gives_count_speed_and_occupancy_by_vehicle_class(client, db, settings,
                                                                       city_with_segment):
    as_(client, db, settings, city_with_segment, "mob@example.org")
    page = html.fromstring(client.get("/sensors/traffic/seg-2").text)
    rows = {tr.get("data-class"): [td.text_content().strip() for td in tr.findall("td")]
            for tr in page.xpath('//table[@class="traffic-classes"]/tbody/tr')}
    assert rows["motorcycle"] == ["40", "41 km/h", "12.0 %"]
    assert rows["car"] == ["8", "37 km/h", "5.0 %"]
    assert rows["heavyVehicle"] == ["2", "—", "—"]  # counted, its speed not measured
    assert page.xpath('//table[@class="traffic-classes"]/caption/text()') == ["By vehicle class"]


def test_the_segment_page_of_an_admin_lists_its_congestion_events(client, db, settings, city_with_segment):
    as_(client, db, settings, city_with_segment, "admin@example.org")
    text = client.get("/sensors/traffic/seg-1").text
    assert "Congestion on Lê Lợi 1" in text


def test_the_demo_provisions_road_segments_as_lines_with_a_free_flow_speed(db, settings):
    from parvis.modules.sensors import demo_sensors
    from parvis.modules.sensors.models import Entity

    factories.district(db, "D1", lon=107.57, lat=16.45)
    assert demo_sensors.provision(db, settings, history_hours=0) == 7
    assert demo_sensors.provision(db, settings, history_hours=0) == 7  # again: the same
    with db.read() as session:
        segments = list(session.scalars(select(Entity).where(Entity.id.like("urn:ngsi-ld:TrafficFlowObserved:%"))))
    assert len(segments) == 2
    for entity in segments:
        assert entity.location["type"] == "LineString" and len(entity.location["coordinates"]) == 3
        assert entity.attrs[FREE_FLOW]["value"] in (30.0, 40.0, 50.0)
        assert 250 <= entity.attrs[actions.attribute_iri("length")]["value"] <= 600
        assert entity.lon_min < entity.lon_max  # the bounding box of the line, for geo-queries


def test_a_chart_breaks_its_line_where_hours_are_missing_and_rounds_its_scale():
    from parvis.modules.sensors.traffic_charts import line_chart

    svg = str(line_chart("c", "Speed <km/h>", "Average speed", {0: 30.0, 1: 28.0, 5: 12.0, 6: 14.0, 9: 20.0},
                         {h: 29.0 for h in range(24)}, today_label="Today", typical_label="Typical Monday",
                         now_hour=9.5))
    assert svg.count('<polyline class="chart-today"') == 2 and svg.count('<circle class="chart-today"') == 1
    assert svg.count('<polyline class="chart-typical"') == 1
    assert "Speed &lt;km/h&gt;" in svg  # escaped
    assert ">40</text>" in svg and ">10</text>" in svg  # 0, 10, 20, 30, 40 km/h
