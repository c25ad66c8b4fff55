"""Buildable zones: analytic areas after subtracting buildings, hazard, protected areas and slopes;
per-district statistics and their CSV / GeoJSON exports."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.affinity import translate
from shapely.geometry import box, shape

from parvis.modules.twin.buildable import (
    BuildableInputError,
    buildable_zones,
    per_district,
    slope_percent,
    steep_areas,
    to_csv,
    to_geojson,
)

ZONING = box(0, 0, 100, 100)  # 1 ha
BUILDING = box(10, 10, 20, 20)  # 100 m²
HAZARD = [(box(50, 0, 100, 30), "High"), (box(0, 80, 30, 100), "low")]  # 1500 m² excluded, low kept
PROTECTED = box(90, 90, 110, 110)  # 100 m² inside the zoning square
SLIVER = box(200, 200, 205, 205)  # a 25 m² scrap of zoning


def test_buildable_area_is_the_analytic_difference() -> None:
    result = buildable_zones([ZONING, SLIVER], buildings=[BUILDING], hazard=HAZARD, protected=[PROTECTED])
    assert result.geometry.area == pytest.approx(10_000 - 100 - 1500 - 100)
    assert result.area_ha == pytest.approx(0.83)
    assert (result.slivers_dropped, result.slivers_area_m2) == (1, pytest.approx(25.0))
    assert not result.geometry.intersects(BUILDING.buffer(-0.01))


def test_setback_and_hazard_levels_are_parameters() -> None:
    with_setback = buildable_zones([ZONING], buildings=[BUILDING], setback_m=2.0, hazard=HAZARD)
    grown = 100 + 4 * 10 * 2 + math.pi * 2**2  # square grown by 2 m with rounded corners
    assert with_setback.geometry.area == pytest.approx(10_000 - 1500 - grown, abs=0.5)
    high_only = buildable_zones([ZONING], hazard=HAZARD, excluded_hazard_levels=["low"])
    assert high_only.geometry.area == pytest.approx(10_000 - 600)


def ramp() -> np.ndarray:
    """20 rows x 100 columns at 1 m: 5 % slope up to column 50, 20 % beyond."""
    j = np.arange(100, dtype=np.float64)
    z = np.where(j <= 50, 0.05 * j, 2.5 + 0.2 * (j - 50))
    return np.tile(z, (20, 1)).astype(np.float32)


def test_slope_mask_of_a_known_ramp() -> None:
    slope = slope_percent(ramp(), 1.0)
    assert slope[:, 1:50] == pytest.approx(np.full((20, 49), 5.0), abs=1e-4)
    assert slope[:, 51:] == pytest.approx(np.full((20, 49), 20.0), abs=1e-4)
    assert slope[0, 50] == pytest.approx(12.5, abs=1e-4)  # the kink, averaged by central differences
    transform = from_origin(0.0, 20.0, 1.0, 1.0)
    steep = steep_areas(ramp(), transform, max_slope_pct=15.0)
    assert steep.area == pytest.approx(49 * 20)
    assert steep.bounds == pytest.approx((51.0, 0.0, 100.0, 20.0))
    assert steep_areas(ramp(), transform, max_slope_pct=25.0).is_empty
    zoned = buildable_zones([box(0, 0, 100, 20)], dtm=ramp(), transform=transform)
    assert zoned.geometry.area == pytest.approx(51 * 20)


def test_per_district_rows_csv_and_geojson_carry_the_numbers() -> None:
    result = buildable_zones([ZONING], buildings=[BUILDING], hazard=HAZARD, protected=[PROTECTED])
    districts = {"Rive Nord": box(0, 50, 100, 100), "Rive Sud": box(0, 0, 100, 50)}
    rows = per_district(result.geometry, districts)
    assert rows == [
        {"district": "Rive Nord", "buildable_ha": 0.49, "district_ha": 0.5, "share": 0.98},
        {"district": "Rive Sud", "buildable_ha": 0.34, "district_ha": 0.5, "share": 0.68},
    ]
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["district"] for r in parsed] == ["Rive Nord", "Rive Sud"]
    assert float(parsed[1]["buildable_ha"]) == 0.34 and float(parsed[0]["share"]) == 0.98

    # GeoJSON in lon/lat around the demo city (UTM 48N), areas in m² computed before conversion.
    origin = (776_000.0, 1_821_900.0)
    local = translate(result.geometry, *origin)
    to_lonlat = Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True).transform
    collection = json.loads(json.dumps(to_geojson(local, to_lonlat)))
    assert collection["type"] == "FeatureCollection"
    assert sum(f["properties"]["area_m2"] for f in collection["features"]) == pytest.approx(8300, abs=0.5)
    lon, lat = collection["features"][0]["geometry"]["coordinates"][0][0]
    assert 107.5 < lon < 107.7 and 16.4 < lat < 16.5
    back = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True).transform
    area_back = sum(shapely.transform(shape(f["geometry"]), back, interleaved=False).area for f in collection["features"])
    assert area_back == pytest.approx(8300, rel=1e-3)


def test_invalid_polygons_and_half_given_terrain_are_refused() -> None:
    bowtie = shape({"type": "Polygon", "coordinates": [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]]})
    with pytest.raises(BuildableInputError, match="not valid"):
        buildable_zones([bowtie])
    with pytest.raises(BuildableInputError, match="both"):
        buildable_zones([ZONING], dtm=ramp())
