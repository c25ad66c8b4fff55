"""The twin's 3D view (``/twin/3d``): the city's buildings extruded in the browser with MapLibre GL
JS (served by Parvis from ``static/vendor/maplibre-gl``, no CDN), coloured by roof solar potential
or, where the city's visibility setting allows it, by thermography heat-loss level.

The page is server-rendered and useful without JavaScript or WebGL: the colouring choice and its
legend are links and lists, an address search lists buildings with a link to each one's solar
page, and a message says why the 3D view is missing (with links to the 2D pages).
``static/twin_3d.js`` draws the view, loading the buildings of the visible box from
``/api/v1/twin/3d/buildings`` as the view moves."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from parvis.kernel.auth import current_principal
from parvis.kernel.web import render
from parvis.modules.twin import queries, solar_run, view3d_api

router = APIRouter(include_in_schema=False)


@router.get("/twin/3d", response_class=HTMLResponse)
def view3d(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    mode = request.query_params.get("mode", "solar")
    mode = mode if mode in view3d_api.MODES else "solar"
    text = (request.query_params.get("q") or "").strip()[:100]
    access = view3d_api.level_access(settings.twin_thermography_visibility, current_principal(request))
    with request.app.state.db.read() as session:
        where = view3d_api.extent(session)
        found = queries.search(session, text, limit=20) if text else None
        thresholds = solar_run.colour_thresholds(session)
    return render(request, "twin/view3d.html", {
        "mode": mode, "q": text, "found": found, "extent": where,
        "bounds": json.dumps(list(where.bbox)) if where.bbox else "",
        "legend": view3d_api.legend(mode, thresholds), "levels_visible": access.visible,
        "levels_notice": access.notice,
        "max_features": view3d_api.DEFAULT_FEATURES})
