"""JSON routes of the reports module under ``/api/v1/reports`` (richer than Open311)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from parvis.kernel.api import PageParams, page, page_params
from parvis.kernel.auth import Principal, current_principal, require
from parvis.kernel.errors import N_, NotFound, ValidationFailed
from parvis.kernel.web import client_ip
from parvis.modules.reports import actions, configuration, queries
from parvis.modules.reports.models import Category, Report
from parvis.modules.reports.schemas import (
    Assign,
    CommentCreate,
    Rating,
    Reopen,
    ReportCreate,
    RouteSet,
    StatusChange,
    Transfer,
)

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
GEOJSON = "application/geo+json"


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not (-180 <= parts[0] <= parts[2] <= 180 and -90 <= parts[1] <= parts[3] <= 90):
        raise ValidationFailed(N_("The bbox must be min_lon,min_lat,max_lon,max_lat."),
                               errors=[{"field": "bbox", "code": "invalid_bbox"}])
    return parts  # type: ignore[return-value]


def public_filter(category: str | None = None, status: str | None = None,
                  district_id: int | None = None, since: datetime | None = None,
                  until: datetime | None = None,
                  bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
                  ) -> queries.ReportFilter:
    return queries.ReportFilter(category=category, status=status, district_id=district_id,
                                since=since, until=until, bbox=_bbox(bbox))


def category_public(c: Category) -> dict[str, Any]:
    return {"code": c.code, "name": c.name, "name_local": c.name_local, "description": c.description,
            "group": c.group, "private": c.private, "nearby_radius_m": c.nearby_radius_m,
            "attributes": c.attributes}


@router.get("/categories", summary="Categories and their extra questions")
def list_categories(request: Request) -> list[dict[str, Any]]:
    with request.app.state.db.read() as session:
        return [category_public(c) for c in queries.categories(session)]


@router.get("", summary="Public list of reports (no personal data)")
def list_reports(request: Request, params: Annotated[PageParams, Depends(page_params)],
                 f: Annotated[queries.ReportFilter, Depends(public_filter)]) -> dict[str, Any]:
    with request.app.state.db.read() as session:
        rows, total = queries.search(session, f, limit=params.limit, offset=params.offset)
        lookups = queries.names(session)
        return page([queries.public_view(r, *lookups) for r in rows], total, params)


@router.get("/map", summary="Report markers for a map viewport (GeoJSON, at most 500)")
def report_map(request: Request, f: Annotated[queries.ReportFilter, Depends(public_filter)]) -> JSONResponse:
    with request.app.state.db.read() as session:
        return JSONResponse(queries.map_features(session, f), media_type=GEOJSON)


@router.get("/nearby", summary="Open reports of a category near a point (to say 'me too')")
def nearby(request: Request, category: str, lon: Annotated[float, Query(ge=-180, le=180)],
           lat: Annotated[float, Query(ge=-90, le=90)]) -> list[dict[str, Any]]:
    with request.app.state.db.read() as session:
        cat = queries.category_by_code(session, category)
        if cat is None:
            raise actions.UnknownCategory()
        lookups = queries.names(session)
        return [{**queries.public_view(r, *lookups), "distance_m": round(d)}
                for r, d in queries.nearby_open(session, cat, lon, lat)]


@router.post("", status_code=201, summary="File a report (signed in, or with a phone or e-mail)")
def create_report(request: Request, body: ReportCreate) -> dict[str, Any]:
    principal = current_principal(request)
    # Staff file reports for callers (the hotline): the contact given is the caller's.
    source = "hotline" if principal.is_staff else "api"
    if body.language is None and not principal.is_staff:
        body = body.model_copy(update={"language": request.state.translator.lang})
    return actions.file_report(request.app.state.db, request.app.state.settings, principal, body,
                               source=source, ip=client_ip(request), store=request.app.state.files,
                               present=_created)


def _created(session: Session, report: Report, category: Category) -> dict[str, Any]:
    """The answer to a new report: its public view and its follow-up token."""
    names = queries.names_of(session, report, category)
    return {**queries.public_view(report, *names), "token": report.token}


@router.get("/mine", summary="The signed-in person's reports")
def mine(request: Request,
         principal: Annotated[Principal, Depends(require("account.self"))]) -> list[dict[str, Any]]:
    with request.app.state.db.read() as session:
        lookups = queries.names(session)
        return [queries.public_view(r, *lookups) for r in queries.my_reports(session, principal.user_id)]  # type: ignore[arg-type]


@router.get("/queue", summary="Reports of my departments (staff)")
def queue(request: Request, params: Annotated[PageParams, Depends(page_params)],
          principal: Annotated[Principal, Depends(require("reports.handle"))],
          f: Annotated[queries.ReportFilter, Depends(public_filter)],
          overdue: bool = False, needs_location: bool | None = None) -> dict[str, Any]:
    f.department_ids = principal.department_scope
    f.overdue, f.needs_location = overdue, needs_location
    with request.app.state.db.read() as session:
        rows, total = queries.search(session, f, limit=params.limit, offset=params.offset)
        lookups = queries.names(session)
        return page([staff_view(r, lookups) for r in rows], total, params)


def staff_view(report: Any, lookups: Any, updates: Any = ()) -> dict[str, Any]:
    return {**queries.public_view(report, *lookups, updates=updates),
            "lon": report.lon, "lat": report.lat, "department_id": report.department_id,
            "reporter_name": report.reporter_name, "reporter_phone": report.reporter_phone,
            "reporter_email": report.reporter_email, "contact_channel": report.contact_channel,
            "assigned_to": report.assigned_to, "source": report.source,
            "attributes": report.attributes, "needs_location": report.needs_location,
            "due_ack_at": report.due_ack_at, "due_resolve_at": report.due_resolve_at,
            "overdue": report.escalated_at is not None, "reject_reason": report.reject_reason,
            "referred_to": report.referred_to, "duplicate_of": report.duplicate_of}


@router.get("/stats", summary="Volumes, median times, overdue share, satisfaction (staff)")
def stats(request: Request, principal: Annotated[Principal, Depends(require("reports.handle"))],
          since: datetime | None = None) -> list[dict[str, Any]]:
    with request.app.state.db.read() as session:
        return queries.stats(session, department_ids=principal.department_scope, since=since)


@router.get("/export.csv", summary="CSV export of my departments' reports (staff)")
def export_csv(request: Request, principal: Annotated[Principal, Depends(require("reports.handle"))],
               f: Annotated[queries.ReportFilter, Depends(public_filter)]) -> Response:
    f.department_ids = principal.department_scope
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "created_at", "category", "status", "department", "district", "lon", "lat",
                     "address", "description", "acknowledged_at", "resolved_at", "overdue", "rating"])
    with request.app.state.db.read() as session:
        cats, departments, districts = queries.names(session)
        rows, _ = queries.search(session, f, limit=100_000, count=False)
        for r in rows:
            writer.writerow([r.id, r.created_at.isoformat(), cats[r.category_id].code, r.status,
                             departments.get(r.department_id, ""), districts.get(r.district_id, ""),
                             r.public_lon, r.public_lat, r.address, r.description,
                             r.acknowledged_at.isoformat() if r.acknowledged_at else "",
                             r.resolved_at.isoformat() if r.resolved_at else "",
                             r.escalated_at is not None, r.rating or ""])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="reports.csv"'})


@router.put("/routes", status_code=204, summary="Set one line of the routing table (admin)")
def set_route(request: Request, body: RouteSet,
              principal: Annotated[Principal, Depends(require("reports.configure"))]) -> Response:
    configuration.set_route(request.app.state.db, principal, body.category_id, body.district_id,
                      body.department_id, client_ip(request))
    return Response(status_code=204)


@router.get("/{report_id}", summary="One report: public view, or the staff view for its department")
def get_report(request: Request, report_id: int) -> dict[str, Any]:
    principal = current_principal(request)
    with request.app.state.db.read() as session:
        report = queries.report(session, report_id)
        if report is None:
            raise NotFound()
        lookups = queries.names(session)
        if principal.is_staff and principal.can_act_for_department(report.department_id):
            return staff_view(report, lookups, queries.timeline(session, report_id, include_internal=True))
        return queries.public_view(report, *lookups,
                                   updates=queries.timeline(session, report_id, include_internal=False))


@router.post("/{report_id}/support", summary="Me too: the same problem affects me")
def support(request: Request, report_id: int,
            principal: Annotated[Principal, Depends(require("account.self"))]) -> dict[str, int]:
    return {"interest_count": actions.support(request.app.state.db, principal, report_id)}


@router.post("/{report_id}/status", summary="Change a report's status (staff of its department)")
def change_status(request: Request, report_id: int, body: StatusChange,
                  principal: Annotated[Principal, Depends(require("reports.handle"))]) -> dict[str, Any]:
    report = actions.change_status(request.app.state.db, request.app.state.settings, principal,
                                   report_id, body, client_ip(request))
    return {"id": report.id, "status": report.status}


@router.post("/{report_id}/comments", status_code=201, summary="Public comment or internal note (staff)")
def comment(request: Request, report_id: int, body: CommentCreate,
            principal: Annotated[Principal, Depends(require("reports.handle"))]) -> dict[str, Any]:
    entry = actions.add_comment(request.app.state.db, request.app.state.settings, principal, report_id,
                                body.text, body.public, client_ip(request))
    return {"id": entry.id, "public": entry.public}


@router.post("/{report_id}/transfer", summary="Transfer to another department, with a reason (staff)")
def transfer(request: Request, report_id: int, body: Transfer,
             principal: Annotated[Principal, Depends(require("reports.handle"))]) -> dict[str, Any]:
    report = actions.transfer(request.app.state.db, principal, report_id, body.department_id,
                              body.reason, client_ip(request))
    return {"id": report.id, "department_id": report.department_id}


@router.post("/{report_id}/assign", summary="Assign to an agent of the department (staff)")
def assign(request: Request, report_id: int, body: Assign,
           principal: Annotated[Principal, Depends(require("reports.handle"))]) -> dict[str, Any]:
    report = actions.assign(request.app.state.db, principal, report_id, body.user_id, client_ip(request))
    return {"id": report.id, "assigned_to": report.assigned_to}


@router.post("/{report_id}/reopen", summary="Reopen my resolved report (within the allowed days)")
def reopen(request: Request, report_id: int, body: Reopen,
           principal: Annotated[Principal, Depends(require("account.self"))]) -> dict[str, Any]:
    report = actions.reopen(request.app.state.db, request.app.state.settings, principal, report_id,
                            body.reason)
    return {"id": report.id, "status": report.status}


@router.post("/{report_id}/rating", summary="Rate the city's work on my report")
def rating(request: Request, report_id: int, body: Rating,
           principal: Annotated[Principal, Depends(require("account.self"))]) -> dict[str, Any]:
    report = actions.rate(request.app.state.db, principal, report_id, body.rating, body.comment)
    return {"id": report.id, "status": report.status, "rating": report.rating}
