"""Reads of the accounts module: who is behind a request, lists for admin pages, export."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from parvis.kernel.auth import ANONYMOUS, Principal, Role, token_digest
from parvis.kernel.db import Database, utcnow
from parvis.modules.accounts.models import ApiToken, Membership, OneTimeCode, User, UserSession


def principal_for(user: User, *, session_id: str | None = None, via_token: bool = False) -> Principal:
    return Principal(
        user_id=user.id,
        role=Role(user.role),
        display_name=user.display_name or (user.email or user.phone or ""),
        language=user.language,
        department_ids=user.department_ids,
        all_departments=user.all_departments,
        session_id=session_id,
        via_token=via_token,
        name=user.display_name or "",
        email=user.email,
        phone=user.phone,
    )


_PRINCIPAL_COLUMNS = (User.id, User.role, User.display_name, User.email, User.phone, User.language,
                      User.all_departments)
# Built once: these run on every request that carries a session cookie or a token.
_BY_TOKEN = select(*_PRINCIPAL_COLUMNS).join(ApiToken, ApiToken.user_id == User.id).where(
    ApiToken.digest == bindparam("digest"), ApiToken.expires_at > bindparam("now"), User.is_active.is_(True))
_BY_SESSION = select(*_PRINCIPAL_COLUMNS).join(UserSession, UserSession.user_id == User.id).where(
    UserSession.digest == bindparam("digest"), UserSession.expires_at > bindparam("now"),
    User.is_active.is_(True))
_MEMBERSHIPS = select(Membership.department_id).where(Membership.user_id == bindparam("user_id"))


def resolve_principal(db: Database, session_token: str | None, bearer: str | None) -> Principal:
    """The principal behind a session cookie or a bearer token (the kernel calls this on every
    request: one row read, plus the department memberships of staff)."""
    session_id = None
    if bearer:
        query, digest = _BY_TOKEN, token_digest(bearer)
    elif session_token:
        query, digest = _BY_SESSION, token_digest(session_token)
        session_id = digest
    else:
        return ANONYMOUS
    with db.lookup() as session:  # no transaction needed: the row, then (staff) their memberships
        row = session.execute(query, {"digest": digest, "now": utcnow()}).first()
        if row is None:
            return ANONYMOUS
        user_id, role, display_name, email, phone, language, all_departments = row
        departments: frozenset[int] = frozenset()
        if role != Role.CITIZEN:
            departments = frozenset(session.scalars(_MEMBERSHIPS, {"user_id": user_id}))
    return Principal(user_id=user_id, role=Role(role), display_name=display_name or (email or phone or ""),
                     language=language, department_ids=departments, all_departments=all_departments,
                     session_id=session_id, via_token=bool(bearer), name=display_name or "", email=email,
                     phone=phone)


def user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def _matching(query, search: str):
    like = f"%{search.strip().lower()}%"
    return query.where(or_(func.lower(User.display_name).like(like), User.email.like(like),
                           User.phone.like(like)))


def staff(session: Session, *, department_id: int | None = None, search: str = "",
          limit: int = 100, offset: int = 0) -> tuple[list[User], int]:
    query = select(User).where(User.role != Role.CITIZEN, User.erased_at.is_(None))
    if search.strip():
        query = _matching(query, search)
    if department_id is not None:
        query = query.where(User.memberships.any(Membership.department_id == department_id))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(User.role, User.display_name).limit(limit).offset(offset))
    return list(rows), total


def users(session: Session, *, role: str | None = None, search: str = "", limit: int = 50,
          offset: int = 0) -> tuple[list[User], int]:
    query = select(User).where(User.erased_at.is_(None))
    if role:
        query = query.where(User.role == role)
    if search.strip():
        query = _matching(query, search)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(User.id).limit(limit).offset(offset))
    return list(rows), total


def count_by_role(session: Session) -> dict[str, int]:
    rows = session.execute(select(User.role, func.count()).where(User.erased_at.is_(None))
                           .group_by(User.role))
    return {role: count for role, count in rows}


def public(user: User) -> dict[str, Any]:
    return {
        "id": user.id, "role": user.role, "display_name": user.display_name,
        "phone": user.phone, "email": user.email, "language": user.language,
        "is_active": user.is_active, "confirmed": user.confirmed_at is not None,
        "department_ids": sorted(user.department_ids), "all_departments": user.all_departments,
        "created_at": user.created_at,
    }


# ------------------------------------------------------------ personal data (privacy hooks)

def export_account(session: Session, user_id: int) -> dict[str, Any]:
    u = session.get(User, user_id)
    if u is None:
        return {}
    sessions = session.scalars(select(UserSession).where(UserSession.user_id == user_id))
    return {
        "profile": {**public(u), "created_at": u.created_at.isoformat(),
                    "confirmed_at": u.confirmed_at.isoformat() if u.confirmed_at else None},
        "sessions": [{"created_at": s.created_at.isoformat(), "expires_at": s.expires_at.isoformat(),
                      "ip": s.ip, "user_agent": s.user_agent} for s in sessions],
    }


def erase_account_data(session: Session, user_id: int) -> None:
    """Keep the row (an anonymous id other records may point to), drop everything personal."""
    for model in (UserSession, ApiToken, OneTimeCode):
        session.execute(delete(model).where(model.user_id == user_id))
    session.execute(update(User).where(User.id == user_id).values(
        display_name="", phone=None, email=None, password_hash=None, language=None,
        is_active=False, erased_at=utcnow()))
