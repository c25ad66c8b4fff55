"""Pydantic models at the reports module's edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parvis.kernel.api import reject_null

DESCRIPTION_MAX = 4000
ContactChannel = Literal["sms", "email", "push", "none"]
Language = Literal["fr", "en", "vi", "km", "ar"]
Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttributeValue(BaseModel):
    key: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)


class AttributeDefinition(Strict):
    """An extra question of a category (Open311 service definition attribute)."""

    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,50}$")
    datatype: Datatype = "string"
    required: bool = False
    description: str = Field(min_length=1, max_length=500)
    order: int = 0
    values: list[AttributeValue] = Field(default_factory=list)


class CategoryCreate(Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9]{2,20}$")
    name: str = Field(min_length=1, max_length=200)
    name_local: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)
    group: str = Field("", max_length=100)
    department_id: int
    sla_ack_hours: int = Field(48, ge=1, le=24 * 365)
    sla_resolve_hours: int = Field(24 * 14, ge=1, le=24 * 365)
    nearby_radius_m: int = Field(100, ge=0, le=5000)
    private: bool = False
    attributes: list[AttributeDefinition] = Field(default_factory=list)


class ReportCreate(Strict):
    category: str = Field(min_length=1, max_length=20, description="Category code.")
    description: str = Field("", max_length=DESCRIPTION_MAX)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    address: str = Field("", max_length=500, description="Address or landmark, when not on the map.")
    attributes: dict[str, Any] = Field(default_factory=dict)
    contact_channel: ContactChannel = "sms"
    show_name: bool = False
    # Contact details when there is no account (hotline, Open311 clients); never public.
    name: str = Field("", max_length=200)
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=254)
    language: Language | None = Field(
        None, description="Language the reporter is answered in when they have no account "
        "(default: the language of the request).")


class StatusChange(Strict):
    status: Literal["acknowledged", "in_progress", "resolved", "closed", "rejected"]
    comment: str = Field("", max_length=DESCRIPTION_MAX)
    reject_reason: Literal["duplicate", "not_city", "cannot_fix", "invalid"] | None = None
    referred_to: str = Field("", max_length=200)
    duplicate_of: int | None = None


class CommentCreate(Strict):
    text: str = Field(min_length=1, max_length=DESCRIPTION_MAX)
    public: bool = True


class Transfer(Strict):
    department_id: int
    reason: str = Field(min_length=1, max_length=1000)


class Assign(Strict):
    user_id: int | None


class Rating(Strict):
    rating: int = Field(ge=1, le=5)
    comment: str = Field("", max_length=2000)


class Reopen(Strict):
    reason: str = Field(min_length=1, max_length=2000)


class Redaction(Strict):
    description: str = Field(max_length=DESCRIPTION_MAX)

    _not_null = reject_null("description")


class RouteSet(Strict):
    category_id: int
    district_id: int | None = None
    department_id: int


class UpdatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    status: str | None
    text: str
    author_label: str


class ReportPublic(BaseModel):
    """What anyone may see of a report: no contact details, fuzzed location if private."""

    id: int
    category: str
    category_name: str
    status: str
    description: str
    address: str
    lon: float | None
    lat: float | None
    district: str | None
    department: str
    created_at: datetime
    updated_at: datetime
    interest_count: int
    reporter_name: str | None
    photos: list[str]
    rating: int | None
    timeline: list[UpdatePublic] = Field(default_factory=list)
