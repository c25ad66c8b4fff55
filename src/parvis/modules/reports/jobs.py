"""Background work of the reports module: SMS intake, the overdue escalation and the purge of
web reports never confirmed."""

from __future__ import annotations

import time
from typing import Any

from parvis.kernel.db import Database
from parvis.kernel.events import Event, EventBus
from parvis.kernel.jobs import JobRegistry, enqueue
from parvis.modules.reports import actions, pending, sms, sms_intake
from parvis.settings import Settings

SMS_JOB = "reports.sms_intake"


def register(registry: JobRegistry, bus: EventBus, db: Database, settings: Settings) -> None:
    """Wire the module into the worker and the event bus (called by the app factory and worker)."""

    @registry.handler(SMS_JOB)
    def report_from_sms(database: Database, payload: dict[str, Any]) -> None:
        sms_intake.report_by_sms(database, settings, payload["sender"], payload["text"])

    def on_sms(event: Event) -> None:
        if sms.for_alerts(event.payload["text"], settings):  # an alerts subscription command, not a report
            return
        # Durable hand-off: the SMS is stored; the job turns it into a report, even after a crash.
        with db.transaction() as session:
            enqueue(session, SMS_JOB, {"sender": event.payload["sender"], "text": event.payload["text"]},
                    key=f"sms:{event.payload['id']}")

    bus.subscribe("sms.received", on_sms)
    registry.add_tick(_every(60, lambda database: actions.escalate_overdue(database, settings)))
    registry.add_tick(_every(300, pending.purge_tick(settings)))


def _every(seconds: float, fn: Any) -> Any:
    last = {"at": 0.0}

    def tick(database: Database) -> int:
        now = time.monotonic()
        if now - last["at"] < seconds:
            return 0
        last["at"] = now
        return fn(database)

    tick.__name__ = getattr(fn, "__name__", "reports.tick")
    return tick
