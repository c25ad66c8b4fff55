"""Reads of the city module, shaped for pages and the API."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from parvis.kernel import geo
from parvis.modules.city.models import Department, District


def districts(session: Session) -> list[District]:
    return list(session.scalars(select(District).order_by(District.name)))


def district(session: Session, district_id: int) -> District | None:
    return session.get(District, district_id)


def district_by_code(session: Session, code: str) -> District | None:
    return session.scalar(select(District).where(func.lower(District.code) == code.lower()))


def district_feature(d: District) -> dict[str, Any]:
    return geo.feature(d.geometry, {"code": d.code, "name": d.name, "name_local": d.name_local,
                                    "population": d.population}, fid=d.id)


def districts_geojson(session: Session) -> dict[str, Any]:
    return geo.feature_collection([district_feature(d) for d in districts(session)])


def locate(session: Session, lon: float, lat: float) -> District | None:
    """The district containing a point, through the spatial index of the engine."""
    district_id = district_id_at(session, lon, lat)
    return session.get(District, district_id) if district_id is not None else None


_DISTRICT_AT_POSTGIS = text(
    "SELECT id FROM city_districts WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
    "ORDER BY id LIMIT 1")
_DISTRICT_CANDIDATES_RTREE = text(
    "SELECT d.id, d.geometry FROM city_districts_rtree r JOIN city_districts d ON d.id = r.id "
    "WHERE r.min_lon <= :lon AND r.max_lon >= :lon AND r.min_lat <= :lat AND r.max_lat >= :lat "
    "ORDER BY d.id")


def district_id_at(session: Session, lon: float, lat: float) -> int | None:
    """The id of the district containing a point (what filing a report needs, and no more)."""
    point = geo.parse_point(lon, lat)
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(_DISTRICT_AT_POSTGIS, {"lon": lon, "lat": lat})
    rows = session.execute(_DISTRICT_CANDIDATES_RTREE, {"lon": lon, "lat": lat})
    for district_id, geometry in rows:
        if _prepared(geometry).covers(Point(point.x, point.y)):
            return district_id
    return None


_PREPARING = threading.Lock()


@lru_cache(maxsize=64)
def _prepared(geometry: str) -> BaseGeometry:
    """A district's shape, parsed and prepared once (keyed by its text: an edit makes a new one).

    GEOS builds a prepared geometry's index lazily, at its first use, and that first use is not
    thread-safe: it is made here, under a lock, before any web thread shares the shape."""
    shape = geo.loads(geometry)
    with _PREPARING:
        shapely.prepare(shape)
        shape.covers(shape.representative_point())
    return shape


def departments(session: Session, *, only_ids: frozenset[int] | None = None,
                active_only: bool = False) -> list[Department]:
    query = select(Department).order_by(Department.name)
    if only_ids is not None:
        query = query.where(Department.id.in_(only_ids))
    if active_only:
        query = query.where(Department.active.is_(True))
    return list(session.scalars(query))


def department(session: Session, department_id: int) -> Department | None:
    return session.get(Department, department_id)


def department_by_code(session: Session, code: str) -> Department | None:
    return session.scalar(select(Department).where(Department.code == code))


def department_names(session: Session) -> dict[int, str]:
    return {i: n for i, n in session.execute(select(Department.id, Department.name))}


# Built once: runs on every report filed (the answer names its department and district).
_NAMES_FOR = select(
    select(Department.name).where(Department.id == bindparam("department_id")).scalar_subquery(),
    select(District.name).where(District.id == bindparam("district_id")).scalar_subquery())


def names_for(session: Session, department_id: int, district_id: int | None) -> tuple[str, str | None]:
    """The names of one department and one district (or None), in one statement."""
    department_name, district_name = session.execute(
        _NAMES_FOR, {"department_id": department_id, "district_id": district_id}).one()
    return department_name or "", district_name


def bounds(session: Session) -> list[float] | None:
    row = session.execute(select(func.min(District.min_lon), func.min(District.min_lat),
                                 func.max(District.max_lon), func.max(District.max_lat))).one()
    return None if row[0] is None else [float(v) for v in row]
