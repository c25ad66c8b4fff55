"""Helpers for the notify kernel tests: settings, a tiny app around the router, servers.

Imported by the test modules as ``notify_helpers`` (the fixtures live in ``conftest.py``)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from live_server import LiveServer, free_port  # noqa: F401 (the notify tests import them from here)
from parvis.kernel.auth import Principal, Role
from parvis.kernel.db import Database
from parvis.kernel.errors import ParvisError
from parvis.kernel.notify import router
from parvis.kernel.notify.models import OutboxMessage
from parvis.settings import Settings

SMS_TOKEN = "sms-secret-token"


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "sms_inbound_token": SMS_TOKEN,
        "notify_backoff_seconds": 10.0,
        "notify_max_attempts": 3,
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(every)


def wait_port(port: int, timeout: float = 10.0) -> None:
    def is_open() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(is_open, timeout)


def build_app(db: Database | None, settings: Settings) -> FastAPI:
    """The notify router in a bare app; ``X-Test-User`` signs a citizen in."""
    app = FastAPI()
    app.state.db = db
    app.state.settings = settings

    @app.middleware("http")
    async def principal(request: Request, call_next: Any) -> Any:
        user = request.headers.get("x-test-user")
        if user:
            request.state.principal = Principal(user_id=int(user), role=Role.CITIZEN)
        return await call_next(request)

    @app.exception_handler(ParvisError)
    async def problem(_request: Request, exc: ParvisError) -> JSONResponse:
        return JSONResponse(
            {"type": exc.type_uri, "title": exc.title, "detail": exc.detail,
             "errors": exc.errors},
            status_code=exc.status,
            media_type="application/problem+json",
        )

    app.include_router(router)
    return app


def outbox(db: Database) -> list[OutboxMessage]:
    with db.read() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()  # keep the loaded values after the read ends
        return rows


def message(db: Database, message_id: int) -> OutboxMessage:
    with db.read() as session:
        row = session.get_one(OutboxMessage, message_id)
        session.expunge_all()
        return row
