"""The operations room's stream over real HTTP: a change reaches an open connection at once, through
every middleware of the app (compression must not hold the stream back), and idle time is heartbeats."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from test_operations import city_sensors, entity_id, read  # noqa: F401 (fixture)

from factories import PASSWORD, staff
from live_server import LiveServer
from parvis.modules.city import actions as city_actions
from parvis.modules.city.schemas import DepartmentCreate
from web_helpers import csrf_of, sign_in

# The client's own limit is wide (a clean-clone CI run once saw the first page of a fresh server
# take more than 5 s on a loaded machine); what the tests assert is timed by their own deadlines.


def _next_message(lines, deadline: float) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in lines:
        if time.monotonic() > deadline:
            break
        if line == "":
            if fields:
                return fields
            continue
        name, _sep, value = line.partition(": ") if not line.startswith(":") else ("comment", "", line[1:])
        fields[name] = value.strip() if name == "comment" else value
    raise AssertionError(f"no complete message in time (so far {fields})")


@pytest.mark.timeout(60)
def test_a_change_reaches_an_open_stream_at_once_and_idle_time_is_heartbeats(app, db, settings,
                                                                            city_sensors) -> None:  # noqa: F811
    settings.sensors_operations_poll_seconds = 0.1
    settings.sensors_operations_overlap_seconds = 0.0
    settings.sensors_operations_heartbeat_seconds = 1.0
    dep = city_actions.create_department(db, None, DepartmentCreate(code="mob", name="Mobility", kind="mobility"))
    staff(db, settings, "ops@city.test", department_ids=[dep.id])
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=15) as http:
        sign_in(http, "ops@city.test", PASSWORD)
        cursor = http.get("/sensors/operations/snapshot.geojson").json()["cursor"]
        with http.stream("GET", f"/sensors/operations/stream?since={cursor}",
                         headers={"Accept-Encoding": "gzip, deflate", "Accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in response.headers  # not compressed: not buffered
            lines = response.iter_lines()
            assert _next_message(lines, time.monotonic() + 5) == {"retry": "3000"}
            seen = []
            while not seen or seen[-1].get("event") != "events":
                seen.append(_next_message(lines, time.monotonic() + 5))
            read(db, settings, "waste-1", fill=0.95, temp=31.0)
            written = time.monotonic()
            message = _next_message(lines, written + 5)
            while message.get("event") != "features" or entity_id("waste-1") not in message["data"]:
                message = _next_message(lines, written + 5)
            assert time.monotonic() - written < 3
            features = orjson.loads(message["data"])["features"]
            assert [(f["id"], f["properties"]["level"], f["properties"]["fill"]) for f in features] == [
                (entity_id("waste-1"), "high", 95)]
            # nothing changes now: the stream says only that it is alive
            idle = _next_message(lines, time.monotonic() + 5)
            assert idle == {"comment": "ping"}


@pytest.mark.timeout(60)
def test_signing_out_ends_an_open_stream_at_the_next_poll(app, db, settings, city_sensors) -> None:  # noqa: F811
    """A person who signs out in another tab stops receiving the city's live data within a poll,
    not at the end of the connection's life; the browser's reconnection is then refused."""
    settings.sensors_operations_poll_seconds = 0.1
    settings.sensors_operations_stream_seconds = 50.0
    dep = city_actions.create_department(db, None, DepartmentCreate(code="mob", name="Mobility", kind="mobility"))
    staff(db, settings, "ops@city.test", department_ids=[dep.id])
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=15) as http:
        sign_in(http, "ops@city.test", PASSWORD)
        cookies = dict(http.cookies)
        with httpx.Client(base_url=server.url, timeout=15, cookies=cookies) as tab, \
                tab.stream("GET", "/sensors/operations/stream",
                           headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            assert _next_message(lines, time.monotonic() + 5) == {"retry": "3000"}
            while _next_message(lines, time.monotonic() + 5).get("event") != "events":
                pass  # the current features first, then the open events
            token = csrf_of(http, "/account")
            assert http.post("/signout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
            left = time.monotonic()
            message = _next_message(lines, left + 5)
            while message.get("comment") == "ping":
                message = _next_message(lines, left + 5)
            assert message.get("event") == "reconnect"
            assert time.monotonic() - left < 3  # not the 50 s the connection could have lived
            assert list(lines) == []  # the stream ended
        again = httpx.get(f"{server.url}/sensors/operations/stream", cookies=cookies,
                          headers={"Accept": "text/event-stream"})
        assert again.status_code == 303 and again.headers["location"].startswith("/signin")
