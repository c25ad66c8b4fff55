"""The city: districts (real polygons), departments, and the point-in-district lookup."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from parvis.modules.city.models import Department
from parvis.modules.city.queries import (
    department,
    department_names,
    departments,
    districts_geojson,
    locate,
)


def department_ids(session: Session) -> set[int]:
    """Ids of every department, for modules that reference departments by id."""
    return set(session.scalars(select(Department.id)))


__all__ = [
    "department", "department_ids", "department_names", "departments", "districts_geojson", "locate",
]
