"""Hourly and daily aggregates of observations (kept after the raw observations expire) and the
typical profile of an attribute by weekday and hour."""

from __future__ import annotations

from sqlalchemy.orm import Session

from parvis.kernel.db import Database
from parvis.kernel.events import EventBus
from parvis.kernel.jobs import JobRegistry
from parvis.settings import Settings


def profile(session: Session, entity_id: str, attribute: str, *, weeks: int = 8
            ) -> dict[tuple[int, int], float]:
    """The typical value of a numeric attribute by (weekday 0=Monday..6, local hour 0..23) over
    the last ``weeks`` weeks: what a chart draws as "a typical weekday" beside today."""
    raise NotImplementedError


def register(registry: JobRegistry, bus: EventBus, db: Database, settings: Settings) -> None:
    """Add the worker's rollups and retention."""
