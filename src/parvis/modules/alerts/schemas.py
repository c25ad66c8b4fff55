"""Pydantic models at the alerts module's edge: composing an alert, subscribing to places.

Coordinates and radii are only typed here, not ranged: ``area`` checks them, so that swapped
latitude and longitude or a negative radius get their own problem type rather than a generic one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from parvis.modules.alerts.standards.cap import Category, Certainty, ResponseType, Severity, Urgency

Language = Literal["fr", "en", "vi", "km", "ar"]
AlertStatus = Literal["Actual", "Exercise", "Test"]
Channel = Literal["sms", "email", "push"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InfoIn(Strict):
    """The alert's words in one language."""

    language: Language
    headline: str = Field(min_length=1, max_length=160)
    description: str = Field("", max_length=4000)
    instruction: str = Field("", max_length=2000)


class CircleIn(Strict):
    lon: float
    lat: float
    radius_km: float


class AreaIn(Strict):
    """Where the alert applies: districts, a polygon of (lon, lat) points, a circle, or several."""

    description: str = Field("", max_length=500)
    district_ids: list[int] = Field(default_factory=list, max_length=200)
    polygon: list[list[float]] | None = Field(None, max_length=5000)
    circle: CircleIn | None = None


class AlertCreate(Strict):
    status: AlertStatus = "Actual"
    event: str = Field(min_length=1, max_length=200)
    categories: list[Category] = Field(min_length=1, max_length=12)
    response_types: list[ResponseType] = Field(default_factory=list, max_length=9)
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    web: str = Field("", max_length=500, pattern=r"^(https?://\S+)?$")
    contact: str = Field("", max_length=300)
    note: str = Field("", max_length=2000)
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    infos: list[InfoIn] = Field(min_length=1, max_length=5)
    area: AreaIn

    @field_validator("effective", "onset", "expires")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("a time needs its offset, such as +07:00 or Z")
        return value

    @field_validator("infos")
    @classmethod
    def _one_per_language(cls, value: list[InfoIn]) -> list[InfoIn]:
        if len({i.language for i in value}) != len(value):
            raise ValueError("one text per language")
        return value


class CancelIn(Strict):
    note: str = Field("", max_length=2000)


class SubscriptionCreate(Strict):
    """A place to be warned about: a point (lon, lat) or a district."""

    label: str = Field("", max_length=100)
    lon: float | None = None
    lat: float | None = None
    district_id: int | None = None
    categories: list[Category] = Field(default_factory=list, max_length=12)
    channels: list[Channel] = Field(min_length=1, max_length=3)
    language: Language | None = None
    tester: bool = False


class RepublishIn(Strict):
    """Relaying an imported alert: the source's area is kept unless an area is given (needed when
    the source's area has several separate parts or only codes); the note is added to the draft's."""

    area: AreaIn | None = None
    note: str = Field("", max_length=1000)


class DismissIn(Strict):
    note: str = Field("", max_length=1000)
