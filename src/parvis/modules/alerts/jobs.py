"""Background work of the alerts module: the fan-out of approved alerts, and following the
outbox's sends, delivery reports and failures onto the delivery records (by its events, and a
tick that catches up what a crash kept from them); the follow-up of an Update
for people outside its new area, SMS keyword commands, and the polling of import feeds."""

from __future__ import annotations

from typing import Any

from parvis.kernel.db import Database
from parvis.kernel.events import Event, EventBus
from parvis.kernel.jobs import JobRegistry, enqueue
from parvis.modules.alerts import actions, event_drafts, followup, reconcile, sms, targeting
from parvis.modules.alerts.imports import feeds
from parvis.settings import Settings


def register(registry: JobRegistry, bus: EventBus, db: Database, settings: Settings) -> None:
    """Wire the module into the worker and the event bus (called by the app factory and worker)."""

    @registry.handler(actions.FAN_OUT_JOB)
    def fan_out(database: Database, payload: dict[str, Any]) -> None:
        targeting.fan_out(database, settings, int(payload["alert_id"]))

    @registry.handler(followup.FOLLOW_UP_JOB)
    def follow_up(database: Database, payload: dict[str, Any]) -> None:
        followup.fan_out(database, settings, int(payload["alert_id"]))

    @registry.handler(sms.SMS_JOB)
    def sms_command(database: Database, payload: dict[str, Any]) -> None:
        sms.handle(database, settings, payload["sender"], payload["text"], payload.get("id"))

    def on_sms(event: Event) -> None:
        # Keywords only: any other SMS is not for alerts (the reports module takes it).
        if not sms.is_command(str(event.payload.get("text") or ""), settings):
            return
        with db.transaction() as session:  # durable hand-off, once per received SMS
            payload = {name: event.payload[name] for name in ("sender", "text", "id")}
            enqueue(session, sms.SMS_JOB, payload, key=f"{sms.SMS_JOB}:{payload['id']}")

    bus.subscribe("sms.received", on_sms)

    @registry.handler(feeds.POLL_JOB)
    def poll_feeds(database: Database, payload: dict[str, Any]) -> None:
        feeds.poll_all(database, settings)

    registry.add_tick(feeds.poll_tick(settings))

    def on_outcome(event: Event) -> None:
        if event.payload.get("purpose") != targeting.PURPOSE:
            return
        if event.name == "notify.sent":  # one event per batch the worker sent
            actions.record_outcome(db, event.payload["message_ids"], "sent")
            return
        actions.record_outcome(db, event.payload["message_id"],
                               "delivered" if event.name == "notify.delivered" else "failed",
                               str(event.payload.get("error") or ""))

    registry.add_tick(reconcile.catch_up_tick())  # what those events could not tell (a crash)
    bus.subscribe("notify.sent", on_outcome)
    bus.subscribe("notify.delivered", on_outcome)
    bus.subscribe("notify.failed", on_outcome)

    # an air-quality event of the sensor hub: a draft alert, for a person to check and approve
    @registry.handler(event_drafts.DRAFT_JOB)
    def sensor_draft(database: Database, payload: dict[str, Any]) -> None:
        event_drafts.compose_draft(database, settings, payload)

    bus.subscribe("sensors.event_raised", lambda event: event_drafts.on_event_raised(db, settings, event))
