"""The agents' back office for citizen reports: the department queue (filters, map, bulk
actions), one report's page (workflow, notes, transfer, assignment, moderation, location),
statistics, and the admins' configuration (routing table, Open311 keys).

Every page works without JavaScript; htmx and ``static/reports-admin.js`` only enhance them.
Every write goes through ``reports.actions``; every POST answers 303 back to its page with a
``done`` flash, or re-renders the page with the translated error and the error's status."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from parvis.kernel import i18n
from parvis.kernel.auth import Principal, require, require_department
from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_, NotFound, ParvisError, ValidationFailed
from parvis.kernel.i18n import _
from parvis.kernel.web import client_ip, csrf_protect, error_message, render
from parvis.modules import accounts, city
from parvis.modules.reports import actions, configuration, queries
from parvis.modules.reports.labels import reject_labels, status_labels
from parvis.modules.reports.models import OPEN_STATUSES, TRANSITIONS, Status
from parvis.modules.reports.schemas import DESCRIPTION_MAX, StatusChange

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

PAGE = 50
BULK_MAX = 200
GEOJSON = "application/geo+json"
FILTER_KEYS = ("status", "category", "district_id", "overdue", "to_locate", "mine")
PERIODS = {"30": 30, "90": 90, "all": None}

SOURCE_LABELS = {
    "web": N_("Web site"), "api": N_("Mobile app or API"), "open311": N_("Open311 client"),
    "sms": N_("SMS"), "hotline": N_("Hotline"),
}
CHANNEL_LABELS = {"sms": N_("SMS"), "email": N_("E-mail"), "push": N_("Push notification"),
                  "none": N_("No updates")}
KIND_LABELS = {
    "created": N_("Report received"), "status": N_("Status changed"), "comment": N_("Comment"),
    "note": N_("Internal note"), "transfer": N_("Transferred"), "assign": N_("Assignment changed"),
    "redaction": N_("Moderated"), "located": N_("Placed on the map"), "reopen": N_("Reopened"),
    "rating": N_("Rated by the reporter"), "escalation": N_("Overdue: supervisors alerted"),
}
BULK_ACTIONS = {
    "acknowledge": N_("Acknowledge"), "in_progress": N_("Set in progress"),
    "assign_me": N_("Assign to me"),
}
# Why one report of a bulk action was not changed, by the problem type of its error.
BULK_REASONS = {
    "conflict": N_("its status does not allow this change"),
    "forbidden": N_("not in your departments"),
    "not-found": N_("not found"),
}
DONE_MESSAGES = {
    "status": N_("The status has been changed."),
    "comment": N_("Your comment has been published."),
    "note": N_("Your internal note has been added."),
    "transfer": N_("The report has been transferred."),
    "assign": N_("The assignment has been changed."),
    "redact": N_("The report has been moderated."),
    "locate": N_("The report has been placed on the map."),
    "route": N_("The routing table has been changed."),
    "revoked": N_("The key has been revoked."),
}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None


def _float(value: str) -> float | None:
    try:
        return float(value.replace(",", ".")) if value.strip() else None
    except ValueError:
        return None


def _tr(labels: dict[str, str]) -> dict[str, str]:
    return {k: _(v) for k, v in labels.items()}


def _flash(done: str) -> str | None:
    return _(DONE_MESSAGES[done]) if done in DONE_MESSAGES else None


def is_overdue(report: Any, now: Any) -> bool:
    """Past its target (or escalated) and still open: shown in words, not only in colour."""
    if report.status not in OPEN_STATUSES:
        return False
    if report.escalated_at is not None:
        return True
    late_ack = report.status == Status.NEW and report.due_ack_at is not None and report.due_ack_at < now
    return late_ack or (report.due_resolve_at is not None and report.due_resolve_at < now)


# ------------------------------------------------------------------ the department queue

def _queue_filters(params: dict[str, str]) -> dict[str, str]:
    """The filters a queue URL may carry, cleaned (unknown values dropped)."""
    out = {k: (params.get(k) or "").strip()[:40] for k in FILTER_KEYS}
    if out["status"] not in ("open", "closed", *[s.value for s in Status]):
        out["status"] = ""
    if _int(out["district_id"]) is None:
        out["district_id"] = ""
    for flag in ("overdue", "to_locate", "mine"):
        out[flag] = "1" if out[flag] else ""
    return {k: v for k, v in out.items() if v}


def _report_filter(principal: Principal, filters: dict[str, str]) -> queries.ReportFilter:
    return queries.ReportFilter(
        category=filters.get("category") or None, status=filters.get("status") or None,
        district_id=_int(filters.get("district_id")),
        department_ids=principal.department_scope,
        overdue=bool(filters.get("overdue")),
        needs_location=True if filters.get("to_locate") else None,
        assigned_to=principal.user_id if filters.get("mine") else None)


def _bulk_flash(ok: str, failed: str) -> tuple[str | None, str | None]:
    count = _int(ok) or 0
    flash = None
    if ok:
        flash = i18n.current().ngettext("%(num)s report updated.", "%(num)s reports updated.", count)
    problems = []
    for item in failed.split(".") if failed else []:
        report_id, _sep, slug = item.partition("-")
        if report_id.isdigit():
            reason = _(BULK_REASONS.get(slug, N_("not valid")))
            problems.append(_("#%(id)s (%(reason)s)", id=report_id, reason=reason))
    error = _("Not changed: %(reports)s.", reports=", ".join(problems)) if problems else None
    return flash, error


@router.get("/admin/reports")
def queue(request: Request, principal: Annotated[Principal, Depends(require("reports.handle"))],
          offset: str = "0", done: str = "", ok: str = "", failed: str = "") -> Response:
    filters = _queue_filters(dict(request.query_params))
    start = max(0, _int(offset) or 0)
    with request.app.state.db.read() as session:
        rows, total = queries.search(session, _report_filter(principal, filters), limit=PAGE, offset=start)
        cats, departments, districts = queries.names(session)
        all_categories = queries.categories(session, active_only=False)
        assignees = {uid: accounts.contact_of(session, uid) for uid in {r.assigned_to for r in rows} if uid}
    now = utcnow()
    flash, error = _bulk_flash(ok, failed) if done == "bulk" else (_flash(done), None)
    query = urlencode(filters)
    return render(request, "reports_admin/queue.html", {
        "reports": rows, "total": total, "limit": PAGE, "offset": start, "filters": filters,
        "query": query, "map_url": "/admin/reports/map.geojson" + (f"?{query}" if query else ""),
        "categories": all_categories, "category_by_id": cats, "department_names": departments,
        "districts": districts, "overdue": {r.id for r in rows if is_overdue(r, now)},
        "assignees": {uid: c.display_name for uid, c in assignees.items() if c},
        "status_labels": status_labels(), "bulk_actions": _tr(BULK_ACTIONS),
        "flash": flash, "error": error})


@router.get("/admin/reports/map.geojson")
def queue_map(request: Request,
              principal: Annotated[Principal, Depends(require("reports.handle"))]) -> JSONResponse:
    """The queue's reports as map points, with the same filters and department scope as the list."""
    f = _report_filter(principal, _queue_filters(dict(request.query_params)))
    labels = status_labels()
    with request.app.state.db.read() as session:
        collection = queries.map_features(session, f)
        cats = {c.id: c.name for c in queries.categories(session, active_only=False)}
    for feature in collection["features"]:  # map.js labels each point with its "name"
        p = feature["properties"]
        p["name"] = f"#{p['id']} {cats.get(p['category_id'], '')} · {labels.get(p['status'], p['status'])}"
        p["url"] = f"/admin/reports/{p['id']}"
    return JSONResponse(collection, media_type=GEOJSON)


@router.post("/admin/reports/bulk")
def bulk(request: Request, principal: Annotated[Principal, Depends(require("reports.handle"))],
         ids: Annotated[list[str] | None, Form()] = None, action: Annotated[str, Form()] = "",
         back: Annotated[str, Form()] = "") -> Response:
    """One action on the selected reports, each through its own action (and transaction)."""
    db, settings, ip = request.app.state.db, request.app.state.settings, client_ip(request)
    filters = _queue_filters(dict(parse_qsl(back)))
    selected = list(dict.fromkeys(i for i in (_int(v) for v in (ids or [])[:BULK_MAX]) if i))
    done, failed = 0, []
    if action in BULK_ACTIONS:
        for report_id in selected:
            try:
                if action == "assign_me":
                    actions.assign(db, principal, report_id, principal.user_id, ip)
                else:
                    status = "acknowledged" if action == "acknowledge" else "in_progress"
                    actions.change_status(db, settings, principal, report_id,
                                          StatusChange(status=status), ip)  # type: ignore[arg-type]
                done += 1
            except ParvisError as exc:
                failed.append(f"{report_id}-{exc.type_slug}")
    result = {"done": "bulk", "ok": str(done)}
    if failed:
        result["failed"] = ".".join(failed)
    return _see_other("/admin/reports?" + urlencode({**filters, **result}))


# ------------------------------------------------------------------ one report

def _staff_choices(session: Any, principal: Principal, department_id: int,
                   current: int | None) -> list[tuple[int, str]]:
    """Who a report may be assigned to. Until accounts offers ``staff_of(session, department_id)``
    this is the signed-in agent (and whoever holds it now)."""
    staff_of = getattr(accounts, "staff_of", None)
    people = list(staff_of(session, department_id)) if staff_of else []
    choices = {c.user_id: c.display_name for c in people}
    if principal.user_id is not None and principal.can_act_for_department(department_id):
        choices.setdefault(principal.user_id, principal.display_name)
    if current and current not in choices:
        contact = accounts.contact_of(session, current)
        choices[current] = contact.display_name if contact else f"#{current}"
    return sorted(choices.items(), key=lambda item: item[1].lower())


def _report_page(request: Request, principal: Principal, report_id: int, *, flash: str | None = None,
                 error: str | None = None, errors: dict[str, str] | None = None,
                 form: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    with request.app.state.db.read() as session:
        report = queries.report(session, report_id)
        if report is None:
            raise NotFound()
        require_department(principal, report.department_id)
        cats, departments, districts = queries.names(session)
        category = cats[report.category_id]
        timeline = queries.timeline(session, report_id, include_internal=True)
        all_departments = city.departments(session)
        choices = _staff_choices(session, principal, report.department_id, report.assigned_to)
        assignee = dict(choices).get(report.assigned_to) if report.assigned_to else None
        reporter = accounts.contact_of(session, report.reporter_id) if report.reporter_id else None
        duplicate = queries.report(session, report.duplicate_of) if report.duplicate_of else None
    questions = {a.get("code"): a.get("description") or a.get("code") for a in category.attributes}
    values = {v["key"]: v["name"] for a in category.attributes for v in a.get("values", [])}
    answers = []
    for code, value in (report.attributes or {}).items():
        shown = ", ".join(values.get(str(v), str(v)) for v in value) if isinstance(value, list) \
            else values.get(str(value), str(value))
        answers.append((questions.get(code, code), shown))
    return render(request, "reports_admin/report.html", {
        "report": report, "category": category, "department": departments.get(report.department_id, ""),
        "district": districts.get(report.district_id) if report.district_id else None,
        "department_names": departments, "timeline": timeline, "answers": answers,
        "overdue": is_overdue(report, utcnow()), "assignee": assignee, "choices": choices,
        "reporter": reporter, "duplicate": duplicate,
        "transitions": sorted(TRANSITIONS[Status(report.status)], key=list(Status).index),
        "other_departments": [d for d in all_departments if d.id != report.department_id],
        "status_labels": status_labels(), "reject_labels": reject_labels(),
        "source_labels": _tr(SOURCE_LABELS), "channel_labels": _tr(CHANNEL_LABELS),
        "kind_labels": _tr(KIND_LABELS), "description_max": DESCRIPTION_MAX,
        "flash": flash, "error": error, "errors": errors or {}, "form": form or {}},
        status_code=status_code)


def _failed(request: Request, principal: Principal, report_id: int, exc: ParvisError,
            form: dict[str, Any]) -> Response:
    message = error_message(exc)
    errors = {e.get("field") or "form": e.get("message") or message for e in exc.errors}
    return _report_page(request, principal, report_id, error=message, errors=errors, form=form,
                        status_code=exc.status)


def _back(report_id: int, done: str) -> RedirectResponse:
    return _see_other(f"/admin/reports/{report_id}?done={done}")


@router.get("/admin/reports/{report_id:int}")
def report_page(request: Request, report_id: int,
                principal: Annotated[Principal, Depends(require("reports.handle"))],
                done: str = "") -> Response:
    return _report_page(request, principal, report_id, flash=_flash(done))


@router.post("/admin/reports/{report_id:int}/status")
def change_status(request: Request, report_id: int,
                  principal: Annotated[Principal, Depends(require("reports.handle"))],
                  status: Annotated[str, Form()] = "", comment: Annotated[str, Form()] = "",
                  reject_reason: Annotated[str, Form()] = "", referred_to: Annotated[str, Form()] = "",
                  duplicate_of: Annotated[str, Form()] = "") -> Response:
    form = {"status": status, "comment": comment, "reject_reason": reject_reason,
            "referred_to": referred_to, "duplicate_of": duplicate_of}
    try:
        if duplicate_of.strip() and _int(duplicate_of.strip().lstrip("#")) is None:
            raise ValidationFailed(N_("Give the number of the original report."),
                                   errors=[{"field": "duplicate_of", "code": "int_parsing"}])
        try:
            change = StatusChange(status=status, comment=comment,  # type: ignore[arg-type]
                                  reject_reason=reject_reason or None,  # type: ignore[arg-type]
                                  referred_to=referred_to,
                                  duplicate_of=_int(duplicate_of.strip().lstrip("#")))
        except ValidationError as exc:
            raise ValidationFailed(N_("Please correct the fields below."), errors=[
                {"field": str(e["loc"][0]), "code": e["type"]} for e in exc.errors()]) from None
        actions.change_status(request.app.state.db, request.app.state.settings, principal, report_id,
                              change, client_ip(request))
    except ParvisError as exc:
        return _failed(request, principal, report_id, exc, form)
    return _back(report_id, "status")


@router.post("/admin/reports/{report_id:int}/comment")
def comment(request: Request, report_id: int,
            principal: Annotated[Principal, Depends(require("reports.handle"))],
            text: Annotated[str, Form()] = "", visibility: Annotated[str, Form()] = "internal") -> Response:
    public = visibility == "public"
    form = {"text": text, "visibility": "public" if public else "internal"}
    try:
        if not text.strip():
            raise ValidationFailed(N_("Write the text of the comment or note."),
                                   errors=[{"field": "text", "code": "missing"}])
        if len(text) > DESCRIPTION_MAX:
            raise ValidationFailed(N_("This text is too long."),
                                   errors=[{"field": "text", "code": "string_too_long"}])
        actions.add_comment(request.app.state.db, request.app.state.settings, principal, report_id,
                            text.strip(), public, client_ip(request))
    except ParvisError as exc:
        return _failed(request, principal, report_id, exc, form)
    return _back(report_id, "comment" if public else "note")


@router.post("/admin/reports/{report_id:int}/transfer")
def transfer(request: Request, report_id: int,
             principal: Annotated[Principal, Depends(require("reports.handle"))],
             department_id: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "") -> Response:
    form = {"department_id": department_id, "reason": reason}
    target = _int(department_id)
    try:
        if target is None:
            raise ValidationFailed(N_("Choose the department to send the report to."),
                                   errors=[{"field": "department_id", "code": "missing"}])
        if not reason.strip() or len(reason) > 1000:
            raise ValidationFailed(N_("Say why the report goes to this department."),
                                   errors=[{"field": "reason", "code": "missing"}])
        actions.transfer(request.app.state.db, principal, report_id, target, reason.strip(),
                         client_ip(request))
    except ParvisError as exc:
        return _failed(request, principal, report_id, exc, form)
    if principal.can_act_for_department(target):
        return _back(report_id, "transfer")
    return _see_other("/admin/reports?done=transfer")


@router.post("/admin/reports/{report_id:int}/assign")
def assign(request: Request, report_id: int,
           principal: Annotated[Principal, Depends(require("reports.handle"))],
           user_id: Annotated[str, Form()] = "") -> Response:
    target = principal.user_id if user_id == "me" else _int(user_id)
    try:
        if user_id not in ("", "me") and target is None:
            raise ValidationFailed(errors=[{"field": "user_id", "code": "int_parsing"}])
        actions.assign(request.app.state.db, principal, report_id, target, client_ip(request))
    except ParvisError as exc:
        return _failed(request, principal, report_id, exc, {"user_id": user_id})
    return _back(report_id, "assign")


@router.post("/admin/reports/{report_id:int}/redact")
def redact(request: Request, report_id: int,
           principal: Annotated[Principal, Depends(require("reports.handle"))],
           description: Annotated[str, Form()] = "",
           hidden: Annotated[list[str] | None, Form()] = None) -> Response:
    hidden_ids = [i for i in (_int(v) for v in hidden or []) if i]
    form = {"description": description, "hidden": hidden_ids}
    try:
        if len(description) > DESCRIPTION_MAX:
            raise ValidationFailed(N_("This text is too long."),
                                   errors=[{"field": "description", "code": "string_too_long"}])
        actions.redact(request.app.state.db, principal, report_id, description.strip(), hidden_ids,
                       client_ip(request))
    except ParvisError as exc:
        return _failed(request, principal, report_id, exc, form)
    return _back(report_id, "redact")


@router.post("/admin/reports/{report_id:int}/locate")
def locate(request: Request, report_id: int,
           principal: Annotated[Principal, Depends(require("reports.handle"))],
           lon: Annotated[str, Form()] = "", lat: Annotated[str, Form()] = "") -> Response:
    form = {"lon": lon, "lat": lat}
    x, y = _float(lon), _float(lat)
    try:
        if x is None or y is None or not (-180 <= x <= 180 and -90 <= y <= 90):
            raise ValidationFailed(N_("Give a longitude between -180 and 180 and a latitude between "
                                      "-90 and 90."), errors=[{"field": "lon", "code": "float_parsing"}])
        report = actions.locate_report(request.app.state.db, principal, report_id, x, y,
                                       client_ip(request))
    except ParvisError as exc:
        return _failed(request, principal, report_id, exc, form)
    if principal.can_act_for_department(report.department_id):
        return _back(report_id, "locate")
    return _see_other("/admin/reports?done=locate")


# ------------------------------------------------------------------ statistics

@router.get("/admin/reports/stats")
def stats(request: Request, principal: Annotated[Principal, Depends(require("reports.handle"))],
          period: str = "30") -> Response:
    period = period if period in PERIODS else "30"
    days = PERIODS[period]
    since = utcnow() - timedelta(days=days) if days else None
    with request.app.state.db.read() as session:
        rows = queries.stats(session, department_ids=principal.department_scope, since=since)
    export = "/api/v1/reports/export.csv"
    if since:
        export += "?" + urlencode({"since": since.replace(microsecond=0).isoformat()})
    return render(request, "reports_admin/stats.html", {
        "rows": rows, "period": period, "export_url": export,
        "periods": [("30", _("Last 30 days")), ("90", _("Last 90 days")), ("all", _("All time"))]})


# ------------------------------------------------------------------ configuration (admins)

def _routing_page(request: Request, *, flash: str | None = None, error: str | None = None,
                  form: dict[str, str] | None = None, status_code: int = 200) -> Response:
    with request.app.state.db.read() as session:
        cats = queries.categories(session, active_only=False)
        routes = queries.routes(session)
        _cats, departments, districts = queries.names(session)
    defaults = {r.category_id: r.department_id for r in routes if r.district_id is None}
    overrides: dict[int, list[Any]] = {}
    for r in routes:
        if r.district_id is not None:
            overrides.setdefault(r.category_id, []).append(r)
    return render(request, "reports_admin/routing.html", {
        "categories": cats, "defaults": defaults, "overrides": overrides,
        "department_names": departments, "districts": districts, "flash": flash, "error": error,
        "form": form or {}}, status_code=status_code)


@router.get("/admin/reports/routing")
def routing(request: Request, _p: Annotated[Principal, Depends(require("reports.configure"))],
            done: str = "") -> Response:
    return _routing_page(request, flash=_flash(done))


@router.post("/admin/reports/routing")
def set_route(request: Request, principal: Annotated[Principal, Depends(require("reports.configure"))],
              category_id: Annotated[str, Form()] = "", district_id: Annotated[str, Form()] = "",
              department_id: Annotated[str, Form()] = "") -> Response:
    form = {"category_id": category_id, "district_id": district_id, "department_id": department_id}
    category, district, department = _int(category_id), _int(district_id), _int(department_id)
    try:
        if category is None or department is None or (district_id and district is None):
            raise ValidationFailed(N_("Choose a category and a department."))
        with request.app.state.db.read() as session:
            if district is not None and district not in queries.names(session)[2]:
                raise ValidationFailed(N_("Unknown district."))
        configuration.set_route(request.app.state.db, principal, category, district, department,
                          client_ip(request))
    except ParvisError as exc:
        return _routing_page(request, error=error_message(exc), form=form, status_code=exc.status)
    return _see_other("/admin/reports/routing?done=route")


def _keys_page(request: Request, *, flash: str | None = None, error: str | None = None,
               new_key: str | None = None, name: str = "", status_code: int = 200) -> Response:
    with request.app.state.db.read() as session:
        keys = queries.api_keys(session)
    return render(request, "reports_admin/keys.html", {
        "keys": keys, "flash": flash, "error": error, "new_key": new_key, "name": name},
        status_code=status_code)


@router.get("/admin/reports/open311-keys")
def keys(request: Request, _p: Annotated[Principal, Depends(require("reports.configure"))],
         done: str = "") -> Response:
    return _keys_page(request, flash=_flash(done))


@router.post("/admin/reports/open311-keys")
def issue_key(request: Request, principal: Annotated[Principal, Depends(require("reports.configure"))],
              name: Annotated[str, Form()] = "") -> Response:
    """The key is shown on this answer only (we keep its digest): no redirect that could lose it."""
    if not name.strip() or len(name) > 200:
        return _keys_page(request, error=_("Give the key a name (the application that will use it)."),
                          name=name[:200], status_code=422)
    key = configuration.issue_api_key(request.app.state.db, principal, name.strip())
    response = _keys_page(request, new_key=key, name=name.strip())
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/admin/reports/open311-keys/{key_id:int}/revoke")
def revoke_key(request: Request, key_id: int,
               principal: Annotated[Principal, Depends(require("reports.configure"))]) -> Response:
    configuration.revoke_api_key(request.app.state.db, principal, key_id)
    return _see_other("/admin/reports/open311-keys?done=revoked")
