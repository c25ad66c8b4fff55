"""Planners' pages (permission ``twin.plan``: agents, supervisors, admins).

- ``GET /twin/planning/flood``: the official flood hazard map (the legal reference) and the
  ILLUSTRATIVE what-if: a water level slider (a plain form without JavaScript, ``?level=``) that
  redraws the flood overlay and updates the flooded area and the buildings and people touched per
  district without reloading (``static/twin_planning.js`` calls the JSON API); a HAND layer.
- ``GET /twin/planning/buildable``: buildable zones on a map, statistics per district, the
  parameters used; exports ``/twin/planning/buildable.csv`` and ``/twin/planning/buildable.geojson``.

The computations live in :mod:`parvis.modules.twin.planning_service` (once per terrain).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from parvis.kernel.auth import Principal, require
from parvis.kernel.errors import N_
from parvis.kernel.i18n import _
from parvis.kernel.web import error_message, render
from parvis.modules.twin.buildable import to_csv
from parvis.modules.twin.drainage import ILLUSTRATIVE_NOTICE as HAND_NOTICE
from parvis.modules.twin.flood import ILLUSTRATIVE_NOTICE as FLOOD_NOTICE
from parvis.modules.twin.planning_api import buildable_json, flood_json, terrain_info
from parvis.modules.twin.planning_service import (
    HAND_CLASSES,
    OUTSIDE,
    BadFloodLevel,
    NoTerrain,
    service_for,
)

router = APIRouter(include_in_schema=False)
PERMISSION = "twin.plan"
Planner = Annotated[Principal, Depends(require(PERMISSION))]

HAZARD_LEVELS = (("high", N_("High hazard"), "#b00020"), ("medium", N_("Medium hazard"), "#d9480f"),
                 ("low", N_("Low hazard"), "#e6a700"))
RIVER_SOURCES = {
    "zone": N_("The river is the twin's zone of category \"river\" or \"water\"."),
    "drainage": N_("The river is the terrain's main drainage line (cells draining a large upstream area): "
                   "the twin has no river zone."),
}


def _hex(colour: tuple[int, int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour[:3])


def _hand_legend() -> list[dict[str, Any]]:
    out, lower = [], 0.0
    for upper, colour in HAND_CLASSES:
        out.append({"label": _("%(low)s to %(high)s m above the drainage", low=lower, high=upper),
                    "colour": _hex(colour)})
        lower = upper
    return out


def _hazard_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    areas: dict[str, float] = {}
    for f in data["features"]:
        level = (f["properties"].get("hazard_level") or "").lower()
        areas[level] = areas.get(level, 0.0) + f["properties"].get("area_ha", 0.0)
    return [{"level": code, "label": _(label), "colour": colour, "area_ha": round(areas.get(code, 0.0), 2)}
            for code, label, colour in HAZARD_LEVELS]


@router.get("/twin/planning/flood")
def flood_page(request: Request, principal: Planner) -> Response:
    state = request.app.state
    service = service_for(state.db)
    try:
        terrain = service.terrain(state.db, state.settings)
    except NoTerrain as err:
        return render(request, "twin/planning_flood.html", {"missing": error_message(err)})
    error, status = None, 200
    try:
        level = terrain.levels.check(request.query_params.get("level"))
    except BadFloodLevel as err:
        error, status, level = error_message(err), 422, terrain.levels.default
    answer = flood_json(service.flood(state.db, state.settings, level), _(OUTSIDE))
    hazard = service.hazard_geojson(state.db)
    info = terrain_info(terrain)
    js_texts = {"area": _("%(area)s ha"), "metres": _("%(level)s m"),
                "failed": _("The what-if could not be computed: %(detail)s"),
                "computing": _("Computing the flood at %(level)s m…"),
                "shown": _("Flood at %(level)s m shown."), "outside": _(OUTSIDE),
                "hazard": {code: _(label) for code, label, _c in HAZARD_LEVELS}}
    return render(request, "twin/planning_flood.html", {
        "missing": None, "error": error, "level": level, "flood": answer, "info": info,
        "info_json": json.dumps(info), "hazard_rows": _hazard_rows(hazard),
        "hazard_colours": json.dumps({code: colour for code, _l, colour in HAZARD_LEVELS}),
        "hand_legend": _hand_legend(), "flood_notice": _(FLOOD_NOTICE), "hand_notice": _(HAND_NOTICE),
        "river_source": _(RIVER_SOURCES[terrain.river_source]), "js_texts": js_texts,
        "show_hand": request.query_params.get("hand") == "1"}, status_code=status)


@router.get("/twin/planning/buildable")
def buildable_page(request: Request, principal: Planner) -> Response:
    state = request.app.state
    try:
        answer = service_for(state.db).buildable(state.db, state.settings)
    except NoTerrain as err:
        return render(request, "twin/planning_buildable.html", {"missing": error_message(err)})
    data = buildable_json(answer, _(OUTSIDE))
    return render(request, "twin/planning_buildable.html", {
        "missing": None, "data": data, "parameters": answer.parameters,
        "hazard_labels": {code: _(label) for code, label, _c in HAZARD_LEVELS}})


@router.get("/twin/planning/buildable.csv")
def buildable_csv(request: Request, _p: Planner) -> Response:
    state = request.app.state
    answer = service_for(state.db).buildable(state.db, state.settings)
    rows = [{**row, "district": row["district"] or _(OUTSIDE)} for row in answer.rows]
    return Response(to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="buildable-zones.csv"'})


@router.get("/twin/planning/buildable.geojson")
def buildable_geojson(request: Request, _p: Planner) -> Response:
    state = request.app.state
    answer = service_for(state.db).buildable(state.db, state.settings)
    return JSONResponse(answer.geojson, media_type="application/geo+json",
                        headers={"Content-Disposition": 'attachment; filename="buildable-zones.geojson"'})
