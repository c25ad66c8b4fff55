"""``GET /api/v1/sensors/events``: the events the hub raised (congestion, air quality), open and
recently cleared, for the city's staff, each department seeing its own (admins all)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from parvis.kernel.auth import Principal, require
from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_, ValidationFailed
from parvis.modules import city
from parvis.modules.sensors import events

router = APIRouter(prefix="/api/v1/sensors", tags=["sensors"])
GEOJSON = "application/geo+json"


def department_kinds(session: Session, principal: Principal) -> set[str] | None:
    """The department kinds whose events this person sees: None for every department (admins,
    staff of all departments), else the kinds of the departments they work for."""
    scope = principal.department_scope
    if scope is None:
        return None
    return {d.kind for d in city.departments(session, only_ids=scope)} if scope else set()


@router.get("/events", summary="Events raised from sensor values (GeoJSON)")
def list_events(request: Request, principal: Annotated[Principal, Depends(require("department.view"))],
                kind: Literal["congestion", "air_quality"] | None = None,
                department: Annotated[str | None, Query(max_length=40)] = None,
                status: Literal["open", "cleared"] | None = None,
                since: datetime | None = Query(None, description="Cleared events since then (default: the "
                                               "last 24 hours); open events are always listed."),
                limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> JSONResponse:
    """Open events and those cleared since ``since``, newest first, as a GeoJSON
    FeatureCollection; filters: ``kind``, ``department`` (a department kind such as
    ``mobility``), ``status`` (``open`` or ``cleared``)."""
    if since is not None and since.tzinfo is None:
        raise ValidationFailed(N_("A time needs its offset, such as +07:00 or Z."),
                               errors=[{"field": "since", "code": "naive_datetime"}])
    db = request.app.state.db
    with db.read() as session:
        kinds = department_kinds(session, principal)
        if department is not None:
            kinds = {department} if kinds is None or department in kinds else set()
        found = [] if kinds == set() else events.events(
            session, departments=kinds, kind=kind, status=status, since=since or utcnow() - timedelta(days=1),
            limit=limit)
    return JSONResponse({"type": "FeatureCollection", "features": [events.feature(e) for e in found]},
                        media_type=GEOJSON)
