"""Citizens' pages of crisis alerts: the active alerts on a map and in a list, each alert's own
page (the link every SMS, e-mail and push message carries), and the places a signed-in person is
warned about. Every page works without JavaScript; the maps are drawn by ``static/alerts.js``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from parvis.kernel import geo
from parvis.kernel.auth import Principal, current_principal, require
from parvis.kernel.errors import N_, NotFound, ParvisError, ValidationFailed
from parvis.kernel.i18n import LANGUAGE_NAMES, _
from parvis.kernel.identifiers import mask
from parvis.kernel.web import client_ip, csrf_protect, error_message, render
from parvis.modules import accounts, city
from parvis.modules.alerts import actions, queries, targeting
from parvis.modules.alerts.models import CHANNELS, Alert, AlertInfo, State, category_names
from parvis.modules.alerts.pages.labels import all_labels
from parvis.modules.alerts.schemas import SubscriptionCreate
from parvis.modules.alerts.standards import cap
from parvis.settings import LANGUAGES

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

ATOM_URL = "/cap/alerts.atom"
DONE_MESSAGES = {"added": N_("The place is added: you will be warned of alerts there."),
                 "deleted": N_("The place is removed: you will no longer be warned about it.")}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _text(texts: list[AlertInfo], lang: str, default: str) -> AlertInfo | None:
    """The alert's words in the visitor's language, else the city's default language."""
    return targeting.choose_info({t.language: t for t in texts}, lang, default) if texts else None


def _public(row: Alert | None) -> Alert:
    if row is None or row.state == State.DRAFT or row.scope != "Public":
        raise NotFound()
    return row


@router.get("/alerts")
def alerts_page(request: Request) -> Response:
    """The city's active alerts (actual alerts and exercises), newest first, with their areas."""
    settings = request.app.state.settings
    lang = request.state.translator.lang
    with request.app.state.db.read() as session:
        rows = queries.active(session)
        texts = queries.infos(session, [r.id for r in rows])
    shown = {r.id: _text(texts[r.id], lang, settings.default_language) for r in rows}
    features = geo.feature_collection([
        geo.feature(r.area, {"id": r.id, "name": shown[r.id].headline if shown[r.id] else r.event,
                             "url": f"/alerts/{r.id}", "severity": r.severity}, fid=r.id) for r in rows])
    return render(request, "alerts/list.html", {
        "alerts": rows, "shown": shown, "areas": features, "labels": all_labels(), "atom_url": ATOM_URL,
        "signed_in": current_principal(request).is_authenticated})


@router.get("/alerts/{alert_id:int}")
def alert_page(request: Request, alert_id: int) -> Response:
    """One alert as people reached by it read it: their language first, the city's otherwise."""
    settings = request.app.state.settings
    lang = request.state.translator.lang
    with request.app.state.db.read() as session:
        row = _public(queries.alert(session, alert_id))
        texts = queries.infos(session, [row.id])[row.id]
        story = queries.history(session, row)
        latest = story[-1] if story else row
        cancel = next((m for m in story if m.msg_type == "Cancel"), None)
    text = _text(texts, lang, settings.default_language)
    others = [(t.language, LANGUAGE_NAMES.get(t.language, t.language)) for t in texts
              if text is not None and t.language != text.language]
    principal = current_principal(request)
    return render(request, "alerts/alert.html", {
        "alert": row, "text": text, "other_languages": others, "story": story,
        "latest": latest if latest.id != row.id and latest.msg_type != "Cancel" else None,
        "cancel": cancel, "active": queries.is_active(row), "labels": all_labels(), "atom_url": ATOM_URL,
        "cap_url": f"/cap/alerts/{row.identifier}.xml", "areas": geo.feature_collection([geo.feature(
            row.area, {"id": row.id, "name": text.headline if text else row.event}, fid=row.id)]),
        "not_in_my_language": text is not None and text.language != lang,
        "staff": principal.has("alerts.compose")})


# ------------------------------------------------------------------ my subscriptions

def _float(value: str) -> float | None:
    try:
        return float(value.strip().replace(",", ".")) if value.strip() else None
    except ValueError:
        return None


def _subscriptions_page(request: Request, principal: Principal, *, form: dict[str, Any] | None = None,
                        error: str | None = None, errors: dict[str, str] | None = None,
                        flash: str | None = None, status_code: int = 200) -> Response:
    with request.app.state.db.read() as session:
        contact = accounts.contact_of(session, principal.user_id)  # type: ignore[arg-type]
        rows = queries.subscriptions_of(session, principal.user_id)  # type: ignore[arg-type]
        districts = city.district_names(session)
    if form is None:
        form = {"place": "district", "district_id": "", "lon": "", "lat": "", "label": "", "categories": [],
                "channels": ["sms" if contact and contact.phone else "email"],
                "language": (contact.language if contact else None) or request.state.translator.lang,
                "tester": ""}
    addresses = {"sms": mask(contact.phone) if contact and contact.phone else None,
                 "email": mask(contact.email) if contact and contact.email else None, "push": None}
    return render(request, "alerts/subscriptions.html", {
        "subscriptions": [(s, category_names(s.categories)) for s in rows], "district_names": districts,
        "districts": sorted(districts.items(), key=lambda item: item[1].lower()), "form": form,
        "error": error, "errors": errors or {}, "flash": flash, "labels": all_labels(),
        "channels": CHANNELS, "addresses": addresses, "categories": cap.CATEGORIES,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES]}, status_code=status_code)


@router.get("/alerts/subscriptions")
def my_subscriptions(request: Request, principal: Annotated[Principal, Depends(require("account.self"))],
                     done: str = "") -> Response:
    flash = _(DONE_MESSAGES[done]) if done in DONE_MESSAGES else None
    return _subscriptions_page(request, principal, flash=flash)


_SUBSCRIPTION_FIELDS = {"place": "place", "district_id": "place", "lon": "place", "lat": "place",
                        "channels": "channels", "categories": "categories", "language": "language",
                        "label": "label"}


def _subscribe(request: Request, principal: Principal, form: dict[str, Any]) -> Response:
    point = form["place"] == "point"
    try:
        district = form["district_id"]
        lon, lat = (_float(form["lon"]), _float(form["lat"])) if point else (None, None)
        if point and (lon is None or lat is None):
            raise ValidationFailed(N_("Tap the map or give the latitude and longitude of the place."),
                                   errors=[{"field": "place", "code": "missing"}])
        if not point and not district.isdigit():
            raise ValidationFailed(N_("Choose a point on the map or a district."),
                                   errors=[{"field": "place", "code": "missing"}])
        if not form["channels"]:
            raise ValidationFailed(N_("Choose how to be warned."),
                                   errors=[{"field": "channels", "code": "missing"}])
        try:
            data = SubscriptionCreate(label=form["label"].strip(), lon=lon, lat=lat,
                                      district_id=None if point else int(district),
                                      categories=form["categories"], channels=form["channels"],
                                      language=form["language"] or None, tester=bool(form["tester"]))
        except ValidationError as exc:
            raise ValidationFailed(N_("Please correct the fields below."), errors=[
                {"field": str(e["loc"][0]) if e.get("loc") else "form", "code": e["type"]}
                for e in exc.errors()]) from None
        actions.subscribe(request.app.state.db, principal, data, ip=client_ip(request))
    except ParvisError as exc:
        message = error_message(exc)
        errors = {_SUBSCRIPTION_FIELDS.get(str(e.get("field")), "form"): e.get("message") or message
                  for e in exc.errors}
        return _subscriptions_page(request, principal, form=form, error=message, errors=errors,
                                   status_code=exc.status)
    return _see_other("/alerts/subscriptions?done=added")


@router.post("/alerts/subscriptions")
async def subscribe(request: Request,
                    principal: Annotated[Principal, Depends(require("account.self"))]) -> Response:
    raw = await request.form()
    one = {k: str(raw.get(k) or "")[:100] for k in ("place", "district_id", "lon", "lat", "label", "language",
                                                      "tester")}
    form = {**one, "categories": [str(v) for v in raw.getlist("categories")][:12],
            "channels": [str(v) for v in raw.getlist("channels")][:3]}
    return await run_in_threadpool(_subscribe, request, principal, form)


@router.post("/alerts/subscriptions/{subscription_id:int}/delete")
def unsubscribe(request: Request, subscription_id: int,
                principal: Annotated[Principal, Depends(require("account.self"))]) -> Response:
    actions.unsubscribe(request.app.state.db, principal, subscription_id, ip=client_ip(request))
    return _see_other("/alerts/subscriptions?done=deleted")
