"""CityJSON import (LOD1 solids and LOD2 roof surfaces): buildings of the twin from a CityJSON
file, in the twin's local CRS. LOD2 ``RoofSurface`` polygons become roof faces (tilt and azimuth
from their plane, Newell's method); a building with only LOD1 becomes a flat-roofed block of its
height. The shared rules of imports (size check, CRS, report, buildings outside the terrain) are
``importer``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from parvis.kernel.db import Database
from parvis.kernel.errors import N_
from parvis.modules.twin import actions
from parvis.modules.twin.errors import InvalidRoof, MissingCRS, TwinError, UnreadableFile
from parvis.modules.twin.grid import DEFAULT_MAX_BYTES, transformer
from parvis.modules.twin.importer import (
    ImportReport,
    Progress,
    _attributes,
    _crs_from_name,
    _horizontal,
    _inside,
    _load_json,
    _polygonal,
    _quiet,
    _twin_terrain,
    store_records,
)
from parvis.modules.twin.roofs import RoofFace, face_from_3d, roof_faces


def _surfaces(geometry: dict[str, Any]) -> list[tuple[list[list[int]], str | None]]:
    """(rings as vertex indices, semantic type) of each surface of a CityJSON geometry."""
    kind = geometry.get("type")
    boundaries = geometry.get("boundaries") or []
    semantics = geometry.get("semantics") or {}
    types = [s.get("type") for s in semantics.get("surfaces") or []]
    values = semantics.get("values")
    out: list[tuple[list[list[int]], str | None]] = []

    def semantic(index: Any) -> str | None:
        return types[index] if isinstance(index, int) and 0 <= index < len(types) else None

    if kind in ("MultiSurface", "CompositeSurface"):
        for i, surface in enumerate(boundaries):
            out.append((surface, semantic(values[i]) if values else None))
    elif kind == "Solid":
        for s, shell in enumerate(boundaries):
            for i, surface in enumerate(shell):
                out.append((surface, semantic(values[s][i]) if values else None))
    elif kind in ("MultiSolid", "CompositeSolid"):
        for m, solid in enumerate(boundaries):
            for s, shell in enumerate(solid):
                for i, surface in enumerate(shell):
                    out.append((surface, semantic(values[m][s][i]) if values else None))
    return out


def _lod(geometry: dict[str, Any]) -> float:
    try:
        return float(str(geometry.get("lod", 0)))
    except ValueError:
        return 0.0


def import_cityjson(db: Database, data_dir: Path, path: Path, *, crs: str | None = None,
                    max_bytes: int = DEFAULT_MAX_BYTES, progress: Progress | None = None) -> ImportReport:
    """Import buildings from CityJSON (1.0/1.1/2.0), LOD1 or LOD2, the highest LOD of each.

    Footprint: the ground surfaces (LOD2) or the horizontal projection of the solid; ground
    altitude: the lowest vertex; height: the highest vertex above it. LOD2 roof surfaces become
    roof faces with tilt and azimuth from their plane (Newell's normal); LOD1 gets one flat face.
    The CRS comes from ``metadata.referenceSystem`` (its horizontal part) or ``crs``."""
    step = progress or _quiet
    path = Path(path)
    data = _load_json(path, max_bytes)
    if not isinstance(data, dict) or data.get("type") != "CityJSON":
        raise UnreadableFile(N_("%(path)s is not a CityJSON file."), params={"path": str(path)})
    report = ImportReport(kind="cityjson", source=path.name)
    dtm = _twin_terrain(db, data_dir)
    src = crs or _crs_from_name((data.get("metadata") or {}).get("referenceSystem"))
    if not src:
        raise MissingCRS(N_("%(path)s does not say its coordinate system (metadata.referenceSystem). Give it "
                            "with --crs EPSG:xxxx."), params={"path": str(path)})
    src = _horizontal(src)
    report.info.update({"source_crs": src, "crs": dtm.crs, "version": str(data.get("version"))})
    vertices = np.asarray(data.get("vertices") or [], dtype=np.float64).reshape(-1, 3)
    transform = data.get("transform")
    if transform:
        vertices = vertices * np.asarray(transform["scale"]) + np.asarray(transform["translate"])
    if len(vertices) and src != dtm.crs:
        vertices[:, :2] = transformer(src, dtm.crs)(vertices[:, :2])[:, :2]
    objects = data.get("CityObjects") or {}
    records: list[actions.BuildingRecord] = []
    buildings = [(k, v) for k, v in objects.items() if v.get("type") in ("Building", "BuildingPart")]
    report.counts["objects"] = len(buildings)
    for n, (ref, obj) in enumerate(buildings):
        if n % 200 == 0:
            step("buildings", 0.1 + 0.7 * n / max(1, len(buildings)))
        geometries = [g for g in obj.get("geometry") or [] if g.get("type") in (
            "Solid", "MultiSurface", "CompositeSurface", "MultiSolid", "CompositeSolid")]
        if not geometries:
            if obj.get("type") == "Building" and obj.get("children"):
                continue  # its parts carry the geometry
            report.skip(ref, "no geometry")
            continue
        geometry = max(geometries, key=_lod)
        try:
            record = _cityjson_record(ref, obj, geometry, vertices, report)
        except (TwinError, IndexError, ValueError) as exc:
            report.skip(ref, exc.message() if isinstance(exc, TwinError) else f"unreadable geometry ({exc})")
            continue
        if record is None:
            continue
        if not _inside(dtm, record.footprint_local):
            report.skip(ref, "outside the terrain model")
            continue
        records.append(record)
    return store_records(db, records, dtm.crs, f"cityjson:{path.name}", report, step)


def _cityjson_record(ref: str, obj: dict[str, Any], geometry: dict[str, Any], vertices: np.ndarray,
                     report: ImportReport) -> actions.BuildingRecord | None:
    surfaces = _surfaces(geometry)
    rings = [(np.asarray([vertices[i] for i in surface[0]]), semantic) for surface, semantic in surfaces
             if surface and len(surface[0]) >= 3]
    if not rings:
        report.skip(ref, "no surfaces")
        return None
    ground = float(min(r[:, 2].min() for r, _ in rings))
    top = float(max(r[:, 2].max() for r, _ in rings))
    height = top - ground
    if height <= 0:
        raise InvalidRoof(N_("The building height must be above 0 m (got %(height)s)."),
                          params={"height": round(height, 2)})
    grounds = [Polygon(r[:, :2]) for r, sem in rings if sem == "GroundSurface"]
    flat_parts = grounds or [Polygon(r[:, :2]) for r, _ in rings]
    flat_parts = [p if p.is_valid else shapely.make_valid(p) for p in flat_parts]
    footprint = _polygonal(shapely.union_all([p for p in flat_parts if p.area > 1e-6]))
    if footprint is None:
        report.skip(ref, "no footprint")
        return None
    roofs = [r for r, sem in rings if sem == "RoofSurface"]
    faces: list[RoofFace] = []
    for ring in roofs:
        lifted = ring.copy()
        lifted[:, 2] -= ground
        try:
            faces.append(face_from_3d(Polygon(lifted)))
        except InvalidRoof:
            report.warnings.append(f"{ref}: a vertical roof surface was left out")
    if not faces:
        faces = roof_faces(footprint, height, "flat")
    pitched = sum(1 for f in faces if f.tilt >= 5)
    roof_type = {0: "flat", 2: "gable", 4: "hip"}.get(pitched, "unknown")
    attributes = obj.get("attributes") or {}
    attrs = _attributes({**attributes, "construction_year": attributes.get("yearOfConstruction"),
                         "storeys": attributes.get("storeysAboveGround")})
    attrs["ground_m"] = round(ground, 2)
    attrs["roof_tilt"] = round(max(f.tilt for f in faces), 2)
    return actions.BuildingRecord(ref=ref, footprint_local=footprint, height_m=round(height, 2),
                                  roof_type=roof_type, faces=faces, attrs=attrs)
