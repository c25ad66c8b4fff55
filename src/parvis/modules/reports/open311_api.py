"""Open311 GeoReport v2 server under ``/open311/v2/`` (XML, the spec's default, and JSON).

Discovery, services, service definitions, POST/GET requests, one request, tokens, and
FixMyStreet's ``servicerequestupdates``. Every answer, errors included, is in the spec's own
format: an error is ``<errors><error><code/><description/></error></errors>`` (or the JSON list)
with the matching HTTP status, never problem+json. Parvis' 422 becomes the spec's 400.

Decisions:
- ``media_url`` given on POST is never fetched: it is kept as a last line of the description
  (``media_url: <url>``) so agents see it, and given back as ``media_url`` (with that line
  removed from ``description``) when the request has no photo of its own.
- ``jurisdiction_id`` may be left out; when given it must be the host of ``base_url``, else 404.
- An unknown ``service_code`` is 404 (the spec: "service_code or service_request_id not found").
- Attributes that the service definition does not declare are ignored (clients such as
  FixMyStreet send extra ones); declared ones are checked with the category's rules.
- ``address_id`` is kept as the address text when no ``address_string`` is given; ``device_id``
  and ``account_id`` are not stored. Contact details are never part of any answer.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match

from parvis.kernel import i18n
from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_, ParvisError
from parvis.kernel.web import client_ip, error_message
from parvis.modules import city
from parvis.modules.reports import actions, queries
from parvis.modules.reports.models import OPEN_STATUSES, Category, Photo, Report, Source, Status, Update
from parvis.modules.reports.schemas import DESCRIPTION_MAX, ReportCreate
from parvis.modules.reports.standards import open311
from parvis.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/open311/v2", tags=["open311"])

REQUESTS_DAYS = 90
REQUESTS_LIMIT = 1000
UPDATES_HOURS = 24
UPDATES_LIMIT = 1000
MEDIA_MARK = "media_url: "
MEDIA_URL_MAX = 500
DATATYPE_HELP = {
    "number": N_("A number, e.g. 12.5"),
    "datetime": N_("A W3C date and time, e.g. 2026-11-25T09:30:00+07:00"),
    "singlevaluelist": N_("One of the listed keys"),
    "multivaluelist": N_("One or more of the listed keys, repeating the field"),
}
REJECT_NOTES = {
    "duplicate": N_("Duplicate of request %(id)s."),
    "not_city": N_("Not the city's responsibility."),
    "cannot_fix": N_("The city cannot fix this."),
    "invalid": N_("Not a valid request."),
}


class Open311Error(Exception):
    """An error answered in the spec's error format (status and an already translated text)."""

    def __init__(self, status: int, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers or {}


def _(message: str, **params: Any) -> str:
    return i18n.current().gettext(message, **params)


# ------------------------------------------------------------------------------- responses

def _document(body: bytes, fmt: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=open311.MEDIA_TYPES[fmt], headers=headers)


def _format(fmt: str) -> str:
    if fmt not in open311.MEDIA_TYPES:
        raise Open311Error(404, _("Unknown format: use .xml or .json."))
    return fmt


def _failure(fmt: str, exc: Exception) -> Response:
    """Any failure as the spec's error list; Parvis' own errors keep their status (422: 400)."""
    fmt = fmt if fmt in open311.MEDIA_TYPES else open311.XML
    if isinstance(exc, Open311Error):
        status, text, headers = exc.status, exc.description, exc.headers
    elif isinstance(exc, actions.UnknownCategory):
        status, text, headers = 404, error_message(exc), exc.headers
    elif isinstance(exc, ParvisError):
        status = 400 if exc.status == 422 else exc.status
        text, headers = error_message(exc), exc.headers
        fields = [f"{e['field']}: {e.get('code', 'invalid')}" for e in exc.errors if e.get("field")]
        if fields and exc.type_slug == "validation-error":
            text = f"{text} ({'; '.join(fields)})"
    else:
        log.exception("Open311 request failed")
        status, text, headers = 500, _("Something went wrong on our side."), {}
    return _document(open311.errors([(status, text)], fmt), fmt, status, headers)


def _guarded(fmt: str, answer: Callable[[str], Response]) -> Response:
    try:
        return answer(_format(fmt))
    except Exception as exc:
        return _failure(fmt, exc)


# ------------------------------------------------------------------------------- parameters

def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _jurisdiction(settings: Settings) -> str:
    return (urlsplit(settings.base_url).hostname or "").lower()


def _check_jurisdiction(request: Request, given: str | None) -> None:
    if given and given.strip().lower() != _jurisdiction(_settings(request)):
        raise Open311Error(404, _("Unknown jurisdiction_id: this server serves %(id)s.",
                                  id=_jurisdiction(_settings(request))))


def _date(value: str | None, name: str, tz: str) -> datetime | None:
    if not value:
        return None
    try:
        return open311.parse_w3c(value, tz)
    except ValueError:
        raise Open311Error(400, _("%(name)s must be a W3C date and time, e.g. "
                                  "2026-11-25T09:30:00+07:00.", name=name)) from None


def _window(request: Request, span: timedelta) -> tuple[datetime, datetime]:
    tz = _settings(request).timezone
    params = request.query_params
    start = _date(params.get("start_date"), "start_date", tz)
    end = _date(params.get("end_date"), "end_date", tz)
    if end is None:
        end = utcnow() if start is None else max(utcnow(), start + span)
    if start is None:
        start = end - span
    if start > end:
        raise Open311Error(400, _("start_date must be before end_date."))
    return start, end


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _coordinate(value: str, name: str, limit: float) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise Open311Error(400, _("%(name)s must be a decimal number of degrees (WGS84).", name=name))
    if not -limit <= number <= limit:
        raise Open311Error(400, _("%(name)s must be between -%(limit)s and %(limit)s (WGS84); "
                                  "lat is the latitude, long the longitude.", name=name, limit=int(limit)))
    return number


# ------------------------------------------------------------------------------- discovery, services

@router.get("/discovery", include_in_schema=False)
@router.get("/discovery.{fmt}", summary="Open311 service discovery")
def discovery(request: Request, fmt: str = open311.XML) -> Response:
    settings = _settings(request)

    def answer(fmt: str) -> Response:
        base = settings.base_url.rstrip("/")
        return _document(open311.discovery(
            url=f"{base}/open311/v2", contact=f"{settings.city_name}: {base}",
            key_service=_("API keys are issued by the city's administrators: %(url)s", url=base),
            fmt=fmt), fmt)

    return _guarded(fmt, answer)


def _service(category: Category) -> dict[str, Any]:
    return {"service_code": category.code, "service_name": category.name,
            "description": category.description or None, "metadata": bool(category.attributes),
            "type": "realtime", "keywords": category.name_local or None, "group": category.group or None}


@router.get("/services", include_in_schema=False)
@router.get("/services.{fmt}", summary="Open311 services: the active report categories")
def services(request: Request, fmt: str = open311.XML, jurisdiction_id: str | None = None) -> Response:
    def answer(fmt: str) -> Response:
        _check_jurisdiction(request, jurisdiction_id)
        with request.app.state.db.read() as session:
            items = [_service(c) for c in queries.categories(session)]
        return _document(open311.services(items, fmt), fmt)

    return _guarded(fmt, answer)


def _attribute(definition: dict[str, Any]) -> dict[str, Any]:
    datatype = definition.get("datatype", "string")
    help_text = DATATYPE_HELP.get(datatype)
    return {"variable": True, "code": definition["code"], "datatype": datatype,
            "required": bool(definition.get("required")),
            "datatype_description": _(help_text) if help_text else None,
            "order": definition.get("order"), "description": definition.get("description"),
            "values": [{"key": str(v["key"]), "name": v["name"]} for v in definition.get("values") or []]}


def _active_category(session: Session, code: str) -> Category:
    category = queries.category_by_code(session, code)
    if category is None or not category.active:
        raise Open311Error(404, _("Unknown service_code: %(code)s.", code=code))
    return category


@router.get("/services/{service_code}", include_in_schema=False)
@router.get("/services/{service_code}.{fmt}", summary="Open311 service definition (extra questions)")
def service_definition(request: Request, service_code: str, fmt: str = open311.XML,
                       jurisdiction_id: str | None = None) -> Response:
    def answer(fmt: str) -> Response:
        _check_jurisdiction(request, jurisdiction_id)
        with request.app.state.db.read() as session:
            category = _active_category(session, service_code)
            definitions = sorted(category.attributes, key=lambda d: d.get("order", 0))
            return _document(open311.service_definition(
                category.code, [_attribute(d) for d in definitions], fmt), fmt)

    return _guarded(fmt, answer)


# ------------------------------------------------------------------------------- POST requests

@router.post("/requests", include_in_schema=False)
@router.post("/requests.{fmt}", summary="Open311: file a service request (form-encoded, api_key)")
async def post_request(request: Request, fmt: str = open311.XML) -> Response:
    try:
        _format(fmt)
        form = await request.form()
        fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        return await run_in_threadpool(_create, request, fields, fmt)
    except Exception as exc:
        return _failure(fmt, exc)


def _create(request: Request, fields: list[tuple[str, str]], fmt: str) -> Response:
    settings = _settings(request)
    db = request.app.state.db
    form = dict(fields)  # the last value of each name (attributes are read from ``fields``)

    def text(name: str) -> str:
        return (form.get(name) or "").strip()

    _check_jurisdiction(request, text("jurisdiction_id") or request.query_params.get("jurisdiction_id"))
    with db.read() as session:
        client_id = queries.api_key_id(session, text("api_key"))
        if client_id is None:
            raise Open311Error(403, _("Invalid api_key: ask the city for a key, or check that it "
                                      "was not revoked."))
        if not text("service_code"):
            raise Open311Error(400, _("service_code is required."))
        category = _active_category(session, text("service_code"))
        definitions = {d["code"]: d for d in category.attributes}
        code, private = category.code, category.private
    description = text("description")
    if len(description) > DESCRIPTION_MAX:
        raise Open311Error(400, _("description must be at most %(max)s characters.", max=DESCRIPTION_MAX))
    lat_text, lon_text = text("lat"), text("long")
    lat = lon = None
    if lat_text or lon_text:
        if not (lat_text and lon_text):
            raise Open311Error(400, _("Give both lat and long, or an address_string."))
        lat = _coordinate(lat_text, "lat", 90)
        lon = _coordinate(lon_text, "long", 180)
    address = text("address_string") or text("address_id")
    if lat is None and not address:
        raise Open311Error(400, _("A location is required: lat and long, or address_string."))
    media_url = text("media_url")
    if media_url:
        if len(media_url) > MEDIA_URL_MAX or urlsplit(media_url).scheme not in ("http", "https") \
                or not urlsplit(media_url).netloc:
            raise Open311Error(400, _("media_url must be an http or https URL."))
        description = f"{description}\n\n{MEDIA_MARK}{media_url}".strip()
        if len(description) > DESCRIPTION_MAX:
            raise Open311Error(400, _("description and media_url together must be at most %(max)s "
                                      "characters.", max=DESCRIPTION_MAX))
    answers: dict[str, Any] = {}
    for name, value in open311.attribute_answers(fields).items():
        definition = definitions.get(name)
        if definition is None:
            continue  # not asked by this service: ignored (see the module's docstring)
        if isinstance(value, list) and definition.get("datatype") != "multivaluelist":
            raise Open311Error(400, _("attribute[%(code)s] takes one value.", code=name))
        answers[name] = value
    phone, email = text("phone") or None, text("email") or None
    name = " ".join(part for part in (text("first_name"), text("last_name")) if part)
    try:
        data = ReportCreate(category=code, description=description, lon=lon, lat=lat,
                            address=address[:500], attributes=answers, name=name[:200], phone=phone,
                            email=email, contact_channel="sms" if phone else "email" if email else "none")
    except ValidationError as exc:
        names = ", ".join(sorted({_field_name(e["loc"]) for e in exc.errors()}))
        raise Open311Error(400, _("These fields are not valid: %(fields)s.", fields=names)) from None
    # The key's client relays many people: its burst limit is its own, not its address's.
    report = actions.create_report(db, settings, None, data, source=Source.OPEN311, client_id=client_id,
                                   ip=client_ip(request), store=request.app.state.files)
    due = open311.w3c(report.due_resolve_at, settings.timezone)
    notice = _("The city aims to resolve this by %(date)s.", date=due) if due else None
    if private:
        notice = f"{notice} " if notice else ""
        notice += _("Its public position is approximate to protect privacy.")
    item = {"service_request_id": str(report.id), "token": report.token, "service_notice": notice,
            "account_id": None}
    return _document(open311.created([item], fmt), fmt)


def _field_name(loc: tuple[Any, ...]) -> str:
    names = {"lon": "long", "address": "address_string", "name": "first_name/last_name",
             "category": "service_code"}
    first = str(loc[0]) if loc else "?"
    if first == "attributes" and len(loc) > 1:
        return f"attribute[{loc[1]}]"
    return names.get(first, first)


# ------------------------------------------------------------------------------- GET requests

def _split_media(description: str) -> tuple[str, str | None]:
    head, sep, tail = description.rpartition("\n" + MEDIA_MARK)
    if sep and tail and "\n" not in tail.strip():
        return head.rstrip(), tail.strip()
    if description.startswith(MEDIA_MARK) and "\n" not in description:
        return "", description[len(MEDIA_MARK):].strip()
    return description, None


def _status_notes(report: Any, last_text: str) -> str | None:
    if report.status == Status.REJECTED and report.reject_reason in REJECT_NOTES:
        note = _(REJECT_NOTES[report.reject_reason], id=report.duplicate_of or "?")
        if report.reject_reason == "not_city" and report.referred_to:
            note = _("Not the city's responsibility: referred to %(to)s.", to=report.referred_to)
        return f"{note} {last_text}".strip()
    return last_text or None


ReportIds = list[int] | Select[Any]


def _id_chunks(report_ids: ReportIds) -> Iterator[list[int] | Select[Any]]:
    """What a lookup filters on: ids in chunks of 500, or the query that found the reports (one
    statement, and no thousand bound ids to compile, which cost more than the lookup itself)."""
    if isinstance(report_ids, Select):
        found = report_ids.with_only_columns(Report.id).subquery()
        yield select(found.c.id)
        return
    for start in range(0, len(report_ids), 500):
        yield report_ids[start:start + 500]


def _last_status_texts(session: Session, report_ids: ReportIds) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in _id_chunks(report_ids):
        rows = session.execute(select(Update.report_id, Update.text).where(
            Update.report_id.in_(chunk), Update.public.is_(True), Update.kind == "status")
            .order_by(Update.at, Update.id))
        for report_id, text in rows:
            out[report_id] = text or ""
    return out


def _first_photos(session: Session, report_ids: ReportIds) -> dict[int, int]:
    """The first photo the public may see, per report."""
    out: dict[int, int] = {}
    for chunk in _id_chunks(report_ids):
        rows = session.execute(select(Photo.report_id, func.min(Photo.id)).where(
            Photo.report_id.in_(chunk), Photo.hidden.is_(False)).group_by(Photo.report_id))
        out.update({report_id: photo_id for report_id, photo_id in rows})
    return out


# The columns a request's public face needs: rows, not whole objects (1,000 per answer).
PUBLIC_COLUMNS = (Report.id, Report.status, Report.description, Report.category_id, Report.department_id,
                  Report.created_at, Report.updated_at, Report.closed_at, Report.resolved_at,
                  Report.due_resolve_at, Report.address, Report.public_lat, Report.public_lon,
                  Report.reject_reason, Report.referred_to, Report.duplicate_of, Report.token)


def _request_items(session: Session, settings: Settings, reports: list[Any],
                   found_by: Select[Any] | None = None) -> list[dict[str, Any]]:
    """The public face of reports in Open311 terms: no contact detail, the public position.
    ``found_by``: the query that found ``reports``, which their notes and photos are looked up by."""
    if not reports:
        return []
    cats = {c.id: c for c in session.scalars(select(Category))}
    departments = city.department_names(session)
    ids: ReportIds = found_by if found_by is not None else [r.id for r in reports]
    notes = _last_status_texts(session, ids)
    photos = _first_photos(session, ids)
    base, tz = settings.base_url.rstrip("/"), settings.timezone
    items = []
    for report in reports:
        category = cats[report.category_id]
        description, client_media = _split_media(report.description)
        photo_id = photos.get(report.id)
        updated = max(d for d in (report.updated_at, report.closed_at, report.resolved_at, report.created_at)
                      if d is not None)
        items.append({
            "service_request_id": str(report.id),
            "status": open311.status_of(report.status, OPEN_STATUSES),
            "status_notes": _status_notes(report, notes.get(report.id, "")),
            "service_name": category.name, "service_code": category.code,
            "description": description or None,
            "agency_responsible": departments.get(report.department_id) or None,
            "service_notice": None,
            "requested_datetime": open311.w3c(report.created_at, tz),
            "updated_datetime": open311.w3c(updated, tz),
            "expected_datetime": open311.w3c(report.due_resolve_at, tz),
            "address": report.address or None, "address_id": None, "zipcode": None,
            "lat": report.public_lat, "long": report.public_lon,
            "media_url": f"{base}/reports/photos/{photo_id}.jpg" if photo_id else client_media,
        })
    return items


def _find(session: Session, *, ids: list[int], codes: list[str], statuses: set[str],
          start: datetime, end: datetime) -> Select[Any]:
    """The query of the requests asked for, newest first, at most ``REQUESTS_LIMIT``."""
    query = select(*PUBLIC_COLUMNS)
    if ids:
        query = query.where(Report.id.in_(ids[:REQUESTS_LIMIT]))
    else:
        query = query.where(Report.created_at >= start, Report.created_at <= end)
        if codes:  # ids first, so the (category, created_at) index serves the range
            category_ids = list(session.scalars(select(Category.id).where(
                func.upper(Category.code).in_([c.upper() for c in codes]))))
            query = query.where(Report.category_id.in_(category_ids))
        if statuses == {"open"}:
            query = query.where(Report.status.in_(list(OPEN_STATUSES)))
        elif statuses == {"closed"}:
            query = query.where(Report.status.not_in(list(OPEN_STATUSES)))
    return query.order_by(Report.created_at.desc(), Report.id.desc()).limit(REQUESTS_LIMIT)


@router.get("/requests", include_in_schema=False)
@router.get("/requests.{fmt}", summary="Open311 service requests (public: no contact details)")
def get_requests(request: Request, fmt: str = open311.XML, service_request_id: str | None = None,
                 service_code: str | None = None, start_date: str | None = None,
                 end_date: str | None = None, status: str | None = None,
                 jurisdiction_id: str | None = None) -> Response:
    """Newest first, at most 1000; by default the last 90 days. ``service_request_id``
    (comma-separated) overrides the other filters."""
    settings = _settings(request)

    def answer(fmt: str) -> Response:
        _check_jurisdiction(request, jurisdiction_id)
        wanted = _split(service_request_id)
        ids = [int(v) for v in wanted if v.isdigit()]
        if wanted:  # the other filters are ignored
            statuses: set[str] = set()
            start = end = utcnow()
            if not ids:
                return _document(open311.service_requests([], fmt), fmt)
        else:
            statuses = {v.lower() for v in _split(status)}
            if statuses - {"open", "closed"}:
                raise Open311Error(400, _("status must be open, closed or both, comma-separated."))
            start, end = _window(request, timedelta(days=REQUESTS_DAYS))
        with request.app.state.db.read() as session:
            query = _find(session, ids=ids, codes=_split(service_code), statuses=statuses,
                          start=start, end=end)
            items = _request_items(session, settings, list(session.execute(query)), found_by=query)
        return _document(open311.service_requests(items, fmt), fmt)

    return _guarded(fmt, answer)


@router.get("/requests/{service_request_id}", include_in_schema=False)
@router.get("/requests/{service_request_id}.{fmt}", summary="One Open311 service request (a list of one)")
def get_request(request: Request, service_request_id: str, fmt: str = open311.XML,
                jurisdiction_id: str | None = None) -> Response:
    settings = _settings(request)

    def answer(fmt: str) -> Response:
        _check_jurisdiction(request, jurisdiction_id)
        with request.app.state.db.read() as session:
            report = queries.report(session, int(service_request_id)) if service_request_id.isdigit() \
                else None
            if report is None:
                raise Open311Error(404, _("Unknown service_request_id: %(id)s.", id=service_request_id))
            items = _request_items(session, settings, [report])
        return _document(open311.service_requests(items, fmt), fmt)

    return _guarded(fmt, answer)


@router.get("/tokens/{token}", include_in_schema=False)
@router.get("/tokens/{token}.{fmt}", summary="Open311: the service request id behind a token")
def get_token(request: Request, token: str, fmt: str = open311.XML,
              jurisdiction_id: str | None = None) -> Response:
    def answer(fmt: str) -> Response:
        _check_jurisdiction(request, jurisdiction_id)
        with request.app.state.db.read() as session:
            report = queries.by_token(session, token)
            if report is None:
                raise Open311Error(404, _("Unknown token."))
            item = {"service_request_id": str(report.id), "token": report.token}
        return _document(open311.tokens([item], fmt), fmt)

    return _guarded(fmt, answer)


# ------------------------------------------------------------------------------- FixMyStreet updates

def _statuses_at(session: Session, report_ids: list[int]) -> dict[int, list[tuple[tuple[Any, int], str]]]:
    """Each report's status changes in order, to know its status at any update."""
    out: dict[int, list[tuple[tuple[Any, int], str]]] = {}
    for chunk in (report_ids[i:i + 500] for i in range(0, len(report_ids), 500)):
        rows = session.execute(select(Update.report_id, Update.at, Update.id, Update.status).where(
            Update.report_id.in_(chunk), Update.status.is_not(None)).order_by(Update.at, Update.id))
        for report_id, at, update_id, status in rows:
            out.setdefault(report_id, []).append(((at, update_id), status))
    return out


@router.get("/servicerequestupdates", include_in_schema=False)
@router.get("/servicerequestupdates.{fmt}", summary="FixMyStreet extension: public updates of requests")
def get_updates(request: Request, fmt: str = open311.XML, start_date: str | None = None,
                end_date: str | None = None, jurisdiction_id: str | None = None) -> Response:
    """Public timeline lines in [start_date, end_date] (default: the last 24 hours), oldest
    first so that a client can go on from the last ``updated_datetime``; at most 1000."""
    settings = _settings(request)

    def answer(fmt: str) -> Response:
        _check_jurisdiction(request, jurisdiction_id)
        start, end = _window(request, timedelta(hours=UPDATES_HOURS))
        with request.app.state.db.read() as session:
            updates = list(session.scalars(select(Update).where(
                Update.public.is_(True), Update.kind != "created", Update.at >= start, Update.at <= end)
                .order_by(Update.at, Update.id).limit(UPDATES_LIMIT)))
            report_ids = sorted({u.report_id for u in updates})
            history = _statuses_at(session, report_ids)
            current = dict(session.execute(select(Report.id, Report.status).where(
                Report.id.in_(report_ids))).all()) if report_ids else {}
        items = []
        for update in updates:
            changes = history.get(update.report_id, [])
            index = bisect.bisect_right([key for key, _s in changes], (update.at, update.id))
            status = changes[index - 1][1] if index else current.get(update.report_id, Status.NEW)
            items.append({"update_id": str(update.id), "service_request_id": str(update.report_id),
                          "status": open311.status_of(update.status or status, OPEN_STATUSES),
                          "updated_datetime": open311.w3c(update.at, settings.timezone),
                          "description": update.text or None, "media_url": None})
        return _document(open311.request_updates(items, fmt), fmt)

    return _guarded(fmt, answer)


# ------------------------------------------------------------------------------- anything else

@router.api_route("/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                  include_in_schema=False)
def not_found(request: Request, rest: str) -> Response:
    """Unknown paths and wrong methods still answer in the spec's error format."""
    fmt = open311.JSON if rest.endswith(".json") else open311.XML
    allowed = sorted({m for route in router.routes if route.endpoint is not not_found  # type: ignore[attr-defined]
                      and route.matches(request.scope)[0] == Match.PARTIAL
                      for m in route.methods})  # type: ignore[attr-defined]
    if allowed:
        return _document(open311.errors([(405, _("This method is not allowed here."))], fmt), fmt, 405,
                         {"Allow": ", ".join(allowed)})
    return _document(open311.errors([(404, _("Unknown Open311 endpoint."))], fmt), fmt, 404)
