"""Import the twin's data: terrain and surface models, buildings (GeoJSON, CityJSON LOD1/LOD2),
zoning, flood hazard and protected areas (GeoJSON), hazard and thermography rasters (GeoTIFF).

Every import checks the file's size before reading it (``FileTooLarge``), reprojects to the
twin's local metric CRS (the terrain model's; before any terrain, the UTM zone of the data),
returns an ``ImportReport`` (counts, repairs, skipped, warnings) and calls ``progress(stage,
fraction)`` as it goes. What it repairs, it says; what it cannot use, it skips and lists, or
refuses with a clear error:

- a GeoTIFF without a CRS is refused unless ``crs`` says which one it uses;
- a DSM (or any raster) at another resolution than the DTM is resampled onto the DTM's cells,
  bilinear (nearest for hazard classes), and the report says so;
- holes (nodata) in a DTM or DSM up to ``max_hole_m2`` (default 100 m², about a house) are filled
  with the nearest cell that has data and reported; a larger hole refuses the file. Nodata that
  touches the raster's edge is the survey's outline, not a hole: it stays nodata and is reported;
- polygons keep their holes; self-intersecting ones are repaired with shapely's ``make_valid``
  (polygonal parts kept) and counted;
- a building outside the terrain model, without height, or with an impossible roof (tilt over
  90 degrees, height <= 0) is skipped and listed with the reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from parvis.kernel.db import Database
from parvis.kernel.errors import N_
from parvis.modules.twin import actions, queries
from parvis.modules.twin.errors import (
    InvalidRoof,
    NoTerrain,
    TwinError,
    UnknownImportKind,
    UnreadableFile,
)
from parvis.modules.twin.grid import (
    DEFAULT_MAX_BYTES,
    MAX_HOLE_M2,
    Grid,
    check_size,
    fill_holes,
    local_crs,
    read_geotiff,
    reproject_geometries,
    resample_to,
    write_geotiff,
)
from parvis.modules.twin.roofs import DEFAULT_TILT, RoofFace, face_from_3d, roof_faces

Progress = Callable[[str, float], None]
RASTER_KINDS = ("dtm", "dsm", "hazard", "thermography")
ZONE_KINDS = ("zoning", "hazard", "protected")
IMPORT_KINDS = ("dtm", "dsm", "buildings", "cityjson", "zoning", "hazard", "protected", "thermography")
BUILDABLE_CATEGORIES = {"residential", "mixed", "commercial", "industrial", "activity", "urban", "u", "au",
                        "residentiel", "mixte"}
#: Construction periods (keys of the home typology table) by their last year.
PERIODS = (("before_1945", 1945), ("1946_1970", 1970), ("1971_1990", 1990), ("1991_2005", 2005),
           ("2006_2015", 2015), ("after_2015", 10_000))


@dataclass
class ImportReport:
    """What an import did: counts, repairs made, what was skipped and why, and warnings."""

    kind: str
    source: str
    counts: dict[str, int] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def skip(self, ref: str, reason: str) -> None:
        self.skipped.append({"ref": ref, "reason": reason})
        self.count("skipped")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The report as plain lines, for the CLI."""
        out = [f"{self.kind} from {self.source}"]
        out += [f"  {k}: {v}" for k, v in sorted(self.info.items())]
        out += [f"  {k}: {v}" for k, v in sorted(self.counts.items())]
        out += [f"  repaired: {r}" for r in self.repairs]
        out += [f"  skipped {s['ref']}: {s['reason']}" for s in self.skipped]
        out += [f"  warning: {w}" for w in self.warnings]
        return out


def _quiet(_stage: str, _fraction: float) -> None:
    pass


def period_for_year(year: int | None) -> str | None:
    """The typology's construction period key for a year (``before_1945`` ... ``after_2015``)."""
    if year is None:
        return None
    return next(key for key, last in PERIODS if year <= last)


# ------------------------------------------------------------------------------------ rasters

def _describe(path: Path) -> dict[str, Any]:
    try:
        with rasterio.open(path) as src:
            return {"source_crs": src.crs.to_string() if src.crs else None,
                    "source_resolution": round(abs(src.transform.a), 4),
                    "source_size": [src.width, src.height]}
    except RasterioIOError:
        raise UnreadableFile(N_("%(path)s is not a GeoTIFF Parvis can read."),
                             params={"path": str(path)}) from None


def import_raster(db: Database, data_dir: Path, path: Path, kind: str, *, crs: str | None = None,
                  max_bytes: int = DEFAULT_MAX_BYTES, max_hole_m2: float = MAX_HOLE_M2,
                  progress: Progress | None = None) -> ImportReport:
    """Import a GeoTIFF as the twin's ``kind`` layer (dtm, dsm, hazard or thermography)."""
    step = progress or _quiet
    path = Path(path)
    if kind not in RASTER_KINDS:
        raise UnknownImportKind(N_("%(kind)s is not a raster layer (dtm, dsm, hazard, thermography)."),
                                params={"kind": kind})
    check_size(path, max_bytes)
    report = ImportReport(kind=kind, source=path.name)
    step("reading", 0.0)
    report.info.update(_describe(path))
    with db.read() as session:
        dtm_row = queries.layer(session, "dtm")
        target = queries.local_crs_of_twin(session)
        dtm = queries.load_grid(session, data_dir, "dtm") if kind != "dtm" and dtm_row is not None else None
    resampling = Resampling.nearest if kind == "hazard" else Resampling.bilinear
    grid = read_geotiff(path, target_crs=target, max_bytes=max_bytes, assume_crs=crs, resampling=resampling)
    if report.info["source_crs"] is None:
        report.warnings.append(f"no CRS in the file: {crs} assumed as given")
    step("reprojecting", 0.4)
    if dtm is not None:
        if abs(grid.resolution - dtm.resolution) > 1e-6 * dtm.resolution:
            report.warnings.append(f"resampled from {grid.resolution:g} m to the terrain model's "
                                   f"{dtm.resolution:g} m cells")
            report.count("resampled")
        if grid.transform != dtm.transform or grid.shape != dtm.shape:
            grid = resample_to(grid, dtm, resampling)
    elif kind != "dtm":
        report.warnings.append("no terrain model yet: this layer keeps its own grid")
    if kind in ("dtm", "dsm"):
        step("filling holes", 0.6)
        grid, stats = fill_holes(grid, max_hole_m2)
        if stats["cells_filled"]:
            report.repairs.append(f"{stats['holes_filled']} nodata hole(s) of at most {max_hole_m2:g} m² "
                                  f"filled from their nearest neighbours ({stats['cells_filled']} cells)")
        if stats["cells_outside"]:
            report.warnings.append(f"{stats['cells_outside']} cells outside the survey (nodata at the edge)")
        report.counts.update({k: v for k, v in stats.items() if v})
    report.info.update({"crs": grid.crs, "resolution": round(grid.resolution, 4),
                        "size": [grid.shape[1], grid.shape[0]]})
    step("writing", 0.8)
    target_path = write_geotiff(grid, Path(data_dir) / "twin" / f"{kind}.tif")
    actions.store_layer(db, kind, target_path, Path(data_dir), grid, source=path.name,
                        report=report.to_dict())
    report.count("cells", int(np.count_nonzero(~np.isnan(grid.values))))
    step("done", 1.0)
    return report


# --------------------------------------------------------------------------------- GeoJSON

def _load_json(path: Path, max_bytes: int) -> Any:
    check_size(path, max_bytes)
    try:
        return json.loads(Path(path).read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise UnreadableFile(N_("%(path)s is not valid JSON."), params={"path": str(path)}) from None


def _crs_from_name(name: str | None) -> str | None:
    """``EPSG:xxxx`` from a GeoJSON/CityJSON CRS name or URL (urn:ogc:def:crs:EPSG::2154, .../EPSG/0/7415)."""
    if not name:
        return None
    if "CRS84" in name.upper():
        return "EPSG:4326"
    match = re.search(r"EPSG(?::|/)(?:\d*(?::|/))?(\d+)\s*$", name, re.IGNORECASE)
    return f"EPSG:{match.group(1)}" if match else None


def _horizontal(crs: str) -> str:
    """The horizontal part of a compound CRS (a CityJSON's 'RD New + NAP height', for instance)."""
    from pyproj import CRS

    try:
        parsed = CRS.from_user_input(crs)
    except Exception:
        raise UnreadableFile(N_("%(crs)s is not a coordinate system Parvis knows (use EPSG:xxxx)."),
                             params={"crs": crs}) from None
    if parsed.is_compound:
        epsg = parsed.sub_crs_list[0].to_epsg()
        return f"EPSG:{epsg}" if epsg else parsed.sub_crs_list[0].to_string()
    return crs


def _features(data: Any, path: Path) -> list[dict[str, Any]]:
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection" and isinstance(data.get("features"), list):
        return data["features"]
    if kind == "Feature":
        return [data]
    raise UnreadableFile(N_("%(path)s is not a GeoJSON FeatureCollection."), params={"path": str(path)})


def _polygonal(geom: BaseGeometry) -> Polygon | MultiPolygon | None:
    parts: list[Polygon] = []
    for g in getattr(geom, "geoms", [geom]):
        if isinstance(g, Polygon) and not g.is_empty:
            parts.append(g)
        elif isinstance(g, MultiPolygon):
            parts.extend(p for p in g.geoms if not p.is_empty)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _area_shape(raw: Any, ref: str, report: ImportReport) -> Polygon | MultiPolygon | None:
    """A feature's polygon in 2-D, repaired when self-intersecting, or None (reason in the report)."""
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        report.skip(ref, "not a Polygon or MultiPolygon")
        return None
    try:
        geom = shapely.force_2d(shape(raw))
    except Exception:
        report.skip(ref, "unreadable geometry")
        return None
    if geom.is_empty:
        report.skip(ref, "empty geometry")
        return None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        fixed = _polygonal(shapely.make_valid(geom))
        if fixed is None or fixed.area == 0:
            report.skip(ref, f"invalid geometry that cannot be repaired ({reason})")
            return None
        report.repairs.append(f"{ref}: {reason}, repaired with make_valid")
        report.count("repaired")
        geom = fixed
    if any(len(p.interiors) for p in getattr(geom, "geoms", [geom])):
        report.count("with_holes")
    return geom  # type: ignore[return-value]


def _source_crs(data: Any, crs: str | None) -> str:
    if crs:
        return crs
    name = ((data.get("crs") or {}).get("properties") or {}).get("name") if isinstance(data, dict) else None
    return _crs_from_name(name) or "EPSG:4326"


def _twin_terrain(db: Database, data_dir: Path) -> Grid:
    with db.read() as session:
        dtm = queries.load_grid(session, data_dir, "dtm")
    if dtm is None:
        raise NoTerrain(N_("Import a terrain model (DTM) before buildings: it gives the twin its coordinate "
                           "system and the ground under each building."))
    return dtm


def _number(props: dict[str, Any], *names: str) -> float | None:
    for name in names:
        value = props.get(name)
        if value is None or value == "":
            continue
        try:
            number = float(str(value).replace(",", ".").rstrip("m ").strip())
        except ValueError:
            continue
        if math.isfinite(number):
            return number
    return None


def _text(props: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = props.get(name)
        if value not in (None, ""):
            return str(value)
    return None


ROOF_NAMES = {"flat": "flat", "plat": "flat", "gable": "gable", "gabled": "gable", "deux_pans": "gable",
              "deux pans": "gable", "2 pans": "gable", "hip": "hip", "hipped": "hip", "quatre_pans": "hip",
              "quatre pans": "hip", "4 pans": "hip", "pyramidal": "hip"}


def _attributes(props: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    address = _text(props, "address", "adresse")
    if address is None and props.get("addr:street"):
        address = f"{props.get('addr:housenumber', '')} {props['addr:street']}".strip()
    attrs["address"] = address
    storeys = _number(props, "storeys", "levels", "building:levels", "etages", "nb_etages")
    attrs["storeys"] = int(storeys) if storeys is not None else None
    year = _number(props, "construction_year", "year", "annee_construction", "start_date")
    attrs["construction_year"] = int(year) if year is not None else None
    attrs["construction_period"] = (_text(props, "construction_period")
                                    or period_for_year(attrs["construction_year"]))
    for key in ("floor_area_m2", "ground_m"):
        attrs[key] = _number(props, key)
    for key in ("population", "households", "attached_sides"):
        value = _number(props, key)
        attrs[key] = int(value) if value is not None else None
    for key in ("wall_type", "roof_construction", "window_type", "heating_system"):
        attrs[key] = _text(props, key)
    return {k: v for k, v in attrs.items() if v is not None}


def _ground(dtm: Grid, geom: BaseGeometry) -> float | None:
    point = geom.representative_point()
    col = int((point.x - dtm.transform.c) / dtm.transform.a)
    row = int((point.y - dtm.transform.f) / dtm.transform.e)
    if 0 <= row < dtm.shape[0] and 0 <= col < dtm.shape[1] and not math.isnan(dtm.values[row, col]):
        return round(float(dtm.values[row, col]), 2)
    return None


def _inside(dtm: Grid, geom: BaseGeometry) -> bool:
    west, south, east, north = dtm.bounds
    minx, miny, maxx, maxy = geom.bounds
    within = west <= minx and maxx <= east and south <= miny and maxy <= north
    return within and _ground(dtm, geom) is not None


def import_buildings(db: Database, data_dir: Path, path: Path, *, crs: str | None = None,
                     max_bytes: int = DEFAULT_MAX_BYTES, default_tilt: float = DEFAULT_TILT,
                     progress: Progress | None = None) -> ImportReport:
    """Import building footprints (GeoJSON, lon/lat unless the file or ``crs`` says otherwise).

    Each feature needs ``height`` (m, top of the roof above ground; ``storeys`` x 3 m is used
    and reported when only storeys are known) or ``roof_faces``: a list of 3-D GeoJSON polygons
    (z = height above ground). ``roof_type`` (flat, gable, hip) and ``roof_tilt`` (degrees,
    default ``default_tilt``) shape the roof when faces are not given."""
    step = progress or _quiet
    path = Path(path)
    data = _load_json(path, max_bytes)
    features = _features(data, path)
    report = ImportReport(kind="buildings", source=path.name)
    dtm = _twin_terrain(db, data_dir)
    src_crs = _source_crs(data, crs)
    report.info.update({"source_crs": src_crs, "crs": dtm.crs})
    step("reading", 0.0)
    candidates: list[tuple[str, dict[str, Any], BaseGeometry, list[BaseGeometry]]] = []
    seen: set[str] = set()
    for index, feature in enumerate(features):
        props = dict(feature.get("properties") or {}) if isinstance(feature, dict) else {}
        ref = _text(props, "ref", "id", "identifier") or str(feature.get("id") or f"{path.stem}-{index + 1}")
        if ref in seen:
            report.warnings.append(f"{ref} appears twice: the second is stored as {ref}#{index + 1}")
            ref = f"{ref}#{index + 1}"
        seen.add(ref)
        geom = _area_shape(feature.get("geometry") if isinstance(feature, dict) else None, ref, report)
        if geom is None:
            continue
        faces_raw = props.pop("roof_faces", None) or []
        face_geoms = [shape(f) for f in faces_raw if isinstance(f, dict) and f.get("type") == "Polygon"]
        candidates.append((ref, props, geom, face_geoms))
    report.counts["features"] = len(features)
    step("reprojecting", 0.3)
    local = reproject_geometries([c[2] for c in candidates], src_crs, dtm.crs)
    all_faces = reproject_geometries([g for c in candidates for g in c[3]], src_crs, dtm.crs)
    records: list[actions.BuildingRecord] = []
    cursor = 0
    for n, ((ref, props, _geom, face_geoms), footprint) in enumerate(zip(candidates, local, strict=True)):
        faces_local = all_faces[cursor:cursor + len(face_geoms)]
        cursor += len(face_geoms)
        if n % 500 == 0:
            step("buildings", 0.3 + 0.5 * n / max(1, len(candidates)))
        if not _inside(dtm, footprint):
            report.skip(ref, "outside the terrain model")
            continue
        attrs = _attributes(props)
        try:
            record = _record(ref, props, footprint, faces_local, attrs, default_tilt, report)
        except TwinError as exc:
            report.skip(ref, exc.message())
            continue
        if record is None:
            continue
        record.attrs.setdefault("ground_m", _ground(dtm, footprint))
        records.append(record)
    return store_records(db, records, dtm.crs, f"geojson:{path.name}", report, step)


def store_records(db: Database, records: list[actions.BuildingRecord], crs: str, source: str,
                  report: ImportReport, step: Progress) -> ImportReport:
    """Store the buildings an import kept and count them in its report."""
    step("storing", 0.85)
    actions.store_buildings(db, records, crs, source=source[:32])
    report.counts["imported"] = len(records)
    report.counts["faces"] = sum(len(r.faces) for r in records)
    step("done", 1.0)
    return report


def _record(ref: str, props: dict[str, Any], footprint: BaseGeometry, faces_local: list[BaseGeometry],
            attrs: dict[str, Any], default_tilt: float,
            report: ImportReport) -> actions.BuildingRecord | None:
    named = str(props.get("roof_type") or props.get("roof:shape") or "").lower()
    roof_type = ROOF_NAMES.get(named, "unknown")
    if props.get("roof_type") in (None, "") and not props.get("roof:shape"):
        roof_type = "flat" if not faces_local else "unknown"
    tilt = _number(props, "roof_tilt", "roof:angle", "pente")
    if faces_local:
        faces = [face_from_3d(g) for g in faces_local]
        height = max(float(np.max(np.asarray(shapely.get_coordinates(g, include_z=True))[:, 2]))
                     for g in faces_local)
        if height <= 0:
            raise InvalidRoof(N_("The building height must be above 0 m (got %(height)s)."),
                              params={"height": height})
        return actions.BuildingRecord(ref=ref, footprint_local=footprint, height_m=height,
                                      roof_type=roof_type, faces=faces,
                                      attrs={**attrs, "roof_tilt": max(f.tilt for f in faces)})
    height = _number(props, "height", "hauteur", "measuredHeight", "building:height")
    if height is None and attrs.get("storeys"):
        height = 3.0 * attrs["storeys"]
        report.repairs.append(f"{ref}: no height, {height:g} m estimated from {attrs['storeys']} storeys")
        report.count("height_estimated")
    if height is None:
        report.skip(ref, "no height (give height, storeys or roof_faces)")
        return None
    if roof_type in ("gable", "hip") and tilt is None:
        tilt = default_tilt
    pitched = roof_type in ("gable", "hip")
    faces: list[RoofFace] = roof_faces(footprint, height, roof_type, tilt if pitched else None)
    if tilt is not None and roof_type not in ("gable", "hip"):
        roof_faces(footprint, height, "flat", tilt)  # still refuse an impossible tilt
    return actions.BuildingRecord(ref=ref, footprint_local=footprint, height_m=height, roof_type=roof_type,
                                  faces=faces, attrs={**attrs, "roof_tilt": tilt})


# ----------------------------------------------------------------------------------- zones

HAZARD_NAMES = {"low": "low", "faible": "low", "1": "low", "thap": "low", "medium": "medium",
                "moyen": "medium",
                "moderate": "medium", "2": "medium", "high": "high", "fort": "high", "eleve": "high",
                "élevé": "high", "very high": "high", "tres fort": "high", "3": "high", "cao": "high"}


def _yes(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "oui", "y", "o"):
        return True
    if text in ("0", "false", "no", "non", "n"):
        return False
    return None


def import_zones(db: Database, data_dir: Path, path: Path, kind: str, *, crs: str | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, progress: Progress | None = None) -> ImportReport:
    """Import a zoning plan, an official flood-hazard map or protected areas (GeoJSON).

    Zoning: ``category`` (or zone/type) and ``buildable`` (true/false; when absent, derived from
    the category: residential, mixed, commercial, industrial, urban are buildable, and the report
    says so). Hazard: ``level`` (low/medium/high, or faible/moyen/fort, or 1-3); a feature without
    a level is skipped. Replaces the zones of that kind."""
    step = progress or _quiet
    path = Path(path)
    if kind not in ZONE_KINDS:
        raise UnknownImportKind(N_("%(kind)s is not a kind of zone (zoning, hazard, protected)."),
                                params={"kind": kind})
    data = _load_json(path, max_bytes)
    features = _features(data, path)
    report = ImportReport(kind=kind, source=path.name)
    src_crs = _source_crs(data, crs)
    with db.read() as session:
        target = queries.local_crs_of_twin(session)
    step("reading", 0.0)
    kept: list[tuple[BaseGeometry, actions.ZoneRecord]] = []
    derived = 0
    for index, feature in enumerate(features):
        props = dict(feature.get("properties") or {}) if isinstance(feature, dict) else {}
        ref = _text(props, "name", "nom", "ref", "id") or str(feature.get("id") or f"{path.stem}-{index + 1}")
        geom = _area_shape(feature.get("geometry") if isinstance(feature, dict) else None, ref, report)
        if geom is None:
            continue
        record = actions.ZoneRecord(geometry_local=geom, name=_text(props, "name", "nom"))
        if kind == "zoning":
            record.category = _text(props, "category", "zone", "type", "zoning", "typezone", "libelle")
            record.buildable = _yes(props.get("buildable", props.get("constructible")))
            if record.buildable is None:
                record.buildable = (record.category or "").strip().lower() in BUILDABLE_CATEGORIES
                derived += 1
        elif kind == "hazard":
            raw = _text(props, "level", "hazard_level", "hazard", "alea", "niveau")
            level = HAZARD_NAMES.get((raw or "").strip().lower())
            if level is None:
                report.skip(ref, f"unknown hazard level {raw!r} (low, medium or high)")
                continue
            record.hazard_level = level
        record.properties = {k: v for k, v in props.items() if isinstance(v, str | int | float | bool)}
        kept.append((geom, record))
    if derived:
        report.warnings.append(f"{derived} zone(s) without 'buildable': derived from their category")
    if target is None:
        centre = shapely.union_all([g for g, _ in kept]).centroid if kept else None
        if centre is not None:
            lonlat = reproject_geometries([centre], src_crs, "EPSG:4326")[0]
            target = local_crs(lonlat.x, lonlat.y)
        else:
            target = "EPSG:4326"
        report.warnings.append("no terrain model yet: zones placed in the UTM zone of their centre")
    step("reprojecting", 0.5)
    local = reproject_geometries([g for g, _ in kept], src_crs, target)
    records = []
    for (_, record), geom in zip(kept, local, strict=True):
        record.geometry_local = geom
        records.append(record)
    actions.store_zones(db, kind, records, target, source=path.name)
    report.counts.update({"features": len(features), "imported": len(records)})
    report.info.update({"source_crs": src_crs, "crs": target})
    step("done", 1.0)
    return report


# -------------------------------------------------------------------------------- dispatcher

def _cityjson() -> Any:
    from parvis.modules.twin import import_cityjson  # it builds on this module's helpers

    return import_cityjson


def import_file(db: Database, data_dir: Path, kind: str, path: Path, *, crs: str | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES, max_hole_m2: float = MAX_HOLE_M2,
                default_tilt: float = DEFAULT_TILT, progress: Progress | None = None) -> ImportReport:
    """Import one file of a kind: dtm, dsm, buildings (GeoJSON), cityjson, zoning, hazard (GeoJSON or
    GeoTIFF, by extension), protected, thermography (GeoTIFF). ``max_hole_m2``: largest nodata hole
    of a raster filled from its neighbours; ``default_tilt``: of pitched roofs whose tilt is not given."""
    path = Path(path)
    tiff = path.suffix.lower() in (".tif", ".tiff")
    if kind in ("dtm", "dsm", "thermography") or (kind == "hazard" and tiff):
        return import_raster(db, data_dir, path, kind, crs=crs, max_bytes=max_bytes, max_hole_m2=max_hole_m2,
                             progress=progress)
    if kind == "buildings":
        if path.suffix.lower() in (".city.json", ".cityjson") or path.name.endswith(".city.json"):
            return _cityjson().import_cityjson(db, data_dir, path, crs=crs, max_bytes=max_bytes,
                                               progress=progress)
        return import_buildings(db, data_dir, path, crs=crs, max_bytes=max_bytes, default_tilt=default_tilt,
                                progress=progress)
    if kind == "cityjson":
        return _cityjson().import_cityjson(db, data_dir, path, crs=crs, max_bytes=max_bytes,
                                           progress=progress)
    if kind in ZONE_KINDS:
        return import_zones(db, data_dir, path, kind, crs=crs, max_bytes=max_bytes, progress=progress)
    raise UnknownImportKind(N_("Unknown kind %(kind)s: use one of %(kinds)s."),
                            params={"kind": kind, "kinds": ", ".join(IMPORT_KINDS)})
