"""Waste: fill levels of the city's containers (``WasteContainer``) and the "to collect today"
list of the waste department.

A container is listed when its fill level is at or over ``PARVIS_WASTE_COLLECT_THRESHOLD``
(0.75) or when, at its recent fill rate, it will be before tomorrow's round
(``PARVIS_WASTE_ROUND_HOUR``, local time): waiting for the next round would let it overflow.

**Fill rate.** A straight line (least squares) through the hourly mean fill levels of the last
``RATE_HOURS`` hours (the hourly aggregates, completed with the raw readings not yet rolled up),
counted from the last emptying (a fall of more than ``EMPTIED_DROP``); at least two hours are
needed, and a falling or flat line predicts nothing. It is a simple model: bins fill faster by
day than by night, so a rate measured in the afternoon overstates the night; the list says which
containers are there by prediction only, so that the crew can judge.

Fill levels are fractions (0..1, Smart Data Models' ``fillingLevel``); a device sending percents
(over 1, up to 100) is read as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import Point, shape
from shapely.prepared import prep
from sqlalchemy import select
from sqlalchemy.orm import Session

from parvis.kernel.auth import Principal
from parvis.kernel.db import utcnow
from parvis.modules import city
from parvis.modules.sensors import aggregates
from parvis.modules.sensors.actions import attribute_iri, type_iri
from parvis.modules.sensors.models import Entity
from parvis.modules.sensors.readings import display_name, observed_at

RATE_HOURS = 6
EMPTIED_DROP = 0.1
WASTE_KIND = "waste"  # the city department kind that collects


HALF_FULL = 0.5


def level(fill: float | None, threshold: float) -> str | None:
    """How full a container looks on a map: "high" (to collect: at or over ``threshold``),
    "medium" (half full or more), "low"; None without a reading."""
    if fill is None:
        return None
    return "high" if fill >= threshold else "medium" if fill >= HALF_FULL else "low"


def may_see(session: Session, principal: Principal) -> bool:
    """Staff of a waste department, and staff of every department (admins...)."""
    if not principal.has("backoffice.view"):
        return False
    scope = principal.department_scope
    if scope is None:
        return True
    return any(d.kind == WASTE_KIND for d in city.departments(session, only_ids=scope))


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    lon: float | None
    lat: float | None
    fill: float | None  # 0..1
    observed_at: datetime | None
    district_id: int | None
    district: str | None
    rate_per_hour: float | None  # fill gained per hour, recently
    predicted: float | None  # fill expected at the next round (capped at 1)
    reason: str | None  # "full" (over the threshold), "predicted", or None (not to collect)


@dataclass(frozen=True)
class DistrictGroup:
    district_id: int | None
    name: str | None
    containers: list[Container]


def _fill(attr: Any) -> float | None:
    value = attr.get("value") if isinstance(attr, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    value = float(value)
    if 1.0 < value <= 100.0:
        value /= 100.0
    return max(0.0, min(1.0, value))




def fill_rate(hours: dict[datetime, tuple[int, float, float, float]]) -> float | None:
    """Fill gained per hour: the least-squares slope of the hourly means since the last emptying."""
    points = sorted((h, total / count) for h, (count, total, _low, _high) in hours.items() if count)
    start = 0
    for n in range(1, len(points)):
        if points[n][1] < points[n - 1][1] - EMPTIED_DROP:
            start = n
    points = points[start:]
    if len(points) < 2:
        return None
    xs = [(h - points[0][0]).total_seconds() / 3600 for h, _ in points]
    ys = [_scale(v) for _, v in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def _scale(value: float) -> float:
    return value / 100.0 if 1.0 < value <= 100.0 else value


def _district_finder(session: Session) -> Any:
    """Which district holds a point: the districts read once (a few dozen polygons), not one query
    per container; the lowest id wins where two overlap, as ``city.district_id_at``."""
    areas = sorted((int(f["id"]), prep(shape(f["geometry"])))
                   for f in city.districts_geojson(session)["features"] if f.get("geometry"))

    def find(lon: float, lat: float) -> int | None:
        point = Point(lon, lat)
        return next((district_id for district_id, area in areas if area.covers(point)), None)

    return find


def next_round(now: datetime, timezone: str, round_hour: int) -> datetime:
    """Tomorrow's round: ``round_hour`` o'clock, local time, on the day after today."""
    zone = ZoneInfo(timezone)
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, round_hour, tzinfo=zone)


def containers(session: Session, *, threshold: float, timezone: str, round_hour: int,
               now: datetime | None = None) -> list[Container]:
    """Every container with its fill level, district and whether to collect it, fullest first."""
    now = now or utcnow()
    rows = list(session.scalars(select(Entity).where(Entity.type == type_iri("WasteContainer"))
                                .order_by(Entity.id)))
    iri = attribute_iri("fillingLevel")
    history = aggregates.hourly_many(session, [r.id for r in rows], [iri],
                                     now - timedelta(hours=RATE_HOURS), now + timedelta(seconds=1))
    names = city.district_names(session)
    district_at = _district_finder(session) if rows else None
    hours_left = (next_round(now, timezone, round_hour) - now).total_seconds() / 3600
    out = []
    for row in rows:
        attr = (row.attrs or {}).get(iri)
        fill = _fill(attr)
        lon = lat = None
        district_id = None
        if row.location is not None:
            point = shape(row.location).representative_point()
            lon, lat = round(point.x, 6), round(point.y, 6)
            district_id = district_at(lon, lat) if district_at is not None else None
        rate = fill_rate(history.get((row.id, iri), {}))
        predicted = None
        if fill is not None and rate is not None and rate > 0:
            predicted = min(1.0, fill + rate * hours_left)
        reason = None
        if fill is not None and fill >= threshold:
            reason = "full"
        elif predicted is not None and predicted >= threshold:
            reason = "predicted"
        out.append(Container(row.id, display_name(row), lon, lat, fill, observed_at(attr), district_id,
                             names.get(district_id) if district_id is not None else None,
                             rate, predicted, reason))
    out.sort(key=lambda c: (-(c.fill if c.fill is not None else -1.0), c.id))
    return out


def to_collect(found: list[Container]) -> list[DistrictGroup]:
    """The containers to collect, grouped by district (by name, unknown last), fullest first."""
    groups: dict[int | None, list[Container]] = {}
    for item in found:
        if item.reason is not None:
            groups.setdefault(item.district_id, []).append(item)
    out = [DistrictGroup(d, items[0].district, sorted(items, key=lambda c: (-(c.fill or 0.0), c.id)))
           for d, items in groups.items()]
    out.sort(key=lambda g: (g.name is None, (g.name or "").lower()))
    return out
