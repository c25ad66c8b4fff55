"""Reads of the reports module: public views, the map, queues, statistics, exports."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from parvis.kernel.auth import token_digest
from parvis.modules import city
from parvis.modules.reports import rules
from parvis.modules.reports.models import (
    OPEN_STATUSES,
    ApiKey,
    Category,
    Photo,
    Report,
    Route,
    Status,
    Supporter,
    Update,
)

MAP_LIMIT = 500


@dataclass
class ReportFilter:
    category: str | None = None
    status: str | None = None  # a Parvis status, or "open" / "closed"
    district_id: int | None = None
    department_ids: frozenset[int] | None = None  # None: every department
    since: datetime | None = None
    until: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat
    overdue: bool = False
    assigned_to: int | None = None
    needs_location: bool | None = None
    ids: list[int] = field(default_factory=list)


def categories(session: Session, *, active_only: bool = True) -> list[Category]:
    query = select(Category).order_by(Category.group, Category.name)
    if active_only:
        query = query.where(Category.active.is_(True))
    return list(session.scalars(query))


def category_by_code(session: Session, code: str) -> Category | None:
    return session.scalar(select(Category).where(func.upper(Category.code) == code.upper()))


def routes(session: Session) -> list[Route]:
    return list(session.scalars(select(Route).order_by(Route.category_id, Route.district_id)))


def _filtered(query: Select[Any], f: ReportFilter) -> Select[Any]:
    if f.category:
        query = query.join(Category, Category.id == Report.category_id).where(
            func.upper(Category.code) == f.category.upper())
    if f.status == "open":
        query = query.where(Report.status.in_(list(OPEN_STATUSES)))
    elif f.status == "closed":
        query = query.where(Report.status.not_in(list(OPEN_STATUSES)))
    elif f.status:
        query = query.where(Report.status == f.status)
    if f.district_id:
        query = query.where(Report.district_id == f.district_id)
    if f.department_ids is not None:
        query = query.where(Report.department_id.in_(f.department_ids))
    if f.since:
        query = query.where(Report.created_at >= f.since)
    if f.until:
        query = query.where(Report.created_at <= f.until)
    if f.bbox:
        min_lon, min_lat, max_lon, max_lat = f.bbox
        query = query.where(Report.public_lat.between(min_lat, max_lat),
                            Report.public_lon.between(min_lon, max_lon))
    if f.overdue:
        query = query.where(Report.escalated_at.is_not(None), Report.status.in_(list(OPEN_STATUSES)))
    if f.assigned_to:
        query = query.where(Report.assigned_to == f.assigned_to)
    if f.needs_location is not None:
        query = query.where(Report.needs_location.is_(f.needs_location))
    if f.ids:
        query = query.where(Report.id.in_(f.ids))
    return query


def search(session: Session, f: ReportFilter, *, limit: int = 50, offset: int = 0,
           newest_first: bool = True, count: bool = True) -> tuple[list[Report], int]:
    query = _filtered(select(Report), f)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0 if count else -1
    order = (Report.created_at.desc(), Report.id.desc()) if newest_first else (Report.created_at, Report.id)
    rows = list(session.scalars(query.order_by(*order).limit(limit).offset(offset)))
    return rows, total


def report(session: Session, report_id: int) -> Report | None:
    return session.get(Report, report_id)


def by_token(session: Session, token: str) -> Report | None:
    return session.scalar(select(Report).where(Report.token == token))


def timeline(session: Session, report_id: int, *, include_internal: bool) -> list[Update]:
    query = select(Update).where(Update.report_id == report_id).order_by(Update.at, Update.id)
    if not include_internal:
        query = query.where(Update.public.is_(True))
    return list(session.scalars(query))


def names(session: Session) -> tuple[dict[int, Category], dict[int, str], dict[int, str]]:
    """Categories by id, department names, district names: to present many reports at once."""
    cats = {c.id: c for c in session.scalars(select(Category))}
    return cats, city.department_names(session), city.district_names(session)


def names_of(session: Session, report: Report,
             category: Category) -> tuple[dict[int, Category], dict[int, str], dict[int, str]]:
    """``names`` for one report whose category is at hand (what answering a new report needs)."""
    department, district = city.names_for(session, report.department_id, report.district_id)
    districts = {report.district_id: district} if report.district_id and district else {}
    return {category.id: category}, {report.department_id: department}, districts


def public_view(report: Report, cats: dict[int, Category], departments: dict[int, str],
                districts: dict[int, str], updates: Iterable[Update] = ()) -> dict[str, Any]:
    """What anyone may see: no contact details, the fuzzed position for sensitive categories."""
    category = cats[report.category_id]
    return {
        "id": report.id, "category": category.code, "category_name": category.name,
        "status": report.status, "description": report.description, "address": report.address,
        "lon": report.public_lon, "lat": report.public_lat,
        "district": districts.get(report.district_id) if report.district_id else None,
        "department": departments.get(report.department_id, ""),
        "created_at": report.created_at, "updated_at": report.updated_at,
        "interest_count": report.interest_count,
        "reporter_name": report.reporter_name if report.show_name and report.reporter_name else None,
        "photos": [f"/reports/photos/{p.id}.jpg" for p in report.photos if not p.hidden],
        "rating": report.rating,
        "timeline": [{"id": u.id, "at": u.at, "kind": u.kind, "status": u.status, "text": u.text,
                      "author_label": u.author_label} for u in updates],
    }


def map_features(session: Session, f: ReportFilter, limit: int = MAP_LIMIT) -> dict[str, Any]:
    """GeoJSON points for the public map (at most ``limit``, newest first)."""
    query = _filtered(select(Report.id, Report.public_lon, Report.public_lat, Report.status,
                             Report.category_id), f).where(Report.public_lat.is_not(None))
    rows = session.execute(query.order_by(Report.created_at.desc()).limit(limit)).all()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": r.id,
         "geometry": {"type": "Point", "coordinates": [r.public_lon, r.public_lat]},
         "properties": {"id": r.id, "status": r.status, "category_id": r.category_id}} for r in rows]}


def nearby_open(session: Session, category: Category, lon: float, lat: float,
                limit: int = 10) -> list[tuple[Report, float]]:
    """Open reports of the same category within the category's radius: candidates for "me too"."""
    radius = max(category.nearby_radius_m, 1)
    dlat = radius / 111_000
    dlon = dlat / max(0.1, abs(math.cos(math.radians(lat))))
    rows = session.scalars(select(Report).where(
        Report.category_id == category.id, Report.status.in_(list(OPEN_STATUSES)),
        Report.public_lat.between(lat - dlat, lat + dlat),
        Report.public_lon.between(lon - dlon, lon + dlon)).limit(100))
    found = [(r, rules.distance_m(lon, lat, r.public_lon, r.public_lat)) for r in rows]
    return sorted([x for x in found if x[1] <= radius], key=lambda x: x[1])[:limit]


def my_reports(session: Session, user_id: int, limit: int = 100) -> list[Report]:
    return list(session.scalars(select(Report).where(Report.reporter_id == user_id)
                                .order_by(Report.created_at.desc()).limit(limit)))


def api_key_id(session: Session, key: str) -> int | None:
    """The id of a valid (issued, not revoked) Open311 API key."""
    if not key:
        return None
    return session.scalar(select(ApiKey.id).where(ApiKey.digest == token_digest(key),
                                                  ApiKey.revoked_at.is_(None)))


def valid_api_key(session: Session, key: str) -> bool:
    return api_key_id(session, key) is not None


def api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


# ------------------------------------------------------------------------------- statistics

def _median_hours(values: list[timedelta]) -> float | None:
    return round(statistics.median(v.total_seconds() for v in values) / 3600, 1) if values else None


def stats(session: Session, *, department_ids: frozenset[int] | None, since: datetime | None = None
          ) -> list[dict[str, Any]]:
    """Per department and category: volumes, median hours to acknowledge and resolve,
    overdue share and satisfaction."""
    query = select(Report.department_id, Report.category_id, Report.status, Report.created_at,
                   Report.acknowledged_at, Report.resolved_at, Report.escalated_at, Report.rating)
    if department_ids is not None:
        query = query.where(Report.department_id.in_(department_ids))
    if since:
        query = query.where(Report.created_at >= since)
    groups: dict[tuple[int, int], list[Any]] = {}
    for row in session.execute(query):
        groups.setdefault((row.department_id, row.category_id), []).append(row)
    cats, departments, _districts = names(session)
    out = []
    for (department_id, category_id), rows in sorted(groups.items()):
        ratings = [r.rating for r in rows if r.rating]
        out.append({
            "department": departments.get(department_id, ""), "category": cats[category_id].name,
            "total": len(rows), "open": sum(r.status in OPEN_STATUSES for r in rows),
            "resolved": sum(r.status in (Status.RESOLVED, Status.CLOSED) for r in rows),
            "median_hours_to_acknowledge": _median_hours(
                [r.acknowledged_at - r.created_at for r in rows if r.acknowledged_at]),
            "median_hours_to_resolve": _median_hours(
                [r.resolved_at - r.created_at for r in rows if r.resolved_at]),
            "overdue_share": round(sum(r.escalated_at is not None for r in rows) / len(rows), 3),
            "satisfaction": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "ratings": len(ratings),
        })
    return out


# ------------------------------------------------------------------------------- personal data

def export_reports(session: Session, user_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(Report).where(Report.reporter_id == user_id).order_by(Report.id))
    return [{"id": r.id, "status": r.status, "description": r.description, "address": r.address,
             "lon": r.lon, "lat": r.lat, "created_at": r.created_at.isoformat(),
             "contact_channel": r.contact_channel, "rating": r.rating,
             "rating_comment": r.rating_comment} for r in rows]


def erase_reporter(session: Session, user_id: int) -> None:
    """Reports stay (the city must keep them) but no longer point to the person."""
    session.execute(update(Report).where(Report.reporter_id == user_id).values(
        reporter_id=None, reporter_name="", reporter_phone=None, reporter_email=None,
        contact_channel="none", show_name=False, rating_comment=""))
    session.execute(update(Update).where(Update.author_id == user_id).values(
        author_id=None, author_label="", text=""))
    session.execute(delete(Supporter).where(Supporter.user_id == user_id))


def photo(session: Session, photo_id: int) -> Photo | None:
    return session.get(Photo, photo_id)
