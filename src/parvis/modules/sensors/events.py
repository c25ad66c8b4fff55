"""Events the hub raised from sensor values, as the city's pages and APIs show them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from parvis.kernel.errors import N_
from parvis.kernel.i18n import _
from parvis.modules.sensors.event_models import SensorEvent

KINDS = ("congestion", "air_quality")
DEPARTMENT_OF = {"congestion": "mobility", "air_quality": "environment"}
POLLUTANT_NAMES = {"pm25": "PM2.5", "pm10": "PM10", "no2": "NO₂", "o3": "O₃", "so2": "SO₂", "co": "CO"}
SUMMARIES = {
    "congestion": N_("Congestion on %(label)s: level of service %(level)s, travel time ×%(value)s"),
    "air_quality": N_("%(pollutant)s at %(value)s µg/m³ at %(label)s (threshold %(threshold)s)"),
}


@dataclass(frozen=True)
class EventView:
    id: int
    kind: str  # "congestion" | "air_quality" | ...
    department: str  # the department kind it is raised to: "mobility", "environment"...
    entity_id: str
    entity_type: str  # short type name: "TrafficFlowObserved"
    severity: str
    summary: str  # already translated for the reader's language where shown on a page
    value: float | None
    threshold: float | None
    raised_at: datetime
    cleared_at: datetime | None
    location: dict[str, Any] | None  # GeoJSON geometry
    # added after the contract, with defaults: what the summary is made of
    key: str = ""  # the pollutant of an air-quality event
    level: str | None = None  # level of service of a congestion event
    label: str = ""
    peak: float | None = None
    updated_at: datetime | None = None


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}".rstrip("0").rstrip(".")


def summary(row: SensorEvent) -> str:
    """One line saying what happened, in the current request's language."""
    message = SUMMARIES.get(row.kind)
    if message is None:
        return row.label or row.entity_id
    return _(message, label=row.label or row.entity_id.rsplit(":", 1)[-1], level=row.level or "?",
             value=_fmt(row.value), threshold=_fmt(row.threshold),
             pollutant=POLLUTANT_NAMES.get(row.key, row.key))


def view(row: SensorEvent) -> EventView:
    return EventView(id=row.id, kind=row.kind, department=row.department, entity_id=row.entity_id,
                     entity_type=row.entity_type, severity=row.severity, summary=summary(row),
                     value=row.value, threshold=row.threshold, raised_at=row.raised_at,
                     cleared_at=row.cleared_at, location=row.location, key=row.key, level=row.level,
                     label=row.label, peak=row.peak, updated_at=row.updated_at)


def open_events(session: Session, *, department: str | None = None) -> list[EventView]:
    """The events not yet cleared, newest first (only one department's when given)."""
    query = select(SensorEvent).where(SensorEvent.cleared_at.is_(None))
    if department is not None:
        query = query.where(SensorEvent.department == department)
    rows = session.scalars(query.order_by(SensorEvent.raised_at.desc(), SensorEvent.id.desc()))
    return [view(row) for row in rows]


def events(session: Session, *, departments: Collection[str] | None = None, kind: str | None = None,
           status: str | None = None, since: datetime | None = None, entity_id: str | None = None,
           limit: int = 200) -> list[EventView]:
    """Open events and those cleared since ``since``, newest first: ``departments`` (kinds) limits
    them to those departments (None: all), ``status`` is "open" or "cleared"."""
    query = select(SensorEvent)
    if departments is not None:
        query = query.where(SensorEvent.department.in_(list(departments)))
    if kind is not None:
        query = query.where(SensorEvent.kind == kind)
    if entity_id is not None:
        query = query.where(SensorEvent.entity_id == entity_id)
    if status == "open":
        query = query.where(SensorEvent.cleared_at.is_(None))
    elif status == "cleared":
        query = query.where(SensorEvent.cleared_at.is_not(None))
    if since is not None:
        query = query.where(or_(SensorEvent.cleared_at.is_(None), SensorEvent.cleared_at >= since))
    query = query.order_by(SensorEvent.raised_at.desc(), SensorEvent.id.desc()).limit(limit)
    return [view(row) for row in session.scalars(query)]


def feature(event: EventView) -> dict[str, Any]:
    """A GeoJSON feature of an event (times in UTC, ISO 8601)."""
    def stamp(at: datetime | None) -> str | None:
        return at.isoformat().replace("+00:00", "Z") if at is not None else None

    return {"type": "Feature", "id": event.id, "geometry": event.location,
            "properties": {"kind": event.kind, "department": event.department, "entityId": event.entity_id,
                           "entityType": event.entity_type, "severity": event.severity,
                           "summary": event.summary, "pollutant": event.key or None, "level": event.level,
                           "label": event.label, "value": event.value, "peak": event.peak,
                           "threshold": event.threshold, "raisedAt": stamp(event.raised_at),
                           "updatedAt": stamp(event.updated_at), "clearedAt": stamp(event.cleared_at),
                           "status": "open" if event.cleared_at is None else "cleared"}}
