"""More parking for the demo city: in each district, a street segment with parking bays
(``OnStreetParking``, a GeoJSON line) and three single spaces with a sensor each
(``ParkingSpot``), with the last hours of counts, so that "free parking near me" shows the three
kinds. The car parks (``OffStreetParking``) are the simulator's (``demo_sensors.py``).

Counts follow a day of shops and offices (busier from 8 to 20 o'clock, local time) and are
deterministic for a seed. Safe to run again: entities are replaced, repeated readings skipped.
"""

from __future__ import annotations

import math
import random
import unicodedata
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from parvis.kernel.db import Database, utcnow
from parvis.modules import city
from parvis.modules.sensors import actions, observations
from parvis.modules.sensors.standards.ngsi_ld import LOCATION, EntityIn
from parvis.settings import Settings

STREET_BAYS = 24
SPOTS = 3
STEP = timedelta(minutes=10)


def _slug(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum()) or "d"


def busy(local: datetime) -> float:
    """Share of spaces taken at a local time: low at night, high in shopping hours."""
    hour = local.hour + local.minute / 60
    day = 0.15 + 0.7 * max(0.0, math.sin(math.pi * (hour - 7) / 14)) if 7 <= hour <= 21 else 0.15
    return day * (0.8 if local.weekday() >= 5 else 1.0)


def _entities(name: str, lon: float, lat: float) -> list[EntityIn]:
    prop, slug = actions.attribute_iri, _slug(name)
    line = [[round(lon + 0.0015, 6), round(lat - 0.001, 6)], [round(lon + 0.003, 6), round(lat - 0.001, 6)]]
    street = EntityIn(
        id=f"urn:ngsi-ld:OnStreetParking:street-{slug}", type=actions.type_iri("OnStreetParking"),
        attrs={prop("name"): {"type": "Property", "value": f"{name}: street parking"},
               prop("totalSpotNumber"): {"type": "Property", "value": STREET_BAYS},
               LOCATION: {"type": "GeoProperty", "value": {"type": "LineString", "coordinates": line}}})
    spots = [EntityIn(
        id=f"urn:ngsi-ld:ParkingSpot:spot-{slug}-{n}", type=actions.type_iri("ParkingSpot"),
        attrs={prop("name"): {"type": "Property", "value": f"{name}: space {n}"},
               LOCATION: {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [
                   round(lon - 0.001 + 0.00006 * n, 6), round(lat + 0.0012, 6)]}}})
        for n in range(1, SPOTS + 1)]
    return [street, *spots]


def provision(db: Database, settings: Settings, *, history_hours: int | None = None, seed: int = 5) -> int:
    """Create the demo's street parking and spaces (one of each kind per district) with counts every
    10 minutes over the last ``history_hours`` hours (``demo_sensor_hours`` by default, at least the
    latest). Returns how many entities the demo has."""
    hours = settings.demo_sensor_hours if history_hours is None else history_hours
    with db.read() as session:
        anchors = []
        for district_id, name in sorted(city.district_names(session).items()):
            point = city.district_point(session, district_id)
            if point is not None:
                anchors.append((name, point[0], point[1]))
    entities = [e for name, lon, lat in anchors for e in _entities(name, lon, lat)]
    for entity in entities:
        actions.upsert_entity(db, entity)
    zone = ZoneInfo(settings.timezone)
    now = utcnow().replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 10)
    times = [now - n * STEP for n in range(int(hours * 3600 / STEP.total_seconds()), -1, -1)]
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    latest: dict[tuple[str, str], dict[str, tuple[datetime, Any]]] = {}
    free_iri, taken_iri, status_iri = (actions.attribute_iri(n) for n in (
        "availableSpotNumber", "occupiedSpotNumber", "status"))
    for entity in entities:
        for at in times:
            share = min(1.0, max(0.0, busy(at.astimezone(zone)) + rng.uniform(-0.1, 0.1)))
            if entity.type == actions.type_iri("OnStreetParking"):
                taken = round(share * STREET_BAYS)
                values: dict[str, Any] = {free_iri: STREET_BAYS - taken, taken_iri: taken}
            else:
                values = {status_iri: "occupied" if rng.random() < share else "free"}
            for iri, value in values.items():
                number = float(value) if isinstance(value, int) else None
                rows.append({"entity_id": entity.id, "attribute": iri, "observed_at": at, "number": number,
                             "value": value})
                latest.setdefault((entity.id, entity.type), {})[iri] = (at, value)
    with db.transaction() as session:
        if rows:
            observations.store(session, rows)
        actions.apply_observations(session, latest, {})
    return len(entities)
