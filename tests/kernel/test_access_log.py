"""The access log: a line per request, but not one per successful sensor write (``people``),
secrets in query strings hidden, and uvicorn's own log off so that nothing is written twice."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from parvis import cli
from parvis.app import create_app
from parvis.kernel.db import Database
from parvis.modules import sensors
from parvis.settings import Settings

ENTITY = {"id": "urn:ngsi-ld:AirQualityObserved:log-1", "type": "AirQualityObserved",
          "pm25": {"type": "Property", "value": 12.0}}


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "parvis.access"]


def _client(settings: Settings, db: Database, mode: str) -> TestClient:
    app = create_app(settings.model_copy(update={"access_log": mode}), database=db)
    return TestClient(app, raise_server_exceptions=False)


def test_people_mode_logs_pages_and_failures_but_not_successful_sensor_writes(
        settings: Settings, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    sensors.issue_api_key(db, "writer", "w-key", read=True, write=True)
    headers = {"X-Api-Key": "w-key"}
    caplog.set_level(logging.INFO, logger="parvis.access")
    with _client(settings, db, "people") as client:
        assert client.get("/healthz").status_code == 200
        assert client.post("/ngsi-ld/v1/entities", json=ENTITY, headers=headers).status_code == 201
        assert client.patch(f"/ngsi-ld/v1/entities/{ENTITY['id']}/attrs", headers=headers,
                            json={"pm25": {"type": "Property", "value": 13.0}}).status_code == 204
        assert client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:X:missing", headers=headers).status_code == 404
        assert client.post("/iot/json?k=device-secret&i=nobody", json={"t": 1}).status_code >= 400
    lines = _lines(caplog)
    assert len(lines) == 3, lines
    assert '"GET /healthz HTTP/1.1" 200' in lines[0]
    assert lines[0].endswith(" ms")
    assert '"GET /ngsi-ld/v1/entities/urn:ngsi-ld:X:missing HTTP/1.1" 404' in lines[1]
    assert "/iot/json?k=***&i=nobody" in lines[2]
    assert "device-secret" not in "\n".join(lines)


@pytest.mark.parametrize(("mode", "expected"), [("all", 2), ("off", 0)])
def test_all_logs_every_request_and_off_none(settings: Settings, db: Database,
                                             caplog: pytest.LogCaptureFixture, mode: str,
                                             expected: int) -> None:
    sensors.issue_api_key(db, "writer", "w-key", read=True, write=True)
    caplog.set_level(logging.INFO, logger="parvis.access")
    with _client(settings, db, mode) as client:
        assert client.get("/healthz").status_code == 200
        assert client.post("/ngsi-ld/v1/entities", json=ENTITY,
                           headers={"X-Api-Key": "w-key"}).status_code == 201
    assert len(_lines(caplog)) == expected


def test_serve_turns_uvicorns_own_access_log_off(monkeypatch: pytest.MonkeyPatch,
                                                 database_url: str, tmp_path: Any) -> None:
    import uvicorn

    from parvis import app as parvis_app

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    # not in the test process: the heap's freeze and the warm-up are for a real server's
    monkeypatch.setattr(cli.heap, "settle", lambda: None)
    monkeypatch.setattr(parvis_app, "warm_up", lambda _app: None)
    monkeypatch.setenv("PARVIS_DATA_DIR", str(tmp_path))
    for workers in ("1", "3"):
        result = CliRunner().invoke(cli.main, ["serve", "--no-migrate", "--workers", workers,
                                               "--database-url", database_url])
        assert result.exit_code == 0, result.output
    assert [c["access_log"] for c in calls] == [False, False]
