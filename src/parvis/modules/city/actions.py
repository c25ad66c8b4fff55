"""Every write of the city module: one function per intent, one transaction each."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from parvis.kernel import audit, geo
from parvis.kernel.auth import Principal
from parvis.kernel.db import Database
from parvis.kernel.errors import N_, Conflict, NotFound
from parvis.kernel.events import emit
from parvis.modules.city.models import Department, District
from parvis.modules.city.schemas import (
    DepartmentCreate,
    DepartmentUpdate,
    DistrictCreate,
    DistrictUpdate,
)


def _apply_geometry(district: District, geometry: Any) -> None:
    area = geo.parse_area(geometry)
    district.geometry = geo.dumps(area)
    district.min_lon, district.min_lat, district.max_lon, district.max_lat = area.bounds


def create_district(db: Database, actor: Principal | None, data: DistrictCreate,
                    ip: str = "") -> District:
    district = District(code=data.code, name=data.name, name_local=data.name_local,
                        population=data.population)
    _apply_geometry(district, data.geometry)
    try:
        with db.transaction() as session:
            if session.scalar(select(District.id).where(District.code == data.code)):
                raise Conflict(N_("A district with this code already exists."))
            session.add(district)
            session.flush()
            audit.record(session, actor, "city.district.create", object_type="district",
                         object_id=district.id, ip=ip, changes={"code": data.code, "name": data.name})
            emit(session, "city.district.created", district_id=district.id)
    except IntegrityError as exc:
        raise Conflict(N_("A district with this code already exists.")) from exc
    return district


def update_district(db: Database, actor: Principal, district_id: int, data: DistrictUpdate,
                    ip: str = "") -> District:
    with db.transaction() as session:
        district = session.get(District, district_id)
        if district is None:
            raise NotFound()
        changes = data.model_dump(exclude_unset=True)
        if "geometry" in changes and changes["geometry"] is not None:
            _apply_geometry(district, changes.pop("geometry"))
            changes["geometry"] = "changed"
        for field, value in changes.items():
            if field != "geometry":
                setattr(district, field, value)
        audit.record(session, actor, "city.district.update", object_type="district",
                     object_id=district.id, ip=ip, changes=changes)
    return district


def import_districts(db: Database, actor: Principal | None, collection: Any, *,
                     code_property: str = "code", name_property: str = "name",
                     progress: Any = None) -> tuple[int, int]:
    """Create or update districts from a GeoJSON FeatureCollection, all or nothing.

    Returns (created, updated). Every feature is validated before anything is written.
    """
    if isinstance(collection, str | bytes):
        try:
            collection = json.loads(collection)
        except ValueError as exc:
            raise geo.InvalidGeometry(N_("The geometry is not valid JSON.")) from exc
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise geo.InvalidGeometry(N_("A GeoJSON FeatureCollection is expected."))
    parsed: list[tuple[str, str, str, Any]] = []
    for index, feat in enumerate(collection.get("features") or []):
        props = (feat or {}).get("properties") or {}
        code = str(props.get(code_property) or props.get("id") or f"D{index + 1:02d}")[:20]
        name = str(props.get(name_property) or code)[:200]
        local = str(props.get("name_local") or "")[:200]
        area = geo.parse_area((feat or {}).get("geometry"))
        parsed.append((code, name, local, area))
    created = updated = 0
    with db.transaction() as session:
        for code, name, local, area in parsed:
            district = session.scalar(select(District).where(District.code == code))
            if district is None:
                district = District(code=code, name=name, name_local=local)
                session.add(district)
                created += 1
            else:
                district.name, district.name_local = name, local or district.name_local
                updated += 1
            district.geometry = geo.dumps(area)
            district.min_lon, district.min_lat, district.max_lon, district.max_lat = area.bounds
            if progress is not None:
                progress(1)
        audit.record(session, actor, "city.district.import", object_type="district",
                     changes={"created": created, "updated": updated})
    return created, updated


def delete_district(db: Database, actor: Principal, district_id: int, ip: str = "") -> None:
    with db.transaction() as session:
        district = session.get(District, district_id)
        if district is None:
            raise NotFound()
        audit.record(session, actor, "city.district.delete", object_type="district",
                     object_id=district_id, ip=ip, changes={"code": district.code})
        session.delete(district)


def create_department(db: Database, actor: Principal | None, data: DepartmentCreate,
                      ip: str = "") -> Department:
    department = Department(**data.model_dump())
    try:
        with db.transaction() as session:
            if session.scalar(select(Department.id).where(Department.code == data.code)):
                raise Conflict(N_("A department with this code already exists."))
            session.add(department)
            session.flush()
            audit.record(session, actor, "city.department.create", object_type="department",
                         object_id=department.id, ip=ip, changes=data.model_dump())
    except IntegrityError as exc:
        raise Conflict(N_("A department with this code already exists.")) from exc
    return department


def update_department(db: Database, actor: Principal, department_id: int,
                      data: DepartmentUpdate, ip: str = "") -> Department:
    with db.transaction() as session:
        department = session.get(Department, department_id)
        if department is None:
            raise NotFound()
        changes = data.model_dump(exclude_unset=True)
        for field, value in changes.items():
            setattr(department, field, value)
        audit.record(session, actor, "city.department.update", object_type="department",
                     object_id=department_id, ip=ip, changes=changes)
    return department
