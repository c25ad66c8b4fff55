"""JSON API of roof solar potential (``/api/v1/twin/solar``), public read: a roof's potential is
not personal, and nothing private about a building (occupants, heating, heat loss) is given.

* ``GET /api/v1/twin/solar/buildings.geojson?bbox=lon_min,lat_min,lon_max,lat_max``: buildings
  touching the box (at most 5,000; ``truncated`` says when more touch it), each with
  ``annual_kwh_m2`` (its best face) and the building's ``kwp`` and ``yearly_kwh``.
* ``GET /api/v1/twin/solar/buildings/{id}``: one building's faces and figures, and totals.
* ``GET /api/v1/twin/solar/search?q=``: address search (part of the address, accents ignored).
* ``GET /api/v1/twin/solar/status``: the state of the computation (``computing`` with a percent,
  ``done``, ``failed``, ``never``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from parvis.kernel.errors import N_, ParvisError
from parvis.modules.twin import queries, solar_run
from parvis.modules.twin.errors import BuildingNotFound
from parvis.modules.twin.models import RoofFaceRow

router = APIRouter(prefix="/api/v1/twin", tags=["twin"])

GEOJSON = "application/geo+json"
MAX_FEATURES = 5000


class BadBbox(ParvisError):
    status = 422
    type_slug = "twin-bad-bbox"
    title = N_(
        "The box must be lon_min,lat_min,lon_max,lat_max in degrees, west before east and south before north."
    )


def parse_bbox(text: str | None) -> tuple[float, float, float, float]:
    try:
        parts = [float(p) for p in (text or "").split(",")]
    except ValueError:
        raise BadBbox() from None
    if len(parts) != 4:
        raise BadBbox()
    west, south, east, north = parts
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadBbox()
    return west, south, east, north


@router.get("/solar/buildings.geojson")
def solar_buildings_geojson(request: Request, bbox: str) -> JSONResponse:
    """Buildings in the box as GeoJSON (lon/lat) with their roof solar potential."""
    box = parse_bbox(bbox)
    with request.app.state.db.read() as session:
        data = queries.buildings_geojson(session, box, limit=MAX_FEATURES + 1)
        features = data["features"][:MAX_FEATURES]
        ids = [f["id"] for f in features]
        sums: dict[int, tuple[float, float]] = {}
        for start in range(0, len(ids), 500):
            stmt = (
                select(RoofFaceRow.building_id, func.sum(RoofFaceRow.kwp), func.sum(RoofFaceRow.yearly_kwh))
                .where(RoofFaceRow.building_id.in_(ids[start : start + 500]))
                .group_by(RoofFaceRow.building_id)
            )
            sums.update({b: (k, y) for b, k, y in session.execute(stmt)})
    for feature in features:
        kwp, yearly = sums.get(feature["id"], (None, None))
        feature["properties"]["kwp"] = None if kwp is None else round(float(kwp), 2)
        feature["properties"]["yearly_kwh"] = None if yearly is None else round(float(yearly), 1)
    body = {
        "type": "FeatureCollection",
        "features": features,
        "truncated": len(data["features"]) > MAX_FEATURES,
    }
    return JSONResponse(body, media_type=GEOJSON, headers={"Cache-Control": "no-store"})


_PRIVATE = (
    "population",
    "households",
    "attached_sides",
    "wall_type",
    "roof_construction",
    "window_type",
    "heating_system",
)


@router.get("/solar/buildings/{building_id}")
def solar_building(request: Request, building_id: int) -> dict[str, Any]:
    """One building's roof faces with their figures, and the building's totals."""
    with request.app.state.db.read() as session:
        found = solar_run.building_solar(session, building_id)
        state = solar_run.run_state(session)
    if found is None:
        raise BuildingNotFound()
    for key in _PRIVATE:
        found.pop(key, None)
    found["run"] = {"state": state["state"], "percent": state["percent"]}
    return found


@router.get("/solar/search")
def solar_search(request: Request, q: str = "", limit: int = 10) -> dict[str, Any]:
    """Buildings whose address contains ``q`` (case and accents ignored), best matches first."""
    with request.app.state.db.read() as session:
        results = queries.search(session, q[:200], limit=max(1, min(limit, 50)))
    return {"query": q, "results": results}


@router.get("/solar/status")
def solar_status(request: Request) -> dict[str, Any]:
    """Where the roof solar computation stands."""
    with request.app.state.db.read() as session:
        state = solar_run.run_state(session)
    run = state["run"] or {}
    return {
        "state": state["state"],
        "percent": state["percent"],
        "message": state["message"],
        "finished_at": run.get("finished_at"),
    }
