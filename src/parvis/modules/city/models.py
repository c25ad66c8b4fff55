"""The city's own data: districts (real polygons) and departments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parvis.kernel.db import Base, UTCDateTime, utcnow

DEPARTMENT_KINDS = (
    "roads", "water", "waste", "lighting", "environment", "mobility", "police",
    "civil_protection", "other",
)


class District(Base):
    __tablename__ = "city_districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_local: Mapped[str] = mapped_column(String(200), default="")
    population: Mapped[int | None] = mapped_column(nullable=True)
    # GeoJSON MultiPolygon (lon, lat); the box feeds the R*Tree (SQLite) / GiST (PostGIS).
    geometry: Mapped[str] = mapped_column(Text)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Department(Base):
    __tablename__ = "city_departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(40), default="other")
    name: Mapped[str] = mapped_column(String(200))
    name_local: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
