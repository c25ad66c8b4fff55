"""Small builders for test data, going through the modules' actions like real users do."""

from __future__ import annotations

from parvis.kernel.db import Database
from parvis.kernel.identifiers import parse_identifier
from parvis.modules.accounts import actions as accounts
from parvis.modules.accounts.schemas import SignUp, StaffCreate
from parvis.modules.city import actions as city
from parvis.modules.city.schemas import DepartmentCreate, DistrictCreate
from parvis.settings import Settings

PASSWORD = "correct-horse-42"


def square(lon: float, lat: float, size: float = 0.01) -> dict:
    return {"type": "Polygon", "coordinates": [[
        [lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]]}


def department(db: Database, code: str = "roads", name: str = "Voirie", kind: str = "roads") -> int:
    return city.create_department(db, None, DepartmentCreate(code=code, name=name, kind=kind)).id


def district(db: Database, code: str = "D1", lon: float = 107.0, lat: float = 16.0,
             size: float = 0.01) -> int:
    return city.create_district(db, None, DistrictCreate(
        code=code, name=f"District {code}", geometry=square(lon, lat, size))).id


def staff(db: Database, settings: Settings, email: str, role: str = "agent",
          department_ids: list[int] | None = None) -> int:
    return accounts.create_staff(db, None, settings, StaffCreate(
        display_name=email.split("@")[0], email=email, role=role,  # type: ignore[arg-type]
        password=PASSWORD, department_ids=department_ids or [],
        all_departments=role == "admin")).id


def citizen(db: Database, settings: Settings, phone: str = "+84912345678") -> int:
    """A confirmed citizen, created the way the sign-up flow does it."""
    from sqlalchemy import select

    from parvis.kernel.notify.models import OutboxMessage

    ident = parse_identifier(phone, settings.phone_region)
    user_id = accounts.sign_up(db, settings, SignUp(identifier=phone, password=PASSWORD), ident)
    with db.read() as session:
        body = session.scalars(select(OutboxMessage.body).where(OutboxMessage.user_id == user_id)
                               .order_by(OutboxMessage.id.desc())).first()
    code = last_code(body or "")
    accounts.confirm(db, settings, ident, code)
    return user_id


def last_code(body: str) -> str:
    import re

    match = re.search(r"\b(\d{6})\b", body)
    assert match, f"no code in message {body!r}"
    return match.group(1)
