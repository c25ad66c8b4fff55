"""Roof faces from a building's footprint, height and roof type, and the surface model they make.

Method (stated plainly, because cities will rely on it):

- **flat**: one face, the footprint itself (holes kept), tilt 0; its azimuth is set to 180 (south)
  by convention since a flat face faces nowhere.
- **gable**: the footprint's minimum rotated rectangle gives the long axis; the ridge runs along it
  through the rectangle's middle, at the building's height. The two faces are the footprint on
  either side of the ridge, sloping down at ``tilt`` towards the long sides. Their azimuths differ
  by 180 degrees; each horizontal area / cos(tilt) is the face's true area.
- **hip**: the same rectangle's straight skeleton with equal slopes: two trapezoids on the long
  sides and two triangles at the ends (a pyramid when the rectangle is square).
- Footprints that are not rectangles (L shapes...) are cut by the rectangle's faces: a fair
  approximation for solar potential, not an architect's drawing.

``height`` is the building's top (ridge) above the ground; the eaves are ``height - rise``. A roof
whose rise reaches the ground, a tilt outside [0, 90) or a height <= 0 is an ``InvalidRoof``.

Face polygons are in the local metric CRS with z = height above the building's ground.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from rasterio import features
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from parvis.kernel.errors import N_
from parvis.modules.twin.errors import InvalidRoof
from parvis.modules.twin.grid import Grid

ROOF_TYPES = ("flat", "gable", "hip", "unknown")
DEFAULT_TILT = 30.0  # degrees, for pitched roofs whose tilt is not known


@dataclass(frozen=True)
class RoofFace:
    """One plane of a roof: its outline (local metres, z above ground), slope and orientation.

    ``plane`` is (a, b, c) with z = a*x + b*y + c (z above the building's ground)."""

    polygon: Polygon | MultiPolygon
    tilt: float
    azimuth: float
    area_m2: float
    plane: tuple[float, float, float]

    def height_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        a, b, c = self.plane
        return a * x + b * y + c


@dataclass(frozen=True)
class BuildingShape:
    """What ``burn_buildings`` needs of a building: its faces, ground altitude (None: the terrain's
    mean under the footprint) and optional labels for its faces (default: running numbers from 1)."""

    faces: Sequence[RoofFace]
    ground: float | None = None
    face_labels: Sequence[int] | None = None


def check_roof(height: float, tilt: float | None = None) -> None:
    """``InvalidRoof`` for a height <= 0 (or not a number) or a tilt outside [0, 90)."""
    if not (isinstance(height, int | float) and math.isfinite(height) and height > 0):
        raise InvalidRoof(N_("The building height must be above 0 m (got %(height)s)."),
                          params={"height": height})
    if tilt is not None and not (math.isfinite(tilt) and 0 <= tilt < 90):
        raise InvalidRoof(N_("A roof tilt must be between 0 and 90 degrees (got %(tilt)s)."),
                          params={"tilt": tilt})


def _azimuth(dx: float, dy: float) -> float:
    """Compass bearing of a horizontal direction (x east, y north), clockwise from north."""
    return round(math.degrees(math.atan2(dx, dy)) % 360.0, 6)


def _polygonal(geom: BaseGeometry) -> Polygon | MultiPolygon | None:
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and g.area > 1e-6]
    parts = [p for g in parts for p in ([g] if isinstance(g, Polygon) else list(g.geoms))]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _with_z(geom: Polygon | MultiPolygon, plane: tuple[float, float, float]) -> Polygon | MultiPolygon:
    a, b, c = plane

    def lift(coords: np.ndarray) -> np.ndarray:
        return np.column_stack([coords[:, 0], coords[:, 1], a * coords[:, 0] + b * coords[:, 1] + c])

    return shapely.transform(geom, lift, include_z=True) if geom.has_z else _lift2d(geom, lift)


def _lift2d(geom: Polygon | MultiPolygon, lift: object) -> Polygon | MultiPolygon:
    def one(p: Polygon) -> Polygon:
        ext = lift(np.asarray(p.exterior.coords)[:, :2])  # type: ignore[operator]
        holes = [lift(np.asarray(r.coords)[:, :2]) for r in p.interiors]  # type: ignore[operator]
        return Polygon(ext, holes)

    if isinstance(geom, Polygon):
        return one(geom)
    return MultiPolygon([one(p) for p in geom.geoms])


def _face(region: BaseGeometry, footprint: Polygon | MultiPolygon, tilt: float, down: tuple[float, float],
          through: tuple[float, float], top: float) -> RoofFace | None:
    """The part of ``footprint`` in ``region``, on a plane of ``tilt`` falling along unit vector
    ``down`` from height ``top`` at point ``through``."""
    part = _polygonal(footprint.intersection(region))
    if part is None:
        return None
    slope = math.tan(math.radians(tilt))
    a, b = -slope * down[0], -slope * down[1]
    c = top - a * through[0] - b * through[1]
    plane = (a, b, c)
    area = part.area / math.cos(math.radians(tilt))
    return RoofFace(polygon=_with_z(part, plane), tilt=float(tilt), azimuth=_azimuth(*down),
                    area_m2=round(area, 3), plane=plane)


def _rectangle(footprint: Polygon | MultiPolygon) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Centre, unit long axis, unit short axis, length and width of the minimum rotated rectangle."""
    rect = shapely.minimum_rotated_rectangle(footprint)
    pts = np.asarray(rect.exterior.coords)[:4, :2]
    e1, e2 = pts[1] - pts[0], pts[2] - pts[1]
    l1, l2 = float(np.hypot(*e1)), float(np.hypot(*e2))
    if l1 >= l2:
        u, length, width, v = e1 / l1, l1, l2, e2 / l2
    else:
        u, length, width, v = e2 / l2, l2, l1, e1 / l1
    centre = pts.mean(axis=0)
    return centre, u, v, length, width


def roof_faces(footprint: Polygon | MultiPolygon, height: float, roof_type: str = "flat",
               tilt: float | None = None) -> list[RoofFace]:
    """The roof faces of a building (see the module's docstring for the method)."""
    check_roof(height, tilt)
    if roof_type not in ROOF_TYPES:
        raise InvalidRoof(N_("Unknown roof type %(type)s (flat, gable, hip or unknown)."),
                          params={"type": roof_type})
    footprint = shapely.force_2d(footprint)
    if footprint.is_empty or footprint.area <= 0:
        raise InvalidRoof(N_("The building footprint is empty."))
    if roof_type in ("flat", "unknown") or not tilt:
        return [RoofFace(polygon=_with_z(footprint, (0.0, 0.0, float(height))), tilt=0.0, azimuth=180.0,
                         area_m2=round(footprint.area, 3), plane=(0.0, 0.0, float(height)))]
    centre, u, v, length, width = _rectangle(footprint)
    rise = width / 2 * math.tan(math.radians(tilt))
    if rise >= height:
        raise InvalidRoof(N_("A %(tilt)s degree roof over %(width)s m rises %(rise)s m, more than the "
                             "building's %(height)s m."),
                          params={"tilt": tilt, "width": round(width, 1), "rise": round(rise, 1),
                                  "height": height})
    big = 2 * (length + width)  # regions larger than the rectangle, cut by the footprint

    def poly(*corners: tuple[float, float]) -> Polygon:
        return Polygon([tuple(centre + s * u + t * v) for s, t in corners])

    ctr = (float(centre[0]), float(centre[1]))
    faces: list[RoofFace | None] = []
    if roof_type == "gable":
        for sign in (1.0, -1.0):
            region = poly((-big, 0), (big, 0), (big, sign * big), (-big, sign * big))
            down = (float(sign * v[0]), float(sign * v[1]))
            faces.append(_face(region, footprint, tilt, down, ctr, height))
    else:  # hip: straight skeleton of the rectangle, equal slopes
        half_ridge = (length - width) / 2
        h_w = width / 2
        for sign in (1.0, -1.0):  # long sides: trapezoids, extended outwards
            reach = half_ridge + h_w + big  # the hips run at 45 degrees in plan (equal slopes)
            edge = sign * (h_w + big)
            region = poly((-reach, edge), (reach, edge), (half_ridge, 0), (-half_ridge, 0))
            down = (float(sign * v[0]), float(sign * v[1]))
            faces.append(_face(region, footprint, tilt, down, ctr, height))
        for sign in (1.0, -1.0):  # ends: triangles, extended outwards
            tip = sign * half_ridge
            far = tip + sign * (h_w + big)
            region = poly((tip, 0), (far, h_w + big), (far, -h_w - big))
            down = (float(sign * u[0]), float(sign * u[1]))
            through = tuple(centre + tip * u)
            faces.append(_face(region, footprint, tilt, down, (float(through[0]), float(through[1])), height))
    return [f for f in faces if f is not None]


def plane_of(points: np.ndarray) -> tuple[float, float, float, float, float]:
    """Fit a plane to 3-D points (x, y, z): (a, b, c) with z = a*x + b*y + c, then tilt and azimuth.

    Uses Newell's normal (robust for any planar polygon ring). A vertical ring (a wall) is an
    ``InvalidRoof``."""
    pts = np.asarray(points, dtype=np.float64)[:, :3]
    nxt = np.roll(pts, -1, axis=0)
    normal = np.array([np.sum((pts[:, 1] - nxt[:, 1]) * (pts[:, 2] + nxt[:, 2])),
                       np.sum((pts[:, 2] - nxt[:, 2]) * (pts[:, 0] + nxt[:, 0])),
                       np.sum((pts[:, 0] - nxt[:, 0]) * (pts[:, 1] + nxt[:, 1]))])
    norm = float(np.linalg.norm(normal))
    if norm == 0:
        raise InvalidRoof(N_("A roof surface has no area."))
    normal /= norm
    if normal[2] < 0:
        normal = -normal
    if normal[2] < 1e-6:
        raise InvalidRoof(N_("A roof surface is vertical (tilt 90 degrees or more): it is a wall."))
    tilt = math.degrees(math.acos(min(1.0, float(normal[2]))))
    azimuth = _azimuth(float(normal[0]), float(normal[1])) if tilt > 1e-6 else 180.0
    a, b = -normal[0] / normal[2], -normal[1] / normal[2]
    c = float(np.mean(pts[:, 2] - a * pts[:, 0] - b * pts[:, 1]))
    return float(a), float(b), c, tilt, azimuth


def face_from_3d(polygon: Polygon | MultiPolygon) -> RoofFace:
    """A roof face from a 3-D polygon (local metres, z above ground): its plane, tilt, azimuth and
    true area. A multi-part face takes its plane from its largest part."""
    parts = list(polygon.geoms) if isinstance(polygon, MultiPolygon) else [polygon]
    largest = max(parts, key=lambda p: shapely.force_2d(p).area)
    ring = np.asarray(largest.exterior.coords)[:-1]
    if ring.shape[1] < 3:
        raise InvalidRoof(N_("A roof face needs heights (3-D coordinates)."))
    a, b, c, tilt, azimuth = plane_of(ring)
    flat = shapely.force_2d(polygon)
    if not flat.is_valid:
        flat = _polygonal(shapely.make_valid(flat)) or flat
    area = flat.area / math.cos(math.radians(tilt))
    return RoofFace(polygon=polygon, tilt=round(tilt, 4), azimuth=azimuth, area_m2=round(area, 3),
                    plane=(a, b, c))


def burn_buildings(dtm: Grid, buildings: Sequence[BuildingShape]) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise roofs onto the terrain: the surface model and each cell's roof-face label.

    A cell belongs to a face when its centre is inside the face's outline (``rasterio.features``);
    its surface height is the ground altitude plus the face's plane at the cell centre (so gable
    and hip roofs keep their shape), never below the terrain. Labels are int32, 0 = no roof: the
    building's ``face_labels`` or running numbers from 1 in the order given. A building's ground is
    its ``ground`` or, when None, the terrain's mean under its footprint.
    """
    values = dtm.values.astype(np.float32, copy=True)
    labels = np.zeros(dtm.shape, dtype=np.int32)
    shapes: list[tuple[BaseGeometry, int]] = []
    planes: dict[int, tuple[float, float, float, int]] = {}  # label -> (a, b, c, building index)
    next_label = 1
    for index, building in enumerate(buildings):
        for k, face in enumerate(building.faces):
            label = int(building.face_labels[k]) if building.face_labels is not None else next_label
            next_label = max(next_label, label) + 1
            shapes.append((shapely.force_2d(face.polygon), label))
            planes[label] = (*face.plane, index)
    if not shapes:
        return values, labels
    features.rasterize(shapes, out=labels, transform=dtm.transform, dtype=np.int32)
    if not labels.any():
        return values, labels
    top = max(planes) + 1
    a = np.zeros(top)
    b = np.zeros(top)
    c = np.zeros(top)
    owner = np.full(top, -1, dtype=np.int64)
    for label, (pa, pb, pc, index) in planes.items():
        a[label], b[label], c[label], owner[label] = pa, pb, pc, index
    rows, cols = np.nonzero(labels)
    lab = labels[rows, cols]
    xs, ys = dtm.cell_centres()
    x, y = xs[cols], ys[rows]
    terrain = dtm.values[rows, cols].astype(np.float64)
    who = owner[lab]
    ground = np.array([np.nan if b_.ground is None else b_.ground for b_ in buildings], dtype=np.float64)
    missing = np.isnan(ground)
    if missing.any():
        sums = np.bincount(who, weights=np.nan_to_num(terrain), minlength=len(buildings))
        counts = np.bincount(who, weights=~np.isnan(terrain), minlength=len(buildings))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / counts
        ground[missing] = mean[missing]
    z = ground[who] + a[lab] * x + b[lab] * y + c[lab]
    z = np.where(np.isnan(terrain), z, np.fmax(z, terrain))
    values[rows, cols] = z.astype(np.float32)
    return values, labels
