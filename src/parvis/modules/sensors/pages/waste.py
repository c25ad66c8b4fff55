"""The waste department's page (``/sensors/waste``): containers' fill levels on a map and the
"to collect today" list by district, fullest first, with a printable view and a CSV. For staff
of a waste department and staff of every department (admins), as the reports back office
scopes its queues."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from parvis.kernel.auth import Principal, require
from parvis.kernel.db import utcnow
from parvis.kernel.i18n import _
from parvis.kernel.web import render
from parvis.modules.sensors import waste
from parvis.modules.sensors.pages.views_common import age
from parvis.modules.sensors.views_api import waste_list
from parvis.settings import Settings

router = APIRouter(include_in_schema=False)
STAFF = Depends(require("backoffice.view"))


def _percent(value: float | None) -> int | None:
    return round(value * 100) if value is not None else None


def _reason(item: waste.Container, threshold: float) -> str:
    if item.reason == "full":
        return _("over %(percent)s %%", percent=_percent(threshold))
    if item.reason == "predicted":
        return _("expected at %(percent)s %% by the next round", percent=_percent(item.predicted))
    return ""


def _view(item: waste.Container, threshold: float, now: Any) -> dict[str, Any]:
    return {"id": item.id, "name": item.name, "fill": _percent(item.fill), "lon": item.lon, "lat": item.lat,
            "district": item.district or _("Outside the districts"), "reason": item.reason,
            "why": _reason(item, threshold), "age": age(item.observed_at, now),
            "predicted": _percent(item.predicted), "level": waste.level(item.fill, threshold) or "none"}


def _context(request: Request, principal: Principal) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    threshold = settings.waste_collect_threshold
    now = utcnow()
    found, round_at = waste_list(request, principal)
    groups = [{"name": g.name or _("Outside the districts"),
               "containers": [_view(c, threshold, now) for c in g.containers]}
              for g in waste.to_collect(found)]
    everything = [_view(c, threshold, now) for c in found]
    markers = json.dumps([{"name": c["name"], "lon": c["lon"], "lat": c["lat"], "fill": c["fill"],
                           "level": c["level"], "collect": c["reason"] is not None}
                          for c in everything if c["lon"] is not None])
    return {"groups": groups, "total": sum(len(g["containers"]) for g in groups), "count": len(found),
            "threshold": _percent(threshold), "round_at": round_at, "markers": markers,
            "generated": now}


@router.get("/sensors/waste", response_class=HTMLResponse)
def waste_page(request: Request, principal: Annotated[Principal, STAFF]) -> HTMLResponse:
    return render(request, "sensors/waste.html", _context(request, principal))


@router.get("/sensors/waste/print", response_class=HTMLResponse)
def waste_print(request: Request, principal: Annotated[Principal, STAFF]) -> HTMLResponse:
    return render(request, "sensors/waste_print.html", _context(request, principal))


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/sensors/waste/to-collect.csv")
def waste_csv(request: Request, principal: Annotated[Principal, STAFF]) -> Response:
    settings: Settings = request.app.state.settings
    found, _round = waste_list(request, principal)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["district", "container_id", "name", "filling_level_percent", "reason",
                     "predicted_at_next_round_percent", "observed_at", "lon", "lat"])
    zone = ZoneInfo(settings.timezone)
    for group in waste.to_collect(found):
        for c in group.containers:
            writer.writerow([_cell(group.name or ""), _cell(c.id), _cell(c.name), _percent(c.fill), c.reason,
                             _percent(c.predicted) if c.predicted is not None else "",
                             c.observed_at.astimezone(zone).isoformat() if c.observed_at else "",
                             c.lon, c.lat])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="waste-to-collect.csv"'})

