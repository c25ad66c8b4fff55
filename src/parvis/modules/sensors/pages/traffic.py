"""Traffic pages for the city's staff.

- ``GET /sensors/traffic``: the live traffic map, road segments coloured and lettered by level of
  service (A-F), refreshed every ``PARVIS_SENSORS_TRAFFIC_REFRESH_SECONDS`` by
  ``static/traffic.js``; without JavaScript, the table of segments says the same.
- ``GET /sensors/traffic/segments.geojson``: the segments and their state.
- ``GET /sensors/traffic/{segment}``: one segment: its state, vehicles by class (count, speed and
  occupancy of motorcycles, cars, trucks and buses), and charts (inline
  SVG) of today's speed and flows by hour against the typical profile of the weekday.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from parvis.kernel.auth import Principal, require
from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_, NotFound
from parvis.kernel.i18n import _
from parvis.kernel.web import render
from parvis.modules.sensors import events, traffic_charts, traffic_queries
from parvis.modules.sensors.events_api import department_kinds

router = APIRouter(include_in_schema=False)
GEOJSON = "application/geo+json"
PERMISSION = "department.view"

LEVEL_LABELS = {"A": N_("A: free flow"), "B": N_("B: reasonably free flow"), "C": N_("C: stable flow"),
                "D": N_("D: approaching unstable flow"), "E": N_("E: unstable flow"), "F": N_("F: jammed")}
NO_DATA = N_("No data yet")
CLASS_LABELS = {"motorcycle": N_("Motorcycles"), "car": N_("Cars"), "heavyVehicle": N_("Trucks and buses")}
CHARTS = {
    "averageVehicleSpeed": (N_("Speed (km/h)"), N_("Average speed by hour, in km/h")),
    "motorcycleIntensity": (N_("Motorcycles per minute"), N_("Motorcycles counted per minute, by hour")),
    "carIntensity": (N_("Cars per minute"), N_("Cars counted per minute, by hour")),
    "heavyVehicleIntensity": (N_("Trucks and buses per minute"),
                              N_("Trucks and buses counted per minute, by hour")),
}


def _labels() -> dict[str, str]:
    return {level: _(text) for level, text in LEVEL_LABELS.items()}


def _congestion_events(request: Request, principal: Principal, entity_id: str | None = None,
                       status: str | None = "open") -> list[events.EventView]:
    with request.app.state.db.read() as session:
        kinds = department_kinds(session, principal)
        if kinds is not None and "mobility" not in kinds:
            return []
        return events.events(session, kind="congestion", status=status, entity_id=entity_id, limit=50)


@router.get("/sensors/traffic")
def traffic_map(request: Request, principal: Annotated[Principal, Depends(require(PERMISSION))]) -> Response:
    with request.app.state.db.read() as session:
        segments = traffic_queries.segments_geojson(session)["features"]
    settings = request.app.state.settings
    return render(request, "sensors/traffic.html", {
        "segments": [f["properties"] for f in segments], "level_labels": _labels(), "no_data": _(NO_DATA),
        "events": _congestion_events(request, principal), "now": utcnow(),
        "refresh_ms": settings.sensors_traffic_refresh_seconds * 1000,
        "js_texts": {"levels": _labels(), "no_data": _(NO_DATA), "updated": _("Updated at %(time)s."),
                     "lost": _("The map could not be updated: trying again."),
                     "speed": _("%(speed)s km/h"), "open": _("Open the segment's page")}})


@router.get("/sensors/traffic/segments.geojson")
def segments_geojson(request: Request, _p: Annotated[Principal, Depends(require(PERMISSION))]) -> Response:
    with request.app.state.db.read() as session:
        data = traffic_queries.segments_geojson(session)
    data["generatedAt"] = utcnow().isoformat().replace("+00:00", "Z")
    return JSONResponse(data, media_type=GEOJSON, headers={"Cache-Control": "no-store"})


def _table(series: dict[str, traffic_queries.DaySeries]) -> list[dict[str, Any]]:
    hours = sorted({h for s in series.values() for h in (*s.today, *s.typical)})
    return [{"hour": h, **{name: (s.today.get(h), s.typical.get(h)) for name, s in series.items()}}
            for h in hours]


@router.get("/sensors/traffic/{segment}")
def segment_page(request: Request, segment: str,
                 principal: Annotated[Principal, Depends(require(PERMISSION))]) -> Response:
    settings = request.app.state.settings
    now = utcnow()
    with request.app.state.db.read() as session:
        found = traffic_queries.segment(session, segment)
        if found is None:
            raise NotFound()
        series = traffic_queries.day(session, found["entityId"], settings.timezone, now)
    local = now.astimezone(traffic_queries.ZoneInfo(settings.timezone))
    charts = []
    for name, (title, description) in CHARTS.items():
        s = series[name]
        charts.append({"name": name, "title": _(title), "svg": traffic_charts.line_chart(
            f"chart-{name}", _(title), _(description), s.today, s.typical, today_label=_("Today"),
            typical_label=_("Typical %(weekday)s", weekday=_weekday(local.weekday())),
            now_hour=local.hour + local.minute / 60)})
    observed = found.get("observedAt")
    try:
        found["observed"] = datetime.fromisoformat(observed.replace("Z", "+00:00")) if observed else None
    except ValueError:
        found["observed"] = None
    return render(request, "sensors/traffic_segment.html", {
        "segment": found, "level_labels": _labels(), "no_data": _(NO_DATA), "charts": charts,
        "has_typical": any(s.typical for s in series.values()), "table": _table(series),
        "weekday": _weekday(local.weekday()),
        "class_labels": {c: _(label) for c, label in CLASS_LABELS.items()},
        "events": _congestion_events(request, principal, found["entityId"], status=None)})


WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
            N_("Sunday"))


def _weekday(index: int) -> str:
    return _(WEEKDAYS[index])
