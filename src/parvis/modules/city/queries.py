"""Reads of the city module, shaped for pages and the API."""

from __future__ import annotations

from typing import Any

from shapely.geometry import Point
from sqlalchemy import func, select, text
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
    point = geo.parse_point(lon, lat)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        district_id = session.scalar(
            text("SELECT id FROM city_districts WHERE ST_Contains(geom, "
                 "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY id LIMIT 1"),
            {"lon": lon, "lat": lat},
        )
        return session.get(District, district_id) if district_id else None
    candidate_ids = list(session.scalars(
        text("SELECT id FROM city_districts_rtree WHERE min_lon <= :lon AND max_lon >= :lon "
             "AND min_lat <= :lat AND max_lat >= :lat"),
        {"lon": lon, "lat": lat},
    ))
    if not candidate_ids:
        return None
    for d in session.scalars(select(District).where(District.id.in_(candidate_ids))
                             .order_by(District.id)):
        if geo.loads(d.geometry).covers(Point(point.x, point.y)):
            return d
    return None


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


def bounds(session: Session) -> list[float] | None:
    row = session.execute(select(func.min(District.min_lon), func.min(District.min_lat),
                                 func.max(District.max_lon), func.max(District.max_lat))).one()
    return None if row[0] is None else [float(v) for v in row]
