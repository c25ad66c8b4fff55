"""Citizens' parking pages: "free parking near me" (``/parking``) and one facility with its typical
occupancy by weekday and hour (``/parking/{id}``). Public, server-rendered, light: the form works
without JavaScript (a district, or coordinates); ``static/parking.js`` adds "use my location" and
the small map."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_, NotFound
from parvis.kernel.i18n import _
from parvis.kernel.web import render
from parvis.modules import city
from parvis.modules.sensors import parking
from parvis.modules.sensors.pages.views_common import age
from parvis.settings import Settings

router = APIRouter(include_in_schema=False)

RADII = (300, 500, 1000, 2000)
# Before a place is chosen the map shows the city's car parks and street parking, not every single
# space (a city has thousands: the page must stay light on a phone), and at most this many.
OVERVIEW_MAX = 300
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
            N_("Sunday"))
TYPE_LABELS = {"OffStreetParking": N_("Car park"), "OnStreetParking": N_("Street parking"),
               "ParkingSpot": N_("Parking space")}


def _float(value: str | None, low: float, high: float) -> float | None:
    try:
        number = float((value or "").replace(",", "."))
    except ValueError:
        return None
    return number if low <= number <= high else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _view(place: parking.Facility, now: Any) -> dict[str, Any]:
    return {"id": place.id, "name": place.name, "kind": _(TYPE_LABELS.get(place.type, N_("Car park"))),
            "spot": place.type == "ParkingSpot",
            "free": place.free, "total": place.total, "full": place.is_full, "stale": place.stale,
            "age": age(place.observed_at, now), "lon": place.lon, "lat": place.lat}


def _markers(items: list[dict[str, Any]]) -> str:
    """The map's points as JSON for a data attribute (the page escapes it)."""
    return json.dumps([{"id": i["id"], "name": i["name"], "lon": i["lon"], "lat": i["lat"], "free": i["free"],
                        "total": i["total"], "full": i["full"]} for i in items if i["lon"] is not None])


@router.get("/parking", response_class=HTMLResponse)
def parking_near(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    params = request.query_params
    lat = _float(params.get("lat"), -90, 90)
    lon = _float(params.get("lon"), -180, 180)
    district_id = _int(params.get("district_id"))
    radius = _int(params.get("radius")) or 1000
    radius = radius if radius in RADII else 1000
    include_full = params.get("full") == "1"
    error = None
    if (params.get("lat") or params.get("lon")) and (lat is None or lon is None):
        error = _("The coordinates are not valid: latitude from -90 to 90, longitude from -180 to 180.")
    now = utcnow()
    results = None
    with request.app.state.db.read() as session:
        districts = sorted(city.district_names(session).items(), key=lambda item: item[1].lower())
        origin: tuple[float, float] | None = None
        if lat is not None and lon is not None:
            origin = (lon, lat)
        elif district_id is not None:
            origin = city.district_point(session, district_id)
        if origin is not None:
            found = parking.near(session, origin[0], origin[1], radius_m=radius, limit=parking.MAX_LIMIT,
                                 include_full=include_full, detour=settings.parking_detour_factor,
                                 stale_minutes=settings.parking_stale_minutes, now=now)
            results = [{**_view(n.facility, now), "walking": n.walking_m} for n in found]
            shown = results
        else:
            places = [p for p in parking.facilities(session, stale_minutes=settings.parking_stale_minutes,
                                                    now=now) if p.type != "ParkingSpot"]
            shown = [_view(p, now) for p in places[:OVERVIEW_MAX]]
    return render(request, "sensors/parking.html", {
        "results": results, "markers": _markers(shown),
        "origin": json.dumps(list(origin)) if origin is not None else "",
        "lat": "" if lat is None else lat, "lon": "" if lon is None else lon,
        "district_id": district_id, "districts": districts, "radius": radius, "radii": RADII,
        "include_full": include_full, "error": error, "detour": settings.parking_detour_factor})


@router.get("/parking/{entity_id:path}", response_class=HTMLResponse)
def parking_facility(request: Request, entity_id: str) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    now = utcnow()
    with request.app.state.db.read() as session:
        place = parking.one(session, entity_id, stale_minutes=settings.parking_stale_minutes, now=now)
        if place is None:
            raise NotFound(N_("This car park is not known."))
        shares = parking.occupancy_profile(session, place, timezone=settings.timezone, now=now)
    rows = [{"day": _(WEEKDAYS[day]),
             "cells": [round(shares[(day, hour)] * 100) if (day, hour) in shares else None
                       for hour in range(24)]} for day in range(7)]
    view = _view(place, now)
    return render(request, "sensors/parking_facility.html", {
        "place": view, "rows": rows, "has_profile": bool(shares), "hours": list(range(24)),
        "markers": _markers([view])})
