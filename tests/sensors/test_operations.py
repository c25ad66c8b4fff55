"""The operations room: who may open it, what the first load shows, what the live feed sends."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select, update

from factories import PASSWORD, citizen, staff
from parvis.kernel.db import utcnow
from parvis.modules.city import actions as city_actions
from parvis.modules.city.schemas import DepartmentCreate
from parvis.modules.sensors import actions, events, ingest, live, simulate
from parvis.modules.sensors.models import FeedLog
from parvis.modules.sensors.standards.ngsi_ld import LOCATION
from web_helpers import sign_in

KEY = "ops-key"
LINE = {"type": "LineString", "coordinates": [[107.580, 16.460], [107.582, 16.462]]}
DEVICES = {  # device id -> (kind, lon, lat)
    "traffic-1": ("traffic", 107.581, 16.461), "parking-1": ("parking", 107.585, 16.463),
    "air-1": ("air", 107.583, 16.465), "waste-1": ("waste", 107.587, 16.462),
}


def entity_id(device: str) -> str:
    kind = DEVICES[device][0]
    return f"urn:ngsi-ld:{simulate.ENTITY_TYPES[kind]}:{device}"


def read(db, settings, device: str, at: datetime | None = None, **measures: object) -> None:
    at = at or utcnow()
    body = {**measures, "t": at.isoformat()}
    outcome = ingest.ingest(db, settings, [ingest.Message(api_key=KEY, device_id=device,
                                                          body=orjson.dumps(body), received_at=at)])
    assert outcome.dead == 0, outcome.reasons


@pytest.fixture
def city_sensors(db, settings) -> None:
    for device, (kind, lon, lat) in DEVICES.items():
        static = {"parking": {"totalSpotNumber": 80},
                  "traffic": {"name": "Lê Lợi", "freeFlowSpeed": 40.0}}.get(kind)
        actions.provision_device(db, api_key=KEY, device_id=device, entity_id=entity_id(device),
                                 entity_type=simulate.ENTITY_TYPES[kind], attributes=simulate.ATTRIBUTES[kind],
                                 lon=lon, lat=lat, static=static)
    actions.append_attributes(db, entity_id("traffic-1"), {LOCATION: {"type": "GeoProperty", "value": LINE}})
    at = utcnow() - timedelta(minutes=5)
    read(db, settings, "traffic-1", at, f=20, mc=16, car=3, hv=1, s=6.0, o=0.9)  # a jam: level F
    read(db, settings, "parking-1", at, free=6, occ=74)
    read(db, settings, "air-1", at, pm25=41.0, pm10=70.0, no2=30.0, o3=40.0)
    read(db, settings, "waste-1", at, fill=0.85, temp=30.0)


def _staff_client(client, db, settings, role: str = "agent", kind: str = "mobility") -> int:
    dep = city_actions.create_department(db, None, DepartmentCreate(code=f"d-{kind}", name=f"Dept {kind}",
                                                                     kind=kind)).id
    staff(db, settings, f"{role}-{kind}@city.test", role=role, department_ids=[dep])
    client.headers["Accept-Language"] = "en"  # the msgids: tests do not depend on the catalogs
    sign_in(client, f"{role}-{kind}@city.test", PASSWORD)
    return dep


# ----------------------------------------------------------------------------- access

def test_anonymous_people_are_sent_to_sign_in_and_citizens_are_refused(client, db, settings) -> None:
    page = client.get("/sensors/operations", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/signin")
    snap = client.get("/sensors/operations/snapshot.geojson", headers={"Accept": "application/geo+json"})
    assert snap.status_code == 401 and snap.headers["content-type"].startswith("application/problem+json")
    assert client.get("/sensors/operations/stream", follow_redirects=False).status_code in (303, 401)

    citizen(db, settings)
    sign_in(client, "+84912345678", PASSWORD)
    for path in ("/sensors/operations", "/sensors/operations/snapshot.geojson", "/sensors/operations/stream"):
        assert client.get(path, follow_redirects=False).status_code == 403, path


def test_staff_see_the_room_with_each_layer_summarised(client, db, settings, city_sensors) -> None:
    _staff_client(client, db, settings)
    page = client.get("/sensors/operations")
    assert page.status_code == 200
    html = page.text
    assert 'id="ops-map"' in html and 'data-stream="/sensors/operations/stream"' in html
    assert 'src="/static/operations.js"' in html and "/static/vendor/leaflet/leaflet.js" in html
    # the table a person without JavaScript reads: one row per layer, states in words
    summary = html[html.index('id="ops-summary"'):]
    for layer in ("traffic", "parking", "air", "waste"):
        assert f'data-layer="{layer}"' in summary
    assert "Few spaces left (under 10 percent): 1" in summary  # 6 of 80 free
    assert "6 free spaces of 80" in summary
    assert "To collect today (over 75 %): 1" in summary  # the waste list's threshold
    assert "Moderate: 1" in summary  # PM2.5 41 µg/m³: VN_AQI 82
    assert "F: jammed: 1" in summary
    events_list = html[html.index('id="ops-events"'):html.index('id="ops-summary"')]
    assert events_list.count("<li ") == 1  # the jam raised a congestion event to mobility
    assert 'data-entity-id="urn:ngsi-ld:TrafficFlowObserved:traffic-1"' in events_list
    assert "Congestion" in events_list and "Dept mobility" in events_list


# ----------------------------------------------------------------------------- snapshot

def test_the_snapshot_is_geojson_with_each_sensor_state_and_a_cursor(client, db, settings, city_sensors) -> None:
    _staff_client(client, db, settings)
    response = client.get("/sensors/operations/snapshot.geojson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    data = response.json()
    assert data["type"] == "FeatureCollection"
    assert live.parse_cursor(data["cursor"]) is not None
    by_id = {f["id"]: f for f in data["features"]}
    assert set(by_id) == {entity_id(d) for d in DEVICES}
    for device, (kind, lon, lat) in DEVICES.items():
        f = by_id[entity_id(device)]
        assert f["type"] == "Feature"
        assert kind == "traffic" or f["geometry"] == {"type": "Point", "coordinates": [lon, lat]}
        assert f["properties"]["layer"] == kind
        assert kind == "traffic" or f["properties"]["name"] == device
    assert by_id[entity_id("parking-1")]["properties"].items() >= {"level": "few", "free": 6, "total": 80}.items()
    assert by_id[entity_id("waste-1")]["properties"].items() >= {"level": "high", "fill": 85}.items()
    air = by_id[entity_id("air-1")]["properties"]
    assert air.items() >= {"pm25": 41.0, "aqi": 82, "level": "moderate"}.items()
    road = by_id[entity_id("traffic-1")]
    assert road["geometry"] == LINE
    assert road["properties"].items() >= {"name": "Lê Lợi", "level": "F", "speed": 6.0, "free_flow": 40.0,
                                          "index": 6.67}.items()


# ----------------------------------------------------------------------------- the feed

def test_the_feed_sends_what_changed_once_and_nothing_when_idle(db, settings, city_sensors) -> None:
    with db.read() as session:
        feed = live.Feed(live.cursor_now(session), timedelta(seconds=0.2))
        feed.poll(session)  # the overlap window behind the first load's cursor, sent again once
        assert feed.poll(session) == []
    read(db, settings, "waste-1", fill=0.6, temp=29.0)
    with db.read() as session:
        sent = feed.poll(session)
    assert [(f["id"], f["properties"]["level"], f["properties"]["fill"]) for f in sent] == [
        (entity_id("waste-1"), "medium", 60)]
    with db.read() as session:
        assert feed.poll(session) == []  # idle: nothing more


def test_a_write_that_commits_behind_the_cursor_is_still_sent_once(db, settings, city_sensors) -> None:
    with db.read() as session:
        feed = live.Feed(live.cursor_now(session), timedelta(seconds=30))
        first = feed.poll(session)  # the overlap window: the last writes, sent again once
        assert feed.poll(session) == []
    assert {f["id"] for f in first} == {entity_id(d) for d in DEVICES}
    read(db, settings, "parking-1", free=0, occ=80)
    # a transaction stamped before the feed's cursor but committed after its last poll
    stamped = feed.cursor - timedelta(seconds=1)
    read(db, settings, "air-1", pm25=12.0, pm10=20.0, no2=10.0, o3=20.0)
    with db.transaction() as session:
        newest = session.scalar(select(func.max(FeedLog.id)))
        assert session.get(FeedLog, newest).entity_ids == [entity_id("air-1")]
        session.execute(update(FeedLog).where(FeedLog.id == newest).values(at=stamped))
    with db.read() as session:
        sent = {f["id"]: f["properties"] for f in feed.poll(session)}
        assert feed.poll(session) == []
    assert sent[entity_id("parking-1")]["level"] == "full"
    assert sent[entity_id("air-1")]["pm25"] == 12.0


def test_a_stream_back_after_the_log_moved_on_gets_the_whole_map_first(db, settings, city_sensors) -> None:
    """The feed log keeps ``LOG_KEEP``: a browser coming back later than that (a laptop woken up)
    with its old cursor is sent every sensor again, then the changes."""
    with db.read() as session:
        current = live.Feed(live.cursor_now(session) + timedelta(microseconds=1), timedelta(0))
        old = live.feed_from(session, utcnow() - live.LOG_KEEP - timedelta(minutes=1), timedelta(0))
        assert {f["id"] for f in old.poll(session)} == {entity_id(d) for d in DEVICES}
        assert old.poll(session) == []
        assert current.poll(session) == []  # up to date: only what changes next
    read(db, settings, "waste-1", fill=0.2, temp=20.0)
    with db.read() as session:
        assert [f["id"] for f in old.poll(session)] == [entity_id("waste-1")]


def test_writers_delete_the_feed_log_rows_older_than_it_keeps(db, settings, city_sensors, monkeypatch) -> None:
    with db.transaction() as session:
        session.add(FeedLog(at=utcnow() - live.LOG_KEEP - timedelta(seconds=1), entity_ids=["x"]))
        session.add(FeedLog(at=utcnow() - live.LOG_KEEP + timedelta(minutes=1), entity_ids=["y"]))
    monkeypatch.setitem(live._pruned, "at", 0.0)
    read(db, settings, "waste-1", fill=0.3, temp=20.0)
    with db.read() as session:
        kept = [ids for [ids] in session.execute(select(FeedLog.entity_ids).order_by(FeedLog.id))]
    assert ["x"] not in kept and ["y"] in kept and [entity_id("waste-1")] in kept


def test_a_busy_feed_sends_at_most_a_bounded_batch_per_poll(db, settings, city_sensors, monkeypatch) -> None:
    monkeypatch.setattr(live, "SEND_MAX", 2)
    with db.read() as session:
        feed = live.Feed(live.cursor_now(session) + timedelta(microseconds=1), timedelta(0))
    for device, fill in (("waste-1", 0.1), ("parking-1", None), ("air-1", None), ("traffic-1", None)):
        if fill is not None:
            read(db, settings, device, fill=fill, temp=25.0)
        elif device == "parking-1":
            read(db, settings, device, free=50, occ=30)
        elif device == "air-1":
            read(db, settings, device, pm25=5.0)
        else:
            read(db, settings, device, f=5, s=40.0)
    with db.read() as session:
        batches = [feed.poll(session) for _ in range(3)]
    assert [len(b) for b in batches] == [2, 2, 0]
    assert {f["id"] for b in batches for f in b} == {entity_id(d) for d in DEVICES}


def test_a_cursor_is_parsed_only_when_valid() -> None:
    when = datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC)
    assert live.parse_cursor(live.stamp(when)) == when
    for bad in (None, "", "yesterday", "2026-11-30T01:02:03", "x" * 100):
        assert live.parse_cursor(bad) is None


# ----------------------------------------------------------------------------- the stream

def _sse(body: str) -> list[dict[str, str]]:
    out = []
    for block in body.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _sep, value = line.partition(": ")
            fields[name] = value if name not in fields else fields[name] + "\n" + value
        if fields:
            out.append(fields)
    return out


@pytest.fixture
def short_streams(settings):
    settings.sensors_operations_poll_seconds = 0.1
    settings.sensors_operations_overlap_seconds = 0.1
    settings.sensors_operations_stream_seconds = 1.5
    return settings


def test_the_stream_pushes_a_change_and_its_cursor(client, db, short_streams, city_sensors) -> None:
    settings = short_streams
    _staff_client(client, db, settings)
    snapshot = client.get("/sensors/operations/snapshot.geojson").json()
    cursor = snapshot["cursor"]
    known = {(f["id"], f["properties"]["modified"]) for f in snapshot["features"]}
    writer = threading.Timer(0.5, lambda: read(db, settings, "waste-1", fill=0.1, temp=25.0))
    writer.start()
    try:
        response = client.get(f"/sensors/operations/stream?since={cursor}")
    finally:
        writer.join()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    messages = _sse(response.text)
    assert messages[0] == {"retry": "3000"}
    kinds = [m.get("event") for m in messages]
    assert kinds.count("events") == 1  # the open events once, at the start (none change later)
    assert kinds[-1] == "reconnect"  # a planned end after stream_seconds
    listed = orjson.loads(next(m["data"] for m in messages if m.get("event") == "events"))
    # the jam of the fixture raised a congestion event (mobility: the reader's department)
    assert [(e["kind"], e["entity_id"], e["department"]) for e in listed["events"]] == [
        ("congestion", entity_id("traffic-1"), "Dept mobility")]
    assert listed["opened"] == [listed["events"][0]["id"]] and listed["closed"] == []
    changes = [m for m in messages if m.get("event") == "features"]
    # first, once, the writes of the overlap window behind the snapshot's cursor (already known)
    for replay in changes[:-1]:
        assert {(f["id"], f["properties"]["modified"]) for f in orjson.loads(replay["data"])["features"]} <= known
    features = orjson.loads(changes[-1]["data"])["features"]
    assert [(f["id"], f["properties"]["level"]) for f in features] == [(entity_id("waste-1"), "low")]
    assert live.parse_cursor(changes[-1]["id"]) > live.parse_cursor(cursor)

    # reconnecting with Last-Event-ID: nothing changed since, nothing is sent again
    time.sleep(0.15)
    again = client.get("/sensors/operations/stream", headers={"Last-Event-ID": changes[-1]["id"]})
    resent = [orjson.loads(m["data"]) for m in _sse(again.text) if m.get("event") == "features"]
    assert [(f["id"], f["properties"]["modified"]) for c in resent for f in c["features"]] in (
        [], [(entity_id("waste-1"), features[0]["properties"]["modified"])])  # at most the last, again


def test_the_open_events_are_those_of_the_departments_of_the_reader(client, db, settings, city_sensors,
                                                                     monkeypatch) -> None:
    raised = utcnow() - timedelta(minutes=3)

    def view(n: int, kind: str, department: str, entity: str) -> events.EventView:
        return events.EventView(id=n, kind=kind, department=department, entity_id=entity,
                                entity_type=entity.split(":")[2], severity="severe",
                                summary=f"Event {n} on {entity.rsplit(':', 1)[-1]}", value=None, threshold=None,
                                raised_at=raised, cleared_at=None,
                                location={"type": "Point", "coordinates": [107.581, 16.461]})

    found = [view(1, "congestion", "mobility", entity_id("traffic-1")),
             view(2, "air_quality", "environment", entity_id("air-1"))]
    def open_events(session, *, departments=None, status=None, limit=200, **_filters):
        assert status == "open"
        return [e for e in found if departments is None or e.department in departments][:limit]

    monkeypatch.setattr(events, "events", open_events)
    _staff_client(client, db, settings, kind="mobility")
    html = client.get("/sensors/operations").text
    assert "Event 1 on traffic-1" in html and "Event 2 on air-1" not in html
    assert 'data-entity-id="urn:ngsi-ld:TrafficFlowObserved:traffic-1"' in html
    assert "Dept mobility" in html and "Congestion" in html

    client.post("/signout", data={"csrf_token": client.cookies.get("parvis_csrf", "")})
    client.cookies.clear()
    staff(db, settings, "admin@city.test", role="admin")
    client.headers["Accept-Language"] = "en"
    sign_in(client, "admin@city.test", PASSWORD)
    html = client.get("/sensors/operations").text
    assert "Event 1 on traffic-1" in html and "Event 2 on air-1" in html


def test_the_room_rates_containers_with_the_threshold_of_the_waste_list(client, db, settings, city_sensors) -> None:
    """A container the waste list says to collect (``waste_collect_threshold``, 75 % by default) is
    "to collect" on the room's map and table too, whatever the threshold."""
    _staff_client(client, db, settings)
    read(db, settings, "waste-1", fill=0.77, temp=30.0)

    def waste_level() -> str:
        data = client.get("/sensors/operations/snapshot.geojson").json()
        return next(f["properties"]["level"] for f in data["features"] if f["id"] == entity_id("waste-1"))

    assert waste_level() == "high"
    assert "To collect today (over 75 %): 1" in client.get("/sensors/operations").text
    client.app.state.settings = settings.model_copy(update={"waste_collect_threshold": 0.9})
    assert waste_level() == "medium"
    assert "To collect today (over 90 %)" in client.get("/sensors/operations").text
    with db.read() as session:
        feed = live.Feed(live.cursor_now(session) - timedelta(seconds=1), timedelta(0), 0.7)
        [sent] = [f for f in feed.poll(session) if f["id"] == entity_id("waste-1")]
    assert sent["properties"]["level"] == "high"


def test_the_open_events_are_filtered_and_limited_by_the_database(db, monkeypatch) -> None:
    """Every open stream reads the events each second: the work must not grow with all the city's
    open events, only with those shown."""
    from parvis.modules.sensors.event_models import SensorEvent

    with db.transaction() as session:
        for n in range(6):
            session.add(SensorEvent(kind="air_quality" if n % 2 else "congestion",
                                    department="environment" if n % 2 else "mobility",
                                    entity_id=f"urn:ngsi-ld:X:{n}", entity_type="X",
                                    raised_at=utcnow() - timedelta(minutes=n)))
    built = []
    view = events.view
    monkeypatch.setattr(events, "view", lambda row: built.append(row.id) or view(row))
    monkeypatch.setattr(live, "EVENTS_MAX", 2)
    with db.read() as session:
        found = live.visible_events(session, {"mobility"})
    assert [e.entity_id for e in found] == ["urn:ngsi-ld:X:0", "urn:ngsi-ld:X:2"]  # newest first
    assert len(built) == 2
