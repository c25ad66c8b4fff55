"""The city: districts (real polygons), departments, and the point-in-district lookup."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from parvis.modules.city.models import Department
from parvis.modules.city.queries import (
    department,
    department_names,
    departments,
    district_id_at,
    districts_geojson,
    locate,
    names_for,
)


def district_point(session: Session, district_id: int) -> tuple[float, float] | None:
    """A point surely inside a district (lon, lat), to place what is only known by district."""
    from parvis.kernel import geo
    from parvis.modules.city.models import District

    district = session.get(District, district_id)
    if district is None:
        return None
    point = geo.loads(district.geometry).representative_point()
    return (round(point.x, 6), round(point.y, 6))


def district_names(session: Session) -> dict[int, str]:
    from parvis.modules.city.models import District

    return {i: n for i, n in session.execute(select(District.id, District.name))}


def department_ids(session: Session) -> set[int]:
    """Ids of every department, for modules that reference departments by id."""
    return set(session.scalars(select(Department.id)))


__all__ = [
    "department",
    "department_ids",
    "department_names",
    "departments",
    "district_id_at",
    "district_names",
    "district_point",
    "districts_geojson",
    "locate",
    "names_for",
]
