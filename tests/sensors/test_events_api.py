"""The events API (each department sees its own events) and the alert drafts that air-quality
events prepare in the alerts back office."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select
from tests import factories
from tests.web_helpers import bearer

from parvis.kernel.db import utcnow
from parvis.kernel.jobs import Worker
from parvis.modules.alerts.models import Alert, State
from parvis.modules.city import actions as city
from parvis.modules.city.schemas import DepartmentCreate
from parvis.modules.sensors import actions, ingest

KEY = "k-events"
GEO = {"Accept": "application/geo+json"}


@pytest.fixture
def hub(db, settings):
    """A district, the mobility and environment departments, a segment and a station."""
    factories.district(db, "D1", lon=107.57, lat=16.45, size=0.03)
    ids = {kind: city.create_department(db, None, DepartmentCreate(code=kind, name=kind.title(), kind=kind)).id
           for kind in ("mobility", "environment")}
    actions.provision_device(db, api_key=KEY, device_id="seg-1", entity_id="urn:ngsi-ld:TrafficFlowObserved:seg-1",
                             entity_type="TrafficFlowObserved", attributes={"s": "averageVehicleSpeed"},
                             lon=107.58, lat=16.46, static={"freeFlowSpeed": 40, "name": "Lê Lợi"})
    actions.provision_device(db, api_key=KEY, device_id="st-1", entity_id="urn:ngsi-ld:AirQualityObserved:st-1",
                             entity_type="AirQualityObserved", attributes={"p": "pm25"}, lon=107.59, lat=16.47,
                             static={"name": "Chợ Đông Ba"})
    return ids


def send(db, settings, device: str, minute: int, **measures) -> None:
    at = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=30 - minute)
    body = orjson.dumps({**measures, "t": at.isoformat()})
    assert ingest.ingest(db, settings, [ingest.Message(KEY, device, body, at)]).dead == 0


def test_each_department_sees_its_own_events_and_admins_all(client, db, settings, hub):
    send(db, settings, "seg-1", 0, s=6)  # level F: congestion for mobility
    send(db, settings, "st-1", 0, p=80)  # PM2.5 over 50: air quality for environment
    factories.staff(db, settings, "mob@example.org", department_ids=[hub["mobility"]])
    factories.staff(db, settings, "env@example.org", department_ids=[hub["environment"]])
    factories.staff(db, settings, "admin@example.org", role="admin")

    mobility = client.get("/api/v1/sensors/events", headers={**GEO, **bearer(client, "mob@example.org")})
    assert mobility.status_code == 200 and mobility.headers["content-type"].startswith("application/geo+json")
    [congestion] = mobility.json()["features"]
    assert congestion["properties"]["kind"] == "congestion" and congestion["properties"]["status"] == "open"
    assert congestion["properties"]["level"] == "F" and congestion["properties"]["department"] == "mobility"
    assert congestion["geometry"] == {"type": "Point", "coordinates": [107.58, 16.46]}

    environment = bearer(client, "env@example.org")
    [air] = client.get("/api/v1/sensors/events", headers=environment).json()["features"]
    assert (air["properties"]["kind"], air["properties"]["pollutant"], air["properties"]["value"]) == (
        "air_quality", "pm25", 80.0)
    asked = client.get("/api/v1/sensors/events?department=mobility", headers=environment)
    assert asked.status_code == 200 and asked.json()["features"] == []  # not theirs

    admin = bearer(client, "admin@example.org")
    assert len(client.get("/api/v1/sensors/events", headers=admin).json()["features"]) == 2
    only = client.get("/api/v1/sensors/events?kind=congestion", headers=admin).json()["features"]
    assert [f["properties"]["kind"] for f in only] == ["congestion"]
    assert client.get("/api/v1/sensors/events?status=cleared", headers=admin).json()["features"] == []
    bad = client.get("/api/v1/sensors/events?status=maybe", headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_cleared_events_are_listed_as_cleared(client, db, settings, hub):
    send(db, settings, "seg-1", 0, s=6)
    for minute in (1, 2, 3):
        send(db, settings, "seg-1", minute, s=39)
    factories.staff(db, settings, "admin@example.org", role="admin")
    admin = bearer(client, "admin@example.org")
    [event] = client.get("/api/v1/sensors/events?status=cleared", headers=admin).json()["features"]
    assert event["properties"]["status"] == "cleared" and event["properties"]["clearedAt"].endswith("Z")
    assert client.get("/api/v1/sensors/events?status=open", headers=admin).json()["features"] == []


def test_citizens_and_strangers_cannot_read_events(client, db, settings, hub):
    assert client.get("/api/v1/sensors/events").status_code == 401
    factories.citizen(db, settings)
    citizen = bearer(client, "+84912345678")
    assert client.get("/api/v1/sensors/events", headers=citizen).status_code == 403


def test_an_air_quality_event_drafts_one_alert_that_nobody_sends_until_approved(client, app, db, settings, hub):
    worker = Worker(db, app.state.registry)
    send(db, settings, "st-1", 0, p=120)  # over 50 µg/m³, more than twice: severe
    send(db, settings, "seg-1", 0, s=5)  # congestion: no alert draft
    worker.run_once()
    worker.run_once()  # the worker relays the raised event again: still one draft
    for minute in (1, 2, 3):
        send(db, settings, "st-1", minute, p=20)  # cleared
    worker.run_once()
    factories.staff(db, settings, "admin@example.org", role="admin")
    admin = bearer(client, "admin@example.org")
    page = client.get("/admin/alerts", headers=admin)
    assert page.status_code == 200
    assert page.text.count("Chợ Đông Ba") == 1  # one draft, headed with the station's name
    assert "PM2.5" in page.text
    with db.read() as session:
        [draft] = session.scalars(select(Alert)).all()
    assert draft.state == State.DRAFT and draft.severity == "Severe" and draft.circle_radius_km == 2.0
    assert (draft.circle_lon, draft.circle_lat) == (107.59, 16.47) and draft.author_id is None


def test_two_processes_queueing_the_draft_at_once_queue_it_once_without_error(db, settings, monkeypatch):
    """The writer and the worker both hear of the event; each looks for the draft's job before the
    other committed it (PostgreSQL): the second insert is refused by the key, and that is fine."""
    from parvis.kernel.events import Event
    from parvis.kernel.jobs import Job
    from parvis.modules.alerts import event_drafts

    def blind_enqueue(session, kind, payload, *, key):  # the look-up that missed the other's job
        session.add(Job(kind=kind, payload=payload, key=key, run_at=utcnow()))

    monkeypatch.setattr(event_drafts, "enqueue", blind_enqueue)
    event = Event("sensors.event_raised", {"event_id": 7, "kind": "air_quality", "lon": 107.59, "lat": 16.47})
    event_drafts.on_event_raised(db, settings, event)
    event_drafts.on_event_raised(db, settings, event)  # no IntegrityError for the bus to log
    with db.read() as session:
        assert len(session.scalars(select(Job).where(Job.kind == event_drafts.DRAFT_JOB)).all()) == 1
