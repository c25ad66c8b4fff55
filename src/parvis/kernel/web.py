"""The web shell: templates, per-request context (who, which language), CSRF, error pages.

``RequestContext`` is a pure ASGI middleware: it limits body size, resolves the principal
(through a resolver the accounts module provides), negotiates the language and exposes both
to routes, templates and error handlers. Pages render through ``render``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable
from hashlib import sha256
from importlib import resources
from typing import Any

import anyio
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parvis.kernel import i18n
from parvis.kernel.access_log import AccessLog
from parvis.kernel.api import problem_response
from parvis.kernel.auth import ANONYMOUS, Principal
from parvis.kernel.errors import (
    N_,
    BodyTooLarge,
    CsrfFailed,
    DatabaseUnavailable,
    InternalError,
    MalformedBody,
    NotFound,
    ParvisError,
    ValidationFailed,
)
from parvis.kernel.i18n import LANGUAGE_NAMES, Translator, negotiate
from parvis.settings import LANGUAGES, Settings

log = logging.getLogger(__name__)

SESSION_COOKIE = "parvis_session"
LANG_COOKIE = "parvis_lang"
CSRF_COOKIE = "parvis_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
API_PREFIXES = ("/api/", "/open311/", "/ngsi-ld/", "/iot/", "/healthz", "/readyz", "/metrics")

PrincipalResolver = Callable[[Any, str | None, str | None], Principal]


def templates_env() -> Environment:
    folder = resources.files("parvis") / "templates"
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s, **kw: i18n.current().gettext(s, **kw),
        lambda s, p, n, **kw: i18n.current().ngettext(s, p, n, **kw),
        newstyle=True,
    )
    env.globals["LANGUAGES"] = [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES]
    env.filters["datetime"] = lambda v, fmt="medium": i18n.current().format_datetime(v, fmt) if v else ""
    env.filters["date"] = lambda v, fmt="medium": i18n.current().format_date(v, fmt) if v else ""
    env.filters["number"] = lambda v: i18n.current().format_number(v) if v is not None else ""
    env.filters["currency"] = lambda v, c=None: i18n.current().format_currency(v, c)
    return env


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


# ---------------------------------------------------------------- CSRF (double submit, signed)

def _sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token to put in a form: bound to this browser's CSRF cookie by an HMAC."""
    raw = request.state.csrf_cookie
    return _sign(request.app.state.settings.secret_key, raw)


def _valid_csrf(secret: str, request: Request, sent: str | None = None) -> bool:
    raw = request.cookies.get(CSRF_COOKIE, "")
    sent = sent if sent is not None else request.headers.get(CSRF_HEADER, "")
    return bool(raw and sent) and hmac.compare_digest(sent, _sign(secret, raw))


async def csrf_protect(request: Request) -> None:
    """Dependency for every HTML router: unsafe methods need a valid form token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            sent = str(form.get(CSRF_FIELD, ""))
    if not _valid_csrf(request.app.state.settings.secret_key, request, sent):
        raise CsrfFailed()


# ---------------------------------------------------------------- request context middleware

class RequestContext:
    """Who is behind a request, its language, the security headers, the body size limit.

    ``own_body_limits``: path prefixes whose routes read their body themselves, within a limit of
    their own and answering in their own standard's error format (NGSI-LD's problem types): this
    middleware leaves their bodies to them."""

    def __init__(self, app: ASGIApp, *, settings: Settings, resolver: PrincipalResolver,
                 database: Any, metrics: Any = None, own_body_limits: tuple[str, ...] = (),
                 access_log: AccessLog | None = None) -> None:
        self.app = app
        self.access_log = access_log
        self.own_body_limits = own_body_limits
        self.settings = settings
        self.resolver = resolver
        self.database = database
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = {"status": 500}  # what escapes as an exception is answered 500
        try:
            await self._serve(scope, receive, send, status_holder)
        finally:  # every request counted and logged, those refused here included
            if self.metrics is not None:
                self.metrics.observe(scope, status_holder["status"], started)
            if self.access_log is not None:
                self.access_log.log(scope, status_holder["status"], started)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, status_holder: dict[str, int]) -> None:
        request = Request(scope)
        headers = request.headers
        session_cookie = request.cookies.get(SESSION_COOKIE)
        bearer = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            bearer = auth[7:].strip()
        principal = ANONYMOUS
        if (session_cookie and not bearer and is_api_path(scope["path"])
                and scope["method"] not in ("GET", "HEAD", "OPTIONS")
                and not _valid_csrf(self.settings.secret_key, request)):
            # A cookie alone never authorises an API write: scripts must send X-CSRF-Token.
            session_cookie = None
        if session_cookie or bearer:
            principal = await anyio.to_thread.run_sync(
                self.resolver, self.database, session_cookie, bearer
            )
        lang = negotiate(
            principal.language or request.query_params.get("lang") or request.cookies.get(LANG_COOKIE),
            headers.get("accept-language"),
            self.settings.default_language,
        )
        translator = Translator(lang, self.settings.timezone, self.settings.currency)
        i18n.set_translator(translator)
        state = scope.setdefault("state", {})
        state["principal"] = principal
        resolver, database = self.resolver, self.database
        # long-lived responses (live streams) ask again who is behind the request (signed out?)
        state["principal_again"] = lambda: (resolver(database, session_cookie, bearer)
                                            if session_cookie or bearer else ANONYMOUS)
        state["translator"] = translator
        new_csrf = None
        api = is_api_path(scope["path"])
        csrf_cookie = request.cookies.get(CSRF_COOKIE)
        if not csrf_cookie and not api:  # API clients get no form token: nothing to render it in
            new_csrf = csrf_cookie = secrets.token_urlsafe(24)
        if csrf_cookie:
            state["csrf_cookie"] = csrf_cookie

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                raw = list(message.get("headers", []))
                raw.append((b"content-language", lang.encode()))
                raw.append((b"x-content-type-options", b"nosniff"))
                raw.append((b"referrer-policy", b"same-origin"))
                raw.append((b"x-frame-options", b"DENY"))
                if new_csrf:
                    cookie = (f"{CSRF_COOKIE}={new_csrf}; Path=/; HttpOnly; SameSite=Lax"
                              + ("; Secure" if self.settings.secure_cookies else ""))
                    raw.append((b"set-cookie", cookie.encode()))
                message["headers"] = raw
            await send(message)

        limit = (self.settings.max_upload_bytes
                 if headers.get("content-type", "").startswith("multipart/form-data")
                 else self.settings.max_body_bytes)
        own_limit = bool(self.own_body_limits) and scope["path"].startswith(self.own_body_limits)
        length = headers.get("content-length")
        if not own_limit and length and length.isdigit() and int(length) > limit:
            response = problem_response(BodyTooLarge(), translator, scope["path"])
            await response(scope, receive, send_wrapper)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        await self.app(scope, receive if own_limit else limited_receive, send_wrapper)


# ---------------------------------------------------------------- rendering and errors

def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    env: Environment = request.app.state.templates
    tr: Translator = getattr(request.state, "translator", i18n.current())
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    settings: Settings = request.app.state.settings
    ctx = {
        "request": request,
        "principal": principal,
        "lang": tr.lang,
        "dir": tr.direction,
        "settings": settings,
        "csrf_token": csrf_token(request) if hasattr(request.state, "csrf_cookie") else "",
        "csrf_field": CSRF_FIELD,
        "path": request.url.path,
        **(context or {}),
    }
    html = env.get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def error_message(err: ParvisError) -> str:
    """The sentence a person reads for an error, in the request's language."""
    tr = i18n.current()
    return tr.gettext(err.detail, **err.params) if err.detail else tr.gettext(err.title)


def _wants_json(request: Request) -> bool:
    if is_api_path(request.url.path):
        return True
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def error_response(request: Request, err: ParvisError) -> Response:
    tr: Translator = getattr(request.state, "translator", i18n.current())
    if _wants_json(request):
        return problem_response(err, tr, request.url.path)
    if err.status == 401:
        from urllib.parse import quote

        return Response(status_code=303, headers={
            "Location": f"/signin?next={quote(request.url.path)}"})
    try:
        return render(request, "error.html", {"error": err, "title": tr.gettext(err.title),
                      "detail": tr.gettext(err.detail, **err.params) if err.detail else ""},
                      status_code=err.status, headers=err.headers)
    except Exception:  # the error page itself must never fail
        log.exception("error page failed")
        return HTMLResponse(tr.gettext(err.title), status_code=err.status)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        out.append({"field": ".".join(loc), "code": err.get("type", "invalid"),
                    "message": i18n.current().gettext(_VALIDATION_MESSAGES.get(
                        err.get("type", ""), N_("This value is not valid.")))})
    return out


_VALIDATION_MESSAGES = {
    "missing": N_("This field is required."),
    "null_not_allowed": N_("This field cannot be empty."),
    "extra_forbidden": N_("This field is not allowed."),
    "string_too_long": N_("This text is too long."),
    "string_too_short": N_("This text is too short."),
    "int_parsing": N_("Enter a whole number."),
    "float_parsing": N_("Enter a number."),
    "bool_parsing": N_("Enter true or false."),
    "json_invalid": N_("The request body is not valid JSON."),
    "model_attributes_type": N_("An object was expected."),
    "dict_type": N_("An object was expected."),
    "list_type": N_("A list was expected."),
    "string_type": N_("Text was expected."),
    "greater_than_equal": N_("This value is too small."),
    "less_than_equal": N_("This value is too large."),
    "literal_error": N_("This value is not one of the allowed choices."),
    "enum": N_("This value is not one of the allowed choices."),
    "value_error": N_("This value is not valid."),
    "string_pattern_mismatch": N_("This value has the wrong format."),
}


def install_error_handlers(app: Any, http_errors: dict[str, Callable[[Request, int], Response]] | None = None
                           ) -> None:
    """The app's error answers. ``http_errors``: path prefix -> the answer to a path or method
    that no route of the prefix has (404, 405), for APIs whose standard has its own error format."""
    async def parvis_error(request: Request, exc: ParvisError) -> Response:
        return error_response(request, exc)

    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = _field_errors(exc)
        if any(e["code"] == "json_invalid" for e in errors):
            return error_response(request, MalformedBody(N_("The request body is not valid JSON.")))
        return error_response(request, ValidationFailed(errors=errors))

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        for prefix, answer in (http_errors or {}).items():
            if request.url.path.startswith(prefix):
                return answer(request, exc.status_code)
        if exc.status_code == 404:
            return error_response(request, NotFound())
        err = ParvisError()
        err.status = exc.status_code
        err.type_slug = "http-" + str(exc.status_code)
        if exc.status_code == 405:
            err.title = N_("This method is not allowed here.")
        return error_response(request, err)

    async def unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            log.warning("database connection lost on %s %s: %s", request.method, request.url.path, exc)
            return error_response(request, DatabaseUnavailable(headers={"Retry-After": "2"}))
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, InternalError())

    app.add_exception_handler(ParvisError, parvis_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
