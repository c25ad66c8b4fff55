"""Geometry and time rules of an alert: bad areas and expired alerts get specific errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from alert_samples import CITY, CITY_HALL
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon, box

from parvis.kernel.errors import ValidationFailed
from parvis.modules.alerts import area, rules
from parvis.modules.alerts.standards import cap

SQUARE = [(106.69, 10.77), (106.71, 10.77), (106.71, 10.79), (106.69, 10.79), (106.69, 10.77)]
BOW_TIE = [(106.69, 10.77), (106.71, 10.79), (106.71, 10.77), (106.69, 10.79), (106.69, 10.77)]
HANOI = [(105.84, 21.02), (105.86, 21.02), (105.86, 21.04), (105.84, 21.04)]


def swap(ring):
    return [(lat, lon) for lon, lat in ring]


# ------------------------------------------------------------------------------- polygons

def test_a_good_polygon_passes_closed_or_not():
    assert area.check_polygon(SQUARE, CITY).equals(Polygon(SQUARE))
    assert area.check_polygon(SQUARE[:-1], CITY).equals(Polygon(SQUARE))
    assert area.check_polygon([[106.69, 10.77], [106.71, 10.77], [106.7, 10.79]]).area > 0


def test_a_bow_tie_is_refused_as_self_intersecting():
    with pytest.raises(area.SelfIntersectingPolygon) as caught:
        area.check_polygon(BOW_TIE, CITY)
    error = caught.value
    assert isinstance(error, ValidationFailed) and error.status == 422
    assert error.type_slug == "self-intersecting-polygon" and error.title == "The polygon crosses itself."
    assert "Self-intersection" in error.errors[0]["reason"]


@pytest.mark.parametrize("points", [[], [(106.7, 10.8)], [(106.7, 10.8), (106.71, 10.8)],
                                    [(106.7, 10.8), (106.71, 10.8), (106.7, 10.8)],
                                    [(106.7, 10.8)] * 5])
def test_too_few_points_are_refused(points):
    with pytest.raises(area.InvalidAlertArea) as caught:
        area.check_polygon(points)
    assert caught.value.detail == area.TOO_FEW_POINTS


def test_a_flat_polygon_is_refused():
    """A ring that goes out and back along one line folds onto itself."""
    with pytest.raises(area.SelfIntersectingPolygon):
        area.check_polygon([(106.7, 10.8), (106.71, 10.8), (106.72, 10.8), (106.7, 10.8)], CITY)


@pytest.mark.parametrize("points", [
    [(181, 10), (182, 10), (182, 11), (181, 10)],
    [(10, 91), (11, 91), (11, 92), (10, 91)],
    [(math.nan, 10), (11, 10), (11, 11), (10, 10)],
    [(math.inf, 10), (11, 10), (11, 11), (10, 10)],
])
def test_coordinates_out_of_range_are_refused(points):
    with pytest.raises(area.InvalidAlertArea) as caught:
        area.check_polygon(points)
    assert caught.value.detail == area.OUT_OF_RANGE


def test_swapped_lat_lon_is_named_as_such():
    with pytest.raises(area.SwappedLatLon) as caught:
        area.check_polygon(swap(SQUARE), CITY)
    assert caught.value.title == "Latitude and longitude seem swapped."
    # Without the city's bounds the same ring is only out of range (latitude 106).
    with pytest.raises(area.InvalidAlertArea) as caught:
        area.check_polygon(swap(SQUARE))
    assert type(caught.value) is area.InvalidAlertArea


def test_swapped_lat_lon_is_found_even_when_the_swap_stays_in_range():
    """A city near (lon 45, lat 40): the swapped polygon is a valid place, just not the city."""
    city = (44.9, 39.9, 45.3, 40.3)
    ring = [(45.0, 40.0), (45.1, 40.0), (45.1, 40.1), (45.0, 40.1)]
    assert area.check_polygon(ring, city)
    with pytest.raises(area.SwappedLatLon):
        area.check_polygon(swap(ring), city)


def test_a_polygon_outside_the_city_is_refused():
    with pytest.raises(area.AreaOutsideCity) as caught:
        area.check_polygon(HANOI, CITY)
    assert caught.value.type_slug == "alert-area-outside-city"
    assert area.check_polygon(HANOI)  # without the city, Hanoi is a fine place


def test_a_polygon_that_overlaps_the_city_edge_is_accepted():
    across = [(106.80, 10.80), (106.95, 10.80), (106.95, 10.95), (106.80, 10.95)]
    assert area.check_polygon(across, CITY)


def test_the_city_can_be_a_shape_rather_than_a_box():
    triangle = Polygon([(106.6, 10.7), (106.85, 10.7), (106.6, 10.9)])
    corner = [(106.83, 10.88), (106.84, 10.88), (106.84, 10.89), (106.83, 10.89)]  # in the box, not the shape
    assert area.check_polygon(corner, CITY)
    with pytest.raises(area.AreaOutsideCity):
        area.check_polygon(corner, triangle)


@st.composite
def city_rings(draw):
    lon = draw(st.floats(106.62, 106.83))
    lat = draw(st.floats(10.72, 10.88))
    angles = sorted(draw(st.lists(st.integers(0, 359), min_size=3, max_size=8, unique=True)))
    radii = draw(st.lists(st.floats(0.001, 0.02), min_size=len(angles), max_size=len(angles)))
    ring = [(lon + r * math.cos(math.radians(a)), lat + r * math.sin(math.radians(a)))
            for a, r in zip(angles, radii, strict=True)]
    assume(Polygon(ring).is_valid and Polygon(ring).area > 0)
    return ring


@settings(max_examples=100, deadline=None)
@given(city_rings())
def test_any_simple_polygon_in_the_city_passes_and_its_swap_is_caught(ring):
    assert area.check_polygon(ring, CITY).is_valid
    with pytest.raises(area.SwappedLatLon):
        area.check_polygon(swap(ring), CITY)


@settings(max_examples=100, deadline=None)
@given(city_rings(), st.integers(0, 7))
def test_exchanging_two_corners_of_a_polygon_is_caught(ring, k):
    """Swapping two non-adjacent corners of a star-shaped polygon makes it cross itself."""
    assume(len(ring) >= 4)
    i, j = k % len(ring), (k + 2) % len(ring)
    twisted = list(ring)
    twisted[i], twisted[j] = twisted[j], twisted[i]
    assume(not Polygon(twisted).is_valid)
    with pytest.raises(area.InvalidAlertArea):
        area.check_polygon(twisted, CITY)


# ------------------------------------------------------------------------------- circles

def test_a_good_circle_passes_and_becomes_a_polygon():
    shape = area.check_circle(area.Circle(*CITY_HALL, 1.5), CITY)
    assert shape.contains(Point(CITY_HALL)) and shape.is_valid


@pytest.mark.parametrize("radius", [-1.0, 0.0, -0.0, math.nan, -math.inf])
def test_a_circle_without_a_positive_radius_is_refused(radius):
    with pytest.raises(area.InvalidRadius) as caught:
        area.check_circle((*CITY_HALL, radius), CITY)
    assert caught.value.detail == "The radius must be more than 0 km."


@pytest.mark.parametrize("radius", [500.01, 20_000, math.inf])
def test_an_absurd_radius_is_refused(radius):
    with pytest.raises(area.InvalidRadius) as caught:
        area.check_circle((*CITY_HALL, radius))
    assert caught.value.params == {"limit": "500"}
    assert caught.value.detail % caught.value.params == "The radius must be at most 500 km."


def test_the_largest_radius_is_a_parameter():
    assert area.check_circle((*CITY_HALL, 800), max_radius_km=1000)


def test_a_circle_with_swapped_centre_or_outside_the_city_is_refused():
    lon, lat = CITY_HALL
    with pytest.raises(area.SwappedLatLon):
        area.check_circle((lat, lon, 2), CITY)
    with pytest.raises(area.AreaOutsideCity):
        area.check_circle((105.8542, 21.0285, 2), CITY)
    with pytest.raises(area.InvalidAlertArea):
        area.check_circle((lat, lon, 2))  # latitude 106


def test_a_circle_centred_just_outside_the_city_that_reaches_it_is_accepted():
    assert area.check_circle((106.87, 10.80, 5), CITY)  # 2 km east of the box, 5 km radius


def test_circle_polygons_are_accurate_on_the_ground():
    # One degree is 110.574 km of latitude and 111.320 km of longitude at the equator (WGS84).
    north = area.circle_polygon(0, 0, 110.574, segments=4)
    lats = [y for _, y in north.exterior.coords]
    lons = [x for x, _ in north.exterior.coords]
    assert max(lats) == pytest.approx(1.0, abs=0.002)
    east = area.circle_polygon(0, 0, 111.320, segments=4)
    assert max(x for x, _ in east.exterior.coords) == pytest.approx(1.0, abs=0.002)
    assert max(lons) < 1  # a latitude degree is shorter than a longitude degree there
    # In the city, 1 km north is about 0.009044 degrees (110.58 km per degree at 10.8 N).
    ring = area.circle_polygon(*CITY_HALL, 1.0, segments=4)
    assert max(y for _, y in ring.exterior.coords) - CITY_HALL[1] == pytest.approx(1 / 110.58, rel=2e-3)


def test_an_area_shape_joins_polygons_and_circles():
    shape = area.area_shape([SQUARE], [area.Circle(106.75, 10.80, 1)])
    assert shape.contains(Point(106.70, 10.78))
    assert shape.contains(Point(106.755, 10.80))
    assert not shape.contains(Point(106.73, 10.80))
    assert box(*CITY).contains(shape)


# ------------------------------------------------------------------------------- time

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def alert_expiring(*expires) -> cap.Alert:
    infos = [cap.Info(categories=["Met"], event="Flood", urgency="Expected", severity="Severe",
                      certainty="Likely", expires=e) for e in expires]
    return cap.Alert(identifier="a-1", sender="s@x", sent=NOW - timedelta(hours=1), infos=infos)


def test_an_expired_alert_is_refused():
    with pytest.raises(rules.AlertExpired) as caught:
        rules.check_not_expired(alert_expiring(NOW - timedelta(minutes=1)), NOW)
    assert caught.value.status == 422 and caught.value.title == "This alert has already expired."
    with pytest.raises(rules.AlertExpired):
        rules.check_not_expired(alert_expiring(NOW), NOW)  # expiring now is over
    with pytest.raises(rules.AlertExpired):  # one language version already over
        rules.check_not_expired(alert_expiring(NOW + timedelta(hours=1), NOW - timedelta(hours=1)), NOW)


def test_an_alert_still_running_or_without_end_passes():
    rules.check_not_expired(alert_expiring(NOW + timedelta(minutes=1)), NOW)
    rules.check_not_expired(alert_expiring(None), NOW)
    rules.check_not_expired(alert_expiring(datetime(2026, 11, 25, 13)), datetime(2026, 11, 25, 12, 30))  # naive: UTC


def test_is_expired_needs_every_info_to_be_over():
    assert rules.is_expired(alert_expiring(NOW - timedelta(hours=1)), NOW)
    assert not rules.is_expired(alert_expiring(NOW - timedelta(hours=1), NOW + timedelta(hours=1)), NOW)
    assert not rules.is_expired(alert_expiring(NOW - timedelta(hours=1), None), NOW)
    assert not rules.is_expired(alert_expiring(), NOW)


def test_an_alert_cannot_expire_before_it_takes_effect():
    alert = alert_expiring(NOW + timedelta(hours=1))
    rules.check_times(alert)
    alert.infos[0].onset = NOW + timedelta(hours=2)
    with pytest.raises(rules.AlertEndsBeforeStart):
        rules.check_times(alert)
    alert.infos[0].onset = None
    alert.infos[0].effective = NOW + timedelta(hours=1)
    with pytest.raises(rules.AlertEndsBeforeStart):
        rules.check_times(alert)
