"""HTML pages of the city module: the home page with its map, and the back office for
departments, districts and the messages the city sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from parvis.kernel import notify
from parvis.kernel.auth import Principal, require
from parvis.kernel.errors import N_, NotFound, ParvisError
from parvis.kernel.i18n import _
from parvis.kernel.labels import CHANNEL_LABELS, STATUS_LABELS, translated
from parvis.kernel.web import client_ip, csrf_protect, error_message, render
from parvis.modules.city import actions, queries
from parvis.modules.city.schemas import DepartmentCreate, DepartmentUpdate

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

KIND_LABELS = {
    "roads": N_("Roads"), "water": N_("Water"), "waste": N_("Waste"),
    "lighting": N_("Public lighting"), "environment": N_("Environment"),
    "mobility": N_("Mobility"), "police": N_("Municipal police"),
    "civil_protection": N_("Civil protection"), "other": N_("Other"),
}


@router.get("/")
def home(request: Request) -> Response:
    with request.app.state.db.read() as session:
        districts = queries.districts(session)
        departments = queries.departments(session, active_only=True)
    return render(request, "home.html", {"districts": districts, "departments": departments})


@router.get("/admin/departments")
def departments_page(request: Request,
                     principal: Annotated[Principal, Depends(require("department.view"))]) -> Response:
    with request.app.state.db.read() as session:
        departments = queries.departments(session, only_ids=principal.department_scope)
    return render(request, "admin/departments.html", {"departments": departments})


def _department_form(request: Request, form: dict, *, creating: bool, heading: str,
                     error: str | None = None, status: int = 200) -> Response:
    return render(request, "admin/department_form.html", {
        "form": form, "creating": creating, "heading": heading, "error": error, "errors": {},
        "kinds": [(k, _(v)) for k, v in KIND_LABELS.items()]}, status_code=status)


@router.get("/admin/departments/new")
def department_new(request: Request,
                   _p: Annotated[Principal, Depends(require("city.manage"))]) -> Response:
    return _department_form(request, {"kind": "other"}, creating=True, heading=_("New department"))


@router.post("/admin/departments/new")
def department_create(request: Request,
                      principal: Annotated[Principal, Depends(require("city.manage"))],
                      code: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "other",
                      name: Annotated[str, Form()] = "", name_local: Annotated[str, Form()] = "",
                      email: Annotated[str, Form()] = "", phone: Annotated[str, Form()] = "") -> Response:
    form = {"code": code, "kind": kind, "name": name, "name_local": name_local, "email": email,
            "phone": phone}
    try:
        data = DepartmentCreate(**form)
        department = actions.create_department(request.app.state.db, principal, data,
                                               client_ip(request))
    except ParvisError as exc:
        return _department_form(request, form, creating=True, heading=_("New department"),
                                error=error_message(exc), status=exc.status)
    except ValueError:
        return _department_form(request, form, creating=True, heading=_("New department"),
                                error=_("Please correct the fields below."), status=422)
    return RedirectResponse(f"/admin/departments/{department.id}", status_code=303)


@router.get("/admin/departments/{department_id:int}/edit")
def department_edit_form(request: Request, department_id: int,
                         _p: Annotated[Principal, Depends(require("city.manage"))]) -> Response:
    with request.app.state.db.read() as session:
        department = queries.department(session, department_id)
        if department is None:
            raise NotFound()
    form = {k: getattr(department, k) for k in ("code", "kind", "name", "name_local", "email", "phone")}
    return _department_form(request, form, creating=False, heading=department.name)


@router.post("/admin/departments/{department_id:int}/edit")
def department_update(request: Request, department_id: int,
                      principal: Annotated[Principal, Depends(require("city.manage"))],
                      name: Annotated[str, Form()] = "", name_local: Annotated[str, Form()] = "",
                      email: Annotated[str, Form()] = "", phone: Annotated[str, Form()] = "") -> Response:
    form = {"name": name, "name_local": name_local, "email": email, "phone": phone}
    try:
        actions.update_department(request.app.state.db, principal, department_id,
                                  DepartmentUpdate(**form), client_ip(request))
    except ParvisError as exc:
        return _department_form(request, form, creating=False, heading=name, error=error_message(exc),
                                status=exc.status)
    except ValueError:
        return _department_form(request, form, creating=False, heading=name,
                                error=_("Please correct the fields below."), status=422)
    return RedirectResponse(f"/admin/departments/{department_id}", status_code=303)


@router.get("/admin/districts")
def districts_page(request: Request,
                   _p: Annotated[Principal, Depends(require("city.manage"))]) -> Response:
    with request.app.state.db.read() as session:
        districts = queries.districts(session)
    return render(request, "admin/districts.html", {"districts": districts})


@router.get("/admin/districts/new")
def district_new(request: Request, _p: Annotated[Principal, Depends(require("city.manage"))]) -> Response:
    return render(request, "admin/district_form.html", {})


@router.post("/admin/districts/new")
async def district_import(request: Request,
                          principal: Annotated[Principal, Depends(require("city.manage"))]) -> Response:
    form = await request.form()
    upload = form.get("file")
    text = str(form.get("geojson") or "")
    if isinstance(upload, UploadFile) and upload.filename:
        text = (await upload.read()).decode("utf-8", errors="replace")
    try:
        await run_in_threadpool(actions.import_districts, request.app.state.db, principal, text)
    except ParvisError as exc:
        return render(request, "admin/district_form.html", {
            "error": error_message(exc), "geojson": text[:20000]}, status_code=exc.status)
    return RedirectResponse("/admin/districts", status_code=303)


@router.get("/admin/messages")
def messages_page(request: Request, _p: Annotated[Principal, Depends(require("outbox.view"))],
                  offset: int = 0) -> Response:
    limit = 50
    with request.app.state.db.read() as session:
        rows, total = notify.recent(session, limit=limit, offset=max(0, offset))
    return render(request, "admin/messages.html", {
        "messages": rows, "total": total, "limit": limit, "offset": offset,
        "channel_labels": translated(CHANNEL_LABELS), "status_labels": translated(STATUS_LABELS)})
