"""JSON routes of the accounts module under ``/api/v1``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response

from parvis.kernel import audit
from parvis.kernel.api import PageParams, page, page_params
from parvis.kernel.auth import Principal, require
from parvis.kernel.errors import NotFound
from parvis.kernel.identifiers import parse_identifier
from parvis.kernel.web import client_ip
from parvis.modules.accounts import actions, queries
from parvis.modules.accounts.schemas import (
    AuditEntryPublic,
    Confirm,
    PasswordReset,
    PasswordResetRequest,
    ProfileUpdate,
    SignUp,
    StaffCreate,
    StaffUpdate,
    TokenOut,
    UserPublic,
)

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def _ctx(request: Request) -> tuple[Any, Any]:
    return request.app.state.db, request.app.state.settings


@router.post("/auth/token", response_model=TokenOut, summary="Bearer token (OAuth2 password form)")
def token(request: Request, username: Annotated[str, Form()],
          password: Annotated[str, Form()]) -> TokenOut:
    db, settings = _ctx(request)
    user = actions.authenticate(db, settings, username, password, client_ip(request))
    access, ttl = actions.issue_token(db, settings, user)
    return TokenOut(access_token=access, expires_in=ttl)


@router.post("/auth/signup", status_code=202, summary="Sign up with a phone number or e-mail")
def signup(request: Request, body: SignUp) -> dict[str, str]:
    db, settings = _ctx(request)
    ident = parse_identifier(body.identifier, settings.phone_region)
    actions.sign_up(db, settings, body, ident)
    return {"status": "code_sent", "channel": "sms" if ident.kind == "phone" else "email"}


@router.post("/auth/confirm", response_model=TokenOut, summary="Confirm a sign-up with its code")
def confirm(request: Request, body: Confirm) -> TokenOut:
    db, settings = _ctx(request)
    ident = parse_identifier(body.identifier, settings.phone_region)
    user = actions.confirm(db, settings, ident, body.code)
    access, ttl = actions.issue_token(db, settings, user)
    return TokenOut(access_token=access, expires_in=ttl)


@router.post("/auth/password-reset", status_code=202, summary="Ask for a password reset code")
def password_reset_request(request: Request, body: PasswordResetRequest) -> dict[str, str]:
    db, settings = _ctx(request)
    actions.request_password_reset(db, settings, parse_identifier(body.identifier, settings.phone_region))
    return {"status": "code_sent_if_account_exists"}


@router.post("/auth/password-reset/confirm", status_code=204, summary="Set a new password")
def password_reset(request: Request, body: PasswordReset) -> Response:
    db, settings = _ctx(request)
    actions.reset_password(db, settings, parse_identifier(body.identifier, settings.phone_region),
                           body.code, body.password)
    return Response(status_code=204)


@router.get("/me", response_model=UserPublic, summary="The signed-in person")
def me(request: Request, principal: Annotated[Principal, Depends(require("account.self"))]) -> Any:
    with request.app.state.db.read() as session:
        user = queries.user(session, principal.user_id)
        if user is None:
            raise NotFound()
        return queries.public(user)


@router.patch("/me", response_model=UserPublic, summary="Change my name or language")
def update_me(request: Request, body: ProfileUpdate,
              principal: Annotated[Principal, Depends(require("account.self"))]) -> Any:
    actions.update_profile(request.app.state.db, principal, body)
    return me(request, principal)


@router.get("/me/export", summary="Download all my personal data (JSON)")
def export_me(request: Request,
              principal: Annotated[Principal, Depends(require("account.self"))]) -> JSONResponse:
    data = actions.export_personal_data(request.app.state.db, principal)
    return JSONResponse(data, headers={
        "Content-Disposition": f'attachment; filename="parvis-my-data-{principal.user_id}.json"'})


@router.post("/me/erase", status_code=204, summary="Erase my account (password required)")
def erase_me(request: Request, password: Annotated[str, Form()],
             principal: Annotated[Principal, Depends(require("account.self"))]) -> Response:
    actions.erase_account(request.app.state.db, principal, password, client_ip(request))
    return Response(status_code=204)


@router.get("/users", summary="People (admin)")
def list_users(request: Request, params: Annotated[PageParams, Depends(page_params)],
               _p: Annotated[Principal, Depends(require("users.manage"))],
               role: str | None = None, q: str = "") -> dict[str, Any]:
    with request.app.state.db.read() as session:
        rows, total = queries.users(session, role=role, search=q, limit=params.limit,
                                    offset=params.offset)
        return page([UserPublic.model_validate(queries.public(u)).model_dump(mode="json")
                     for u in rows], total, params)


@router.post("/users", status_code=201, response_model=UserPublic, summary="Create an agent or admin")
def create_user(request: Request, body: StaffCreate,
                principal: Annotated[Principal, Depends(require("users.manage"))]) -> Any:
    db, settings = _ctx(request)
    user = actions.create_staff(db, principal, settings, body, client_ip(request))
    with db.read() as session:
        return queries.public(queries.user(session, user.id))  # type: ignore[arg-type]


@router.patch("/users/{user_id}", response_model=UserPublic, summary="Change an agent's access")
def update_user(request: Request, user_id: int, body: StaffUpdate,
                principal: Annotated[Principal, Depends(require("users.manage"))]) -> Any:
    db = request.app.state.db
    actions.update_staff(db, principal, user_id, body, client_ip(request))
    with db.read() as session:
        return queries.public(queries.user(session, user_id))  # type: ignore[arg-type]


@router.get("/audit", summary="Audit log (admin)")
def audit_log(request: Request, params: Annotated[PageParams, Depends(page_params)],
              _p: Annotated[Principal, Depends(require("audit.view"))],
              action: str | None = None) -> dict[str, Any]:
    with request.app.state.db.read() as session:
        rows, total = audit.entries(session, limit=params.limit, offset=params.offset, action=action)
        return page([AuditEntryPublic.model_validate(r).model_dump(mode="json") for r in rows],
                    total, params)
