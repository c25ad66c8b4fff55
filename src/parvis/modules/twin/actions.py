"""Every write of the twin: one function per intent, one transaction each.

Importers and the demo prepare plain records (``BuildingRecord``, ``ZoneRecord``) in the local
metric CRS; here they get their lon/lat GeoJSON and boxes, their district (through the city's
public surface) and their search key, and are stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, NotFound
from parvis.kernel.jobs import enqueue
from parvis.modules import city
from parvis.modules.twin.grid import Grid, reproject_geometries
from parvis.modules.twin.models import Building, Layer, RoofFaceRow, Run, Zone, search_key
from parvis.modules.twin.roofs import RoofFace

#: Building attributes a record may carry besides its shape (all optional).
BUILDING_FIELDS = ("address", "ground_m", "roof_tilt", "storeys", "construction_year", "construction_period",
                   "floor_area_m2", "population", "households", "attached_sides", "wall_type",
                   "roof_construction", "window_type", "heating_system", "heat_loss_level")


class RunNotFound(NotFound):
    type_slug = "twin-run-not-found"
    title = N_("This computation does not exist.")


@dataclass
class BuildingRecord:
    """A building ready to store: footprint and faces in the local CRS, plus attributes."""

    ref: str
    footprint_local: BaseGeometry
    height_m: float
    roof_type: str
    faces: list[RoofFace]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class ZoneRecord:
    """A zone ready to store: geometry in the local CRS and its plan's properties."""

    geometry_local: BaseGeometry
    name: str | None = None
    category: str | None = None
    buildable: bool | None = None
    hazard_level: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


def geojson_text(geom: BaseGeometry, digits: int = 7) -> str:
    """Compact GeoJSON text of a geometry, coordinates rounded to ``digits`` decimals (z kept)."""
    rounded = shapely.transform(geom, lambda c: c.round(digits), include_z=geom.has_z)
    return json.dumps(mapping(rounded), separators=(",", ":"))


def _districts(session: Session) -> tuple[list[int], Any]:
    collection = city.districts_geojson(session)
    ids = [int(f["id"]) for f in collection["features"]]
    shapes = [shape(f["geometry"]) for f in collection["features"]]
    return ids, shapely.STRtree(shapes) if shapes else None


def _district_ids(session: Session, points: Sequence[BaseGeometry]) -> list[int | None]:
    ids, tree = _districts(session)
    out: list[int | None] = [None] * len(points)
    if tree is None or not points:
        return out
    hits = tree.query(list(points), predicate="within")
    for point_index, shape_index in zip(hits[0], hits[1], strict=True):
        if out[point_index] is None or ids[shape_index] < (out[point_index] or 0):
            out[point_index] = ids[shape_index]
    return out


def store_buildings(db: Database, records: Sequence[BuildingRecord], crs: str, *,
                    replace_source: str | None = None, source: str = "") -> int:
    """Store buildings and their roof faces in one transaction. A building whose ``ref`` already
    exists is replaced (with its faces); with ``replace_source`` every building of that source is
    removed first (the demo uses it to regenerate). Returns how many were stored."""
    footprints = reproject_geometries([r.footprint_local for r in records], crs, "EPSG:4326")
    points = [g.representative_point() for g in footprints]
    now = utcnow()
    with db.transaction() as session:
        if replace_source is not None:
            session.execute(delete(Building).where(Building.source == replace_source))
        refs = [r.ref for r in records]
        for start in range(0, len(refs), 500):
            session.execute(delete(Building).where(Building.ref.in_(refs[start:start + 500])))
        districts = _district_ids(session, points)
        rows = []
        for record, lonlat, district_id in zip(records, footprints, districts, strict=True):
            lon_min, lat_min, lon_max, lat_max = lonlat.bounds
            attrs = {k: v for k, v in record.attrs.items() if k in BUILDING_FIELDS}
            row = Building(ref=record.ref, footprint=geojson_text(lonlat, 7), lon_min=lon_min,
                           lat_min=lat_min, lon_max=lon_max, lat_max=lat_max,
                           footprint_local=geojson_text(record.footprint_local, 3),
                           height_m=float(record.height_m), roof_type=record.roof_type,
                           district_id=district_id, address_key=search_key(attrs.get("address")),
                           source=source, imported_at=now, **attrs)
            row.faces = [RoofFaceRow(polygon_local=geojson_text(f.polygon, 3), tilt=f.tilt, azimuth=f.azimuth,
                                     area_m2=f.area_m2) for f in record.faces]
            rows.append(row)
        session.add_all(rows)
    return len(records)


def store_zones(db: Database, kind: str, records: Sequence[ZoneRecord], crs: str, source: str = "") -> int:
    """Replace every zone of ``kind`` (one plan per kind) with these. Returns how many were stored."""
    geoms = reproject_geometries([r.geometry_local for r in records], crs, "EPSG:4326")
    now = utcnow()
    with db.transaction() as session:
        session.execute(delete(Zone).where(Zone.kind == kind))
        for record, lonlat in zip(records, geoms, strict=True):
            lon_min, lat_min, lon_max, lat_max = lonlat.bounds
            session.add(Zone(kind=kind, name=record.name, category=record.category,
                             buildable=record.buildable, hazard_level=record.hazard_level,
                             properties=record.properties,
                             geometry=geojson_text(lonlat, 7), lon_min=lon_min, lat_min=lat_min,
                             lon_max=lon_max, lat_max=lat_max,
                             geometry_local=geojson_text(record.geometry_local, 3), source=source,
                             imported_at=now))
    return len(records)


def store_layer(db: Database, kind: str, path: Path, data_dir: Path, grid: Grid, source: str = "",
                report: Mapping[str, Any] | None = None) -> int:
    """Record a raster written at ``path`` (under ``data_dir``) as the twin's layer of this kind,
    replacing the previous one. Returns the layer's id."""
    try:
        relative = str(Path(path).resolve().relative_to(Path(data_dir).resolve()))
    except ValueError:
        relative = str(path)
    west, south, east, north = grid.bounds
    with db.transaction() as session:
        session.execute(delete(Layer).where(Layer.kind == kind))
        row = Layer(kind=kind, path=relative, crs=grid.crs, resolution=grid.resolution, west=west,
                    south=south, east=east, north=north, width=grid.shape[1], height=grid.shape[0],
                    source=source[:300],
                    report=dict(report or {}), imported_at=utcnow())
        session.add(row)
        session.flush()
        return row.id


def store_face_results(db: Database, results: Iterable[Mapping[str, Any]]) -> int:
    """Write a solar run's results per roof face: mappings with ``id`` and any of annual_kwh_m2,
    monthly_kwh_m2 (12 numbers), usable_area_m2, kwp, yearly_kwh, saving. One transaction."""
    now = utcnow()
    allowed = {"annual_kwh_m2", "usable_area_m2", "kwp", "yearly_kwh", "saving"}
    rows = []
    for item in results:
        row: dict[str, Any] = {"id": int(item["id"]), "computed_at": now}
        row.update({k: (None if v is None else float(v)) for k, v in item.items() if k in allowed})
        if item.get("monthly_kwh_m2") is not None:
            row["monthly_kwh_m2"] = json.dumps([round(float(v), 3) for v in item["monthly_kwh_m2"]])
        rows.append(row)
    if not rows:
        return 0
    with db.transaction() as session:
        session.execute(update(RoofFaceRow), rows)
    return len(rows)


def set_heat_loss_levels(db: Database, levels: Mapping[int, int | None]) -> int:
    """Store each building's thermography heat-loss level (1-6, None to clear). One transaction."""
    rows = [{"id": int(b), "heat_loss_level": None if v is None else int(v)} for b, v in levels.items()]
    if rows:
        with db.transaction() as session:
            session.execute(update(Building), rows)
    return len(rows)


# ------------------------------------------------------------------------------------- runs

def start_run(db: Database, kind: str, message: str = "", *, job: str | None = None) -> int:
    """Open a long computation (status running, progress 0). Returns its id. With ``job``, the
    background job that will carry it out is queued in the same transaction (payload ``run_id``):
    a run is never left waiting for a job that was not queued."""
    with db.transaction() as session:
        run = Run(kind=kind, status="running", progress=0.0, started_at=utcnow(), message=message[:500])
        session.add(run)
        session.flush()
        if job is not None:
            enqueue(session, job, {"run_id": run.id}, key=f"twin-{kind}-{run.id}", max_attempts=1)
        return run.id


def progress_run(db: Database, run_id: int, progress: float, message: str | None = None) -> None:
    values: dict[str, Any] = {"progress": min(1.0, max(0.0, float(progress)))}
    if message is not None:
        values["message"] = message[:500]
    with db.transaction() as session:
        if session.execute(update(Run).where(Run.id == run_id).values(**values)).rowcount == 0:
            raise RunNotFound()


def finish_run(db: Database, run_id: int, *, ok: bool = True, message: str = "",
               details: dict[str, Any] | None = None) -> None:
    with db.transaction() as session:
        values: dict[str, Any] = {"status": "done" if ok else "failed", "finished_at": utcnow(),
                                  "message": message[:500]}
        if details is not None:
            values["details"] = details
        if ok:
            values["progress"] = 1.0
        if session.execute(update(Run).where(Run.id == run_id).values(**values)).rowcount == 0:
            raise RunNotFound()


def clear_twin(db: Database) -> None:
    """Remove every building, face and zone (layers' rows too; their files stay). For re-imports."""
    with db.transaction() as session:
        for table in (RoofFaceRow, Building, Zone, Layer):
            session.execute(delete(table))

