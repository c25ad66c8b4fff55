"""How every NGSI-LD route answers: its failures as the spec's problem details, its URI
parameters checked against the operation's (``standards/uri_params.py``), and the fast path that
calls an endpoint without FastAPI's per-request dependency solving."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

import anyio.to_thread
import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

from parvis.kernel.errors import Conflict, NotFound, ParvisError
from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards import negotiation as neg
from parvis.modules.sensors.standards import ngsi_ld as ngsi
from parvis.modules.sensors.standards import uri_params

log = logging.getLogger("parvis.modules.sensors.api")


def problem(err: ngsi.NgsiError, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(err.problem()), status_code=err.status, media_type=neg.JSON,
                    headers=headers)


def unknown_route(request: Request, status: int) -> Response:
    """A path or a method of ``/ngsi-ld/`` that Parvis does not serve, in the spec's format."""
    if status == 405:
        return problem(ngsi.NgsiError("OperationNotSupported", f"{request.method} is not supported on "
                                      f"{request.url.path}.", status=405))
    return problem(ngsi.NgsiError("ResourceNotFound", f"Nothing is served at {request.url.path}."
                                  if status == 404 else f"HTTP {status}.", status=status))


def failure(exc: Exception) -> Response:
    """Any failure of an NGSI-LD route as the spec's problem details."""
    if isinstance(exc, ngsi.NgsiError):
        return problem(exc)
    if isinstance(exc, ldctx.ContextError):
        kind = "LdContextNotAvailable" if exc.kind == "unavailable" else "BadRequestData"
        return problem(ngsi.NgsiError(kind, exc.detail))
    if isinstance(exc, NotFound):
        return problem(ngsi.NgsiError("ResourceNotFound", exc.detail or "Not found."))
    if isinstance(exc, Conflict):
        return problem(ngsi.NgsiError("AlreadyExists", exc.detail or "Already exists."))
    if isinstance(exc, ParvisError):  # 401, 403, ...: the kernel's problem types, as JSON
        body = {"type": exc.type_uri, "title": exc.title, "status": exc.status,
                "detail": exc.detail or exc.title}
        return Response(orjson.dumps(body), status_code=exc.status, media_type=neg.JSON,
                        headers=exc.headers)
    log.exception("NGSI-LD request failed")
    return Response(orjson.dumps({"type": ngsi.ERRORS + "InternalError", "title": "Internal error",
                                  "status": 500, "detail": "Something went wrong on our side."}),
                    status_code=500, media_type=neg.JSON)


class NgsiRoute(APIRoute):
    """Routes whose every failure is answered in NGSI-LD's error format.

    An endpoint that takes only the request and text path parameters and builds its own
    ``Response`` (every NGSI-LD one: they read, check and negotiate themselves) is called
    directly, without FastAPI's per-request dependency solving and response serialisation, which
    it would not use: a fifth of a partial update's CPU (docs/sensors-write-performance.md). Its
    declaration still documents it in the OpenAPI schema. Other endpoints go through FastAPI.

    A URI parameter the operation does not take is refused first (``uri_params.py``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        taken = uri_params.allowed(self.methods or (), self.path)
        if _direct(endpoint):
            if inspect.iscoroutinefunction(endpoint):
                async def direct(request: Request) -> Response:
                    try:
                        _check_params(request, taken)
                        return await endpoint(request, **request.path_params)
                    except Exception as exc:
                        return failure(exc)
            else:
                async def direct(request: Request) -> Response:
                    try:
                        _check_params(request, taken)
                        call = partial(endpoint, request, **request.path_params)
                        return await anyio.to_thread.run_sync(call)
                    except Exception as exc:
                        return failure(exc)
            return direct

        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                _check_params(request, taken)
                return await handler(request)
            except Exception as exc:
                return failure(exc)

        return guarded


def _direct(endpoint: Callable[..., Any]) -> bool:
    """Whether the endpoint is ``(request: Request, <name>: str, ...) -> Response``."""
    params = list(inspect.signature(endpoint).parameters.values())
    if not params or params[0].annotation not in (Request, "Request"):
        return False
    if inspect.signature(endpoint).return_annotation not in (Response, "Response"):
        return False
    return all(p.annotation in (str, "str") and p.default is inspect.Parameter.empty
               and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params[1:])


def _check_params(request: Request, taken: frozenset[str] | None) -> None:
    if taken is None or not request.scope["query_string"]:
        return
    params = request.query_params
    name = uri_params.unknown(params.keys(), taken)
    if name is not None:
        raise ngsi.NgsiError("BadRequestData", f"Unknown URI parameter {name!r}: this operation "
                             f"takes {', '.join(sorted(taken))}.")
    option = uri_params.unknown_option(",".join(params.getlist("options")))
    if option is not None:
        raise ngsi.NgsiError("InvalidRequest", f"Unknown option {option!r}: NGSI-LD's are "
                             f"{', '.join(sorted(uri_params.OPTIONS))}.")
