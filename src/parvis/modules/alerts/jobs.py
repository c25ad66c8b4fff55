"""Background work of the alerts module: the fan-out of approved alerts, and following the
outbox's delivery reports and failures onto the delivery records."""

from __future__ import annotations

from typing import Any

from parvis.kernel.db import Database
from parvis.kernel.events import Event, EventBus
from parvis.kernel.jobs import JobRegistry
from parvis.modules.alerts import actions, targeting
from parvis.settings import Settings


def register(registry: JobRegistry, bus: EventBus, db: Database, settings: Settings) -> None:
    """Wire the module into the worker and the event bus (called by the app factory and worker)."""

    @registry.handler(actions.FAN_OUT_JOB)
    def fan_out(database: Database, payload: dict[str, Any]) -> None:
        targeting.fan_out(database, settings, int(payload["alert_id"]))

    def on_outcome(event: Event) -> None:
        if event.payload.get("purpose") != targeting.PURPOSE:
            return
        actions.record_outcome(db, event.payload["message_id"], event.name == "notify.delivered",
                               str(event.payload.get("error") or ""))

    bus.subscribe("notify.delivered", on_outcome)
    bus.subscribe("notify.failed", on_outcome)
