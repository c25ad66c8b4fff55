"""The sensor hub's tables: the NGSI-LD context broker's entities and its clients' API keys.

Entities keep Parvis' normalised form (``standards/ngsi_ld.py``): the type's full IRI and the
attributes keyed by full IRI. The location is also kept as a bounding box so that geo-queries
prefilter with an index before the exact test in Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parvis.kernel.db import Base, UTCDateTime, utcnow


class Entity(Base):
    __tablename__ = "sensors_entities"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    type: Mapped[str] = mapped_column(String(256))  # indexed with id and with the box
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lon_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_sensors_entities_type_box", "type", "lon_min", "lat_min", "lon_max", "lat_max"),
        Index("ix_sensors_entities_type_id", "type", "id"),
        Index("ix_sensors_entities_box", "lon_min", "lat_min", "lon_max", "lat_max"),
    )
    # On SQLite the rows are kept together by type (migration 0020: each type has a range of
    # rowids, a trigger moves a new entity to the end of its type's range), so that a batch of one
    # type rewrites a few neighbouring pages rather than pages shared with every other type.
    # ``modified_at`` is not indexed: every update changes it, and on PostgreSQL an indexed column
    # that changes makes each update a new entry in every index of the table (no heap-only update).
    # What needs "changed since" (the operations room) follows ``FeedLog`` instead.


class FeedLog(Base):
    """The operations room's feed (``live.py``): after each transaction that wrote entities drawn on
    its map, one row naming them. Rows older than ``live.LOG_KEEP`` are deleted by the writers."""
    __tablename__ = "sensors_feed_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    entity_ids: Mapped[list[str]] = mapped_column(JSON)

    __table_args__ = (Index("ix_sensors_feed_log_at", "at", "id"),)


class ApiKey(Base):
    """A client of the NGSI-LD API: its key's digest (never the key) and its scopes."""

    __tablename__ = "sensors_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    can_read: Mapped[bool] = mapped_column(Boolean, default=True)
    can_write: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# --------------------------------------------------------------------------------- ingestion

class Device(Base):
    """A provisioned device (IoT-agent style): the entity it feeds and how its short object ids
    map to attribute names. ``api_key`` is the device group's key, the first segment of its MQTT
    topic (``/<api_key>/<device_id>/attrs``): a routing key that the broker's ACLs protect."""

    __tablename__ = "sensors_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128), unique=True)
    api_key: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(256), index=True)
    entity_type: Mapped[str] = mapped_column(String(256))  # full IRI
    attributes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # object id -> attribute name
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Observation(Base):
    """One value of one attribute of one entity at the time it was observed (the temporal
    store). Unique on (entity, attribute, time): a repeated message stores nothing."""

    __tablename__ = "sensors_observations"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(256))
    attribute: Mapped[str] = mapped_column(String(256))  # full IRI
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    number: Mapped[float | None] = mapped_column(Float, nullable=True)  # numeric values, for aggregation
    value: Mapped[Any] = mapped_column(JSON, nullable=True)

    __table_args__ = (UniqueConstraint("entity_id", "attribute", "observed_at",
                                       name="uq_sensors_observations_entity_attribute_time"),)


class DeadLetter(Base):
    """A message that could not be stored, with the reason (kept for the device's owner)."""

    __tablename__ = "sensors_dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    api_key: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(128), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500))
    payload: Mapped[str] = mapped_column(Text)


class IngestCount(Base):
    """Messages stored, repeated, set aside, dropped or throttled, per hour and channel."""

    __tablename__ = "sensors_ingest_counts"

    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), default=0)
