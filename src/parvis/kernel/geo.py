"""Geometry at the edge: GeoJSON in and out (WGS84, lon/lat order), checked with shapely.

Districts and other areas are stored as GeoJSON text plus their bounding box. Point lookups
go through an index: SQLite's built-in R*Tree on the bounding boxes, PostGIS's GiST on a
geometry column; the exact test runs on the few candidates.
"""

from __future__ import annotations

import json
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from parvis.kernel.errors import N_, InvalidGeometry

AREA_TYPES = ("Polygon", "MultiPolygon")


def parse_area(geojson: Any) -> MultiPolygon:
    """A district-like area from GeoJSON (object or text): a valid (Multi)Polygon in WGS84."""
    if isinstance(geojson, str | bytes):
        try:
            geojson = json.loads(geojson)
        except ValueError as exc:
            raise InvalidGeometry(N_("The geometry is not valid JSON.")) from exc
    if isinstance(geojson, dict) and geojson.get("type") == "Feature":
        geojson = geojson.get("geometry")
    if not isinstance(geojson, dict) or geojson.get("type") not in AREA_TYPES:
        raise InvalidGeometry(N_("The geometry must be a GeoJSON Polygon or MultiPolygon."))
    try:
        geom = shape(geojson)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise InvalidGeometry(N_("The GeoJSON coordinates cannot be read.")) from exc
    if geom.is_empty:
        raise InvalidGeometry(N_("The geometry is empty."))
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise InvalidGeometry(
            N_("Coordinates must be longitude, latitude in degrees (GeoJSON order).")
        )
    if not geom.is_valid:
        raise InvalidGeometry(
            N_("The polygon is not valid (for example it crosses itself): %(reason)s"),
            params={"reason": explain_validity(geom)},
        )
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    return geom


def parse_point(lon: float, lat: float) -> Point:
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidGeometry(N_("Coordinates must be longitude, latitude in degrees (GeoJSON order)."))
    return Point(lon, lat)


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    return mapping(geom)  # type: ignore[return-value]


def dumps(geom: BaseGeometry) -> str:
    return shapely.to_geojson(geom)


def loads(text: str) -> BaseGeometry:
    return shapely.from_geojson(text)


def feature(geometry: dict[str, Any] | str, properties: dict[str, Any], fid: Any = None) -> dict:
    geo = json.loads(geometry) if isinstance(geometry, str) else geometry
    out: dict[str, Any] = {"type": "Feature", "geometry": geo, "properties": properties}
    if fid is not None:
        out["id"] = fid
    return out


def feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}
