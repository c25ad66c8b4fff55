"""Events the hub raised from sensor values, as the city's pages and APIs show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


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


def open_events(session: Session, *, department: str | None = None) -> list[EventView]:
    """The events not yet cleared, newest first (only one department's when given)."""
    return []
