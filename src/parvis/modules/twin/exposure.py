"""Buildings and people exposed to a flood what-if (a water level of ``flood.py``), per district.

Rule, said plainly: a building's footprint is rasterised onto the flood raster (the cells whose
centre lies inside the footprint; a footprint smaller than a cell takes the cell under its
centroid). The building is **exposed when the flooded share of those cells reaches ``min_share``**;
the default, 0, means *any* flooded cell touches it. Its depth is the **maximum** water depth
over its cells. Where footprints overlap, the one listed later owns the shared cells.

People: a building's own ``population`` when known. Otherwise, when the district's population
is given, it is shared among that district's buildings of unknown population in proportion to
footprint area x storeys (a simple, stated assumption: more floor area, more residents).

Like the what-if it is computed from, the result is ILLUSTRATIVE, not an official risk count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rasterio import features
from rasterio.transform import Affine
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

from parvis.modules.twin.drainage import TerrainInputError


@dataclass(frozen=True)
class BuildingInput:
    """One building: a reference, its footprint (local metres), district and residents if known."""

    ref: str
    footprint: BaseGeometry
    district: str | None = None
    population: float | None = None
    storeys: int = 1


@dataclass(frozen=True)
class ExposedBuilding:
    ref: str
    district: str | None
    flooded_share: float  # share of its cells flooded, 0-1
    max_depth_m: float
    people: float


@dataclass(frozen=True)
class DistrictExposure:
    district: str | None
    buildings: int
    people: float


@dataclass(frozen=True)
class ExposureResult:
    buildings: list[ExposedBuilding]
    per_district: list[DistrictExposure]
    total_buildings: int
    total_people: float


def _people(buildings: Sequence[BuildingInput],
            district_population: Mapping[str, float] | None) -> list[float]:
    """Residents per building: known values, else the district's population shared by floor area."""
    people = [float(b.population) if b.population is not None else 0.0 for b in buildings]
    if not district_population:
        return people
    weights: dict[str, float] = {}
    for b in buildings:
        if b.population is None and b.district is not None:
            weights[b.district] = weights.get(b.district, 0.0) + b.footprint.area * max(b.storeys, 1)
    for i, b in enumerate(buildings):
        if b.population is None and b.district in district_population and weights.get(b.district):
            share = b.footprint.area * max(b.storeys, 1) / weights[b.district]
            people[i] = float(district_population[b.district]) * share
    return people


def exposure(
    buildings: Sequence[BuildingInput],
    flooded: np.ndarray,
    transform: Affine,
    *,
    depth: np.ndarray | None = None,
    min_share: float = 0.0,
    district_population: Mapping[str, float] | None = None,
) -> ExposureResult:
    """Exposed buildings, their max depth and totals per district (see the module doc).

    ``flooded`` is the bool raster of ``FloodModel.flooded(level)``, ``depth`` its depth raster
    (optional: depths are reported as 0 without it), ``transform`` the rasters' affine transform."""
    wet = np.asarray(flooded, dtype=bool)
    if wet.ndim != 2:
        raise TerrainInputError("The flooded raster must be 2-D.")
    if depth is not None and np.shape(depth) != wet.shape:
        raise TerrainInputError(
            f"The depth raster has shape {np.shape(depth)}, the flood raster {wet.shape}.")
    if not 0.0 <= min_share <= 1.0:
        raise TerrainInputError(f"The minimum flooded share must be between 0 and 1, not {min_share}.")
    n = len(buildings)
    people = _people(buildings, district_population)
    labels = np.zeros(wet.shape, dtype=np.int32)
    if n:
        shapes = ((b.footprint, i + 1) for i, b in enumerate(buildings) if not b.footprint.is_empty)
        labels = features.rasterize(shapes, out_shape=wet.shape, transform=transform, fill=0, dtype="int32")
    index = np.arange(1, n + 1)
    cells = np.bincount(labels.ravel(), minlength=n + 1)
    wet_cells = np.bincount(labels.ravel(), weights=wet.ravel(), minlength=n + 1)
    depths = (np.asarray(ndimage.maximum(np.where(wet, depth, 0.0), labels, index), dtype=np.float64)
              if depth is not None and n else np.zeros(n))
    inverse = ~transform
    rows_out: list[ExposedBuilding] = []
    for i, b in enumerate(buildings):
        if cells[i + 1] > 0:
            share = wet_cells[i + 1] / cells[i + 1]
            max_depth = float(depths[i])
        else:  # smaller than a cell (or outside the raster): the cell under its centroid
            point = b.footprint.centroid if not b.footprint.is_empty else None
            share, max_depth = 0.0, 0.0
            if point is not None:
                col, row = (int(np.floor(v)) for v in inverse @ (point.x, point.y))
                if 0 <= row < wet.shape[0] and 0 <= col < wet.shape[1] and wet[row, col]:
                    share = 1.0
                    max_depth = float(depth[row, col]) if depth is not None else 0.0
        if share > 0 and share >= min_share:
            rows_out.append(ExposedBuilding(ref=b.ref, district=b.district, flooded_share=float(share),
                                            max_depth_m=max_depth, people=people[i]))
    totals: dict[str | None, list[float]] = {}
    for b in buildings:  # every district with buildings gets a row, exposed or not
        totals.setdefault(b.district, [0, 0.0])
    for e in rows_out:
        entry = totals.setdefault(e.district, [0, 0.0])
        entry[0] += 1
        entry[1] += e.people
    per_district = [DistrictExposure(district=d, buildings=int(v[0]), people=v[1]) for d, v in totals.items()]
    return ExposureResult(buildings=rows_out, per_district=per_district, total_buildings=len(rows_out),
                          total_people=float(sum(e.people for e in rows_out)))
