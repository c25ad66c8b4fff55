"""Who is asking, and what each role may do: one access table for the whole platform.

``ACCESS`` maps each permission to the roles that hold it. Routes declare the permission
they need with ``require(...)``; the test suite walks every route that declares one and
checks every role against this table. Department scoping (an agent sees only their own
department) is checked by ``Principal.can_act_for_department``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request

from parvis.kernel.errors import Forbidden, NotAuthenticated


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    CITIZEN = "citizen"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})

# permission -> roles that hold it. The one place where access is decided.
ACCESS: dict[str, frozenset[Role]] = {
    "account.self": frozenset({Role.CITIZEN, Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "backoffice.view": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "department.view": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "reports.handle": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "reports.configure": frozenset({Role.ADMIN}),
    "alerts.compose": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "alerts.approve": frozenset({Role.SUPERVISOR, Role.ADMIN}),
    "twin.plan": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "city.manage": frozenset({Role.ADMIN}),
    "users.manage": frozenset({Role.ADMIN}),
    "audit.view": frozenset({Role.ADMIN}),
    "outbox.view": frozenset({Role.ADMIN}),
}


@dataclass(frozen=True)
class Principal:
    """The person (or machine client) behind a request, as the kernel sees them."""

    user_id: int | None = None
    role: Role = Role.ANONYMOUS
    display_name: str = ""
    language: str | None = None
    department_ids: frozenset[int] = field(default_factory=frozenset)
    all_departments: bool = False
    session_id: str | None = None
    via_token: bool = False
    # How to reach them, read with the principal (never shown publicly): modules that file
    # something for this person need no second read of their account.
    name: str = ""
    email: str | None = None
    phone: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def has(self, permission: str) -> bool:
        return self.role in ACCESS[permission]

    @property
    def department_scope(self) -> frozenset[int] | None:
        """The departments this person works for; None means every department."""
        if self.role == Role.ADMIN or self.all_departments:
            return None
        return self.department_ids if self.is_staff else frozenset()

    def can_act_for_department(self, department_id: int) -> bool:
        scope = self.department_scope
        return scope is None or department_id in scope


ANONYMOUS = Principal()


def current_principal(request: Request) -> Principal:
    return getattr(request.state, "principal", ANONYMOUS)


def require(permission: str):
    """Dependency: the request's principal must hold ``permission``."""
    if permission not in ACCESS:
        raise KeyError(f"unknown permission {permission!r}")

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if not principal.has(permission):
            if not principal.is_authenticated:
                raise NotAuthenticated()
            raise Forbidden()
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


def require_department(principal: Principal, department_id: int) -> None:
    if not principal.can_act_for_department(department_id):
        raise Forbidden()


_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("parvis-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-shape check: unknown users cost the same as wrong passwords."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """What we store for a secret token: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_code(digits: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))
