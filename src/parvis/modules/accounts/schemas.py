"""Pydantic models at the accounts module's edge. Unknown fields are refused, so a citizen
cannot slip ``role: admin`` into a sign-up or profile update."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from parvis.kernel.api import reject_null

Language = Literal["fr", "en", "vi", "km", "ar"]
StaffRole = Literal["agent", "supervisor", "admin"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUp(Strict):
    identifier: str = Field(min_length=3, max_length=254,
                            description="Phone number (preferred) or e-mail address.")
    password: str = Field(min_length=8, max_length=200)
    display_name: str = Field("", max_length=200)
    language: Language | None = None


class Confirm(Strict):
    identifier: str = Field(min_length=3, max_length=254)
    code: str = Field(pattern=r"^\d{6}$")


class PasswordResetRequest(Strict):
    identifier: str = Field(min_length=3, max_length=254)


class PasswordReset(Strict):
    identifier: str = Field(min_length=3, max_length=254)
    code: str = Field(pattern=r"^\d{6}$")
    password: str = Field(min_length=8, max_length=200)


class ProfileUpdate(Strict):
    display_name: str | None = Field(None, max_length=200)
    language: Language | None = None

    _not_null = reject_null("display_name")


class StaffCreate(Strict):
    display_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    role: StaffRole = "agent"
    password: str = Field(min_length=8, max_length=200)
    department_ids: list[int] = Field(default_factory=list)
    all_departments: bool = False
    language: Language | None = None


class StaffUpdate(Strict):
    display_name: str | None = Field(None, min_length=1, max_length=200)
    role: StaffRole | None = None
    department_ids: list[int] | None = None
    all_departments: bool | None = None
    is_active: bool | None = None

    _not_null = reject_null("display_name", "role", "department_ids", "all_departments", "is_active")


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    role: str
    display_name: str
    phone: str | None
    email: str | None
    language: str | None
    is_active: bool
    confirmed: bool
    department_ids: list[int]
    all_departments: bool
    created_at: datetime


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: int | None
    actor_label: str
    actor_role: str
    action: str
    object_type: str
    object_id: str
    ip: str
    changes: dict
