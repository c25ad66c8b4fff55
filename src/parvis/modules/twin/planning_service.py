"""What the planners' pages compute from the twin, computed once per terrain and kept in memory.

One :class:`PlanningService` per database per process (:func:`service_for`). On first use it
loads the terrain model (DTM), finds the river, builds a :class:`~parvis.modules.twin.flood.FloodModel`,
computes the height above nearest drainage (HAND) and prepares the buildings for exposure counts;
the buildable zones are computed on first use too. Everything is recomputed when the twin's data
(terrain, zones, buildings) or the settings used change. A lock guards the flood model (its small
cache of recent levels is not thread-safe) and the first computation.

**The river.** The flood what-if floods ground connected to the river, so the twin needs one:

1. any zone (of any kind) whose category is ``river``, ``water`` or ``watercourse``: its cells
   are the river (import the river's bed as such a zoning polygon);
2. otherwise the terrain's drainage network: the cells whose upstream area reaches
   ``PARVIS_TWIN_HAND_THRESHOLD_M2``, or a tenth of the twin's area when that is smaller (a small
   twin cannot hold a 0.1 km² catchment), by the flow accumulation of HAND. On the demo
   twin this is the Sông Xanh's thalweg (the lowest line of its channel). On an imported twin
   with several streams every stream that drains that much counts as "the river"; give a river
   zone to avoid that.

HAND uses the same drainage: the river zone when there is one, else the same threshold.

**Levels.** The slider runs from the river's level (the median ground of the river cells,
rounded up to 10 cm) to ten metres above it (never above the highest ground), in 10 cm steps.

**Map overlays.** The twin's rasters are in a metric CRS (UTM) with north-up cells, while web maps
draw in Web Mercator: at Sông Xanh UTM's grid north is 0.7 degrees off true north, about 19 m
over 1.5 km. So the PNG overlays are resampled (nearest cell) onto a Web Mercator grid once per
terrain (an index map), after which each level costs one gather; their lon/lat bounds are then
exact for Leaflet's ``imageOverlay``.

**Exposure.** Each building's residents are its own ``population`` when known; otherwise the
district's population, scaled to the share of the district inside the twin, is shared among the
district's buildings of unknown population by floor area (the rule of ``exposure.py``). Only
buildings whose lowest ground cell lies below the level can be touched, so only those are passed
to ``exposure.exposure`` (the same answer, faster).

**Zones repaired.** Zone polygons that are not valid (a self-intersection from a conversion) are
repaired with ``shapely.make_valid`` before the buildable computation, and counted.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from rasterio import features
from rasterio.warp import calculate_default_transform
from scipy import ndimage
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select

from parvis.kernel.db import Database
from parvis.kernel.errors import N_, ParvisError
from parvis.modules import city
from parvis.modules.twin import buildable as buildable_engine
from parvis.modules.twin import queries
from parvis.modules.twin.drainage import height_above_nearest_drainage
from parvis.modules.twin.exposure import BuildingInput, exposure
from parvis.modules.twin.flood import FloodModel, flood_rgba, rgba_to_png
from parvis.modules.twin.grid import Grid, reproject_geometries
from parvis.modules.twin.models import Building, Layer, Zone

log = logging.getLogger(__name__)

RIVER_CATEGORIES = ("river", "water", "watercourse")
LEVEL_STEP_M = 0.1
LEVEL_SPAN_M = 10.0  # the slider's range above the river's level
DEFAULT_RISE_M = 3.0  # the level shown first: the river's level plus this
SMALL_TWIN_SHARE = 0.1  # drainage threshold never above this share of the twin's area
WEB_MERCATOR = "EPSG:3857"
# HAND classes (upper bound in metres, RGBA): low ground first; above the last, transparent.
HAND_CLASSES: tuple[tuple[float, tuple[int, int, int, int]], ...] = (
    (1.0, (84, 39, 143, 200)),
    (2.0, (117, 107, 177, 185)),
    (5.0, (158, 154, 200, 165)),
    (10.0, (203, 201, 226, 140)),
)
OUTSIDE = N_("Outside the districts")


class NoTerrain(ParvisError):
    """The twin has no terrain model (or no river) to compute the planners' layers from."""

    status = 404
    type_slug = "twin-no-terrain"
    title = N_("The digital twin has no terrain model yet: import one with `parvis twin import`.")


class BadFloodLevel(ParvisError):
    status = 422
    type_slug = "twin-flood-level"
    title = N_("This water level cannot be used.")


@dataclass(frozen=True)
class LevelRange:
    """The water levels the what-if accepts (metres, the terrain's altitudes)."""

    river: float
    minimum: float
    maximum: float
    step: float
    default: float

    def check(self, raw: str | float | None) -> float:
        """The level as a float, or ``BadFloodLevel`` (not a number, NaN, or out of range)."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return self.default
        try:
            level = float(str(raw).replace(",", ".")) if isinstance(raw, str) else float(raw)
        except ValueError:
            level = math.nan
        if not math.isfinite(level):
            raise BadFloodLevel(N_("The water level must be a number of metres, between %(min)s and "
                                   "%(max)s."), params={"min": self.minimum, "max": self.maximum})
        if not self.minimum - 1e-9 <= level <= self.maximum + 1e-9:
            raise BadFloodLevel(N_("The water level %(level)s m is out of range: choose between %(min)s and "
                                   "%(max)s m."), params={"level": level, "min": self.minimum,
                                                          "max": self.maximum})
        return round(level, 2)


@dataclass(frozen=True)
class Overlay:
    """How a twin raster is drawn on a web map: gather indices onto a Web Mercator grid."""

    index: np.ndarray  # flat source index of each output pixel (0 where outside)
    outside: np.ndarray  # bool, output pixels outside the twin
    width: int
    height: int
    bounds: tuple[float, float, float, float]  # south, west, north, east (degrees)

    def warp(self, rgba: np.ndarray) -> np.ndarray:
        out = rgba.reshape(-1, 4)[self.index]
        out[self.outside] = 0
        return out.reshape(self.height, self.width, 4)


@dataclass
class Terrain:
    """The terrain and what is derived from it once (see the module doc)."""

    key: tuple[Any, ...]
    grid: Grid
    river: np.ndarray
    river_source: str  # "zone" or "drainage"
    model: FloodModel
    levels: LevelRange
    overlay: Overlay
    buildings: list[BuildingInput]
    min_ground: np.ndarray  # lowest ground cell under each building (inf when none)
    districts: list[str]
    hand_png: bytes = b""  # the HAND layer, drawn once (the HAND raster itself is not kept)


@dataclass(frozen=True)
class FloodAnswer:
    level: float
    area_m2: float
    buildings: int
    people: float
    per_district: list[dict[str, Any]]


@dataclass
class BuildableAnswer:
    key: tuple[Any, ...]
    geometry: BaseGeometry
    rows: list[dict[str, Any]]
    total_ha: float
    extent_ha: float
    slivers_dropped: int
    slivers_area_m2: float
    repaired: int
    parameters: dict[str, Any]
    geojson: dict[str, Any] = field(default_factory=dict)


def _make_overlay(grid: Grid) -> Overlay:
    """Index map from a Web Mercator grid covering the twin to the twin's cells (nearest)."""
    rows, cols = grid.shape
    west, south, east, north = grid.bounds
    transform, width, height = calculate_default_transform(grid.crs, WEB_MERCATOR, cols, rows,
                                                           west, south, east, north)
    xs = transform.c + (np.arange(width) + 0.5) * transform.a
    ys = transform.f + (np.arange(height) + 0.5) * transform.e
    mx, my = np.meshgrid(xs, ys)
    to_local = Transformer.from_crs(WEB_MERCATOR, grid.crs, always_xy=True)
    lx, ly = to_local.transform(mx.ravel(), my.ravel())
    inverse = ~grid.transform
    col = np.floor(inverse.a * lx + inverse.b * ly + inverse.c).astype(np.int64)
    row = np.floor(inverse.d * lx + inverse.e * ly + inverse.f).astype(np.int64)
    outside = (col < 0) | (col >= cols) | (row < 0) | (row >= rows)
    index = np.where(outside, 0, row * cols + col).astype(np.int32 if rows * cols < 2**31 else np.int64)
    to_lonlat = Transformer.from_crs(WEB_MERCATOR, "EPSG:4326", always_xy=True)
    lon_w, lat_s = to_lonlat.transform(transform.c, transform.f + height * transform.e)
    lon_e, lat_n = to_lonlat.transform(transform.c + width * transform.a, transform.f)
    return Overlay(index=index, outside=outside, width=int(width), height=int(height),
                   bounds=(float(lat_s), float(lon_w), float(lat_n), float(lon_e)))


def hand_rgba(hand: np.ndarray) -> np.ndarray:
    """HAND as RGBA classes (:data:`HAND_CLASSES`): transparent above the last class and on NaN."""
    out = np.zeros((*hand.shape, 4), dtype=np.uint8)
    lower = -np.inf
    with np.errstate(invalid="ignore"):
        for upper, colour in HAND_CLASSES:
            out[(hand >= lower) & (hand < upper)] = colour
            lower = upper
    return out


def _rasterize(geoms: Sequence[BaseGeometry], grid: Grid) -> np.ndarray:
    shapes = [(g, 1) for g in geoms if g is not None and not g.is_empty]
    if not shapes:
        return np.zeros(grid.shape, dtype=bool)
    return features.rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0,
                              dtype="uint8", all_touched=True).astype(bool)


def _districts_local(session: Any, crs: str) -> tuple[list[str], list[BaseGeometry], list[float | None]]:
    collection = city.districts_geojson(session)
    names = [str(f["properties"].get("name") or f["id"]) for f in collection["features"]]
    geoms = [shapely.make_valid(shape(f["geometry"])) for f in collection["features"]]
    population = [f["properties"].get("population") for f in collection["features"]]
    return names, reproject_geometries(geoms, "EPSG:4326", crs), population


class PlanningService:
    """The planners' computations for one database (see the module doc). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._terrain: Terrain | None = None
        self._buildable: BuildableAnswer | None = None

    # ------------------------------------------------------------------ keys

    @staticmethod
    def _data_key(session: Any) -> tuple[Any, ...]:
        dtm = session.scalar(select(Layer).where(Layer.kind == "dtm"))
        if dtm is None:
            return ()
        zones = session.execute(select(func.count(Zone.id), func.max(Zone.id),
                                       func.max(Zone.imported_at))).one()
        built = session.execute(select(func.count(Building.id), func.max(Building.id),
                                       func.max(Building.imported_at))).one()
        return (dtm.path, str(dtm.imported_at), tuple(map(str, zones)), tuple(map(str, built)))

    # ------------------------------------------------------------------ terrain

    def terrain(self, db: Database, settings: Any) -> Terrain:
        """The terrain and its derived layers, computed on first use and when the twin changes."""
        with db.read() as session:
            key = (*self._data_key(session), settings.twin_hand_threshold_m2,
                   settings.twin_flood_connectivity)
            if len(key) == 2:
                raise NoTerrain()
            with self._lock:
                if self._terrain is not None and self._terrain.key == key:
                    return self._terrain
                self._terrain = self._load(session, Path(settings.data_dir), key, settings)
                return self._terrain

    def _load(self, session: Any, data_dir: Path, key: tuple[Any, ...], settings: Any) -> Terrain:
        grid = queries.load_grid(session, data_dir, "dtm")
        if grid is None or not np.isfinite(grid.values).any():
            raise NoTerrain()
        z = np.asarray(grid.values, dtype=np.float32)
        pairs = [pair for kind in ("zoning", "hazard", "protected")
                 for pair in queries.zones_local(session, kind)]
        river_zones = [shapely.make_valid(geom) for row, geom in pairs
                       if (row.category or "").lower() in RIVER_CATEGORIES]
        river = _rasterize(river_zones, grid) & np.isfinite(z)
        if river.any():
            hand = height_above_nearest_drainage(z, grid.resolution, river_mask=river)
            source = "zone"
        else:
            threshold = min(float(settings.twin_hand_threshold_m2),
                            SMALL_TWIN_SHARE * z.size * grid.resolution ** 2)
            hand = height_above_nearest_drainage(z, grid.resolution, threshold_m2=threshold)
            river = hand.drainage
            source = "drainage"
            if not river.any():
                raise NoTerrain(N_("No river found in the twin: add a zone of category \"river\" or lower "
                                   "the drainage threshold (PARVIS_TWIN_HAND_THRESHOLD_M2)."))
        model = FloodModel.from_terrain(z, grid.resolution, river,
                                        connectivity=settings.twin_flood_connectivity)
        river_level = float(np.median(z[river]))
        low = math.ceil(river_level / LEVEL_STEP_M) * LEVEL_STEP_M
        high = min(low + LEVEL_SPAN_M, math.floor(float(np.nanmax(z)) / LEVEL_STEP_M) * LEVEL_STEP_M)
        high = max(high, low + LEVEL_STEP_M)
        levels = LevelRange(river=round(river_level, 2), minimum=round(low, 1), maximum=round(high, 1),
                            step=LEVEL_STEP_M, default=round(min(low + DEFAULT_RISE_M, high), 1))
        overlay = _make_overlay(grid)
        buildings, min_ground, names = self._buildings(session, grid)
        terrain = Terrain(key=key, grid=grid, river=river, river_source=source, model=model, levels=levels,
                          overlay=overlay, buildings=buildings, min_ground=min_ground, districts=names)
        terrain.hand_png = rgba_to_png(overlay.warp(hand_rgba(hand.hand)), compression=6)
        return terrain

    def _buildings(self, session: Any, grid: Grid) -> tuple[list[BuildingInput], np.ndarray, list[str]]:
        """Buildings ready for exposure, each with its residents settled once (see the module doc)."""
        names, geoms, populations = _districts_local(session, grid.crs)
        by_id = {i: n for i, n in city.district_names(session).items()}
        west, south, east, north = grid.bounds
        extent = box(west, south, east, north)
        district_population: dict[str, float] = {}
        for name, geom, population in zip(names, geoms, populations, strict=True):
            if population and geom.area > 0:
                district_population[name] = float(population) * geom.intersection(extent).area / geom.area
        rows = session.execute(select(Building.ref, Building.footprint_local, Building.district_id,
                                      Building.population, Building.storeys).order_by(Building.id)).all()
        raw = [BuildingInput(ref=ref, footprint=shapely.make_valid(shape(_json(fp))),
                             district=by_id.get(did) if did is not None else None,
                             population=pop, storeys=storeys or 1) for ref, fp, did, pop, storeys in rows]
        if not raw:
            return [], np.zeros(0), names
        everything = np.ones(grid.shape, dtype=bool)  # all flooded: every building's residents, once
        settled = {e.ref: e.people for e in exposure(raw, everything, grid.transform,
                                                     district_population=district_population).buildings}
        buildings = [BuildingInput(ref=b.ref, footprint=b.footprint, district=b.district,
                                   population=settled.get(b.ref, b.population or 0.0), storeys=b.storeys)
                     for b in raw]
        labels = features.rasterize(((b.footprint, i + 1) for i, b in enumerate(buildings)
                                     if not b.footprint.is_empty),
                                    out_shape=grid.shape, transform=grid.transform, fill=0, dtype="int32")
        z = np.where(np.isfinite(grid.values), grid.values, np.inf)
        min_ground = np.asarray(ndimage.minimum(z, labels, np.arange(1, len(buildings) + 1)),
                                dtype=np.float64)
        inverse = ~grid.transform
        for i, b in enumerate(buildings):  # smaller than a cell: the cell under the centroid
            if not np.isfinite(min_ground[i]) and not b.footprint.is_empty:
                c = b.footprint.centroid
                col, row = (math.floor(v) for v in inverse @ (c.x, c.y))
                if 0 <= row < grid.shape[0] and 0 <= col < grid.shape[1]:
                    min_ground[i] = z[row, col]
        return buildings, min_ground, names

    # ------------------------------------------------------------------ flood

    def flood(self, db: Database, settings: Any, level: float) -> FloodAnswer:
        """Flooded area and exposure at a (checked) level."""
        terrain = self.terrain(db, settings)
        with self._lock:
            wet = terrain.model.flooded(level)
            area = float(np.count_nonzero(wet)) * terrain.grid.resolution ** 2
            candidates = [b for b, low in zip(terrain.buildings, terrain.min_ground, strict=True)
                          if low < level]
            result = exposure(candidates, wet, terrain.grid.transform)  # counts only: no depth (faster)
        counts = {e.district: (e.buildings, e.people) for e in result.per_district}
        ordered = list(dict.fromkeys([*terrain.districts, *(b.district for b in terrain.buildings)]))
        present = {b.district for b in terrain.buildings}
        per_district = [{"district": d, "buildings": counts.get(d, (0, 0.0))[0],
                         "people": round(counts.get(d, (0, 0.0))[1], 1)} for d in ordered if d in present]
        return FloodAnswer(level=level, area_m2=area, buildings=result.total_buildings,
                           people=round(result.total_people, 1), per_district=per_district)

    def flood_png(self, db: Database, settings: Any, level: float) -> bytes:
        terrain = self.terrain(db, settings)
        with self._lock:
            rgba = flood_rgba(terrain.model, level)
        return rgba_to_png(terrain.overlay.warp(rgba))

    # ------------------------------------------------------------------ buildable

    def buildable(self, db: Database, settings: Any) -> BuildableAnswer:
        """Buildable zones with per-district statistics (computed once per twin and settings)."""
        params = {"max_slope_pct": float(settings.twin_buildable_max_slope_pct),
                  "setback_m": float(settings.twin_buildable_setback_m),
                  "min_area_m2": float(settings.twin_buildable_min_area_m2),
                  "excluded_hazard_levels": [str(v) for v in settings.twin_buildable_excluded_hazard]}
        with db.read() as session:
            data_key = self._data_key(session)
            if not data_key:
                raise NoTerrain()
            key = (*data_key, tuple(sorted((k, str(v)) for k, v in params.items())))
            with self._lock:
                if self._buildable is not None and self._buildable.key == key:
                    return self._buildable
                self._buildable = self._compute_buildable(session, Path(settings.data_dir), key, params)
                return self._buildable

    def _compute_buildable(self, session: Any, data_dir: Path, key: tuple[Any, ...],
                           params: dict[str, Any]) -> BuildableAnswer:
        grid = queries.load_grid(session, data_dir, "dtm")
        if grid is None:
            raise NoTerrain()
        repaired = 0

        def valid(geom: BaseGeometry) -> BaseGeometry:
            nonlocal repaired
            if geom.is_valid:
                return geom
            repaired += 1
            return shapely.make_valid(geom)

        zoning = [valid(g) for z, g in queries.zones_local(session, "zoning") if z.buildable]
        hazard = [(valid(g), z.hazard_level or "") for z, g in queries.zones_local(session, "hazard")]
        protected = [valid(g) for _z, g in queries.zones_local(session, "protected")]
        footprints = [valid(shape(_json(fp))) for fp in session.scalars(select(Building.footprint_local))]
        result = buildable_engine.buildable_zones(
            zoning, buildings=footprints, setback_m=params["setback_m"], hazard=hazard,
            excluded_hazard_levels=params["excluded_hazard_levels"], dtm=grid.values,
            transform=grid.transform,
            max_slope_pct=params["max_slope_pct"], protected=protected, min_area_m2=params["min_area_m2"])
        west, south, east, north = grid.bounds
        extent = box(west, south, east, north)
        names, geoms, _ = _districts_local(session, grid.crs)
        inside = {n: g.intersection(extent) for n, g in zip(names, geoms, strict=True)}
        inside = {n: g for n, g in inside.items() if g.area > 0}
        rows = buildable_engine.per_district(result.geometry, inside)
        covered = shapely.union_all(list(inside.values())) if inside else shapely.Polygon()
        rest = result.geometry.difference(covered) if not covered.is_empty else result.geometry
        if rest.area >= 1.0:
            rest_extent = extent.difference(covered).area
            rows.append({"district": None, "buildable_ha": round(rest.area / 10_000.0, 4),
                         "district_ha": round(rest_extent / 10_000.0, 4),
                         "share": round(rest.area / rest_extent, 6) if rest_extent > 0 else 0.0})
        to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
        answer = BuildableAnswer(key=key, geometry=result.geometry, rows=rows,
                                 total_ha=round(result.area_ha, 4),
                                 extent_ha=round(extent.area / 10_000.0, 4),
                                 slivers_dropped=result.slivers_dropped,
                                 slivers_area_m2=result.slivers_area_m2,
                                 repaired=repaired, parameters=params)
        answer.geojson = buildable_engine.to_geojson(result.geometry, to_lonlat.transform)
        return answer

    def hazard_geojson(self, db: Database) -> dict[str, Any]:
        """The official hazard zones (lon/lat) with their area in hectares."""
        with db.read() as session:
            data = queries.zones_geojson(session, "hazard")
            local = {z.id: g.area for z, g in queries.zones_local(session, "hazard")}
        for f in data["features"]:
            f["properties"]["area_ha"] = round(local.get(f["id"], 0.0) / 10_000.0, 2)
        return data


def _json(text: str) -> Any:
    return json.loads(text)


_SERVICES: weakref.WeakKeyDictionary[Database, PlanningService] = weakref.WeakKeyDictionary()
_SERVICES_LOCK = threading.Lock()


def service_for(db: Database) -> PlanningService:
    """The process's planning service for this database."""
    with _SERVICES_LOCK:
        found = _SERVICES.get(db)
        if found is None:
            found = _SERVICES[db] = PlanningService()
        return found


def warm_up(db: Database, settings: Any) -> bool:
    """Compute what the planners' pages need now rather than on their first request (2.5-4 s on the
    demo twin): called by the long-running web processes once started. False when there is no
    terrain yet (nothing to compute); an error is logged, and the first request tries again."""
    service = service_for(db)
    try:
        service.terrain(db, settings)
        service.buildable(db, settings)
    except NoTerrain:
        return False
    except Exception:
        log.exception("the planners' computations could not be prepared at start-up")
        return False
    return True
