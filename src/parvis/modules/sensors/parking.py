"""Parking: live free spaces of car parks (``OffStreetParking``), street segments
(``OnStreetParking``) and single spaces (``ParkingSpot``), the nearest ones with free spaces,
and a facility's typical occupancy by weekday and hour.

**Walking distance.** Parvis has no walking network of the city, so the walking distance is
estimated as the great-circle (haversine) distance to the facility's nearest point times a
detour factor, ``PARVIS_PARKING_DETOUR_FACTOR`` (1.3 by default). Studies of the ratio of
network to straight-line distance ("circuity") find about 1.2 to 1.4 in cities: Levinson and
El-Geneidy, "The minimum circuity frontier and the journey to work", Regional Science and Urban
Economics 39 (2009); Boeing, "Measuring the complexity of urban form and design", Urban Design
International 23 (2018), 1.1 to 1.3 for walkable street grids. It orders results well inside a
district; a river without a bridge nearby is what it cannot know. The API says which method
gave the distance (``method``: ``great-circle x 1.3``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import Point, shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from parvis.kernel.db import utcnow
from parvis.modules.sensors import aggregates
from parvis.modules.sensors.actions import attribute_iri, type_iri
from parvis.modules.sensors.models import Entity
from parvis.modules.sensors.readings import display_name
from parvis.modules.sensors.standards.query import distance_m

TYPES = ("OffStreetParking", "OnStreetParking", "ParkingSpot")
MAX_RADIUS_M = 5_000
MAX_LIMIT = 50
METRES_PER_DEGREE = 111_320.0


def method(detour: float) -> str:
    return f"great-circle x {detour:g}"


@dataclass(frozen=True)
class Facility:
    id: str
    type: str  # short type name
    name: str
    lon: float | None
    lat: float | None
    geometry: dict[str, Any] | None
    free: int | None
    total: int | None
    observed_at: datetime | None
    stale: bool  # the count is older than the stale limit (or there is none)

    @property
    def occupied(self) -> int | None:
        return self.total - self.free if self.total is not None and self.free is not None else None

    @property
    def is_full(self) -> bool:
        return self.free is not None and self.free <= 0


@dataclass(frozen=True)
class Nearby:
    facility: Facility
    walking_m: float
    straight_m: float


def _attr(attrs: dict[str, Any], name: str) -> dict[str, Any] | None:
    attr = attrs.get(attribute_iri(name))
    return attr if isinstance(attr, dict) else None


def _int(attr: dict[str, Any] | None) -> int | None:
    value = attr.get("value") if attr else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _when(attr: dict[str, Any] | None, fallback: datetime | None) -> datetime | None:
    stamp = attr.get("observedAt") or attr.get("modifiedAt") if attr else None
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp)
        except ValueError:
            return fallback
    return fallback




def facility(row: Entity, *, stale_after: timedelta, now: datetime) -> Facility:
    attrs = row.attrs or {}
    kind = row.type.rsplit("/", 1)[-1]
    if kind == "ParkingSpot":
        status = _attr(attrs, "status")
        value = status.get("value") if status else None
        free = {"free": 1, "occupied": 0, "closed": 0}.get(value) if isinstance(value, str) else None
        total: int | None = 1
        when = _when(status, None)
    else:
        available = _attr(attrs, "availableSpotNumber")
        free, total = _int(available), _int(_attr(attrs, "totalSpotNumber"))
        if free is None and total is not None:
            occupied = _int(_attr(attrs, "occupiedSpotNumber"))
            free = total - occupied if occupied is not None else None
            available = _attr(attrs, "occupiedSpotNumber")
        when = _when(available, None)
        if free is not None and total is not None:
            free = max(0, min(free, total))
    lon = lat = None
    if row.location is not None:
        centre = shape(row.location).representative_point()
        lon, lat = round(centre.x, 6), round(centre.y, 6)
    stale = when is None or now - when > stale_after
    return Facility(row.id, kind, display_name(row), lon, lat, row.location, free, total, when, stale)


def _rows(session: Session, box: tuple[float, float, float, float] | None = None) -> list[Entity]:
    stmt = select(Entity).where(Entity.type.in_([type_iri(t) for t in TYPES]))
    if box is not None:
        min_lon, min_lat, max_lon, max_lat = box
        stmt = stmt.where(Entity.lon_max >= min_lon, Entity.lon_min <= max_lon,
                          Entity.lat_max >= min_lat, Entity.lat_min <= max_lat)
    return list(session.scalars(stmt.order_by(Entity.id)))


def facilities(session: Session, *, stale_minutes: int = 30, now: datetime | None = None) -> list[Facility]:
    """Every parking facility, by name."""
    now = now or utcnow()
    found = [facility(row, stale_after=timedelta(minutes=stale_minutes), now=now) for row in _rows(session)]
    return sorted(found, key=lambda f: (f.name.lower(), f.id))


def one(session: Session, entity_id: str, *, stale_minutes: int = 30,
        now: datetime | None = None) -> Facility | None:
    row = session.get(Entity, entity_id)
    if row is None or row.type not in {type_iri(t) for t in TYPES}:
        return None
    return facility(row, stale_after=timedelta(minutes=stale_minutes), now=now or utcnow())


def near(session: Session, lon: float, lat: float, *, radius_m: float = 1000, limit: int = 10,
         include_full: bool = False, detour: float = 1.3, stale_minutes: int = 30,
         now: datetime | None = None) -> list[Nearby]:
    """Facilities within ``radius_m`` metres of walking from (lon, lat), nearest first, those whose
    count is stale (no reading for ``stale_minutes``: its free spaces may be gone) after the fresh
    ones; full ones (and those without a count) only with ``include_full``. The bounding box of the radius is
    decided in SQL (indexed columns), the distance in Python on what remains."""
    now = now or utcnow()
    reach = radius_m / detour  # the straight-line distance that can still be walked in radius_m
    dlat = reach / METRES_PER_DEGREE
    dlon = reach / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(lat))))
    here = Point(lon, lat)
    found = []
    for row in _rows(session, (lon - dlon, lat - dlat, lon + dlon, lat + dlat)):
        place = facility(row, stale_after=timedelta(minutes=stale_minutes), now=now)
        if not include_full and (place.free is None or place.is_full):
            continue
        if row.location is None:
            continue
        straight = distance_m(here, shape(row.location))
        walking = straight * detour
        if walking <= radius_m:
            found.append(Nearby(place, round(walking), round(straight)))
    found.sort(key=lambda n: (n.facility.stale, n.walking_m, n.facility.id))
    return found[:limit]


def occupancy_profile(session: Session, place: Facility, *, weeks: int = 8, timezone: str | None = None,
                      now: datetime | None = None) -> dict[tuple[int, int], float]:
    """Typical share of spaces taken (0..1) by (weekday, local hour), from the aggregates of the
    occupied (or free) spaces over the last ``weeks`` weeks and the current capacity."""
    if not place.total:
        return {}
    occupied = aggregates.profile(session, place.id, attribute_iri("occupiedSpotNumber"), weeks=weeks,
                                  timezone=timezone, now=now)
    if occupied:
        return {slot: max(0.0, min(1.0, value / place.total)) for slot, value in occupied.items()}
    free = aggregates.profile(session, place.id, attribute_iri("availableSpotNumber"), weeks=weeks,
                              timezone=timezone, now=now)
    return {slot: max(0.0, min(1.0, 1 - value / place.total)) for slot, value in free.items()}
