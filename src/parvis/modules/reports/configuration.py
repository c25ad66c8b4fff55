"""The configuration admins edit: report categories, the routing table, Open311 API keys."""

from __future__ import annotations

from sqlalchemy import func, select

from parvis.kernel import audit
from parvis.kernel.auth import Principal, new_token, token_digest
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, Conflict, NotFound, ValidationFailed
from parvis.modules import city
from parvis.modules.reports.models import ApiKey, Category, Route
from parvis.modules.reports.schemas import CategoryCreate


def create_category(db: Database, actor: Principal | None, data: CategoryCreate, ip: str = "") -> Category:
    with db.transaction() as session:
        if session.scalar(select(Category.id).where(func.upper(Category.code) == data.code.upper())):
            raise Conflict(N_("A category with this code already exists."))
        if data.department_id not in city.department_ids(session):
            raise ValidationFailed(N_("Unknown department."),
                                   errors=[{"field": "department_id", "code": "unknown"}])
        category = Category(**{**data.model_dump(), "code": data.code.upper(),
                               "attributes": [a.model_dump() for a in data.attributes]})
        session.add(category)
        session.flush()
        audit.record(session, actor, "reports.category.create", object_type="category",
                     object_id=category.id, ip=ip, changes={"code": category.code})
        return category


def set_route(db: Database, actor: Principal | None, category_id: int, district_id: int | None,
              department_id: int, ip: str = "") -> None:
    """One line of the routing table: this category in this district goes to that department."""
    with db.transaction() as session:
        if session.get(Category, category_id) is None or department_id not in city.department_ids(session):
            raise ValidationFailed(N_("Unknown category or department."))
        route = session.scalar(select(Route).where(Route.category_id == category_id,
                                                   Route.district_id.is_(None) if district_id is None
                                                   else Route.district_id == district_id))
        if route is None:
            session.add(Route(category_id=category_id, district_id=district_id, department_id=department_id))
        else:
            route.department_id = department_id
        audit.record(session, actor, "reports.route.set", object_type="category", object_id=category_id,
                     ip=ip, changes={"district_id": district_id, "department_id": department_id})


def issue_api_key(db: Database, actor: Principal | None, name: str, key: str | None = None) -> str:
    """A new Open311 API key; only its digest is kept, so show it once."""
    key = key or new_token(24)
    with db.transaction() as session:
        if session.scalar(select(ApiKey.id).where(ApiKey.digest == token_digest(key))):
            return key
        session.add(ApiKey(name=name, digest=token_digest(key)))
        audit.record(session, actor, "reports.api_key.issue", object_type="api_key", changes={"name": name})
    return key


def revoke_api_key(db: Database, actor: Principal, key_id: int) -> None:
    with db.transaction() as session:
        api_key = session.get(ApiKey, key_id)
        if api_key is None:
            raise NotFound()
        api_key.revoked_at = utcnow()
        audit.record(session, actor, "reports.api_key.revoke", object_type="api_key", object_id=key_id)
