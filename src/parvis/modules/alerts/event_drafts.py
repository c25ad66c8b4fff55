"""Alert drafts from the sensor hub's air-quality events: when a station's pollutant goes over its
threshold (``sensors.event_raised``), a draft alert is prepared around the station, with the text
of a template in the city's language (and English). It is never sent by itself: a person reads
it, completes it and approves it in the alerts back office, as any other draft.

The hand-off is durable and happens once per sensor event: the event queues a job keyed by the
event's id (the hub may tell the same event twice: from the writing process and from the worker);
the job composes the draft. Clearing the event drafts nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from parvis.kernel.auth import Principal
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, ParvisError
from parvis.kernel.events import Event
from parvis.kernel.i18n import Translator
from parvis.kernel.jobs import enqueue
from parvis.modules.alerts import actions
from parvis.modules.alerts.schemas import AlertCreate
from parvis.settings import Settings

log = logging.getLogger(__name__)

DRAFT_JOB = "alerts.sensor_draft"
HOURS = 6  # how long the drafted alert lasts, from its drafting
POLLUTANTS = {"pm25": "PM2.5", "pm10": "PM10", "no2": "NO₂", "o3": "O₃", "so2": "SO₂", "co": "CO"}
EVENT = N_("Air pollution")
HEADLINE = N_("Air pollution: high %(pollutant)s near %(place)s")
DESCRIPTION = N_("The air-quality station %(place)s measured %(value)s µg/m³ of %(pollutant)s, over the "
                 "city's threshold of %(threshold)s µg/m³.")
INSTRUCTION = N_("Limit outdoor exercise, especially for children, elderly people and people with heart "
                 "or lung disease. Keep windows closed near busy roads and wear a mask outdoors.")
NOTE = N_("Drafted from the sensor hub's event %(event_id)s: check the text and the area before approval.")
SYSTEM = Principal(display_name="Parvis sensors")


def _number(value: Any) -> str:
    return f"{float(value):.1f}".rstrip("0").rstrip(".")


def draft_of(payload: dict[str, Any], settings: Settings) -> AlertCreate:
    """The draft alert for a raised air-quality event."""
    params = {"pollutant": POLLUTANTS.get(str(payload.get("pollutant")), str(payload.get("pollutant"))),
              "place": str(payload.get("label") or payload.get("entity_id") or "")[:80],
              "value": _number(payload.get("value") or 0),
              "threshold": _number(payload.get("threshold") or 0)}
    languages = [settings.default_language] + (["en"] if settings.default_language != "en" else [])
    infos = []
    for lang in languages:
        tr = Translator(lang)
        infos.append({"language": lang, "headline": tr.gettext(HEADLINE, **params)[:160],
                      "description": tr.gettext(DESCRIPTION, **params),
                      "instruction": tr.gettext(INSTRUCTION)})
    default = Translator(settings.default_language)
    return AlertCreate.model_validate({
        "status": "Actual", "event": default.gettext(EVENT), "categories": ["Env", "Health"],
        "response_types": ["Avoid", "Monitor"], "urgency": "Immediate",
        "severity": "Severe" if payload.get("severity") == "severe" else "Moderate", "certainty": "Observed",
        "expires": utcnow() + timedelta(hours=HOURS), "infos": infos,
        "note": default.gettext(NOTE, event_id=payload.get("event_id")),
        "area": {"description": params["place"], "circle": {
            "lon": float(payload["lon"]), "lat": float(payload["lat"]),
            "radius_km": settings.sensors_air_alert_radius_km}}})


def on_event_raised(db: Database, settings: Settings, event: Event) -> None:
    """Queue the drafting of an alert for an air-quality event (once per event)."""
    payload = event.payload
    if (not settings.sensors_air_alert_drafts or payload.get("kind") != "air_quality"
            or payload.get("lon") is None or payload.get("lat") is None):
        return
    try:
        with db.transaction() as session:
            enqueue(session, DRAFT_JOB, dict(payload), key=f"{DRAFT_JOB}:{payload['event_id']}")
    except IntegrityError:  # the other process told of it queued it at the same instant: done
        log.info("alert draft of sensor event %s already queued", payload.get("event_id"))


def compose_draft(db: Database, settings: Settings, payload: dict[str, Any]) -> int | None:
    """The job: compose the draft (None when the city's map refuses its area: nothing to retry)."""
    try:
        alert = actions.compose(db, settings, SYSTEM, draft_of(payload, settings))
    except ParvisError as exc:  # the station outside the city's districts...
        log.warning("no alert draft for sensor event %s: %s", payload.get("event_id"), exc)
        return None
    return alert.id
