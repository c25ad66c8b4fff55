"""The city's views of its sensors as JSON, under ``/api/v1/sensors``: free parking near a point
(public), air-quality stations with their VN_AQI (public GeoJSON), the waste department's
"to collect today" list (waste staff only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from parvis.kernel import geo
from parvis.kernel.auth import Principal, require
from parvis.kernel.db import utcnow
from parvis.kernel.errors import Forbidden
from parvis.modules.sensors import air, parking, waste
from parvis.settings import Settings

router = APIRouter(prefix="/api/v1/sensors", tags=["sensors: city views"])
GEOJSON = "application/geo+json"
FULL_HELP = "Also list full car parks and those without a count"


def _stamp(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when is not None else None


def facility_json(place: parking.Facility) -> dict[str, Any]:
    return {"id": place.id, "type": place.type, "name": place.name, "lon": place.lon, "lat": place.lat,
            "availableSpotNumber": place.free, "totalSpotNumber": place.total,
            "occupiedSpotNumber": place.occupied, "observedAt": _stamp(place.observed_at),
            "stale": place.stale, "full": place.is_full}


@router.get("/parking/near", summary="Car parks with free spaces near a point, nearest walk first")
def parking_near(
    request: Request,
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude of the person (WGS84)")],
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude of the person (WGS84)")],
    radius: Annotated[float, Query(gt=0, le=parking.MAX_RADIUS_M, description="Walking metres")] = 1000,
    limit: Annotated[int, Query(ge=1, le=parking.MAX_LIMIT)] = 10,
    include_full: Annotated[bool, Query(alias="includeFull", description=FULL_HELP)] = False,
) -> dict[str, Any]:
    """Public: parking availability is public information and the point asked is not kept.
    ``walkingDistanceM`` is an estimate: the great-circle distance times a detour factor, said in
    ``method`` (Parvis has no walking network)."""
    settings: Settings = request.app.state.settings
    detour = settings.parking_detour_factor
    with request.app.state.db.read() as session:
        found = parking.near(session, lon, lat, radius_m=radius, limit=limit, include_full=include_full,
                             detour=detour, stale_minutes=settings.parking_stale_minutes)
    return {"method": parking.method(detour), "detourFactor": detour,
            "results": [{**facility_json(n.facility), "walkingDistanceM": n.walking_m,
                         "straightDistanceM": n.straight_m} for n in found]}


@router.get("/parking/facilities", summary="Every parking facility and its free spaces (GeoJSON)")
def parking_facilities(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    with request.app.state.db.read() as session:
        found = parking.facilities(session, stale_minutes=settings.parking_stale_minutes)
    features = [geo.feature(p.geometry, facility_json(p), p.id) for p in found if p.geometry is not None]
    return JSONResponse(geo.feature_collection(features), media_type=GEOJSON)


def station_json(station: air.Station) -> dict[str, Any]:
    cat = station.category
    return {"id": station.id, "name": station.name, "index": air.INDEX, "aqi": station.aqi,
            "category": cat.code if cat else None, "colour": cat.colour if cat else None,
            "dominant": station.dominant, "observedAt": _stamp(station.observed_at),
            "pollutants": {r.pollutant: {"value": r.latest, "rated": r.concentration, "aqi": r.aqi,
                                         "unit": "µg/m³", "nowcast": r.nowcast}
                           for r in station.readings}}


@router.get("/air/stations", summary="Air-quality stations with their VN_AQI (GeoJSON)")
def air_stations(request: Request) -> JSONResponse:
    """Public. ``aqi`` is the hourly VN_AQI (Decision 1459/QĐ-TCMT), ``category`` one of good,
    moderate, poor, bad, very_bad, hazardous; null without PM2.5 or PM10."""
    with request.app.state.db.read() as session:
        found = air.stations(session)
    features = [geo.feature({"type": "Point", "coordinates": [s.lon, s.lat]}, station_json(s), s.id)
                for s in found if s.lon is not None and s.lat is not None]
    return JSONResponse(geo.feature_collection(features), media_type=GEOJSON)


def container_json(item: waste.Container) -> dict[str, Any]:
    return {"id": item.id, "name": item.name, "lon": item.lon, "lat": item.lat,
            "fillingLevel": item.fill, "observedAt": _stamp(item.observed_at),
            "districtId": item.district_id, "district": item.district,
            "fillRatePerHour": round(item.rate_per_hour, 4) if item.rate_per_hour is not None else None,
            "predictedAtNextRound": round(item.predicted, 3) if item.predicted is not None else None,
            "reason": item.reason}


def waste_list(request: Request, principal: Principal) -> tuple[list[waste.Container], datetime]:
    """Every container (fullest first) and the next round, for a person allowed to see them."""
    settings: Settings = request.app.state.settings
    now = utcnow()
    with request.app.state.db.read() as session:
        if not waste.may_see(session, principal):
            raise Forbidden()
        found = waste.containers(session, threshold=settings.waste_collect_threshold,
                                 timezone=settings.timezone, round_hour=settings.waste_round_hour, now=now)
    return found, waste.next_round(now, settings.timezone, settings.waste_round_hour)


@router.get("/waste/to-collect", summary="Waste containers to collect today, by district")
def waste_to_collect(request: Request,
                     principal: Annotated[Principal, Depends(require("backoffice.view"))]) -> dict[str, Any]:
    """Staff of a waste department (or of every department). Containers at or over the threshold,
    or predicted to be before the next round, grouped by district, fullest first."""
    settings: Settings = request.app.state.settings
    found, round_at = waste_list(request, principal)
    return {"threshold": settings.waste_collect_threshold, "nextRound": _stamp(round_at),
            "districts": [{"districtId": g.district_id, "district": g.name,
                           "containers": [container_json(c) for c in g.containers]}
                          for g in waste.to_collect(found)]}
