"""The demo city's sensors: devices placed around each district, provisioned with the demo's IoT
API key, and the last hours of readings stored so that every page has something true to show."""

from __future__ import annotations

from datetime import timedelta

import orjson
from sqlalchemy.orm import Session

from parvis.kernel.db import Database, utcnow
from parvis.modules import city
from parvis.modules.sensors import actions, ingest, simulate, traffic_segments
from parvis.modules.sensors.standards.ngsi_ld import LOCATION
from parvis.settings import Settings


def devices(session: Session) -> list[simulate.Device]:
    """The demo devices, placed from the districts the database holds (the same list each time)."""
    anchors = []
    for district_id, name in sorted(city.district_names(session).items()):
        point = city.district_point(session, district_id)
        if point is not None:
            anchors.append((name, point[0], point[1]))
    return simulate.demo_devices(anchors)


def provision(db: Database, settings: Settings, *, history_hours: int = 6) -> int:
    """Provision the demo devices (safe to run again) and store their last ``history_hours``
    hours of readings, every 10 minutes. Returns how many devices the demo city has. A traffic
    detector's entity is its road segment: a LineString with the segment's static attributes
    (``traffic_segments.py``)."""
    with db.read() as session:
        demo = devices(session)
    specs = []
    for device in demo:
        static: dict[str, object] | None = None
        if device.kind == "parking":
            static = {"totalSpotNumber": device.capacity}
        elif device.kind == "traffic":
            static = traffic_segments.segment(device).static()
        elif device.kind == "air":
            static = {"name": f"Station {device.district}"}  # what alert drafts and events call it
        specs.append(actions.DeviceSpec(
            api_key=settings.demo_iot_api_key, device_id=device.device_id, entity_id=device.entity_id,
            entity_type=device.entity_type, attributes=simulate.ATTRIBUTES[device.kind], lon=device.lon,
            lat=device.lat, static=static))
    actions.provision_devices(db, specs)
    for device in demo:
        if device.kind == "traffic":
            line = {"type": "GeoProperty", "value": traffic_segments.segment(device).line}
            actions.append_attributes(db, device.entity_id, {LOCATION: line})
    if history_hours:
        now = utcnow().replace(second=0, microsecond=0)
        simulator = simulate.Simulator(demo, timezone=settings.timezone, seed=1)
        start = now - timedelta(hours=history_hours)
        for at in simulate.timeline(start, now + timedelta(seconds=1), timedelta(minutes=10)):
            batch = [ingest.Message(api_key=settings.demo_iot_api_key, device_id=d.device_id,
                                    body=orjson.dumps(measures), received_at=at, channel="demo")
                     for d, measures in simulator.readings(at)]
            ingest.ingest(db, settings, batch)
    return len(demo)
