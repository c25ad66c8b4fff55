"""The sensor hub's background work: dead letters are kept ``PARVIS_SENSORS_DEAD_LETTER_DAYS``
days, then forgotten (anyone may post to ``/iot/json``: the table must not grow forever)."""

from __future__ import annotations

import time

from parvis.kernel.db import Database
from parvis.kernel.events import EventBus
from parvis.kernel.jobs import JobRegistry, Tick
from parvis.modules.sensors import actions, aggregates, notifier, rules
from parvis.settings import Settings

PURGE_EVERY_SECONDS = 3600


def purge_tick(settings: Settings) -> Tick:
    last = {"at": -float(PURGE_EVERY_SECONDS)}

    def sensors_purge(db: Database) -> int:
        if time.monotonic() - last["at"] < PURGE_EVERY_SECONDS:
            return 0
        last["at"] = time.monotonic()
        actions.purge_dead_letters(db, settings.sensors_dead_letter_days)
        return 0  # housekeeping, not work: the worker keeps its idle pace

    return sensors_purge


def register(registry: JobRegistry, bus: EventBus, db: Database, settings: Settings) -> None:
    registry.add_tick(purge_tick(settings))
    notifier.register(registry, bus, db, settings)
    rules.register(registry, bus, db, settings)
    aggregates.register(registry, bus, db, settings)
