"""Rules that turn sensor values into events for the city's departments: congestion on a road
segment (mobility), a pollutant over its threshold (environment). Run inside the writing
transaction (see ``changes.py``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from parvis.kernel.db import Database
from parvis.kernel.events import EventBus
from parvis.kernel.jobs import JobRegistry
from parvis.modules.sensors.changes import Change
from parvis.settings import Settings


def on_changes(session: Session, changes: list[Change]) -> None:
    """Raise or clear events for the entities that changed."""


def register(registry: JobRegistry, bus: EventBus, db: Database, settings: Settings) -> None:
    """Add the worker's work for events (if any)."""
