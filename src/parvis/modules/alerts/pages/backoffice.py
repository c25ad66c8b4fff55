"""The city's side of crisis alerts: the list of alerts, composing (from a hazard template,
with the area as districts, a polygon drawn on the map or a circle), the preview of who will be
reached, approval by a second person, updates and cancellation, and the live delivery dashboard
with its CSV export for the after-action review.

Every page works without JavaScript (forms post normally; the polygon is a textarea of points);
``static/alerts.js`` draws the maps and lets the polygon be drawn by clicking, and htmx refreshes
the delivery counts. Every write goes through ``alerts.actions``; every POST answers 303 to the
alert's page with a ``done`` flash, or shows the page again with the translated refusal."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from parvis.kernel import geo
from parvis.kernel.auth import Principal, require
from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_, NotFound, ParvisError
from parvis.kernel.i18n import _
from parvis.kernel.identifiers import mask
from parvis.kernel.web import client_ip, csrf_protect, error_message, render
from parvis.modules import accounts
from parvis.modules.alerts import actions, queries, reach, targeting
from parvis.modules.alerts.hazard_templates import HAZARDS
from parvis.modules.alerts.models import ALERT_STATUSES, CHANNELS, Alert, DeliveryState, State
from parvis.modules.alerts.pages import forms
from parvis.modules.alerts.pages.labels import all_labels
from parvis.modules.alerts.standards import cap
from parvis.settings import LANGUAGES

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

Composer = Annotated[Principal, Depends(require("alerts.compose"))]
Approver = Annotated[Principal, Depends(require("alerts.approve"))]

POLL_SECONDS = 3
CSV_PAGE = 5000
DONE_MESSAGES = {
    "composed": N_("The draft is saved. Check who it will reach, then have it approved."),
    "edited": N_("The draft has been changed."),
    "approved": N_("The alert is approved: its messages are being sent."),
    "update": N_("The update is saved as a draft: check it, then have it approved."),
    "cancelled": N_("The alert is cancelled: messages not yet sent are withdrawn and the people "
                    "already reached are told."),
}
MODES = {  # the form's title and where it posts, per use
    "new": (N_("New alert"), "/admin/alerts/new"),
    "edit": (N_("Edit the draft #%(id)s"), "/admin/alerts/{id}/edit"),
    "update": (N_("Update of alert #%(id)s"), "/admin/alerts/{id}/update"),
}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _flash(done: str) -> str | None:
    return _(DONE_MESSAGES[done]) if done in DONE_MESSAGES else None


def _features(rows: list[Alert], names: dict[int, str] | None = None) -> dict[str, Any]:
    """The alerts' areas as GeoJSON for the page's map (inline: one request less on a phone)."""
    return geo.feature_collection([geo.feature(r.area, {"id": r.id, "name": (names or {}).get(r.id, r.event)},
                                               fid=r.id) for r in rows])


# ------------------------------------------------------------------ the list

@router.get("/admin/alerts")
def alerts_list(request: Request, principal: Composer, done: str = "") -> Response:
    settings = request.app.state.settings
    with request.app.state.db.read() as session:
        groups = queries.staff_overview(session, default_language=settings.default_language)
        ids = [r.id for rows, _total in groups.values() for r in rows]
        texts = queries.infos(session, ids)
    headlines = {i: targeting.choose_info({t.language: t for t in texts[i]}, request.state.translator.lang,
                                          settings.default_language).headline if texts[i] else ""
                 for i in ids}
    return render(request, "alerts_admin/list.html", {
        "groups": groups, "headlines": headlines, "labels": all_labels(), "flash": _flash(done),
        "hazards": HAZARDS})


# ------------------------------------------------------------------ compose, edit, update

def _form_page(request: Request, mode: str, values: dict[str, Any], *, alert_id: int | None = None,
               error: str | None = None, errors: dict[str, str] | None = None, status_code: int = 200,
               template: str = "") -> Response:
    settings = request.app.state.settings
    with request.app.state.db.read() as session:
        cmap = targeting.city_map(session)
    districts = sorted(cmap.names.items(), key=lambda item: item[1].lower())
    title, action = MODES[mode]
    present = forms.languages_present(values)
    first = [settings.default_language, settings.local_language]
    order = list(dict.fromkeys([*first, *LANGUAGES]))
    return render(request, "alerts_admin/form.html", {
        "mode": mode, "title": _(title, id=alert_id), "action": action.format(id=alert_id),
        "alert_id": alert_id, "form": values, "error": error, "errors": errors or {},
        "districts": districts, "hazards": HAZARDS, "template": template, "labels": all_labels(),
        "languages": order, "required_languages": first, "missing": forms.missing_languages(present),
        "statuses": ALERT_STATUSES, "categories": cap.CATEGORIES, "response_types": cap.RESPONSE_TYPES,
        "urgencies": cap.URGENCIES, "severities": cap.SEVERITIES, "certainties": cap.CERTAINTIES},
        status_code=status_code)


@router.get("/admin/alerts/new")
def new_form(request: Request, principal: Composer, template: str = "") -> Response:
    """The compose form; ``?template=flood`` pre-fills it from a hazard template."""
    settings = request.app.state.settings
    key = template if template in HAZARDS else ""
    values = forms.from_hazard(key, settings) if key else forms.blank(settings)
    return _form_page(request, "new", values, template=key)


def _submit(request: Request, principal: Principal, mode: str, values: dict[str, Any],
            alert_id: int | None = None) -> Response:
    """Check the form and call the action of ``mode``; on a refusal, the form again with it."""
    db, settings, ip = request.app.state.db, request.app.state.settings, client_ip(request)
    data = None
    try:
        data = forms.to_create(values, settings)
        if mode == "new":
            row = actions.compose(db, settings, principal, data, ip)
            return _see_other(f"/admin/alerts/{row.id}?done=composed")
        if mode == "edit":
            actions.edit_draft(db, principal, alert_id, data, ip)  # type: ignore[arg-type]
            return _see_other(f"/admin/alerts/{alert_id}?done=edited")
        row = actions.update_alert(db, settings, principal, alert_id, data, ip)  # type: ignore[arg-type]
        return _see_other(f"/admin/alerts/{row.id}?done=update")
    except NotFound:
        raise
    except ParvisError as exc:
        cmap = None
        if data is not None:
            with db.read() as session:
                cmap = targeting.city_map(session)
        errors = forms.field_errors(exc, data=data, cmap=cmap, default_language=settings.default_language)
        return _form_page(request, mode, values, alert_id=alert_id, error=error_message(exc), errors=errors,
                          status_code=exc.status)


@router.post("/admin/alerts/new")
async def compose(request: Request, principal: Composer) -> Response:
    values = forms.read(await request.form())
    return await run_in_threadpool(_submit, request, principal, "new", values)


def _existing(request: Request, alert_id: int) -> tuple[Alert, list[Any]]:
    with request.app.state.db.read() as session:
        row = queries.alert(session, alert_id)
        if row is None or row.msg_type == "Cancel":
            raise NotFound()
        return row, queries.infos(session, [row.id])[row.id]


@router.get("/admin/alerts/{alert_id:int}/edit")
def edit_form(request: Request, alert_id: int, principal: Composer) -> Response:
    row, texts = _existing(request, alert_id)
    if row.state != State.DRAFT:
        return _see_other(f"/admin/alerts/{alert_id}")
    return _form_page(request, "edit", forms.from_alert(row, texts, request.app.state.settings),
                      alert_id=alert_id)


@router.post("/admin/alerts/{alert_id:int}/edit")
async def edit(request: Request, alert_id: int, principal: Composer) -> Response:
    values = forms.read(await request.form())
    return await run_in_threadpool(_submit, request, principal, "edit", values, alert_id)


@router.get("/admin/alerts/{alert_id:int}/update")
def update_form(request: Request, alert_id: int, principal: Composer) -> Response:
    """A new message replacing a sent alert, starting from what it says now."""
    row, texts = _existing(request, alert_id)
    if not queries.is_active(row):
        return _see_other(f"/admin/alerts/{alert_id}")
    return _form_page(request, "update", forms.from_alert(row, texts, request.app.state.settings),
                      alert_id=alert_id)


@router.post("/admin/alerts/{alert_id:int}/update")
async def update(request: Request, alert_id: int, principal: Composer) -> Response:
    values = forms.read(await request.form())
    return await run_in_threadpool(_submit, request, principal, "update", values, alert_id)


# ------------------------------------------------------------------ one alert

def _name(session: Any, user_id: int | None) -> str:
    if user_id is None:
        return ""
    contact = accounts.contact_of(session, user_id)
    return contact.display_name if contact else f"#{user_id}"


def _deliveries(session: Any, row: Alert) -> dict[str, Any]:
    """What the delivery dashboard shows: counts per channel and state, totals, reasons."""
    counts = queries.delivery_counts(session, row.id)
    states = [s.value for s in DeliveryState]
    totals = {s: sum(c.get(s, 0) for c in counts.values()) for s in states}
    job = queries.fan_out_state(session, row.id)
    pending = job in ("queued", "running")
    return {"counts": counts, "totals": totals, "total": sum(totals.values()), "states": states,
            "channels": [c for c in CHANNELS if c in counts] or list(CHANNELS), "job": job,
            "reasons": queries.failure_reasons(session, row.id),
            "live": row.state != State.DRAFT and (pending or totals["queued"] > 0 or totals["sent"] > 0
                                                  or queries.is_active(row)),
            "poll": POLL_SECONDS, "alert_id": row.id, "updated": utcnow()}


def _alert_page(request: Request, principal: Principal, alert_id: int, *, flash: str | None = None,
                error: str | None = None, cancel_note: str = "", status_code: int = 200,
                count: bool = False) -> Response:
    settings = request.app.state.settings
    with request.app.state.db.read() as session:
        row = queries.alert(session, alert_id)
        if row is None:
            raise NotFound()
        texts = queries.infos(session, [row.id])[row.id]
        cmap = targeting.city_map(session)
        story = queries.history(session, row, sent_only=False)
        # Counting takes seconds in a big city: the page asks for it after loading (htmx), or
        # counts at once when asked to (``?count=1``, the link shown without JavaScript).
        preview = reach.count(session, row) if count and row.state == State.DRAFT else None
        dashboard = _deliveries(session, row) if row.state != State.DRAFT else None
        people = {"author": _name(session, row.author_id), "approver": _name(session, row.approver_id)}
    draft = row.state == State.DRAFT
    return render(request, "alerts_admin/alert.html", {
        "alert": row, "texts": texts, "story": story, "preview": preview,
        "dashboard": dashboard,
        "people": people, "labels": all_labels(), "flash": flash, "error": error, "cancel_note": cancel_note,
        "districts": [cmap.names.get(d, f"#{d}") for d in row.district_ids],
        "missing": [(code, name) for code, name in forms.missing_languages([t.language for t in texts])],
        "areas": _features([row]), "draft": draft, "active": queries.is_active(row),
        "can_approve": draft and principal.has("alerts.approve"),
        "own_actual": draft and row.status == "Actual" and row.author_id == principal.user_id,
        "can_cancel": queries.is_active(row) and principal.has("alerts.approve"),
        "cap_url": f"/admin/alerts/{row.id}/cap.xml" if draft else f"/cap/alerts/{row.identifier}.xml",
        "public_url": None if draft else f"/alerts/{row.id}", "default_language": settings.default_language},
        status_code=status_code)


@router.get("/admin/alerts/{alert_id:int}")
def alert_page(request: Request, alert_id: int, principal: Composer, done: str = "",
               count: bool = False) -> Response:
    """A draft's preview (its area, who it will reach, its CAP document), or a sent alert's
    delivery dashboard, history, update and cancel."""
    return _alert_page(request, principal, alert_id, flash=_flash(done), count=count)


@router.get("/admin/alerts/{alert_id:int}/reach")
def reach_fragment(request: Request, alert_id: int, principal: Composer) -> Response:
    """Who a draft will reach, counted now: the draft's page loads it after itself."""
    with request.app.state.db.read() as session:
        row = queries.alert(session, alert_id)
        if row is None or row.state != State.DRAFT:
            raise NotFound()
        preview = reach.count(session, row)
    return render(request, "alerts_admin/_reach.html",
                  {"preview": preview, "alert": row, "labels": all_labels()},
                  headers={"Cache-Control": "no-store"})


@router.post("/admin/alerts/{alert_id:int}/approve")
def approve(request: Request, alert_id: int, principal: Approver) -> Response:
    try:
        actions.approve(request.app.state.db, request.app.state.settings, principal, alert_id,
                        client_ip(request))
    except NotFound:
        raise
    except ParvisError as exc:  # the author of an actual alert, a missing language, expired...
        return _alert_page(request, principal, alert_id, error=error_message(exc), status_code=exc.status)
    return _see_other(f"/admin/alerts/{alert_id}?done=approved")


@router.post("/admin/alerts/{alert_id:int}/cancel")
def cancel(request: Request, alert_id: int, principal: Approver,
           note: Annotated[str, Form()] = "") -> Response:
    try:
        actions.cancel(request.app.state.db, request.app.state.settings, principal, alert_id, note[:2000],
                       client_ip(request))
    except NotFound:
        raise
    except ParvisError as exc:
        return _alert_page(request, principal, alert_id, error=error_message(exc), cancel_note=note[:2000],
                           status_code=exc.status)
    return _see_other(f"/admin/alerts/{alert_id}?done=cancelled")


@router.get("/admin/alerts/{alert_id:int}/deliveries")
def deliveries_fragment(request: Request, alert_id: int, principal: Composer) -> Response:
    """The delivery dashboard alone: the alert's page polls it (htmx) while messages are moving."""
    with request.app.state.db.read() as session:
        row = queries.alert(session, alert_id)
        if row is None or row.state == State.DRAFT:
            raise NotFound()
        dashboard = _deliveries(session, row)
    return render(request, "alerts_admin/_deliveries.html", {"dashboard": dashboard, "labels": all_labels()},
                  headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ exports

CSV_HEADER = ["person", "address", "channel", "state", "reason", "language", "queued_at", "updated_at"]


def _cell(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    if value[:1] in ("=", "@", "\t", "\r") or (value[:1] in ("+", "-") and not value[1:2].isdigit()):
        return "'" + value
    return value


def masked_person(person: str) -> str:
    """``phone:+84912345678`` -> ``phone:+84 •••• 678``; accounts and erased people stay as they are."""
    kind, _sep, value = person.partition(":")
    return f"{kind}:{mask(value)}" if kind in ("phone", "email") and value else person


def _csv_lines(db: Any, alert_id: int) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    after = 0
    while True:
        with db.read() as session:
            rows = queries.delivery_records(session, alert_id, after_id=after, limit=CSV_PAGE)
        for d in rows:
            writer.writerow([_cell(masked_person(d.person)), _cell(mask(d.address)) if d.address else "",
                             d.channel, d.state, _cell(d.reason), d.language, d.created_at.isoformat(),
                             d.updated_at.isoformat()])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(rows) < CSV_PAGE:
            return
        after = rows[-1].id


@router.get("/admin/alerts/{alert_id:int}/deliveries.csv")
def deliveries_csv(request: Request, alert_id: int, principal: Composer) -> Response:
    """Every delivery record of an alert, people masked, for the after-action review."""
    with request.app.state.db.read() as session:
        if queries.alert(session, alert_id) is None:
            raise NotFound()
    name = f"alert-{alert_id}-deliveries.csv"
    return StreamingResponse(_csv_lines(request.app.state.db, alert_id), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})


@router.get("/admin/alerts/{alert_id:int}/cap.xml")
def cap_preview(request: Request, alert_id: int, principal: Composer) -> Response:
    """The CAP 1.2 document as it will be published (drafts included, for checking)."""
    settings = request.app.state.settings
    with request.app.state.db.read() as session:
        row = queries.alert(session, alert_id)
        if row is None:
            raise NotFound()
        message = queries.to_cap(session, row, queries.infos(session, [row.id])[row.id],
                                 targeting.city_map(session), settings)
    return Response(cap.to_xml(message, tz=settings.timezone), media_type=cap.MEDIA_TYPE,
                    headers={"Cache-Control": "no-store"})
