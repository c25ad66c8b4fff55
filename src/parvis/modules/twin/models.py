"""The twin's tables: raster layers (files under ``data_dir/twin``), buildings, roof faces with their
solar results, zones (zoning, flood hazard, protected areas) and runs of long computations.

Geometry follows the platform's convention: GeoJSON text in (lon, lat) with its bounding box in
four float columns (B-tree indexed, the same on SQLite and PostgreSQL), plus the same shape in the
twin's local metric CRS (GeoJSON text, metres) for the engines. Districts are referenced by id
only (the city module owns them; no foreign key across modules).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from parvis.kernel.db import Base, UTCDateTime, utcnow

LAYER_KINDS = ("dtm", "dsm", "hazard", "thermography")
ZONE_KINDS = ("zoning", "hazard", "protected")
HAZARD_LEVELS = ("low", "medium", "high")
RUN_STATUSES = ("queued", "running", "done", "failed")


def search_key(text: str | None) -> str | None:
    """Lower case, accents and the Vietnamese đ removed, spaces collapsed: what address search
    compares (``Lê Lợi`` and ``le loi`` find the same street)."""
    if text is None:
        return None
    text = text.replace("đ", "d").replace("Đ", "D")
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(plain.lower().split())


class Layer(Base):
    """A raster of the twin, stored as a GeoTIFF under ``data_dir/twin`` (path relative to
    ``data_dir``). One layer per kind: importing a kind again replaces it."""

    __tablename__ = "twin_layers"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), unique=True)
    path: Mapped[str] = mapped_column(String(500))
    crs: Mapped[str] = mapped_column(String(64))
    resolution: Mapped[float] = mapped_column(Float)
    west: Mapped[float] = mapped_column(Float)
    south: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(300), default="")
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Building(Base):
    """A building: footprint, heights, roof type and what an energy estimate needs (nullable
    where the source does not say)."""

    __tablename__ = "twin_buildings"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(128), unique=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    address_key: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    district_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    footprint: Mapped[str] = mapped_column(Text)  # GeoJSON, lon/lat
    lon_min: Mapped[float] = mapped_column(Float)
    lat_min: Mapped[float] = mapped_column(Float)
    lon_max: Mapped[float] = mapped_column(Float)
    lat_max: Mapped[float] = mapped_column(Float)
    footprint_local: Mapped[str] = mapped_column(Text)  # GeoJSON, local metres
    ground_m: Mapped[float | None] = mapped_column(Float, nullable=True)  # altitude of the ground
    height_m: Mapped[float] = mapped_column(Float)  # top of the roof above the ground
    roof_type: Mapped[str] = mapped_column(String(16), default="unknown")
    roof_tilt: Mapped[float | None] = mapped_column(Float, nullable=True)
    storeys: Mapped[int | None] = mapped_column(Integer, nullable=True)
    construction_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    construction_period: Mapped[str | None] = mapped_column(String(32), nullable=True)
    floor_area_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    population: Mapped[int | None] = mapped_column(Integer, nullable=True)
    households: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attached_sides: Mapped[int | None] = mapped_column(Integer, nullable=True)
    wall_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    roof_construction: Mapped[str | None] = mapped_column(String(32), nullable=True)
    window_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    heating_system: Mapped[str | None] = mapped_column(String(32), nullable=True)
    heat_loss_level: Mapped[int | None] = mapped_column(Integer, nullable=True)  # thermography, 1-6
    source: Mapped[str] = mapped_column(String(32), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    faces: Mapped[list[RoofFaceRow]] = relationship(back_populates="building", cascade="all, delete-orphan",
                                                    passive_deletes=True, order_by="RoofFaceRow.id")

    __table_args__ = (Index("ix_twin_buildings_box", "lon_min", "lat_min", "lon_max", "lat_max"),)


class RoofFaceRow(Base):
    """One roof face (3-D polygon in local metres, z above ground) and the solar run's results."""

    __tablename__ = "twin_roof_faces"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("twin_buildings.id", ondelete="CASCADE"), index=True)
    polygon_local: Mapped[str] = mapped_column(Text)
    tilt: Mapped[float] = mapped_column(Float)
    azimuth: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)
    annual_kwh_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    monthly_kwh_m2: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of 12 numbers
    usable_area_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    kwp: Mapped[float | None] = mapped_column(Float, nullable=True)
    yearly_kwh: Mapped[float | None] = mapped_column(Float, nullable=True)
    saving: Mapped[float | None] = mapped_column(Float, nullable=True)
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    building: Mapped[Building] = relationship(back_populates="faces")


class Zone(Base):
    """An area of a plan: a zoning category (buildable or not), a flood-hazard level or a
    protected area. Importing a kind again replaces that kind's zones."""

    __tablename__ = "twin_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)  # zoning category
    buildable: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    hazard_level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON, lon/lat
    lon_min: Mapped[float] = mapped_column(Float)
    lat_min: Mapped[float] = mapped_column(Float)
    lon_max: Mapped[float] = mapped_column(Float)
    lat_max: Mapped[float] = mapped_column(Float)
    geometry_local: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(300), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_twin_zones_box", "lon_min", "lat_min", "lon_max", "lat_max"),)


class Run(Base):
    """A long computation (solar map, flood what-if...) shown with its progress."""

    __tablename__ = "twin_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    message: Mapped[str] = mapped_column(String(500), default="")
    # what the run decided, for the pages (the solar run: its sky and PV threshold)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
