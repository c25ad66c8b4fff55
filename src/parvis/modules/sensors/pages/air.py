"""The public air-quality page (``/air``): stations on a map coloured by their VN_AQI category,
with the index in figures and words (never colour alone), the pollutants and the last update."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from parvis.kernel.db import utcnow
from parvis.kernel.i18n import _
from parvis.kernel.web import render
from parvis.modules.sensors import air
from parvis.modules.sensors.pages.views_common import age

router = APIRouter(include_in_schema=False)


@router.get("/air", response_class=HTMLResponse)
def air_quality(request: Request) -> HTMLResponse:
    now = utcnow()
    with request.app.state.db.read() as session:
        found = air.stations(session, now=now)
    stations = []
    for s in found:
        cat = s.category
        stations.append({
            "id": s.id, "name": s.name, "aqi": s.aqi, "lon": s.lon, "lat": s.lat,
            "category": cat.code if cat else "none", "label": _(cat.label) if cat else _("No index"),
            "advice": _(cat.advice) if cat else "", "colour": cat.colour if cat else "#6b7570",
            "dominant": air.LABELS.get(s.dominant or "", ""), "age": age(s.observed_at, now),
            "readings": [{"name": air.LABELS[r.pollutant], "value": r.latest, "rated": r.concentration,
                          "aqi": r.aqi, "nowcast": r.nowcast} for r in s.readings]})
    markers = json.dumps([{"name": s["name"], "lon": s["lon"], "lat": s["lat"], "aqi": s["aqi"],
                           "label": s["label"], "colour": s["colour"]}
                          for s in stations if s["lon"] is not None])
    legend = [{"code": c.code, "label": _(c.label), "advice": _(c.advice), "colour": c.colour,
               "low": c.low} for c in air.CATEGORIES]
    return render(request, "sensors/air.html", {"stations": stations, "markers": markers, "legend": legend})
