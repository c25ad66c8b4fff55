"""An existing NGSI-LD client, unchanged, against Parvis over loopback: ngsildclient 0.5.2, the
FIWARE community's Python client written against Orion-LD, Scorpio and Stellio.

It pins httpx < 0.24, so it lives in an environment of its own, ``.venv-clients``, that
``scripts/test`` makes (``PARVIS_TEST_NGSILD_CLIENT_PYTHON`` names another). The session
(``clients/ngsildclient_session.py``) creates, reads, queries, batch-writes, reads history and
aggregates, subscribes and is notified, then deletes; this test checks what each step gave back.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from live_server import LiveServer, free_port
from parvis.modules.sensors.notifier import Notifier

ROOT = Path(__file__).resolve().parents[2]
SESSION = Path(__file__).parent / "clients" / "ngsildclient_session.py"
CLIENT_PYTHON = Path(os.environ.get("PARVIS_TEST_NGSILD_CLIENT_PYTHON",
                                    ROOT / ".venv-clients" / "bin" / "python"))


@pytest.fixture
def session(app, db, settings, keys, tmp_path) -> dict[str, Any]:
    if not CLIENT_PYTHON.exists():
        pytest.fail(f"{CLIENT_PYTHON} is missing: ./scripts/test makes it (a virtual environment "
                    "with ngsildclient==0.5.2)")
    out = tmp_path / "session.json"
    notifier = Notifier(db, settings)  # the worker's notification sender
    notifier.start()
    try:
        with LiveServer(app) as server:
            run = subprocess.run([str(CLIENT_PYTHON), str(SESSION), server.url, keys["write"],
                                  str(free_port()), str(out)],
                                 capture_output=True, text=True, timeout=120)
    finally:
        notifier.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


def values(troe: dict[str, Any]) -> list[float]:
    return [value for value, _at in troe["NO2"]["values"]]


def test_ngsildclient_works_unchanged(session):
    failed = {step: result["error"] for step, result in session.items()
              if isinstance(result, dict) and "error" in result}
    assert failed == {}

    station = "urn:ngsi-ld:AirQualityObserved:Client:Station1"
    # POST /entities/ (the client's trailing slash) created it; read back in the client's context
    assert session["create"] is True and session["exists"] is True
    got = session["get"]
    assert got["id"] == station and got["NO2"]["value"] == 22.5 and got["NO2"]["unitCode"] == "GQ"
    assert got["name"]["value"] == "Station du marché"
    assert got["location"]["value"] == {"type": "Point", "coordinates": [104.9282, 11.5564]}
    assert session["query_q"] == [station] and session["query_q_none"] == []
    assert session["count"] == 1

    # batches through /entityOperations/{create,upsert,delete}/ answered as the client reads them
    assert session["batch_create"] == "op: create, success: 30, errors: 0"
    assert session["batch_upsert"] == "op: upsert, success: 30, errors: 0"
    assert session["query_all"] == 31
    assert session["batch_delete"] == "op: delete, success: 30, errors: 0"

    # the history: the first reading, then one every ten minutes (each update is delete + create)
    assert values(session["temporal_get"]) == [22.5, 30, 40, 50, 60, 70, 80]
    (last_two,) = session["temporal_lastn"]
    assert values(last_two) == [70, 80]
    (between,) = session["temporal_between"]
    assert values(between) == [50, 60]
    (aggregated,) = session["temporal_aggregate"]
    # one period of two hours over [start - 1 min, start + 1 h): the reading at start + 1 h is out
    assert [row[0] for row in aggregated["NO2"]["max"]] == [70]
    assert [round(row[0], 3) for row in aggregated["NO2"]["avg"]] == [round((22.5 + 250) / 6, 3)]

    # the subscription's q arrives percent-encoded ("NO2%3E100"): read as the client meant it
    assert session["subscriptions"] == ["pollution above 100"]
    (notification,) = session["notifications"]
    (entity,) = notification["data"]
    assert entity["id"] == station and entity["NO2"]["value"] == 150.0
    assert session["unsubscribe"] is True and session["subscriptions_after"] == []

    assert session["delete"] is True and session["exists_after"] is False
