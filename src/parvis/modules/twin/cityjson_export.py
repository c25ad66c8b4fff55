"""The twin as CityJSON 2.0: every building as an LOD1 solid, and as LOD2 surfaces when its roof
faces are known; ``GET /api/v1/twin/cityjson`` (see ``view3d_api``) and ``parvis twin
export-cityjson`` write it.

What is written, in the twin's local metric CRS (``metadata.referenceSystem``, the terrain model's
EPSG code), with a ``transform`` (scale 1 mm by default, translate = the lowest corner) and integer
vertices shared between surfaces:

- **LOD1** (``Solid``; ``MultiSolid`` for a footprint of several parts): the footprint (holes kept)
  extruded from the building's ground altitude to ground + height (the top of the roof), outer
  shell oriented outwards (ground surface facing down, roof up, walls out).
- **LOD2** (``MultiSurface`` with semantics) when the roof faces are known: each roof face as a
  ``RoofSurface`` at its true 3-D position, a ``WallSurface`` under every roof edge that no other
  face of the building shares (down to the ground), and the footprint as the ``GroundSurface``.
  It is a set of surfaces, not checked to be a closed solid (roof faces that overhang the
  footprint, or footprints cut by a later edit, leave gaps).

Attributes: address, measured height, roof type, roof tilt, storeys, year and period of
construction. Nothing personal: no owner, household, population or heat-loss level.

Limits: altitudes are the twin's (``ground_m``: metres of the terrain model, 0 when the ground is
unknown); the whole city is built in memory (about 1 KB a building), which suits tens of
thousands of buildings, not millions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.polygon import orient
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from parvis.modules.twin.models import Building

CITYJSON_VERSION = "2.0"
DEFAULT_SCALE = 0.001  # metres per integer unit: millimetres
# CityJSON attributes written from the twin's columns (no personal data: see the module docstring).
ATTRIBUTES = (("address", "address"), ("measuredHeight", "height_m"), ("roofType", "roof_type"),
              ("roofTilt", "roof_tilt"), ("storeysAboveGround", "storeys"),
              ("yearOfConstruction", "construction_year"), ("construction_period", "construction_period"))

Point3 = tuple[float, float, float]


@dataclass
class _Vertices:
    """Integer vertices after the transform, each stored once."""

    scale: float
    translate: tuple[float, float, float]
    items: list[list[int]] = field(default_factory=list)
    index: dict[tuple[int, int, int], int] = field(default_factory=dict)

    def add(self, point: Point3) -> int:
        key = tuple(round((point[k] - self.translate[k]) / self.scale) for k in range(3))
        found = self.index.get(key)  # type: ignore[arg-type]
        if found is None:
            found = self.index[key] = len(self.items)  # type: ignore[index]
            self.items.append(list(key))
        return found

    def ring(self, points: Sequence[Point3]) -> list[int]:
        """A ring's vertex indices: closing point dropped, consecutive duplicates (after rounding) merged."""
        out: list[int] = []
        pts = list(points)
        if len(pts) > 1 and tuple(pts[0]) == tuple(pts[-1]):
            pts = pts[:-1]
        for p in pts:
            i = self.add(p)
            if not out or out[-1] != i:
                out.append(i)
        if len(out) > 1 and out[0] == out[-1]:
            out.pop()
        return out


def epsg_url(crs: str | None) -> str | None:
    """``https://www.opengis.net/def/crs/EPSG/0/32648`` from ``EPSG:32648`` (None when not an EPSG code)."""
    match = re.fullmatch(r"\s*EPSG:(\d+)\s*", crs or "", flags=re.IGNORECASE)
    return f"https://www.opengis.net/def/crs/EPSG/0/{match.group(1)}" if match else None


def _polygons(geom: Any) -> list[Polygon]:
    if isinstance(geom, Polygon):
        parts = [geom]
    elif isinstance(geom, MultiPolygon):
        parts = list(geom.geoms)
    else:
        parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    return [orient(shapely.force_2d(p), 1.0) for p in parts if not p.is_empty and p.area > 0]


def _rings_2d(polygon: Polygon) -> list[list[tuple[float, float]]]:
    """Exterior (counter-clockwise in plan) then holes (clockwise), without the closing point."""
    return [[(float(x), float(y)) for x, y in ring.coords[:-1]]
            for ring in (polygon.exterior, *polygon.interiors)]


def _lift(ring: Sequence[tuple[float, float]], z: float) -> list[Point3]:
    return [(x, y, z) for x, y in ring]


def _solid_shell(polygon: Polygon, ground: float, top: float, vx: _Vertices) -> list[list[list[int]]]:
    """The outer shell of an extruded footprint, each surface a list of rings, normals outwards."""
    rings = _rings_2d(polygon)
    bottom = [vx.ring(_lift(list(reversed(r)), ground)) for r in rings]  # seen from below
    roof = [vx.ring(_lift(r, top)) for r in rings]
    walls: list[list[list[int]]] = []
    for ring in rings:
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            wall = vx.ring([(a[0], a[1], ground), (b[0], b[1], ground), (b[0], b[1], top), (a[0], a[1], top)])
            if len(wall) >= 3:
                walls.append([wall])
    return [bottom, roof, *walls]


def _key2(x: float, y: float, scale: float) -> tuple[int, int]:
    return round(x / scale), round(y / scale)


def _lod2_surfaces(footprint: Sequence[Polygon], faces: Iterable[Any], ground: float,
                   vx: _Vertices) -> tuple[list[list[list[int]]], list[int]]:
    """Surfaces (rings of vertex indices) and semantic indices (0 ground, 1 roof, 2 wall)."""
    surfaces: list[list[list[int]]] = []
    semantics: list[int] = []
    for polygon in footprint:
        surfaces.append([vx.ring(_lift(list(reversed(r)), ground)) for r in _rings_2d(polygon)])
        semantics.append(0)
    face_rings: list[list[Point3]] = []
    for face in faces:
        for part in (face.geoms if isinstance(face, MultiPolygon) else [face]):
            coords = [(float(x), float(y), ground + float(z)) for x, y, z in part.exterior.coords[:-1]]
            if len(coords) < 3:
                continue
            if _signed_area(coords) < 0:  # roofs face up: counter-clockwise seen from above
                coords.reverse()
            face_rings.append(coords)
            holes = [[(float(x), float(y), ground + float(z)) for x, y, z in hole.coords[:-1]]
                     for hole in part.interiors]
            holes = [h if _signed_area(h) < 0 else h[::-1] for h in holes]  # holes clockwise
            surfaces.append([vx.ring(coords), *[vx.ring(h) for h in holes]])
            semantics.append(1)
    # Edges of the roof outline: those no other face (of this building) shares, in either direction.
    edge_count: dict[frozenset[tuple[int, int]], int] = {}
    for coords in face_rings:
        for a, b in zip(coords, coords[1:] + coords[:1], strict=True):
            key = frozenset((_key2(a[0], a[1], vx.scale), _key2(b[0], b[1], vx.scale)))
            edge_count[key] = edge_count.get(key, 0) + 1
    for coords in face_rings:
        for a, b in zip(coords, coords[1:] + coords[:1], strict=True):
            key = frozenset((_key2(a[0], a[1], vx.scale), _key2(b[0], b[1], vx.scale)))
            if len(key) < 2 or edge_count[key] > 1:
                continue
            wall = vx.ring([(a[0], a[1], ground), (b[0], b[1], ground), b, a])
            if len(wall) >= 3:
                surfaces.append([wall])
                semantics.append(2)
    return surfaces, semantics


def _signed_area(coords: Sequence[Point3]) -> float:
    return 0.5 * sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(coords, [*coords[1:], coords[0]], strict=True))


def _attributes(row: Building) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, column in ATTRIBUTES:
        value = getattr(row, column)
        if value is not None and value != "":
            out[name] = value
    return out


def export(session: Session, crs: str | None, *, scale: float = DEFAULT_SCALE, lod2: bool = True,
           title: str = "") -> dict[str, Any]:
    """The twin's buildings as a CityJSON 2.0 document (a dict ready for ``json.dumps``).

    ``crs`` is the twin's local CRS (``queries.local_crs_of_twin``); buildings are in it already.
    ``lod2=False`` writes LOD1 solids only."""
    rows = list(session.scalars(select(Building).order_by(Building.id).options(selectinload(Building.faces))))
    prepared: list[tuple[Building, list[Polygon], float, list[Any]]] = []
    low = [math.inf, math.inf, math.inf]
    high = [-math.inf, -math.inf, -math.inf]
    for row in rows:
        footprint = _polygons(shape(json.loads(row.footprint_local)))
        if not footprint:
            continue
        ground = float(row.ground_m) if row.ground_m is not None else 0.0
        faces = [shape(json.loads(f.polygon_local)) for f in row.faces] if lod2 else []
        faces = [f for f in faces if f.has_z and not f.is_empty]
        prepared.append((row, footprint, ground, faces))
        xmin, ymin, xmax, ymax = shapely.union_all(footprint).bounds
        face_top = max((c[2] for f in faces for c in _coords3(f)), default=0.0)
        top = ground + max(float(row.height_m), face_top)
        for k, (lo, hi) in enumerate(((xmin, xmax), (ymin, ymax), (ground, top))):
            low[k], high[k] = min(low[k], lo), max(high[k], hi)
    if not prepared:
        low, high = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
    # Translate by the lowest corner rounded down to the scale: integer vertices stay small and positive.
    translate = tuple(math.floor(v / scale) * scale for v in low)
    vx = _Vertices(scale=scale, translate=translate)  # type: ignore[arg-type]
    objects: dict[str, Any] = {}
    for row, footprint, ground, faces in prepared:
        top = ground + float(row.height_m)
        shells = [_solid_shell(p, ground, top, vx) for p in footprint]
        if len(shells) == 1:
            lod1: dict[str, Any] = {"type": "Solid", "lod": "1", "boundaries": [shells[0]]}
        else:
            lod1 = {"type": "MultiSolid", "lod": "1", "boundaries": [[s] for s in shells]}
        geometry = [lod1]
        if faces:
            surfaces, values = _lod2_surfaces(footprint, faces, ground, vx)
            geometry.append({"type": "MultiSurface", "lod": "2", "boundaries": surfaces,
                             "semantics": {"surfaces": [{"type": "GroundSurface"}, {"type": "RoofSurface"},
                                                        {"type": "WallSurface"}], "values": values}})
        objects[row.ref] = {"type": "Building", "attributes": _attributes(row), "geometry": geometry}
    metadata: dict[str, Any] = {"geographicalExtent": [*low, *high], "title": title or "Digital twin"}
    reference = epsg_url(crs)
    if reference:
        metadata["referenceSystem"] = reference
    return {"type": "CityJSON", "version": CITYJSON_VERSION,
            "transform": {"scale": [scale, scale, scale], "translate": list(translate)},
            "metadata": metadata, "CityObjects": objects, "vertices": vx.items}


def _coords3(geom: Any) -> list[tuple[float, float, float]]:
    parts = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    return [tuple(c) for p in parts for c in p.exterior.coords]  # type: ignore[misc]


def dumps(document: dict[str, Any]) -> str:
    """Compact JSON text (UTF-8 addresses kept readable)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


@click.command("export-cityjson")
@click.argument("output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--lod1-only", is_flag=True, help="Write LOD1 solids only (no roof surfaces).")
@click.option("--database-url", envvar="PARVIS_DATABASE_URL", default=None,
              help="Database URL (default: PARVIS_DATABASE_URL or ./parvis.db).")
def export_cityjson(output: Path, lod1_only: bool, database_url: str | None) -> None:
    """Write the twin's buildings as CityJSON 2.0 to OUTPUT (``-`` for standard output)."""
    from parvis.kernel.db import Database
    from parvis.modules.twin import queries
    from parvis.settings import get_settings

    settings = get_settings(database_url=database_url) if database_url else get_settings()
    db = Database(settings.database_url)
    try:
        with db.read() as session:
            document = export(session, queries.local_crs_of_twin(session), lod2=not lod1_only,
                              title=f"{settings.city_name} digital twin")
    finally:
        db.dispose()
    text = dumps(document)
    if str(output) == "-":
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        count, vertices = len(document["CityObjects"]), len(document["vertices"])
        click.echo(f"{count} buildings, {vertices} vertices -> {output}", err=True)
