"""The demo city's generated twin (Ville de Sông Xanh): terrain, buildings, zoning, flood hazard
and a protected area, the same every time for a given seed.

What is generated, in the city's local CRS (UTM 48N, EPSG:32648) around its centre (lon 107.585,
lat 16.463), on a ``size_m`` rectangle (default 1.5 x 1 km) at ``resolution`` m:

- **Terrain**: the river Sông Xanh flows west to east through the centre with a gentle meander;
  its channel (about 50 m wide) is 2 m below the banks' 2.5 m; a flood plain rises slowly
  (1.5 % and a few metres over ~300 m) on both sides; the "Colline des Pins" (a hill about 40 m
  high, slopes up to about 20 %) rises to the north-west, fading out towards the valley floor so
  that the river stays the lowest ground; a little smooth relief (+/- 0.5 m) everywhere.
- **Buildings**: a jittered grid of lots in the buildable zones; houses of 1-4 storeys (3 m
  each) with flat (30 %), gable (45 %) and hip (25 %) roofs tilted 20-35 degrees; towers of
  8-20 storeys (3.2 m each, flat roofs) near the centre; addresses on Vietnamese street names
  (odd numbers north of a street, even south; past the list of streets, their alleys, "Kiệt 1 Lê
  Lợi"), each address unique; construction years and typology periods, older
  near the centre; floor area, population and households from footprint and storeys.
- **Zoning plan**: riverbank park (green, not buildable), the hill's pine forest (natural, not
  buildable), farmland to the east (agricultural, not buildable), a mixed centre and residential
  elsewhere (buildable).
- **Official flood hazard**: high, medium and low bands along the river.
- **Protected area**: the "Forêt classée de la Colline des Pins".

The surface model is the terrain with the roofs burnt in (``roofs.burn_buildings``); no trees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from parvis.kernel.db import Database
from parvis.modules.twin import actions
from parvis.modules.twin.grid import Grid, write_geotiff
from parvis.modules.twin.importer import period_for_year
from parvis.modules.twin.roofs import BuildingShape, burn_buildings, roof_faces

CENTRE = (107.585, 16.463)  # lon, lat of Sông Xanh (parvis.demo.CENTER)
CRS = "EPSG:32648"
SOURCE = "demo"
STREETS = ["Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hai Bà Trưng", "Lý Thường Kiệt", "Phan Đình Phùng",
           "Điện Biên Phủ", "Hùng Vương", "Bạch Đằng", "Quang Trung", "Nguyễn Trãi", "Lê Duẩn", "Võ Thị Sáu",
           "Trần Phú", "Ngô Quyền", "Phạm Ngũ Lão", "Đống Đa", "Chu Văn An", "Nguyễn Du", "Lê Thánh Tông",
           "Hàm Nghi", "Tôn Đức Thắng", "Phan Bội Châu", "Nguyễn Chí Thanh"]
RIVER_HALF_WIDTH = 25.0
HAZARD_BANDS = (("high", 60.0), ("medium", 140.0), ("low", 240.0))  # metres beyond the river's banks
GREEN_BAND = 50.0  # riverbank park, metres beyond the banks


@dataclass
class DemoBuilding:
    ref: str
    footprint: Polygon
    height_m: float
    roof_type: str
    roof_tilt: float | None
    faces: list[Any]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoZone:
    kind: str
    geometry: BaseGeometry
    name: str | None = None
    category: str | None = None
    buildable: bool | None = None
    hazard_level: str | None = None


@dataclass
class DemoTwin:
    dtm: Grid
    dsm: Grid
    face_labels: np.ndarray
    buildings: list[DemoBuilding]
    zones: list[DemoZone]


def _centre_xy() -> tuple[float, float]:
    x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(*CENTRE)
    return float(x), float(y)


class _Layout:
    """The city's shape in metres relative to its centre (u east, v north)."""

    def __init__(self, width: float, height: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.w, self.h = width, height
        self.amp = 0.04 * height
        self.wavelength = 1.2 * width
        self.phase = float(rng.uniform(0, 2 * math.pi))
        self.hill = (-0.3 * width, 0.32 * height)
        self.hill_sigma = 0.16 * min(width, height)
        self.noise = [(float(rng.uniform(0.5, 3)), float(rng.uniform(0.5, 3)),
                       float(rng.uniform(0, 2 * math.pi))) for _ in range(3)]

    def river_v(self, u: np.ndarray) -> np.ndarray:
        return self.amp * np.sin(2 * math.pi * u / self.wavelength + self.phase)

    def terrain(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        d = np.abs(v - self.river_v(u))
        beyond = np.maximum(d - RIVER_HALF_WIDTH, 0.0)
        z = np.where(d < RIVER_HALF_WIDTH, 0.5 + 2.0 * (d / RIVER_HALF_WIDTH) ** 2,
                     2.5 + 0.015 * beyond + 4.0 * (1 - np.exp(-(beyond / 300.0) ** 2)))
        hu, hv = self.hill
        hill = 40.0 * np.exp(-((u - hu) ** 2 + (v - hv) ** 2) / (2 * self.hill_sigma ** 2))
        z = z + hill * (1 - np.exp(-(beyond / 120.0) ** 2))  # the valley floor stays the lowest
        for fu, fv, phase in self.noise:
            z = z + 0.5 / len(self.noise) * np.sin(2 * math.pi * (fu * u / self.w + fv * v / self.h) + phase)
        return z

    def river_line(self) -> LineString:
        us = np.linspace(-self.w / 2 - 50, self.w / 2 + 50, 200)
        return LineString(np.column_stack([us, self.river_v(us)]))

    def band(self, metres: float) -> BaseGeometry:
        return self.river_line().buffer(RIVER_HALF_WIDTH + metres, cap_style="flat")


def _zones(layout: _Layout, extent: Polygon) -> list[DemoZone]:
    w, h = layout.w, layout.h
    green = layout.band(GREEN_BAND).intersection(extent)
    forest = Point(layout.hill).buffer(0.12 * min(w, h) + 40, quad_segs=16).intersection(extent)
    farm = box(0.38 * w, -h / 2, w / 2, h / 2).difference(green).difference(forest)
    centre = box(-0.18 * w, -0.25 * h, 0.18 * w, 0.25 * h)
    centre = centre.difference(green).difference(forest).difference(farm)
    residential = extent.difference(green).difference(forest).difference(farm).difference(centre)
    zones = [DemoZone("zoning", green, "Parc des berges", "green", False),
             DemoZone("zoning", forest, "Forêt de la Colline des Pins", "natural", False),
             DemoZone("zoning", farm, "Rizières de l'Est", "agricultural", False),
             DemoZone("zoning", centre, "Centre-ville", "mixed", True),
             DemoZone("zoning", residential, "Quartiers résidentiels", "residential", True)]
    inner: BaseGeometry = Polygon()
    for level, metres in HAZARD_BANDS:
        outer = layout.band(metres).intersection(extent)
        zones.append(DemoZone("hazard", outer.difference(inner), f"Aléa inondation {level}",
                              hazard_level=level))
        inner = outer
    zones.append(DemoZone("protected", forest, "Forêt classée de la Colline des Pins", "forest", False))
    return [z for z in zones if not z.geometry.is_empty]


def _valid(geometry: BaseGeometry) -> BaseGeometry:
    return geometry if geometry.is_valid else shapely.set_precision(geometry, 0.01)


def _rect(cx: float, cy: float, length: float, width: float, angle: float) -> Polygon:
    c, s = math.cos(angle), math.sin(angle)
    hl, hw = length / 2, width / 2
    pts = [(-hl, -hw), (hl, -hw), (hl, hw), (-hl, hw)]
    return Polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts])


_PERIOD_ENVELOPE = {  # wall, roof (pitched / flat), window by period: what a survey of the demo city found
    "before_1945": ("brick_uninsulated", "pitched_uninsulated", "flat_uninsulated", "single_glazing"),
    "1946_1970": ("brick_uninsulated", "pitched_uninsulated", "flat_uninsulated", "single_glazing"),
    "1971_1990": ("concrete_block", "metal_sheet_uninsulated", "flat_uninsulated", "single_glazing"),
    "1991_2005": ("concrete_block", "pitched_uninsulated", "flat_uninsulated", "double_glazing"),
    "2006_2015": ("insulated_5cm", "pitched_insulated", "flat_insulated", "double_glazing"),
    "after_2015": ("insulated_10cm", "pitched_insulated", "flat_insulated", "low_e_double"),
}


def _buildings(layout: _Layout, zones: list[DemoZone], count: int, rng: np.random.Generator,
               origin: tuple[float, float]) -> list[DemoBuilding]:
    buildable = shapely.union_all([z.geometry for z in zones if z.kind == "zoning" and z.buildable])
    mixed = shapely.union_all([z.geometry for z in zones if z.kind == "zoning" and z.category == "mixed"])
    if buildable.is_empty or count <= 0:
        return []
    spacing = math.sqrt(buildable.area / (count * 1.25))
    shapely.prepare(buildable)
    for _attempt in range(6):  # lots cut by zone edges are dropped: tighten until there are enough
        us = np.arange(-layout.w / 2 + spacing / 2, layout.w / 2, spacing)
        vs = np.arange(layout.h / 2 - spacing / 2, -layout.h / 2, -spacing)
        lots = [(i, j, float(u), float(v)) for j, v in enumerate(vs) for i, u in enumerate(us)]
        centres = np.array([(u, v) for *_, u, v in lots])
        cells = shapely.box(centres[:, 0] - spacing / 2, centres[:, 1] - spacing / 2,
                            centres[:, 0] + spacing / 2, centres[:, 1] + spacing / 2)
        inside = shapely.contains(buildable, cells)
        candidates = [lot for lot, ok in zip(lots, inside, strict=True) if ok]
        if len(candidates) >= count:
            break
        spacing *= 0.92
    if len(candidates) > count:
        keep = np.sort(rng.choice(len(candidates), size=count, replace=False))
        candidates = [candidates[k] for k in keep]
    shapely.prepare(mixed)
    centre_radius = 0.15 * min(layout.w, layout.h)
    ox, oy = origin
    out: list[DemoBuilding] = []
    for n, (i, j, u, v) in enumerate(candidates):
        in_mixed = bool(mixed.contains(Point(u, v)))
        r = math.hypot(u, v - float(layout.river_v(np.array(u))))
        tower = in_mixed and r < centre_radius + 200 and rng.random() < 0.08 and spacing > 14
        angle = math.radians(float(rng.normal(0, 3)) + (90.0 if rng.random() < 0.2 else 0.0))
        du, dv = rng.uniform(-0.06, 0.06, 2) * spacing
        if tower:
            storeys = int(rng.integers(8, 21))
            side = min(0.85 * spacing, 30.0)
            footprint = _rect(u + du, v + dv, side, side * float(rng.uniform(0.7, 1.0)), angle)
            height, roof_type, tilt = storeys * 3.2 + 1.0, "flat", None
            year = int(rng.integers(1995, 2024))
        else:
            storeys = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.4, 0.2, 0.1]))
            length = min(float(rng.uniform(0.55, 0.8)) * spacing, 18.0)
            width = min(float(rng.uniform(0.4, 0.6)) * spacing, 12.0, length)
            footprint = _rect(u + du, v + dv, length, width, angle)
            weights = [0.5, 0.3, 0.2] if in_mixed else [0.3, 0.45, 0.25]
            roof_type = str(rng.choice(["flat", "gable", "hip"], p=weights))
            tilt = float(round(rng.uniform(20, 35))) if roof_type != "flat" else None
            eaves = storeys * 3.0
            rise = width / 2 * math.tan(math.radians(tilt)) if tilt else 0.0
            height = round(eaves + rise, 2)
            age = min(1.0, math.hypot(u, v) / (0.6 * max(layout.w, layout.h)))
            year = int(np.clip(rng.normal(1950 + 60 * age, 18), 1900, 2024))
        footprint = shapely.transform(footprint, lambda c: c + np.array([ox, oy]))
        faces = roof_faces(footprint, height, roof_type, tilt)
        period = period_for_year(year) or "after_2015"
        wall, pitched_roof, flat_roof, window = _PERIOD_ENVELOPE[period]
        floor_area = round(footprint.area * storeys * 0.85, 1)
        population = max(1, round(floor_area / (30.0 if not in_mixed else 45.0)))
        k = j // 2  # one street between two rows of lots; past the list, its alleys ("kiệt", as in Huế)
        street = STREETS[k % len(STREETS)]
        if k >= len(STREETS):
            street = f"Kiệt {k // len(STREETS)} {street}"
        number = 2 * i + (1 if j % 2 == 0 else 2)
        out.append(DemoBuilding(
            ref=f"SX-{n + 1:05d}", footprint=footprint, height_m=height, roof_type=roof_type, roof_tilt=tilt,
            faces=faces, attrs={"address": f"{number} {street}", "storeys": storeys,
                                "construction_year": year,
                                "construction_period": period, "floor_area_m2": floor_area,
                                "population": population, "households": max(1, round(population / 3.5)),
                                "attached_sides": 0, "wall_type": wall,
                                "roof_construction": flat_roof if roof_type == "flat" else pitched_roof,
                                "window_type": window}))
    return out


def generate(size_m: tuple[float, float] = (1500.0, 1000.0), resolution: float = 1.0, buildings: int = 2500,
             seed: int = 6) -> DemoTwin:
    """Generate the demo twin (see the module's docstring). Deterministic for a given seed."""
    width, height = float(size_m[0]), float(size_m[1])
    rng = np.random.default_rng(seed)
    layout = _Layout(width, height, seed)
    cx, cy = _centre_xy()
    west = math.floor((cx - width / 2) / resolution) * resolution
    north = math.ceil((cy + height / 2) / resolution) * resolution
    cols, rows = round(width / resolution), round(height / resolution)
    transform = from_origin(west, north, resolution, resolution)
    xs = west + (np.arange(cols) + 0.5) * resolution - cx
    ys = north - (np.arange(rows) + 0.5) * resolution - cy
    u, v = np.meshgrid(xs, ys)
    dtm = Grid(values=layout.terrain(u, v).astype(np.float32), transform=transform, crs=CRS)
    extent_local = box(west - cx, north - rows * resolution - cy, west + cols * resolution - cx, north - cy)
    zones_rel = _zones(layout, extent_local)
    houses = _buildings(layout, zones_rel, buildings, rng, (cx, cy))
    shift = np.array([cx, cy])
    # differences of buffered curves can touch themselves: snapped to 1 cm where they do, valid
    zones = [DemoZone(z.kind, _valid(shapely.transform(z.geometry, lambda c: c + shift)), z.name, z.category,
                      z.buildable, z.hazard_level) for z in zones_rel]
    for house in houses:
        point = house.footprint.representative_point()
        row = int((north - point.y) / resolution)
        col = int((point.x - west) / resolution)
        house.attrs["ground_m"] = round(float(dtm.values[min(row, rows - 1), min(col, cols - 1)]), 2)
    shapes = [BuildingShape(faces=h.faces, ground=h.attrs["ground_m"]) for h in houses]
    dsm_values, labels = burn_buildings(dtm, shapes)
    return DemoTwin(dtm=dtm, dsm=dtm.with_values(dsm_values), face_labels=labels, buildings=houses,
                    zones=zones)


def provision(db: Database, settings: Any, size: tuple[float, float] = (1500.0, 1000.0),
              resolution: float = 1.0, buildings: int = 2500, seed: int = 6) -> dict[str, int]:
    """Generate the demo twin and store it: the DTM and DSM as GeoTIFF files in
    ``settings.data_dir / "twin"``, buildings (with their district) and roof faces, zoning, hazard
    and protected zones. Safe to run again: the previous demo twin is replaced."""
    twin = generate(size, resolution, buildings, seed)
    data_dir = Path(settings.data_dir)
    for kind, grid in (("dtm", twin.dtm), ("dsm", twin.dsm)):
        path = write_geotiff(grid, data_dir / "twin" / f"{kind}.tif")
        actions.store_layer(db, kind, path, data_dir, grid, source="demo twin",
                            report={"generated": True, "seed": seed})
    records = [actions.BuildingRecord(ref=b.ref, footprint_local=b.footprint, height_m=b.height_m,
                                      roof_type=b.roof_type, faces=b.faces,
                                      attrs={**b.attrs, "roof_tilt": b.roof_tilt})
               for b in twin.buildings]
    actions.store_buildings(db, records, CRS, replace_source=SOURCE, source=SOURCE)
    counts = {"buildings": len(records), "roof_faces": sum(len(b.faces) for b in twin.buildings)}
    for kind in ("zoning", "hazard", "protected"):
        zones = [actions.ZoneRecord(geometry_local=z.geometry, name=z.name, category=z.category,
                                    buildable=z.buildable, hazard_level=z.hazard_level)
                 for z in twin.zones if z.kind == kind]
        counts[f"zones_{kind}"] = actions.store_zones(db, kind, zones, CRS, source=SOURCE)
    return counts
