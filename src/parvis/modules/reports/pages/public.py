"""Citizens' pages: report a problem (with photos; without an account, confirmed by a code sent
to a phone or an e-mail address), follow it, say "me too", reopen, rate; the public map and
list of reports. Every page works without JavaScript."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from parvis.kernel import i18n
from parvis.kernel.auth import Principal, current_principal, require
from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_, NotFound, ParvisError, ValidationFailed
from parvis.kernel.files import sanitize_image
from parvis.kernel.i18n import _
from parvis.kernel.web import client_ip, csrf_protect, error_message, render
from parvis.modules import city
from parvis.modules.reports import actions, pending, queries
from parvis.modules.reports.labels import status_labels
from parvis.modules.reports.schemas import ReportCreate

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
PAGE = 30


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _date(value: str, end: bool = False) -> datetime | None:
    try:
        day = datetime.fromisoformat(value).date() if value else None
    except ValueError:
        return None
    if day is None:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


@router.get("/reports")
def reports_list(request: Request, category: str = "", status: str = "", district_id: int = 0,
                 since: str = "", offset: int = 0) -> Response:
    f = queries.ReportFilter(category=category or None, status=status or None,
                             district_id=district_id or None, since=_date(since))
    with request.app.state.db.read() as session:
        rows, total = queries.search(session, f, limit=PAGE, offset=max(0, offset))
        lookups = queries.names(session)
        items = [queries.public_view(r, *lookups) for r in rows]
        cats = queries.categories(session)
        districts = city.districts_geojson(session)["features"]
    params = {"category": category, "status": status, "district_id": district_id or "", "since": since}
    query = "&".join(f"{k}={v}" for k, v in params.items() if v)
    return render(request, "reports/list.html", {
        "reports": items, "total": total, "limit": PAGE, "offset": offset, "categories": cats,
        "districts": districts, "filters": params, "query": query, "status_labels": status_labels()})


@router.get("/reports/new")
def new_report_form(request: Request, category: str = "") -> Response:
    """Signed in or not: a visitor without an account confirms a phone number or an e-mail
    address with a code before the report is filed (see ``pending``)."""
    signed_in = current_principal(request).is_authenticated
    return _form(request, {"category": category, "contact_channel": "sms" if signed_in else "auto"})


def _form(request: Request, form: dict[str, Any], error: str | None = None,
          errors: dict[str, str] | None = None, status: int = 200,
          headers: dict[str, str] | None = None) -> Response:
    with request.app.state.db.read() as session:
        cats = queries.categories(session)
    return render(request, "reports/new.html", {
        "form": form, "categories": cats, "error": error, "errors": errors or {},
        "anonymous": not current_principal(request).is_authenticated,
        "max_photos": request.app.state.settings.reports_max_photos}, status_code=status, headers=headers)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


async def _sanitized(request: Request, uploads: list[UploadFile]) -> list[Any]:
    settings = request.app.state.settings
    photos = []
    for upload in uploads:
        data = await upload.read(settings.photo_max_bytes + 1)
        photos.append(await run_in_threadpool(
            sanitize_image, data, max_bytes=settings.photo_max_bytes,
            max_pixels=settings.photo_max_pixels, max_side=settings.photo_max_side))
    return photos


@router.post("/reports/new")
async def new_report(request: Request) -> Response:
    principal = current_principal(request)
    settings = request.app.state.settings
    form = await request.form()
    chosen = str(form.get("category") or "")
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    prefix = f"attribute[{chosen}]["
    answers: dict[str, Any] = {}
    for key in form:
        if key.startswith(prefix) and key.endswith("]"):
            code = key[len(prefix):-1]
            items = [str(v) for v in form.getlist(key) if str(v)]
            answers[code] = items if len(items) > 1 else (items[0] if items else "")
    uploads = [f for f in form.getlist("photos") if isinstance(f, UploadFile) and f.filename]
    if not principal.is_authenticated:
        return await _new_anonymous_report(request, values, answers, uploads)
    try:
        if len(uploads) > settings.reports_max_photos:
            raise ValidationFailed(N_("At most %(count)s photos per report."),
                                   params={"count": settings.reports_max_photos})
        photos = await _sanitized(request, uploads)
        data = ReportCreate(category=chosen, description=values.get("description", "")[:4000],
                            lon=_float(values.get("lon")), lat=_float(values.get("lat")),
                            address=values.get("address", "")[:500], attributes=answers,
                            contact_channel=values.get("contact_channel", "sms")
                            if values.get("contact_channel") in ("sms", "email", "push", "none") else "sms",
                            show_name=values.get("show_name") == "1", language=request.state.translator.lang)
        report = await run_in_threadpool(
            actions.create_report, request.app.state.db, settings, principal, data,
            source="web", ip=client_ip(request), photos=photos, store=request.app.state.files)
    except ParvisError as exc:
        fields = {e.get("field", ""): e.get("message") or error_message(exc) for e in exc.errors}
        return _form(request, values, error_message(exc), fields, status=exc.status)
    except ValueError:
        return _form(request, values, _("Please correct the fields below."), status=422)
    return _see_other(f"/reports/{report.id}?created=1")


async def _new_anonymous_report(request: Request, values: dict[str, str], answers: dict[str, Any],
                                uploads: list[UploadFile]) -> Response:
    """Check everything as filing would, keep the report aside and send a code to confirm it."""
    settings = request.app.state.settings
    db = request.app.state.db
    ip = client_ip(request)
    try:
        phone, email = pending.read_contact(values.get("contact", ""), settings.phone_region)
        channel = "none" if values.get("contact_channel") == "none" else ("sms" if phone else "email")
        data = ReportCreate(category=values.get("category", ""),
                            description=values.get("description", "")[:4000],
                            lon=_float(values.get("lon")), lat=_float(values.get("lat")),
                            address=values.get("address", "")[:500], attributes=answers,
                            contact_channel=channel, show_name=values.get("show_name") == "1",
                            name=values.get("name", "").strip()[:200], phone=phone, email=email,
                            language=request.state.translator.lang)
        await run_in_threadpool(actions.check_report, db, settings, None, data, source="web", ip=ip,
                                photo_count=len(uploads))
        await run_in_threadpool(pending.check_room, db, settings, data, ip)
        photos = await _sanitized(request, uploads)
        token = await run_in_threadpool(pending.stash, db, settings, data, ip=ip, photos=photos,
                                        store=request.app.state.files, language=i18n.current().lang)
    except ParvisError as exc:
        fields = {_FIELD.get(e.get("field", ""), e.get("field", "")): e.get("message") or error_message(exc)
                  for e in exc.errors}
        return _form(request, values, error_message(exc), fields, status=exc.status, headers=exc.headers)
    except ValueError:
        return _form(request, values, _("Please correct the fields below."), status=422)
    return _see_other(f"/reports/confirm/{token}")


_FIELD = {"phone": "contact", "email": "contact"}  # the report's contact is one field of the form
_GONE = (pending.PendingGone, pending.PendingExpired, pending.PendingVoid)


def _confirm_page(request: Request, token: str, *, error: str | None = None,
                  errors: dict[str, str] | None = None, flash: str | None = None, code: str = "",
                  status: int = 200, headers: dict[str, str] | None = None) -> Response:
    try:
        waiting = pending.view(request.app.state.db, request.app.state.settings, token)
    except _GONE as exc:
        return render(request, "reports/confirm.html", {"gone": error_message(exc)}, status_code=exc.status)
    return render(request, "reports/confirm.html", {
        "pending": waiting, "token": token, "error": error, "errors": errors or {}, "flash": flash,
        "code": code},
        status_code=status, headers=headers)


def _confirm(request: Request, token: str, code: str) -> Response:
    try:
        report = pending.confirm(request.app.state.db, request.app.state.settings, token, code,
                                 ip=client_ip(request), store=request.app.state.files)
    except _GONE as exc:
        return render(request, "reports/confirm.html", {"gone": error_message(exc)}, status_code=exc.status)
    except ParvisError as exc:
        message = error_message(exc)
        return _confirm_page(request, token, error=message, errors={"code": message}, status=exc.status,
                             headers=exc.headers)
    return _see_other(f"/reports/{report.id}?created=1")


@router.get("/reports/confirm/{token}")
def confirm_form(request: Request, token: str, code: str = "", sent: int = 0) -> Response:
    """Asks for the code. The e-mail's link brings the code along: it is filled in, and the
    person still presses the button (mail scanners open links: a GET must never file a report)."""
    flash = _("A new code is on its way.") if sent else None
    if code.isdigit() and len(code) == 6:
        flash = _("Your code is filled in: press the button to send your report.")
    return _confirm_page(request, token, flash=flash, code=code if code.isdigit() else "")


@router.post("/reports/confirm/{token}")
def confirm_report(request: Request, token: str, code: Annotated[str, Form()] = "") -> Response:
    return _confirm(request, token, code)


@router.post("/reports/confirm/{token}/resend")
def resend_code(request: Request, token: str) -> Response:
    try:
        pending.resend(request.app.state.db, request.app.state.settings, token)
    except _GONE as exc:
        return render(request, "reports/confirm.html", {"gone": error_message(exc)}, status_code=exc.status)
    except ParvisError as exc:
        return _confirm_page(request, token, error=error_message(exc), status=exc.status, headers=exc.headers)
    return _see_other(f"/reports/confirm/{token}?sent=1")


@router.get("/reports/nearby")
def nearby_fragment(request: Request, category: str = "", lon: str = "", lat: str = "") -> Response:
    """The open reports of the same category near the pin (an htmx fragment of the form)."""
    x, y = _float(lon), _float(lat)
    items: list[dict[str, Any]] = []
    if category and x is not None and y is not None and -180 <= x <= 180 and -90 <= y <= 90:
        with request.app.state.db.read() as session:
            cat = queries.category_by_code(session, category)
            if cat is not None:
                lookups = queries.names(session)
                items = [{**queries.public_view(r, *lookups), "distance_m": round(d)}
                         for r, d in queries.nearby_open(session, cat, x, y)]
    return render(request, "reports/_nearby.html", {"nearby": items, "status_labels": status_labels()})


@router.get("/reports/mine")
def my_reports(request: Request,
               principal: Annotated[Principal, Depends(require("account.self"))]) -> Response:
    with request.app.state.db.read() as session:
        lookups = queries.names(session)
        items = [queries.public_view(r, *lookups)
                 for r in queries.my_reports(session, principal.user_id)]  # type: ignore[arg-type]
    return render(request, "reports/mine.html", {"reports": items, "status_labels": status_labels()})


@router.get("/reports/{report_id:int}")
def report_page(request: Request, report_id: int, created: int = 0, done: str = "") -> Response:
    principal = current_principal(request)
    settings = request.app.state.settings
    with request.app.state.db.read() as session:
        report = queries.report(session, report_id)
        if report is None:
            raise NotFound()
        view = queries.public_view(report, *queries.names(session),
                                   updates=queries.timeline(session, report_id, include_internal=False))
        mine = principal.is_authenticated and report.reporter_id == principal.user_id
        staff = principal.is_staff and principal.can_act_for_department(report.department_id)
    flash = {"1": _("Thank you! Your report is registered. You will be told of each step.")}.get(
        str(created)) or {"support": _("Thank you, your support is counted."),
                          "reopen": _("Your report is reopened."),
                          "rate": _("Thank you for your evaluation.")}.get(done)
    can_reopen = mine and report.status == "resolved" and report.resolved_at is not None and (
        utcnow() - report.resolved_at).days < settings.reports_reopen_days
    can_rate = mine and report.status in ("resolved", "closed", "rejected") and report.rating is None
    return render(request, "reports/report.html", {
        "report": view, "flash": flash, "mine": mine, "staff": staff, "can_reopen": can_reopen,
        "can_rate": can_rate, "status_labels": status_labels(), "open": report.status in
        ("new", "acknowledged", "in_progress")})


@router.post("/reports/{report_id:int}/support")
def support(request: Request, report_id: int,
            principal: Annotated[Principal, Depends(require("account.self"))]) -> Response:
    actions.support(request.app.state.db, principal, report_id)
    return _see_other(f"/reports/{report_id}?done=support")


async def _form_text(request: Request, name: str) -> str:
    return str((await request.form()).get(name) or "").strip()


@router.post("/reports/{report_id:int}/reopen")
async def reopen(request: Request, report_id: int,
                 principal: Annotated[Principal, Depends(require("account.self"))]) -> Response:
    reason = await _form_text(request, "reason")
    if not reason:
        raise ValidationFailed(N_("Say what is still wrong."),
                               errors=[{"field": "reason", "code": "missing"}])
    await run_in_threadpool(actions.reopen, request.app.state.db, request.app.state.settings, principal,
                            report_id, reason[:2000])
    return _see_other(f"/reports/{report_id}?done=reopen")


@router.post("/reports/{report_id:int}/rate")
async def rate(request: Request, report_id: int,
               principal: Annotated[Principal, Depends(require("account.self"))]) -> Response:
    raw = await _form_text(request, "rating")
    if raw not in ("1", "2", "3", "4", "5"):
        raise ValidationFailed(N_("Choose a rating from 1 to 5."),
                               errors=[{"field": "rating", "code": "missing"}])
    comment = (await _form_text(request, "comment"))[:2000]
    await run_in_threadpool(actions.rate, request.app.state.db, principal, report_id, int(raw), comment)
    return _see_other(f"/reports/{report_id}?done=rate")


@router.get("/reports/photos/{name}")
def photo(request: Request, name: str) -> Response:
    """A report's photo (``12.jpg``) or its thumbnail (``12-thumb.jpg``); hidden ones for staff only."""
    stem = name.removesuffix(".jpg")
    thumb = stem.endswith("-thumb")
    photo_id = stem.removesuffix("-thumb")
    if not name.endswith(".jpg") or not photo_id.isdigit():
        raise NotFound()
    principal = current_principal(request)
    with request.app.state.db.read() as session:
        item = queries.photo(session, int(photo_id))
        if item is None:
            raise NotFound()
        department_id = item.report.department_id
        key = item.thumb_key if thumb else item.key
        hidden = item.hidden
    if hidden and not (principal.is_staff and principal.can_act_for_department(department_id)):
        raise NotFound()
    data = request.app.state.files.get(key)
    return Response(data, media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600" if hidden else "public, max-age=86400"})
