"""Rules that turn sensor values into events for the city's departments: congestion on a road
segment (mobility), a pollutant over its threshold (environment). Run inside the writing
transaction (see ``changes.py``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from parvis.modules.sensors.changes import Change


def on_changes(session: Session, changes: list[Change]) -> None:
    """Raise or clear events for the entities that changed."""
