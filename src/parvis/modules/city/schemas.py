"""Pydantic models at the city module's edge."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from parvis.kernel.api import reject_null
from parvis.modules.city.models import DEPARTMENT_KINDS

CODE_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"


class DistrictCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN, max_length=20)
    name: str = Field(min_length=1, max_length=200)
    name_local: str = Field("", max_length=200)
    population: int | None = Field(None, ge=0)
    geometry: dict[str, Any]


class DistrictUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    name_local: str | None = Field(None, max_length=200)
    population: int | None = Field(None, ge=0)
    geometry: dict[str, Any] | None = None

    _not_null = reject_null("name", "name_local", "geometry")


class DistrictPublic(BaseModel):
    id: int
    code: str
    name: str
    name_local: str
    population: int | None


class DepartmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN)
    kind: str = Field("other", pattern="^(" + "|".join(DEPARTMENT_KINDS) + ")$")
    name: str = Field(min_length=1, max_length=200)
    name_local: str = Field("", max_length=200)
    email: str = Field("", max_length=200)
    phone: str = Field("", max_length=40)


class DepartmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    name_local: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    active: bool | None = None

    _not_null = reject_null("name", "name_local", "email", "phone", "active")


class DepartmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    kind: str
    name: str
    name_local: str
    email: str
    phone: str
    active: bool
