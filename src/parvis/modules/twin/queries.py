"""Reads of the twin shaped for pages, the API and the engines: a building with its faces,
address search, buildings and zones as GeoJSON (lon/lat) for the map, layers as ``Grid``s, and
the buildings' roofs ready for ``roofs.burn_buildings``.

Functions take a session from ``db.read()``. A building's thermography heat-loss level is left
out of map and search results unless the caller asks for it (who may see it is a city setting).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shapely.geometry import shape
from sqlalchemy import case, select
from sqlalchemy.orm import Session, selectinload

from parvis.modules.twin.grid import Grid, read_geotiff
from parvis.modules.twin.models import Building, Layer, RoofFaceRow, Run, Zone, search_key
from parvis.modules.twin.roofs import BuildingShape, face_from_3d

_BUILDING_PUBLIC = ("ref", "address", "district_id", "ground_m", "height_m", "roof_type", "roof_tilt",
                    "storeys", "construction_year", "construction_period", "floor_area_m2")
_BUILDING_PRIVATE = ("population", "households", "attached_sides", "wall_type", "roof_construction",
                     "window_type", "heating_system")


def face_dict(face: RoofFaceRow) -> dict[str, Any]:
    return {"id": face.id, "tilt": face.tilt, "azimuth": face.azimuth, "area_m2": face.area_m2,
            "annual_kwh_m2": face.annual_kwh_m2,
            "monthly_kwh_m2": json.loads(face.monthly_kwh_m2) if face.monthly_kwh_m2 else None,
            "usable_area_m2": face.usable_area_m2, "kwp": face.kwp, "yearly_kwh": face.yearly_kwh,
            "saving": face.saving, "computed_at": face.computed_at.isoformat() if face.computed_at else None}


def building(session: Session, building_id: int, *, include_heat_loss: bool = False) -> dict[str, Any] | None:
    """A building with everything known about it and its roof faces (lon/lat footprint)."""
    stmt = select(Building).where(Building.id == building_id).options(selectinload(Building.faces))
    row = session.scalar(stmt)
    if row is None:
        return None
    out: dict[str, Any] = {"id": row.id, "footprint": json.loads(row.footprint)}
    out.update({k: getattr(row, k) for k in (*_BUILDING_PUBLIC, *_BUILDING_PRIVATE)})
    if include_heat_loss:
        out["heat_loss_level"] = row.heat_loss_level
    out["faces"] = [face_dict(f) for f in row.faces]
    return out


def search(session: Session, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Buildings whose address starts with or contains ``text`` (case and accents ignored),
    those starting with it first, then by address."""
    key = search_key(text) or ""
    if not key:
        return []
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    starts = Building.address_key.like(f"{escaped}%", escape="\\")
    stmt = (select(Building.id, Building.address, Building.ref, Building.district_id)
            .where(Building.address_key.like(f"%{escaped}%", escape="\\"))
            .order_by(case((starts, 0), else_=1), Building.address_key, Building.id).limit(limit))
    return [{"id": i, "address": a, "ref": r, "district_id": d} for i, a, r, d in session.execute(stmt)]


def _box(stmt: Any, model: Any, bbox: tuple[float, float, float, float] | None) -> Any:
    if bbox is None:
        return stmt
    lon_min, lat_min, lon_max, lat_max = bbox
    return stmt.where(model.lon_min <= lon_max, model.lon_max >= lon_min,
                      model.lat_min <= lat_max, model.lat_max >= lat_min)


def buildings_geojson(session: Session, bbox: tuple[float, float, float, float] | None = None,
                      limit: int = 5000) -> dict[str, Any]:
    """Buildings touching ``bbox`` (lon_min, lat_min, lon_max, lat_max) as a FeatureCollection in
    lon/lat, with each building's best roof-face potential (kWh/m²/year) when computed."""
    stmt = _box(select(Building).order_by(Building.id).limit(limit), Building, bbox)
    rows = list(session.scalars(stmt))
    best: dict[int, float] = {}
    if rows:
        ids = [r.id for r in rows]
        for start in range(0, len(ids), 500):
            q = (select(RoofFaceRow.building_id, RoofFaceRow.annual_kwh_m2)
                 .where(RoofFaceRow.building_id.in_(ids[start:start + 500]),
                        RoofFaceRow.annual_kwh_m2.is_not(None)))
            for building_id, value in session.execute(q):
                best[building_id] = max(best.get(building_id, 0.0), value)
    features = [{"type": "Feature", "id": r.id, "geometry": json.loads(r.footprint),
                 "properties": {"ref": r.ref, "address": r.address, "height_m": r.height_m,
                                "roof_type": r.roof_type, "storeys": r.storeys, "district_id": r.district_id,
                                "annual_kwh_m2": best.get(r.id)}} for r in rows]
    return {"type": "FeatureCollection", "features": features}


def zones_geojson(session: Session, kind: str | None = None,
                  bbox: tuple[float, float, float, float] | None = None) -> dict[str, Any]:
    """Zones (zoning, hazard, protected; all kinds when None) as a lon/lat FeatureCollection."""
    stmt = select(Zone).order_by(Zone.id)
    if kind is not None:
        stmt = stmt.where(Zone.kind == kind)
    features = [{"type": "Feature", "id": z.id, "geometry": json.loads(z.geometry),
                 "properties": {**(z.properties or {}), "kind": z.kind, "name": z.name,
                                "category": z.category, "buildable": z.buildable,
                                "hazard_level": z.hazard_level}}
                for z in session.scalars(_box(stmt, Zone, bbox))]
    return {"type": "FeatureCollection", "features": features}


def zones_local(session: Session, kind: str) -> list[tuple[Zone, Any]]:
    """Zones of one kind with their shapely geometry in the local CRS (for the engines)."""
    rows = session.scalars(select(Zone).where(Zone.kind == kind).order_by(Zone.id))
    return [(z, shape(json.loads(z.geometry_local))) for z in rows]


def layers(session: Session) -> list[dict[str, Any]]:
    return [{"kind": r.kind, "path": r.path, "crs": r.crs, "resolution": r.resolution,
             "bounds": [r.west, r.south, r.east, r.north], "width": r.width, "height": r.height,
             "source": r.source, "report": r.report, "imported_at": r.imported_at.isoformat()}
            for r in session.scalars(select(Layer).order_by(Layer.kind))]


def layer(session: Session, kind: str) -> Layer | None:
    return session.scalar(select(Layer).where(Layer.kind == kind))


def load_grid(session: Session, data_dir: Path, kind: str) -> Grid | None:
    """The twin's raster of this kind (dtm, dsm, hazard, thermography) as a ``Grid``, or None."""
    row = layer(session, kind)
    if row is None:
        return None
    path = Path(row.path)
    return read_geotiff(path if path.is_absolute() else Path(data_dir) / path, target_crs=row.crs,
                        max_bytes=1 << 40)


def local_crs_of_twin(session: Session) -> str | None:
    """The twin's local metric CRS (the terrain model's), or None before any terrain import."""
    row = layer(session, "dtm") or layer(session, "dsm")
    return row.crs if row is not None else None


def building_shapes(session: Session) -> tuple[list[BuildingShape], list[int]]:
    """Every building's roof faces for ``roofs.burn_buildings`` (face ids as labels), with the
    building ids in the same order."""
    faces_by_building: dict[int, list[RoofFaceRow]] = {}
    for face in session.scalars(select(RoofFaceRow).order_by(RoofFaceRow.building_id, RoofFaceRow.id)):
        faces_by_building.setdefault(face.building_id, []).append(face)
    shapes, ids = [], []
    for building_id, ground in session.execute(select(Building.id, Building.ground_m).order_by(Building.id)):
        rows = faces_by_building.get(building_id, [])
        faces = [face_from_3d(shape(json.loads(f.polygon_local))) for f in rows]
        shapes.append(BuildingShape(faces=faces, ground=ground, face_labels=[f.id for f in rows]))
        ids.append(building_id)
    return shapes, ids


def run(session: Session, run_id: int) -> dict[str, Any] | None:
    row = session.get(Run, run_id)
    if row is None:
        return None
    return {"id": row.id, "kind": row.kind, "status": row.status, "progress": row.progress,
            "started_at": row.started_at.isoformat() if row.started_at else None,
            "finished_at": row.finished_at.isoformat() if row.finished_at else None, "message": row.message,
            "details": row.details or {}}
