"""Accounts: people, roles, department memberships, sessions, tokens, export and erasure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from parvis.kernel.auth import Principal
from parvis.modules.accounts.models import User
from parvis.modules.accounts.queries import resolve_principal


@dataclass(frozen=True)
class Contact:
    """How to reach a person, for modules that notify them (never shown publicly)."""

    user_id: int
    display_name: str
    phone: str | None
    email: str | None
    language: str | None
    role: str


_CONTACT_COLUMNS = (User.id, User.display_name, User.phone, User.email, User.language, User.role)
_CONTACT = select(*_CONTACT_COLUMNS).where(User.id == bindparam("user_id"), User.is_active.is_(True))


def contact_of(session: Session, user_id: int) -> Contact | None:
    """How to reach an active person (one row read: called on every report filed)."""
    row = session.execute(_CONTACT, {"user_id": user_id}).first()
    return Contact(*row) if row is not None else None


def contacts_of(session: Session, user_ids: Iterable[int]) -> dict[int, Contact]:
    """How to reach several active people at once (one query), by user id; the inactive are left out."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(select(*_CONTACT_COLUMNS).where(User.id.in_(ids), User.is_active.is_(True)))
    return {row[0]: Contact(*row) for row in rows}


def contact_by_identifier(session: Session, kind: str, value: str) -> Contact | None:
    """The active person with this (normalised) phone number or e-mail address, or None."""
    column = User.phone if kind == "phone" else User.email
    row = session.execute(select(*_CONTACT_COLUMNS).where(column == value, User.is_active.is_(True))).first()
    return Contact(*row) if row is not None else None


def contact_from(principal: Principal) -> Contact | None:
    """How to reach the person behind a request, from what was read with the principal."""
    if principal.user_id is None:
        return None
    return Contact(principal.user_id, principal.name, principal.phone, principal.email, principal.language,
                   principal.role.value)


def staff_of(session: Session, department_id: int) -> list[Contact]:
    """The active agents and supervisors of a department."""
    from parvis.modules.accounts.queries import staff

    members, _total = staff(session, department_id=department_id, limit=500)
    return [Contact(u.id, u.display_name, u.phone, u.email, u.language, u.role)
            for u in members if u.is_active and u.role in ("agent", "supervisor")]


def supervisors_of(session: Session, department_id: int) -> list[Contact]:
    return [c for c in staff_of(session, department_id) if c.role == "supervisor"]


def is_staff_of(session: Session, user_id: int, department_id: int) -> bool:
    user = session.get(User, user_id)
    return bool(user and user.is_active and user.role != "citizen"
                and (user.role == "admin" or user.all_departments or department_id in user.department_ids))


__all__ = [
    "Contact", "contact_by_identifier", "contact_from", "contact_of", "contacts_of", "is_staff_of",
    "resolve_principal",
    "staff_of", "supervisors_of",
]
