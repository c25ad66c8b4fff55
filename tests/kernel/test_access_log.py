"""The access log: a line per request, but not one per successful sensor request (``people``),
secrets in query strings hidden, no line forged through the path, refusals and failures logged
too, and uvicorn's own log off so that nothing is written twice; with several web processes
(`parvis serve --workers`) each one writes its lines."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from live_server import free_port
from parvis import cli
from parvis.app import create_app
from parvis.kernel.access_log import LOGGER
from parvis.kernel.db import Database
from parvis.modules import sensors
from parvis.settings import Settings

ENTITY = {"id": "urn:ngsi-ld:AirQualityObserved:log-1", "type": "AirQualityObserved",
          "pm25": {"type": "Property", "value": 12.0}}


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """The access log's lines (its logger has a handler of its own and does not propagate)."""
    handler = _Lines()
    LOGGER.addHandler(handler)
    yield handler.lines
    LOGGER.removeHandler(handler)


def _client(settings: Settings, db: Database, mode: str) -> TestClient:
    app = create_app(settings.model_copy(update={"access_log": mode}), database=db)
    return TestClient(app, raise_server_exceptions=False)


def test_people_mode_logs_pages_and_failures_but_not_successful_sensor_requests(
        settings: Settings, db: Database, logged: list[str]) -> None:
    sensors.issue_api_key(db, "writer", "w-key", read=True, write=True)
    headers = {"X-Api-Key": "w-key"}
    with _client(settings, db, "people") as client:
        assert client.get("/healthz").status_code == 200
        assert client.post("/ngsi-ld/v1/entities", json=ENTITY, headers=headers).status_code == 201
        assert client.patch(f"/ngsi-ld/v1/entities/{ENTITY['id']}/attrs", headers=headers,
                            json={"pm25": {"type": "Property", "value": 13.0}}).status_code == 204
        assert client.get(f"/ngsi-ld/v1/entities/{ENTITY['id']}", headers=headers).status_code == 200
        assert client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:X:missing", headers=headers).status_code == 404
        assert client.post("/iot/json?k=device-secret&i=nobody", json={"t": 1}).status_code >= 400
    assert len(logged) == 3, logged
    assert '"GET /healthz HTTP/1.1" 200' in logged[0]
    assert logged[0].endswith(" ms")
    assert '"GET /ngsi-ld/v1/entities/urn:ngsi-ld:X:missing HTTP/1.1" 404' in logged[1]
    assert "/iot/json?k=***&i=nobody" in logged[2]
    assert "device-secret" not in "\n".join(logged)


@pytest.mark.parametrize(("mode", "expected"), [("all", 2), ("off", 0)])
def test_all_logs_every_request_and_off_none(settings: Settings, db: Database, logged: list[str],
                                             mode: str, expected: int) -> None:
    sensors.issue_api_key(db, "writer", "w-key", read=True, write=True)
    with _client(settings, db, mode) as client:
        assert client.get("/healthz").status_code == 200
        assert client.post("/ngsi-ld/v1/entities", json=ENTITY,
                           headers={"X-Api-Key": "w-key"}).status_code == 201
    assert len(logged) == expected


def test_refusals_and_failures_before_the_route_are_logged_too(settings: Settings, db: Database,
                                                                logged: list[str]) -> None:
    app = create_app(settings, database=db)
    with TestClient(app, raise_server_exceptions=False) as client:
        big = b"x" * (settings.max_body_bytes + 1)
        assert client.post("/api/v1/reports", content=big,
                           headers={"Content-Type": "application/json"}).status_code == 413

        def broken(*_args: Any) -> Any:
            raise RuntimeError("the database is gone")

        for middleware in app.user_middleware:  # who is behind a request cannot be known
            if "resolver" in middleware.kwargs:
                middleware.kwargs["resolver"] = broken
        app.middleware_stack = app.build_middleware_stack()
        assert client.get("/", headers={"Authorization": "Bearer t0ken"}).status_code == 500
    assert '"POST /api/v1/reports HTTP/1.1" 413' in logged[0]
    assert '"GET / HTTP/1.1" 500' in logged[1]


def test_a_path_cannot_forge_a_line_and_a_confirmation_code_is_hidden(
        settings: Settings, db: Database, logged: list[str]) -> None:
    with _client(settings, db, "people") as client:
        client.get("/nowhere%0A127.0.0.1:1%20-%20%22GET%20/forged%20HTTP/1.1%22%20200")
        client.get("/reports/confirm/abc?code=123456&lang=fr")
    assert len(logged) == 2 and not any("\n" in line for line in logged)
    assert "/nowhere%0A127.0.0.1" in logged[0]
    assert "code=***&lang=fr" in logged[1] and "123456" not in logged[1]


def test_serve_turns_uvicorns_own_access_log_off_and_gives_its_workers_the_database(
        monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Any) -> None:
    import uvicorn

    from parvis import app as parvis_app

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(
        {**kwargs, "url": os.environ.get("PARVIS_DATABASE_URL")}))
    # not in the test process: the heap's freeze and the warm-up are for a real server's
    monkeypatch.setattr(cli.heap, "settle", lambda: None)
    monkeypatch.setattr(parvis_app, "warm_up", lambda _app: None)
    monkeypatch.setenv("PARVIS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PARVIS_DATABASE_URL", "sqlite:///somewhere-else.db")
    for workers in ("1", "3"):
        result = CliRunner().invoke(cli.main, ["serve", "--no-migrate", "--workers", workers,
                                               "--database-url", database_url])
        assert result.exit_code == 0, result.output
    assert [c["access_log"] for c in calls] == [False, False]
    assert calls[1]["url"] == database_url  # the spawned web processes read it from there


def test_each_web_process_of_a_real_server_writes_its_lines(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PARVIS_DATA_DIR": str(tmp_path), "PARVIS_SECRET_KEY": "test-secret"}
    env.pop("PARVIS_DATABASE_URL", None)
    out = tmp_path / "serve.out"
    with out.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "parvis.cli", "serve", "--workers", "2", "--port", str(port),
             "--database-url", f"sqlite:///{tmp_path / 'parvis.db'}"],
            env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert httpx.get(base + "/nope?token=abc", timeout=5).status_code == 404
        deadline = time.monotonic() + 10
        while '"GET /nope?token=*** HTTP/1.1" 404' not in out.read_text(errors="replace"):
            assert time.monotonic() < deadline, out.read_text(errors="replace")[-2000:]
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = out.read_text(errors="replace")
    assert "token=abc" not in text
    assert not (Path(tmp_path) / "somewhere-else.db").exists()
