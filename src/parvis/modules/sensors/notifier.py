"""Delivery of NGSI-LD subscription notifications (the outbox ``subscriptions.py`` fills)."""

from __future__ import annotations

from parvis.kernel.db import Database
from parvis.kernel.events import EventBus
from parvis.kernel.jobs import JobRegistry
from parvis.settings import Settings


def register(registry: JobRegistry, bus: EventBus, db: Database, settings: Settings) -> None:
    """Add the worker's notification delivery."""
