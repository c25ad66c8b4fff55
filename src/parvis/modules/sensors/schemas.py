"""Pydantic models of the sensor hub's own JSON API (API keys); NGSI-LD payloads are read by
``standards/ngsi_ld.py``, not here."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    read: bool = True
    write: bool = False


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    can_read: bool
    can_write: bool
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyPublic):
    key: str  # shown once: only its digest is kept
