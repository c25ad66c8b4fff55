"""The planners' JSON API (``/api/v1/twin/planning/...``, permission ``twin.plan``): the flood
what-if for a water level (area, exposure), its PNG overlay, the HAND overlay, the official hazard
zones, and the buildable zones (GeoJSON and statistics per district).

The what-if layers are ILLUSTRATIVE (every answer carries the notice); the official hazard map is
the legal reference. A level that is not a number or out of the range gets a problem+json 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from parvis.kernel.auth import Principal, require
from parvis.kernel.i18n import _
from parvis.modules.twin.drainage import ILLUSTRATIVE_NOTICE as HAND_NOTICE
from parvis.modules.twin.flood import ILLUSTRATIVE_NOTICE as FLOOD_NOTICE
from parvis.modules.twin.planning_service import (
    HAND_CLASSES,
    OUTSIDE,
    BuildableAnswer,
    FloodAnswer,
    Terrain,
    service_for,
)

router = APIRouter(prefix="/api/v1/twin/planning", tags=["twin"])
PERMISSION = "twin.plan"
GEOJSON = "application/geo+json"
Planner = Annotated[Principal, Depends(require(PERMISSION))]


def terrain_info(terrain: Terrain) -> dict[str, Any]:
    """What a map needs to place the overlays and the slider (also embedded in the page)."""
    south, west, north, east = terrain.overlay.bounds
    lv = terrain.levels
    return {"levels": {"river": lv.river, "min": lv.minimum, "max": lv.maximum, "step": lv.step,
                       "default": lv.default},
            "river_source": terrain.river_source,
            "overlay": {"bounds": [[south, west], [north, east]], "width": terrain.overlay.width,
                        "height": terrain.overlay.height},
            "resolution_m": terrain.grid.resolution, "crs": terrain.grid.crs,
            "hand_classes_m": [upper for upper, _colour in HAND_CLASSES]}


def flood_json(answer: FloodAnswer, outside: str) -> dict[str, Any]:
    return {"level": answer.level, "area_m2": answer.area_m2, "area_ha": round(answer.area_m2 / 10_000.0, 2),
            "exposure": {"buildings": answer.buildings, "people": answer.people,
                         "per_district": [{**row, "district": row["district"] or outside}
                                          for row in answer.per_district]},
            "png": f"/api/v1/twin/planning/flood.png?level={answer.level}", "illustrative": True,
            "notice": _(FLOOD_NOTICE)}


def buildable_json(answer: BuildableAnswer, outside: str) -> dict[str, Any]:
    return {"total_ha": answer.total_ha, "twin_ha": answer.extent_ha,
            "per_district": [{**row, "district": row["district"] or outside} for row in answer.rows],
            "parameters": answer.parameters, "slivers_dropped": answer.slivers_dropped,
            "slivers_area_m2": round(answer.slivers_area_m2, 1), "geometries_repaired": answer.repaired}


def _png(data: bytes) -> Response:
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/flood", summary="Flood what-if for a water level: flooded area and exposure (illustrative)")
def flood(request: Request, _p: Planner, level: str | None = None) -> JSONResponse:
    state = request.app.state
    service = service_for(state.db)
    terrain = service.terrain(state.db, state.settings)
    checked = terrain.levels.check(level)
    answer = service.flood(state.db, state.settings, checked)
    return JSONResponse({**flood_json(answer, _(OUTSIDE)), "terrain": terrain_info(terrain)})


@router.get("/flood.png", summary="Flood what-if overlay (PNG, Web Mercator, bounds in /flood)")
def flood_png(request: Request, _p: Planner, level: str | None = None) -> Response:
    state = request.app.state
    service = service_for(state.db)
    checked = service.terrain(state.db, state.settings).levels.check(level)
    return _png(service.flood_png(state.db, state.settings, checked))


@router.get("/hand.png", summary="Height above nearest drainage overlay (PNG, illustrative)")
def hand_png(request: Request, _p: Planner) -> Response:
    state = request.app.state
    return _png(service_for(state.db).terrain(state.db, state.settings).hand_png)


@router.get("/terrain", summary="Levels, overlay bounds and the river's source")
def terrain(request: Request, _p: Planner) -> JSONResponse:
    state = request.app.state
    info = terrain_info(service_for(state.db).terrain(state.db, state.settings))
    return JSONResponse({**info, "notices": {"flood": _(FLOOD_NOTICE), "hand": _(HAND_NOTICE)}})


@router.get("/hazard.geojson", summary="Official flood hazard zones (the legal reference)")
def hazard(request: Request, _p: Planner) -> JSONResponse:
    return JSONResponse(service_for(request.app.state.db).hazard_geojson(request.app.state.db),
                        media_type=GEOJSON)


@router.get("/buildable", summary="Buildable zones: statistics per district and the parameters used")
def buildable(request: Request, _p: Planner) -> JSONResponse:
    state = request.app.state
    return JSONResponse(buildable_json(service_for(state.db).buildable(state.db, state.settings), _(OUTSIDE)))


@router.get("/buildable.geojson", summary="Buildable zones as GeoJSON (lon/lat)")
def buildable_geojson(request: Request, _p: Planner) -> JSONResponse:
    state = request.app.state
    return JSONResponse(service_for(state.db).buildable(state.db, state.settings).geojson, media_type=GEOJSON)
