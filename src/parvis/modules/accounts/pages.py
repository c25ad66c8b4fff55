"""HTML pages of the accounts module: sign-up, sign-in, password reset, my account, agents,
audit log. Every page works without JavaScript; every form carries a CSRF token."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from parvis.kernel import audit
from parvis.kernel.auth import Principal, require, require_department
from parvis.kernel.errors import NotFound, ParvisError, ValidationFailed
from parvis.kernel.i18n import _
from parvis.kernel.identifiers import mask, parse_identifier, phone_example
from parvis.kernel.labels import ROLE_LABELS, translated
from parvis.kernel.web import (
    LANG_COOKIE,
    SESSION_COOKIE,
    client_ip,
    csrf_protect,
    error_message,
    render,
)
from parvis.modules import city
from parvis.modules.accounts import actions, queries
from parvis.modules.accounts.schemas import ProfileUpdate, SignUp, StaffCreate, StaffUpdate
from parvis.settings import LANGUAGES

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


def _field_errors(exc: ParvisError) -> dict[str, str]:
    message = error_message(exc)
    return {e.get("field") or "form": e.get("message") or message for e in exc.errors}


def _with_session(response: Response, request: Request, token: str) -> Response:
    settings = request.app.state.settings
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_days * 86400,
                        httponly=True, samesite="lax", secure=settings.secure_cookies, path="/")
    return response


# ------------------------------------------------------------------ sign up and confirm

@router.get("/signup")
def signup_form(request: Request) -> Response:
    return _signup_page(request, {}, {})


def _signup_page(request: Request, form: dict[str, str], errors: dict[str, str],
                 error: str | None = None, status: int = 200) -> Response:
    example = phone_example(request.app.state.settings.phone_region)
    return render(request, "accounts/signup.html", {
        "form": form, "errors": errors, "error": error, "phone_example": example},
        status_code=status)


@router.post("/signup")
def signup(request: Request, identifier: Annotated[str, Form()] = "",
           password: Annotated[str, Form()] = "", display_name: Annotated[str, Form()] = "") -> Response:
    db, settings = request.app.state.db, request.app.state.settings
    form = {"identifier": identifier, "display_name": display_name}
    errors: dict[str, str] = {}
    if len(password) < 8:
        errors["password"] = _("The password must have at least 8 characters.")
    try:
        ident = parse_identifier(identifier, settings.phone_region)
    except ParvisError as exc:
        errors["identifier"] = error_message(exc)
    if errors:
        return _signup_page(request, form, errors, _("Please correct the fields below."), 422)
    lang = request.state.translator.lang
    actions.sign_up(db, settings, SignUp(identifier=identifier, password=password,
                                         display_name=display_name, language=lang), ident)
    return _see_other(f"/signup/confirm?identifier={quote(ident.value)}")


def _code_page(request: Request, identifier: str, *, reset: bool,
               errors: dict[str, str] | None = None, status: int = 200) -> Response:
    """The page that asks for the code we sent (to confirm a sign-up or to reset a password)."""
    return render(request, "accounts/confirm.html", {
        "identifier": identifier, "masked": mask(identifier), "errors": errors or {},
        "action": "/password/reset" if reset else "/signup/confirm",
        "with_password": reset, "resend": not reset}, status_code=status)


@router.get("/signup/confirm")
def confirm_form(request: Request, identifier: str = "") -> Response:
    return _code_page(request, identifier, reset=False)


@router.post("/signup/confirm")
def confirm(request: Request, identifier: Annotated[str, Form()] = "",
            code: Annotated[str, Form()] = "") -> Response:
    db, settings = request.app.state.db, request.app.state.settings
    try:
        ident = parse_identifier(identifier, settings.phone_region)
        if not (code.isdigit() and len(code) == 6):
            raise ValidationFailed("This code is wrong or has expired. Ask for a new one.")
        user = actions.confirm(db, settings, ident, code)
    except ParvisError as exc:
        return _code_page(request, identifier, reset=False,
                          errors={"code": error_message(exc)}, status=exc.status)
    new = actions.sign_in(db, settings, user, ip=client_ip(request),
                          user_agent=request.headers.get("user-agent", ""))
    return _with_session(_see_other("/account?welcome=1"), request, new.token)


@router.post("/signup/resend")
def resend(request: Request, identifier: Annotated[str, Form()] = "") -> Response:
    db, settings = request.app.state.db, request.app.state.settings
    with contextlib.suppress(ParvisError):  # same answer whatever was typed
        actions.resend_code(db, settings, parse_identifier(identifier, settings.phone_region))
    return _see_other(f"/signup/confirm?identifier={quote(identifier)}")


# ------------------------------------------------------------------ sign in and out

@router.get("/signin")
def signin_form(request: Request, next: str = "/") -> Response:
    return render(request, "accounts/signin.html", {"next": _safe_next(next), "identifier": ""})


@router.post("/signin")
def signin(request: Request, identifier: Annotated[str, Form()] = "",
           password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    db, settings = request.app.state.db, request.app.state.settings
    try:
        user = actions.authenticate(db, settings, identifier, password, client_ip(request))
    except ParvisError as exc:
        return render(request, "accounts/signin.html", {
            "next": _safe_next(next), "identifier": identifier, "error": error_message(exc)},
            status_code=exc.status, headers=exc.headers)
    if user.confirmed_at is None:
        ident = parse_identifier(identifier, settings.phone_region)
        actions.resend_code(db, settings, ident)
        return _see_other(f"/signup/confirm?identifier={quote(ident.value)}")
    new = actions.sign_in(db, settings, user, ip=client_ip(request),
                          user_agent=request.headers.get("user-agent", ""))
    target = _safe_next(next)
    if target == "/" and user.role != "citizen":
        target = "/admin"
    response = _with_session(_see_other(target), request, new.token)
    if user.language:
        response.set_cookie(LANG_COOKIE, user.language, max_age=365 * 86400, samesite="lax")
    return response


@router.post("/signout")
def signout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        actions.sign_out(request.app.state.db, token)
    response = _see_other("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
def set_language(request: Request, language: Annotated[str, Form()] = "",
                 next: Annotated[str, Form()] = "/") -> Response:
    if language not in LANGUAGES:
        raise ValidationFailed(errors=[{"field": "language", "code": "literal_error"}])
    principal: Principal = request.state.principal
    if principal.is_authenticated:
        actions.update_profile(request.app.state.db, principal, ProfileUpdate(language=language))  # type: ignore[arg-type]
    response = _see_other(_safe_next(next))
    response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax",
                        secure=request.app.state.settings.secure_cookies)
    return response


# ------------------------------------------------------------------ password reset

@router.get("/password/forgot")
def forgot_form(request: Request) -> Response:
    return render(request, "accounts/forgot.html", {"identifier": "", "errors": {}})


@router.post("/password/forgot")
def forgot(request: Request, identifier: Annotated[str, Form()] = "") -> Response:
    db, settings = request.app.state.db, request.app.state.settings
    try:
        ident = parse_identifier(identifier, settings.phone_region)
    except ParvisError as exc:
        return render(request, "accounts/forgot.html", {
            "identifier": identifier, "errors": {"identifier": error_message(exc)}},
            status_code=exc.status)
    actions.request_password_reset(db, settings, ident)
    return _see_other(f"/password/reset?identifier={quote(ident.value)}")


@router.get("/password/reset")
def reset_form(request: Request, identifier: str = "") -> Response:
    return _code_page(request, identifier, reset=True)


@router.post("/password/reset")
def reset(request: Request, identifier: Annotated[str, Form()] = "",
          code: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "") -> Response:
    db, settings = request.app.state.db, request.app.state.settings
    errors: dict[str, str] = {}
    if len(password) < 8:
        errors["password"] = _("The password must have at least 8 characters.")
    else:
        try:
            ident = parse_identifier(identifier, settings.phone_region)
            actions.reset_password(db, settings, ident, code, password)
        except ParvisError as exc:
            errors["code"] = error_message(exc)
    if errors:
        return _code_page(request, identifier, reset=True, errors=errors, status=422)
    return render(request, "accounts/signin.html", {
        "next": "/", "identifier": identifier,
        "flash": _("Your password has been changed. You can sign in now.")})


# ------------------------------------------------------------------ my account

@router.get("/account")
def account(request: Request, principal: Annotated[Principal, Depends(require("account.self"))],
            welcome: int = 0) -> Response:
    with request.app.state.db.read() as session:
        user = queries.user(session, principal.user_id)  # type: ignore[arg-type]
    flash = _("Your account is confirmed. Welcome!") if welcome else None
    return render(request, "accounts/account.html", {"user": user, "flash": flash})


@router.post("/account")
def account_update(request: Request,
                   principal: Annotated[Principal, Depends(require("account.self"))],
                   display_name: Annotated[str, Form()] = "",
                   language: Annotated[str, Form()] = "") -> Response:
    if language not in LANGUAGES:
        raise ValidationFailed(errors=[{"field": "language", "code": "literal_error"}])
    actions.update_profile(request.app.state.db, principal,
                           ProfileUpdate(display_name=display_name[:200], language=language))  # type: ignore[arg-type]
    response = _see_other("/account")
    response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/account/export")
def account_export(request: Request,
                   principal: Annotated[Principal, Depends(require("account.self"))]) -> Response:
    data = actions.export_personal_data(request.app.state.db, principal)
    return JSONResponse(data, headers={
        "Content-Disposition": f'attachment; filename="my-data-{principal.user_id}.json"'})


@router.post("/account/erase")
def account_erase(request: Request,
                  principal: Annotated[Principal, Depends(require("account.self"))],
                  password: Annotated[str, Form()] = "") -> Response:
    try:
        actions.erase_account(request.app.state.db, principal, password, client_ip(request))
    except ParvisError as exc:
        with request.app.state.db.read() as session:
            user = queries.user(session, principal.user_id)  # type: ignore[arg-type]
        return render(request, "accounts/account.html", {"user": user,
                      "error": error_message(exc)}, status_code=exc.status)
    response = render(request, "error.html", {
        "title": _("Your account has been deleted."),
        "detail": _("Your personal data has been erased. Thank you for using the city's services.")})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ------------------------------------------------------------------ admin: agents and audit

def _staff_form(department_ids: list[int], all_departments: str, role: str,
                display_name: str, **extra: Any) -> dict[str, Any]:
    return {"display_name": display_name, "role": role, "department_ids": department_ids,
            "all_departments": bool(all_departments), **extra}


def _agent_page(request: Request, form: dict[str, Any], *, creating: bool, heading: str,
                error: str | None = None, errors: dict[str, str] | None = None,
                status: int = 200) -> Response:
    with request.app.state.db.read() as session:
        departments = city.departments(session)
    return render(request, "admin/agent_form.html", {
        "form": form, "creating": creating, "heading": heading, "departments": departments,
        "role_labels": translated(ROLE_LABELS), "error": error, "errors": errors or {}},
        status_code=status)


@router.get("/admin/agents")
def agents(request: Request, _p: Annotated[Principal, Depends(require("users.manage"))],
           offset: int = 0, q: str = "") -> Response:
    limit = 50
    with request.app.state.db.read() as session:
        rows, total = queries.staff(session, search=q[:100], limit=limit, offset=max(0, offset))
        names = city.department_names(session)
        data = [queries.public(u) for u in rows]
    return render(request, "admin/agents.html", {
        "agents": data, "total": total, "limit": limit, "offset": offset, "q": q,
        "department_names": names, "role_labels": translated(ROLE_LABELS)})


@router.get("/admin/agents/new")
def agent_new(request: Request, _p: Annotated[Principal, Depends(require("users.manage"))]) -> Response:
    return _agent_page(request, _staff_form([], "", "agent", ""), creating=True,
                       heading=_("New agent"))


@router.post("/admin/agents/new")
def agent_create(request: Request, principal: Annotated[Principal, Depends(require("users.manage"))],
                 display_name: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
                 phone: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                 role: Annotated[str, Form()] = "agent",
                 department_ids: Annotated[list[int] | None, Form()] = None,
                 all_departments: Annotated[str, Form()] = "") -> Response:
    form = _staff_form(department_ids or [], all_departments, role, display_name,
                       email=email, phone=phone)
    try:
        data = StaffCreate(display_name=display_name, email=email or None, phone=phone or None,
                           password=password, role=role, department_ids=department_ids or [],  # type: ignore[arg-type]
                           all_departments=bool(all_departments))
        user = actions.create_staff(request.app.state.db, principal, request.app.state.settings,
                                    data, client_ip(request))
    except ParvisError as exc:
        return _agent_page(request, form, creating=True, heading=_("New agent"),
                           error=error_message(exc), errors=_field_errors(exc), status=exc.status)
    except ValueError:
        return _agent_page(request, form, creating=True, heading=_("New agent"),
                           error=_("Please correct the fields below."), status=422)
    return _see_other(f"/admin/agents/{user.id}")


@router.get("/admin/agents/{user_id:int}")
def agent_edit_form(request: Request, user_id: int,
                    _p: Annotated[Principal, Depends(require("users.manage"))]) -> Response:
    with request.app.state.db.read() as session:
        user = queries.user(session, user_id)
        if user is None or user.role == "citizen":
            raise NotFound()
        form = _staff_form(sorted(user.department_ids), "1" if user.all_departments else "",
                           user.role, user.display_name, is_active=user.is_active)
    return _agent_page(request, form, creating=False, heading=user.display_name)


@router.post("/admin/agents/{user_id:int}")
def agent_update(request: Request, user_id: int,
                 principal: Annotated[Principal, Depends(require("users.manage"))],
                 display_name: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "agent",
                 department_ids: Annotated[list[int] | None, Form()] = None,
                 all_departments: Annotated[str, Form()] = "",
                 is_active: Annotated[str, Form()] = "") -> Response:
    form = _staff_form(department_ids or [], all_departments, role, display_name,
                       is_active=bool(is_active))
    try:
        data = StaffUpdate(display_name=display_name, role=role,  # type: ignore[arg-type]
                           department_ids=department_ids or [],
                           all_departments=bool(all_departments), is_active=bool(is_active))
        actions.update_staff(request.app.state.db, principal, user_id, data, client_ip(request))
    except ParvisError as exc:
        return _agent_page(request, form, creating=False, heading=display_name,
                           error=error_message(exc), status=exc.status)
    except ValueError:
        return _agent_page(request, form, creating=False, heading=display_name,
                           error=_("Please correct the fields below."), status=422)
    return _see_other("/admin/agents")


@router.get("/admin/audit")
def audit_page(request: Request, _p: Annotated[Principal, Depends(require("audit.view"))],
               offset: int = 0) -> Response:
    limit = 50
    with request.app.state.db.read() as session:
        rows, total = audit.entries(session, limit=limit, offset=max(0, offset))
    return render(request, "admin/audit.html", {"entries": rows, "total": total, "limit": limit,
                                                "offset": offset})


# ------------------------------------------------------------------ back office: people in departments

@router.get("/admin")
def admin_index(request: Request,
                principal: Annotated[Principal, Depends(require("backoffice.view"))]) -> Response:
    with request.app.state.db.read() as session:
        departments = city.departments(session, only_ids=principal.department_scope)
        counts = queries.count_by_role(session) if principal.has("users.manage") else {}
    roles = translated(ROLE_LABELS)
    return render(request, "admin/index.html", {
        "departments": departments, "counts": counts, "role_labels": roles,
        "role_label": roles.get(str(principal.role), str(principal.role))})


@router.get("/admin/departments/{department_id:int}")
def department_page(request: Request, department_id: int,
                    principal: Annotated[Principal, Depends(require("department.view"))]) -> Response:
    """A department and its team; an agent sees only their own department."""
    require_department(principal, department_id)
    with request.app.state.db.read() as session:
        department = city.department(session, department_id)
        if department is None:
            raise NotFound()
        members, _total = queries.staff(session, department_id=department_id, limit=500)
    return render(request, "admin/department.html", {
        "department": department, "members": members, "role_labels": translated(ROLE_LABELS)})
