"""Events the hub raises from its sensors (congestion on a road segment, a pollutant over its
threshold) for the city's departments.

At most one open event (``cleared_at`` null) per entity, kind and key (the pollutant of an
air-quality event, empty for congestion): a partial unique index holds it on both databases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from parvis.kernel.db import Base, UTCDateTime, utcnow


class SensorEvent(Base):
    __tablename__ = "sensors_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "congestion" | "air_quality"
    key: Mapped[str] = mapped_column(String(32), default="")  # the pollutant; "" for congestion
    department: Mapped[str] = mapped_column(String(40))  # a department kind: "mobility"...
    entity_id: Mapped[str] = mapped_column(String(256))
    entity_type: Mapped[str] = mapped_column(String(64))  # short type name
    label: Mapped[str] = mapped_column(String(200), default="")  # the segment's or station's name
    # CAP's words, lower-case: "moderate" (over the threshold), "severe" (level F, twice the threshold)
    severity: Mapped[str] = mapped_column(String(16), default="moderate")
    level: Mapped[str | None] = mapped_column(String(4), nullable=True)  # level of service A-F
    value: Mapped[float | None] = mapped_column(Float, nullable=True)  # the latest value
    peak: Mapped[float | None] = mapped_column(Float, nullable=True)  # the worst value while open
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # readings in a row (and since when) back under the clearing level: hysteresis
    calm_count: Mapped[int] = mapped_column(Integer, default=0)
    calm_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # GeoJSON geometry

    __table_args__ = (
        Index("uq_sensors_events_open", "entity_id", "kind", "key", unique=True,
              sqlite_where=text("cleared_at IS NULL"), postgresql_where=text("cleared_at IS NULL")),
        Index("ix_sensors_events_raised", "raised_at"),
        Index("ix_sensors_events_entity", "entity_id", "raised_at"),
    )
