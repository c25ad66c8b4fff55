"""The demo city's simulated sensors: a day looks like a day in a Vietnamese city."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from parvis.modules.sensors.simulate import (
    ATTRIBUTES,
    TIME_KEY,
    Simulator,
    demo_devices,
    find_device,
    messages,
    parking_target,
    timeline,
    traffic_demand,
)
from parvis.modules.sensors.traffic import congestion_index, level_of_service
from parvis.modules.sensors.traffic_segments import segment

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
ANCHORS = [("CIT", 107.585, 16.463), ("VY", 107.57, 16.45), ("AN", 107.60, 16.47)]
MONDAY = datetime(2026, 11, 23, 0, 0, tzinfo=ZONE)
SATURDAY = datetime(2026, 11, 28, 0, 0, tzinfo=ZONE)


def _day(start: datetime, step_minutes: int = 5) -> dict[str, list[tuple[datetime, dict]]]:
    sim = Simulator(demo_devices(ANCHORS), seed=3)
    series: dict[str, list[tuple[datetime, dict]]] = {}
    for at in timeline(start, start + timedelta(days=1), timedelta(minutes=step_minutes)):
        for device, measures in sim.readings(at):
            series.setdefault(device.device_id, []).append((at, measures))
    return series


def _mean(points: list[tuple[datetime, dict]], key: str, hours: tuple[float, float]) -> float:
    return statistics.fmean(m[key] for at, m in points if hours[0] <= at.hour + at.minute / 60 < hours[1])


def test_weekday_traffic_has_two_rush_hours_and_quiet_nights():
    assert traffic_demand(7.5, weekend=False) > 4 * traffic_demand(3.0, weekend=False)
    assert traffic_demand(17.5, weekend=False) > 4 * traffic_demand(3.0, weekend=False)
    assert traffic_demand(7.5, weekend=False) > traffic_demand(10.0, weekend=False)
    assert traffic_demand(7.5, weekend=True) < traffic_demand(7.5, weekend=False)  # no commute
    series = _day(MONDAY)
    detector = series["traffic-cit-1"]
    morning, night = _mean(detector, "f", (7, 8)), _mean(detector, "f", (2, 4))
    assert morning > 4 * night
    # the segment slows down as it fills: rush-hour speed under the night's, congestion index up
    assert _mean(detector, "s", (7, 8)) < _mean(detector, "s", (2, 4))
    free_flow = next(d.free_flow_kmh for d in demo_devices(ANCHORS) if d.device_id == "traffic-cit-1")
    rush = [congestion_index(m["s"], free_flow) for at, m in detector if 7 <= at.hour < 8]
    night = [congestion_index(m["s"], free_flow) for at, m in detector if 2 <= at.hour < 4]
    assert statistics.fmean(rush) > statistics.fmean(night) >= 1.0


def test_motorcycles_are_most_of_the_traffic_and_classes_add_up():
    for points in (p for d, p in _day(MONDAY, 15).items() if d.startswith("traffic-")):
        for _at, m in points:
            assert m["mc"] + m["car"] + m["hv"] == m["f"]
            assert 0 <= m["o"] <= 1
        total = sum(m["f"] for _at, m in points)
        assert 0.7 < sum(m["mc"] for _at, m in points) / total < 0.9


def test_each_vehicle_class_has_its_speed_and_share_of_the_occupancy():
    rush_gap, night_gap = [], []
    for points in (p for d, p in _day(MONDAY, 15).items() if d.startswith("traffic-")):
        for at, m in points:
            # the classes' occupancies add up to the segment's
            assert abs(m["omc"] + m["ocar"] + m["ohv"] - m["o"]) < 0.002
            if m["mc"] and m["car"]:
                assert m["shv"] < m["scar"] if m["hv"] else "shv" not in m  # heavy vehicles lag
                (rush_gap if 7 <= at.hour < 8 else night_gap if 2 <= at.hour < 4 else []).append(
                    m["smc"] - m["scar"])
    # motorcycles weave through queues: ahead of cars at rush hour more than at night
    assert statistics.fmean(rush_gap) > statistics.fmean(night_gap) >= 0
    assert set(ATTRIBUTES["traffic"]) >= {"smc", "scar", "shv", "omc", "ocar", "ohv"}


def test_car_parks_fill_in_the_day_and_never_overflow():
    assert parking_target(10.5, weekend=False) > 2 * parking_target(3.0, weekend=False)
    sim = Simulator(demo_devices(ANCHORS), seed=5)
    capacity = {d.device_id: d.capacity for d in sim.devices}
    series = _day(MONDAY)
    for device_id, points in series.items():
        if not device_id.startswith("parking-"):
            continue
        for _at, m in points:
            assert m["free"] + m["occ"] == capacity[device_id]
            assert 0 <= m["free"] <= capacity[device_id]
        assert _mean(points, "occ", (10, 12)) > 2 * _mean(points, "occ", (3, 5))


def test_air_quality_follows_traffic_and_ozone_the_afternoon_sun():
    station = _day(MONDAY)["air-cit-1"]
    assert _mean(station, "no2", (7, 8)) > 1.5 * _mean(station, "no2", (2, 4))
    assert _mean(station, "o3", (13, 15)) > 2 * _mean(station, "o3", (2, 4))
    assert all(m["pm10"] > m["pm25"] > 0 for _at, m in station)


def test_bins_fill_through_the_day_and_the_morning_round_empties_the_full_ones():
    sim = Simulator(demo_devices(ANCHORS), seed=9)
    bins = [d.device_id for d in sim.devices if d.kind == "waste"]
    last: dict[str, float] = {}
    emptied = 0
    for at in timeline(MONDAY, MONDAY + timedelta(days=4), timedelta(minutes=10)):
        for device, m in sim.readings(at):
            if device.kind != "waste":
                continue
            assert 0 <= m["fill"] <= 1
            previous = last.get(device.device_id)
            if previous is not None and m["fill"] < previous:
                emptied += 1
                assert previous > 0.75 and 5 <= at.hour < 7  # only the morning round empties
            last[device.device_id] = m["fill"]
    assert emptied >= 1 and len(bins) == 9


def test_readings_carry_their_local_time_and_only_known_object_ids():
    sim = Simulator(demo_devices(ANCHORS), seed=1)
    at = datetime(2026, 11, 23, 1, 30, tzinfo=ZoneInfo("UTC"))
    for device, m in sim.readings(at):
        assert datetime.fromisoformat(m[TIME_KEY]) == at
        assert m[TIME_KEY].endswith("+07:00")
        # a class no vehicle of which passed has no speed to send
        unmeasured = {f"s{c}" for c in ("mc", "car", "hv") if device.kind == "traffic" and not m[c]}
        assert set(m) - {TIME_KEY} == set(ATTRIBUTES[device.kind]) - unmeasured


def test_topics_follow_the_iot_agent_convention_and_runs_repeat_with_a_seed():
    first = list(messages(Simulator(demo_devices(ANCHORS), seed=4), "k3y",
                          timeline(SATURDAY, SATURDAY + timedelta(minutes=3), timedelta(minutes=1))))
    again = list(messages(Simulator(demo_devices(ANCHORS), seed=4), "k3y",
                          timeline(SATURDAY, SATURDAY + timedelta(minutes=3), timedelta(minutes=1))))
    assert first == again
    assert len(first) == 3 * len(demo_devices(ANCHORS))
    assert {t for t, _m in first} >= {"/k3y/traffic-cit-1/attrs", "/k3y/waste-an-3/attrs"}


@pytest.mark.parametrize("kind", ["traffic", "parking", "air", "waste"])
def test_entity_ids_are_ngsi_ld_urns(kind):
    device = next(d for d in demo_devices(ANCHORS) if d.kind == kind)
    assert device.entity_id.startswith(f"urn:ngsi-ld:{device.entity_type}:")


def test_the_device_sends_no_congestion_index_the_hub_computes_it():
    assert "ci" not in ATTRIBUTES["traffic"] and "congestionIndex" not in ATTRIBUTES["traffic"].values()


def test_a_jam_holds_one_segment_at_level_f_for_its_minutes_then_traffic_flows_again():
    devices = demo_devices(ANCHORS)
    jammed = find_device(devices, "urn:ngsi-ld:TrafficFlowObserved:traffic-cit-1")
    assert jammed is not None and find_device(devices, "cit-1") == jammed
    assert find_device(devices, "no-such-segment") is None
    start = MONDAY.replace(hour=3)  # a quiet night: level A without the jam
    sim = Simulator(devices, seed=2)
    sim.jams[jammed.device_id] = (start + timedelta(minutes=2), start + timedelta(minutes=5))
    levels = []
    for at in timeline(start, start + timedelta(minutes=8), timedelta(minutes=1)):
        m = next(m for d, m in sim.readings(at) if d == jammed)
        levels.append(level_of_service(congestion_index(m["s"], jammed.free_flow_kmh)))
        assert m["mc"] + m["car"] + m["hv"] == m["f"]
    assert levels[:2] == ["A", "A"] and levels[2:5] == ["F", "F", "F"] and levels[5:] == ["A", "A", "A"]
    # the other devices' streams are those of a run without a jam
    plain, with_jam = Simulator(devices, seed=2), Simulator(devices, seed=2)
    with_jam.jams[jammed.device_id] = (start, start + timedelta(minutes=5))
    for at in timeline(start, start + timedelta(minutes=3), timedelta(minutes=1)):
        a, b = plain.readings(at), with_jam.readings(at)
        assert [m for d, m in a if d != jammed] == [m for d, m in b if d != jammed]


def test_each_detector_measures_a_road_segment_a_few_hundred_metres_long_through_it():
    for device in (d for d in demo_devices(ANCHORS) if d.kind == "traffic"):
        road = segment(device)
        assert road == segment(device)  # the same each time
        assert road.line["type"] == "LineString" and len(road.coordinates) >= 2
        assert [device.lon, device.lat] in road.coordinates
        assert 250 <= road.length_m <= 600
        assert road.free_flow_kmh == device.free_flow_kmh < road.limit_kmh
        static = road.static()
        assert static["freeFlowSpeed"] == device.free_flow_kmh and static["name"]


@pytest.mark.parametrize("args", [["--step", "0"], ["--step", "-60"], ["--minutes", "-5"],
                                  ["--jam-minutes", "0"]])
def test_simulate_refuses_a_step_or_a_span_that_would_never_end(args):
    from click.testing import CliRunner

    from parvis.modules.sensors.cli import simulate

    result = CliRunner().invoke(simulate, [*args, "--direct", "--database-url", "sqlite:///:memory:"])
    assert result.exit_code == 2 and "Invalid value" in result.output  # before anything is published
