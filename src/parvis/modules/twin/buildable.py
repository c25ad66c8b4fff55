"""Buildable zones for planners: where the zoning plan allows building and nothing rules it out.

Buildable = the zoning plan's buildable polygons
          - built footprints (each grown by an optional setback, metres)
          - official flood hazard zones of the excluded levels (default: medium and high)
          - ground steeper than a slope threshold (default 15 %, from the terrain model)
          - protected areas.
Pieces smaller than a minimum area (default 50 m²) are dropped as slivers and counted.

The official hazard map is used here (not the illustrative what-ifs of ``flood.py``). All
geometries are shapely 2 geometries in the local metric CRS; areas are in m², reported in hectares.

Why 15 %: about 8.5 degrees, the slope beyond which ordinary building needs terracing or
retaining walls and many hillside rules start to apply; it is a parameter (the integrator's
``PARVIS_TWIN_BUILDABLE_MAX_SLOPE_PCT``) because every city's rule differs.

Slope method: central differences of the terrain (``numpy.gradient``, one-sided at the edges),
slope % = 100 x sqrt(dz/dx² + dz/dy²). Steep cells are turned into polygons with
``rasterio.features.shapes`` (cell outlines, so edges are staircases of one cell) and merged.
Nodata cells have no slope and are not excluded for slope.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from rasterio import features
from rasterio.transform import Affine
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from parvis.kernel.errors import N_, ParvisError

DEFAULT_EXCLUDED_HAZARD = ("medium", "high")


class BuildableInputError(ParvisError):
    """Input that the buildable-zone computation cannot use."""

    status = 422
    type_slug = "twin-buildable-input"
    title = N_("The data for buildable zones cannot be used.")


@dataclass(frozen=True)
class BuildableResult:
    """The buildable geometry (local metres) and the slivers dropped."""

    geometry: BaseGeometry
    slivers_dropped: int
    slivers_area_m2: float

    @property
    def area_ha(self) -> float:
        return self.geometry.area / 10_000.0


def slope_percent(dtm: np.ndarray, resolution: float) -> np.ndarray:
    """Slope in percent (100 x rise / run) of each cell, float32, NaN where the terrain is NaN."""
    z = np.asarray(dtm, dtype=np.float64)
    if z.ndim != 2 or min(z.shape) < 2:
        raise BuildableInputError(f"The terrain must be a 2-D raster of at least 2 x 2 cells, not {z.shape}.")
    if not np.isfinite(resolution) or resolution <= 0:
        raise BuildableInputError(f"The resolution must be a positive number of metres, not {resolution}.")
    dz_row, dz_col = np.gradient(z, resolution)
    return (100.0 * np.hypot(dz_row, dz_col)).astype(np.float32)


def steep_areas(dtm: np.ndarray, transform: Affine, max_slope_pct: float = 15.0) -> BaseGeometry:
    """The union of the cells steeper than ``max_slope_pct`` as one (multi)polygon, local metres."""
    if abs(transform.a) != abs(transform.e) or transform.b or transform.d:
        raise BuildableInputError("The terrain must have square, north-up cells.")
    slope = slope_percent(dtm, abs(transform.a))
    steep = np.where(np.isfinite(slope), slope > max_slope_pct, False).astype(np.uint8)
    if not steep.any():
        return shapely.Polygon()
    polygons = [shape(geom) for geom, value in features.shapes(steep, mask=steep.astype(bool),
                                                               transform=transform) if value == 1]
    return shapely.union_all(polygons)


def _union(geoms: Iterable[BaseGeometry] | None, name: str) -> BaseGeometry:
    items = []
    for geom in geoms or ():
        if geom is None or geom.is_empty:
            continue
        if not geom.is_valid:
            raise BuildableInputError(f"A {name} geometry is not valid ({shapely.is_valid_reason(geom)}); "
                                      "repair it at import.")
        items.append(geom)
    return shapely.union_all(items) if items else shapely.Polygon()


def buildable_zones(
    zoning: Iterable[BaseGeometry],
    *,
    buildings: Iterable[BaseGeometry] = (),
    setback_m: float = 0.0,
    hazard: Iterable[tuple[BaseGeometry, str]] = (),
    excluded_hazard_levels: Sequence[str] = DEFAULT_EXCLUDED_HAZARD,
    dtm: np.ndarray | None = None,
    transform: Affine | None = None,
    max_slope_pct: float = 15.0,
    protected: Iterable[BaseGeometry] = (),
    min_area_m2: float = 50.0,
) -> BuildableResult:
    """The buildable zones (see the module doc). ``zoning`` holds only the zoning plan's
    buildable polygons; ``hazard`` pairs each official hazard polygon with its level
    ("low", "medium", "high"); slopes are excluded when ``dtm`` and its ``transform`` are given."""
    if setback_m < 0 or min_area_m2 < 0:
        raise BuildableInputError("The setback and the minimum area cannot be negative.")
    if (dtm is None) != (transform is None):
        raise BuildableInputError("Give both the terrain and its transform, or neither.")
    excluded = {level.lower() for level in excluded_hazard_levels}
    result = _union(zoning, "zoning")
    built = _union(buildings, "building")
    if setback_m > 0 and not built.is_empty:
        built = built.buffer(setback_m)
    removals = [built,
                _union((geom for geom, level in hazard if str(level).lower() in excluded), "hazard"),
                _union(protected, "protected area")]
    if dtm is not None and transform is not None:
        removals.append(steep_areas(dtm, transform, max_slope_pct))
    for removal in removals:
        if not removal.is_empty:
            result = result.difference(removal)
    parts = [g for g in getattr(result, "geoms", [result])
             if isinstance(g, shapely.Polygon) and not g.is_empty]
    kept = [p for p in parts if p.area >= min_area_m2]
    dropped = [p for p in parts if p.area < min_area_m2]
    geometry = shapely.MultiPolygon(kept) if kept else shapely.MultiPolygon()
    return BuildableResult(geometry=geometry, slivers_dropped=len(dropped),
                           slivers_area_m2=float(sum(p.area for p in dropped)))


def per_district(buildable: BaseGeometry, districts: Mapping[str, BaseGeometry]) -> list[dict[str, Any]]:
    """One row per district (name -> polygon, local metres): buildable hectares, the district's
    hectares and the buildable share of the district (0-1), in the mapping's order."""
    rows = []
    for name, geom in districts.items():
        inside = buildable.intersection(geom).area if not buildable.is_empty else 0.0
        total = geom.area
        rows.append({
            "district": name,
            "buildable_ha": round(inside / 10_000.0, 4),
            "district_ha": round(total / 10_000.0, 4),
            "share": round(inside / total, 6) if total > 0 else 0.0,
        })
    return rows


CSV_COLUMNS = ("district", "buildable_ha", "district_ha", "share")


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The per-district rows as CSV text (comma-separated, header line, dot decimals)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def to_geojson(buildable: BaseGeometry, to_lonlat: Callable[..., Any], precision: int = 7) -> dict[str, Any]:
    """A GeoJSON FeatureCollection in lon/lat, one feature per buildable polygon with its area.

    ``to_lonlat(x, y) -> (lon, lat)`` converts local metres (e.g. a pyproj ``Transformer``'s
    ``transform`` with ``always_xy=True``); areas are computed in metres before conversion."""
    features_out = []
    for polygon in getattr(buildable, "geoms", [buildable]):
        if polygon.is_empty:
            continue
        lonlat = shapely.transform(polygon, to_lonlat, interleaved=False)
        lonlat = shapely.set_precision(lonlat, 10.0**-precision)
        features_out.append({
            "type": "Feature",
            "properties": {"area_m2": round(polygon.area, 1), "area_ha": round(polygon.area / 10_000.0, 4)},
            "geometry": mapping(lonlat),
        })
    return {"type": "FeatureCollection", "features": features_out}
