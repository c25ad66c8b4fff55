"""Geometry rules for an alert's area: polygons and circles in Parvis's (lon, lat) order.

A polygon is a list of (lon, lat) points; a circle a centre and a radius in kilometres. The
checks refuse what cannot be sent to people's phones: too few points, coordinates out of
range, a polygon that crosses itself, a circle without a sensible radius and, when the city's
bounds are given, an area that misses the city entirely, with a specific error when swapping
latitude and longitude would put it inside (the most common mistake, since CAP writes
``lat,lon`` and GeoJSON ``lon,lat``). Pure functions: no database, no settings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from parvis.kernel.errors import N_, ValidationFailed

LonLat = tuple[float, float]
# The city as a shape, or its bounding box (min lon, min lat, max lon, max lat).
CityBounds = BaseGeometry | tuple[float, float, float, float]

MAX_RADIUS_KM = 500.0
CIRCLE_SEGMENTS = 64

# WGS84 ellipsoid
_A = 6_378_137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)


class Circle(NamedTuple):
    """A CAP circle, centre in (lon, lat) order, radius in kilometres."""

    lon: float
    lat: float
    radius_km: float


class InvalidAlertArea(ValidationFailed):
    type_slug = "invalid-alert-area"
    title = N_("The alert area is not valid.")


class SelfIntersectingPolygon(InvalidAlertArea):
    type_slug = "self-intersecting-polygon"
    title = N_("The polygon crosses itself.")


class SwappedLatLon(InvalidAlertArea):
    type_slug = "swapped-lat-lon"
    title = N_("Latitude and longitude seem swapped.")


class AreaOutsideCity(InvalidAlertArea):
    type_slug = "alert-area-outside-city"
    title = N_("The alert area is outside the city.")


class InvalidRadius(InvalidAlertArea):
    type_slug = "invalid-radius"
    title = N_("The circle's radius is not valid.")


TOO_FEW_POINTS = N_("A polygon needs at least four points, the last one the same as the first.")
OUT_OF_RANGE = N_("Coordinates must be a latitude between -90 and 90 and a longitude between -180 and 180.")


def city_shape(city: CityBounds) -> BaseGeometry:
    """The city as a shapely geometry, from a geometry or a (min lon, min lat, max lon, max lat) box."""
    if isinstance(city, BaseGeometry):
        return city
    return box(*city)


def _in_range(points: Sequence[LonLat]) -> bool:
    return all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in points)


def close_ring(points: Sequence[Sequence[float]]) -> list[LonLat]:
    """The ring as (lon, lat) tuples of finite floats, its first point repeated at the end if it was not."""
    ring: list[LonLat] = []
    for point in points:
        if len(point) != 2:
            raise InvalidAlertArea(OUT_OF_RANGE)
        lon, lat = float(point[0]), float(point[1])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InvalidAlertArea(OUT_OF_RANGE)
        ring.append((lon, lat))
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def check_polygon(points: Sequence[Sequence[float]], city: CityBounds | None = None) -> Polygon:
    """A sane polygon from (lon, lat) points (closed, or closed here), as a shapely Polygon."""
    ring = close_ring(points)
    if len(ring) < 4 or len(set(ring)) < 3:
        raise InvalidAlertArea(TOO_FEW_POINTS)
    in_range = _in_range(ring)
    city_geom = city_shape(city) if city is not None else None
    polygon = Polygon(ring)
    if city_geom is not None and (not in_range or not polygon.intersects(city_geom)):
        swapped = [(lat, lon) for lon, lat in ring]
        if _in_range(swapped) and Polygon(swapped).intersects(city_geom):
            raise SwappedLatLon()
    if not in_range:
        raise InvalidAlertArea(OUT_OF_RANGE)
    if not polygon.is_valid:
        reason = shapely.is_valid_reason(polygon)
        if "self-intersection" in reason.lower():
            raise SelfIntersectingPolygon(errors=[{"field": "polygon", "code": "self_intersection",
                                                   "reason": reason}])
        raise InvalidAlertArea(N_("The polygon is not valid: %(reason)s"), params={"reason": reason})
    if city_geom is not None and not polygon.intersects(city_geom):
        raise AreaOutsideCity()
    return polygon


def check_circle(circle: Sequence[float], city: CityBounds | None = None,
                 max_radius_km: float = MAX_RADIUS_KM) -> Polygon:
    """A sane circle (lon, lat, radius_km), returned as the polygon that approximates it."""
    lon, lat, radius = (float(v) for v in circle)
    if math.isnan(radius) or radius <= 0:
        raise InvalidRadius(N_("The radius must be more than 0 km."))
    if radius > max_radius_km:
        raise InvalidRadius(N_("The radius must be at most %(limit)s km."),
                            params={"limit": f"{max_radius_km:g}"})
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidAlertArea(OUT_OF_RANGE)
    in_range = _in_range([(lon, lat)])
    city_geom = city_shape(city) if city is not None else None
    if city_geom is not None:
        touches = in_range and circle_polygon(lon, lat, radius).intersects(city_geom)
        swapped_touches = _in_range([(lat, lon)]) and circle_polygon(lat, lon, radius).intersects(city_geom)
        if not touches and swapped_touches:
            raise SwappedLatLon()
    if not in_range:
        raise InvalidAlertArea(OUT_OF_RANGE)
    shape = circle_polygon(lon, lat, radius)
    if city_geom is not None and not shape.intersects(city_geom):
        raise AreaOutsideCity()
    return shape


def _destination(lon: float, lat: float, distance_m: float, bearing: float) -> LonLat:
    """The point ``distance_m`` away from (lon, lat) towards ``bearing`` (radians from north).

    Spherical trigonometry on the sphere that osculates the WGS84 ellipsoid in that direction
    (Euler's radius of curvature at the centre): metre-accurate at city scale (tens of km).
    """
    phi = math.radians(lat)
    w = math.sqrt(1 - _E2 * math.sin(phi) ** 2)
    meridian = _A * (1 - _E2) / w**3
    normal = _A / w
    radius = 1 / (math.cos(bearing) ** 2 / meridian + math.sin(bearing) ** 2 / normal)
    delta = distance_m / radius
    lat2 = math.asin(math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(bearing))
    lon2 = math.radians(lon) + math.atan2(math.sin(bearing) * math.sin(delta) * math.cos(phi),
                                          math.cos(delta) - math.sin(phi) * math.sin(lat2))
    return (math.degrees(lon2), math.degrees(lat2))


def circle_polygon(lon: float, lat: float, radius_km: float, segments: int = CIRCLE_SEGMENTS) -> Polygon:
    """A polygon in (lon, lat) degrees approximating the circle on the ground (``segments`` corners)."""
    points = [_destination(lon, lat, radius_km * 1000, 2 * math.pi * i / segments) for i in range(segments)]
    return Polygon(points)


def area_shape(polygons: Sequence[Sequence[LonLat]], circles: Sequence[Circle]) -> BaseGeometry:
    """The union of an area's polygons and circles, for point-in-area tests."""
    parts = [Polygon(close_ring(ring)) for ring in polygons]
    parts += [circle_polygon(c.lon, c.lat, c.radius_km) for c in circles]
    return shapely.union_all(parts)
