"""Hourly and daily aggregates of observations, kept after the raw observations expire.

An hour is a UTC hour (its start); a day is the city's local calendar day. Each row holds what
is needed to merge more readings in and to give an average: count, sum, min and max of the
numeric readings. ``sensors_aggregate_state`` keeps how far the rollup has read the
observations (by id): the observations at or below it are in the aggregates.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from parvis.kernel.db import Base, UTCDateTime, utcnow


class HourlyAggregate(Base):
    __tablename__ = "sensors_aggregates_hourly"

    entity_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(256), primary_key=True)  # full IRI
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)  # start, UTC
    count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    total: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_sensors_aggregates_hourly_hour", "hour"),)


class DailyAggregate(Base):
    __tablename__ = "sensors_aggregates_daily"

    entity_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(256), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # the city's local date
    count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    total: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_sensors_aggregates_daily_day", "day"),)


class AggregateHour(Base):
    """The highest observation id folded into each UTC hour: every observation of the hours
    before a time has an id at or below the highest of theirs, which bounds the retention's scan."""

    __tablename__ = "sensors_aggregate_hours"

    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    max_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))


class AggregateState(Base):
    """How far the rollup has read ``sensors_observations``: the highest id folded in."""

    __tablename__ = "sensors_aggregate_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), default=0)
    timezone: Mapped[str] = mapped_column(String(64), default="")  # of the days, as last rolled up
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
