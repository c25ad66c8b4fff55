""""My home" pages: the insulation estimate with its "what if" table (``/twin/home``, public, works
without JavaScript), the signed-in person's own houses with their roof heat-loss level
(``/twin/home/mine``), and the admins' owner links (``/twin/owners``).

Nothing a person types in the estimate is stored: the form is posted (so the answers stay out of
addresses and logs), computed and shown back. A building's heat-loss level is shown only to those
the city's policy allows (``twin_thermography_visibility``: see ``owners.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from parvis.kernel.auth import Principal, current_principal, require
from parvis.kernel.errors import ParvisError
from parvis.kernel.i18n import _
from parvis.kernel.web import client_ip, csrf_protect, error_message, render
from parvis.modules.twin import home_service, owners
from parvis.modules.twin.insulation import ENERGY_CLASSES, InvalidHomeInputs
from parvis.modules.twin.thermography import LEVEL_LABELS, POLICY_LABELS, UNKNOWN_LABEL

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

DEFAULT_VALUES = {"storeys": "1", "attached_sides": "0", "heating_system": "gas_boiler"}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _level_view(level: int | None) -> dict[str, Any]:
    return {"level": level, "label": _(LEVEL_LABELS[level]) if level in LEVEL_LABELS else _(UNKNOWN_LABEL)}


def _building_context(request: Request,
                      building_id: int | None) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The building the page was reached from (None when none or unknown), its pre-filled values, the
    fields the twin filled, and its heat-loss level when this person may see it."""
    if building_id is None:
        return {}, {}, []
    settings = request.app.state.settings
    principal = current_principal(request)
    with request.app.state.db.read() as session:
        found, values, filled = home_service.prefill(session, building_id, settings)
        if not found:
            return {}, {}, []
        view = {"id": found["id"], "ref": found["ref"], "address": found["address"], "level": None}
        if owners.may_see(session, settings.twin_thermography_visibility, principal, building_id):
            view["level"] = _level_view(owners.heat_loss_level(session, building_id))
    return view, values, filled


def _page(request: Request, values: dict[str, str], *, building: dict[str, Any] | None = None,
          filled: list[str] | None = None, result: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, status: int = 200) -> Response:
    settings = request.app.state.settings
    return render(request, "twin/home_estimate.html", {
        "values": {**DEFAULT_VALUES, **values}, "building": building or {}, "filled": filled or [],
        "filled_labels": [_(home_service.FIELD_LABELS[name]) for name in filled or []],
        "choices": home_service.choices(settings), "labels": {k: _(v) for k, v in
                                                              home_service.FIELD_LABELS.items()},
        "result": result, "errors": errors or {}, "classes": ENERGY_CLASSES,
        "class_colours": home_service.ENERGY_CLASS_COLOURS,
        "hdd": settings.twin_heating_degree_days, "cdd": settings.twin_cooling_degree_days},
        status_code=status)


@router.get("/twin/home")
def home_form(request: Request) -> Response:
    building, values, filled = _building_context(request, _int(request.query_params.get("building")))
    return _page(request, values, building=building, filled=filled)


@router.post("/twin/home")
async def home_estimate(request: Request) -> Response:
    form = await request.form()
    raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    building_id = _int(raw.get("building"))
    building, twin_values, filled = _building_context(request, building_id)
    parsed = home_service.read_form(raw)
    filled = [name for name in filled if parsed.values.get(name) == twin_values.get(name)]  # still the twin's
    result = None
    if parsed.inputs is not None:
        try:
            result = home_service.compute(parsed.inputs, request.app.state.settings)
        except InvalidHomeInputs as exc:
            home_service.field_error(parsed.errors, exc)
    if parsed.errors or result is None:
        return _page(request, parsed.values, building=building, filled=filled, errors=parsed.errors,
                     status=422)
    return _page(request, parsed.values, building=building, filled=filled, result=result)


@router.get("/twin/home/mine")
def home_mine(request: Request,
              principal: Annotated[Principal, Depends(require("account.self"))]) -> Response:
    with request.app.state.db.read() as session:
        houses = owners.buildings_of(session, principal.user_id)  # type: ignore[arg-type]
    for house in houses:
        house["level_view"] = _level_view(house["heat_loss_level"])
    policy = request.app.state.settings.twin_thermography_visibility
    return render(request, "twin/home_mine.html", {"houses": houses, "policy": _(POLICY_LABELS[policy]),
                                                   "levels": [(n, _(LEVEL_LABELS[n])) for n in LEVEL_LABELS]})


def _owners_page(request: Request, *, form: dict[str, str] | None = None, error: str | None = None,
                 status: int = 200, notice: str | None = None) -> Response:
    with request.app.state.db.read() as session:
        links = owners.links(session)
    policy = request.app.state.settings.twin_thermography_visibility
    return render(request, "twin/home_owners.html", {
        "links": links, "form": form or {}, "error": error, "notice": notice,
        "policy": _(POLICY_LABELS[policy])}, status_code=status)


@router.get("/twin/owners")
def owners_page(request: Request, _p: Annotated[Principal, Depends(require("city.manage"))]) -> Response:
    notice = {"linked": _("The owner is linked."), "removed": _("The link is removed.")}.get(
        request.query_params.get("done", ""))
    return _owners_page(request, notice=notice)


@router.post("/twin/owners")
def owners_add(request: Request, principal: Annotated[Principal, Depends(require("city.manage"))],
               building: Annotated[str, Form()] = "", identifier: Annotated[str, Form()] = "") -> Response:
    form = {"building": building, "identifier": identifier}
    try:
        owners.link_owner(request.app.state.db, principal, building, identifier,
                          request.app.state.settings.phone_region, client_ip(request))
    except ParvisError as exc:
        return _owners_page(request, form=form, error=error_message(exc), status=exc.status)
    return RedirectResponse("/twin/owners?done=linked", status_code=303)


@router.post("/twin/owners/{link_id:int}/remove")
def owners_remove(request: Request, link_id: int,
                  principal: Annotated[Principal, Depends(require("city.manage"))]) -> Response:
    try:
        owners.unlink_owner(request.app.state.db, principal, link_id, client_ip(request))
    except ParvisError as exc:
        return _owners_page(request, error=error_message(exc), status=exc.status)
    return RedirectResponse("/twin/owners?done=removed", status_code=303)
