"""Reads of the traffic pages: the road segments with their state (GeoJSON), one segment, and
its day by hour beside the typical profile of the same weekday."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from parvis.modules.sensors import aggregates, traffic
from parvis.modules.sensors.actions import attribute_iri, type_iri
from parvis.modules.sensors.models import Entity, Observation

log = logging.getLogger(__name__)

TRAFFIC_TYPE = type_iri("TrafficFlowObserved")
PREFIX = "urn:ngsi-ld:TrafficFlowObserved:"
# what the segment page charts: short attribute name -> IRI
CHARTED = {name: attribute_iri(name) for name in
           ("averageVehicleSpeed", "motorcycleIntensity", "carIntensity", "heavyVehicleIntensity")}


def slug(entity_id: str) -> str:
    """A segment's name in URLs: its entity id without the usual prefix."""
    return entity_id[len(PREFIX):] if entity_id.startswith(PREFIX) else entity_id


def entity_id_of(segment: str) -> str:
    return segment if segment.startswith("urn:") else PREFIX + segment


def _value(attrs: dict[str, Any], name: str) -> Any:
    attr = attrs.get(attribute_iri(name))
    return attr.get("value") if isinstance(attr, dict) else None


def properties(entity_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """What the map and the segment page say of a segment."""
    state = traffic.segment_state(attrs)
    counts = traffic.classes(attrs)
    speed_attr = attrs.get(traffic.SPEED)
    return {"id": slug(entity_id), "entityId": entity_id, "name": _value(attrs, "name") or slug(entity_id),
            "level": state.level if state else None,
            "congestionIndex": round(state.index, 2) if state else None,
            "speed": state.speed_kmh if state else _value(attrs, "averageVehicleSpeed"),
            "freeFlowSpeed": _value(attrs, "freeFlowSpeed"), "length": _value(attrs, "length"),
            "lanes": _value(attrs, "totalLaneNumber"), "intensity": _value(attrs, "intensity"),
            "motorcycles": counts["motorcycleIntensity"], "cars": counts["carIntensity"],
            "heavyVehicles": counts["heavyVehicleIntensity"], "pcu": traffic.pcu(counts),
            "occupancy": _value(attrs, "occupancy"),
            "observedAt": speed_attr.get("observedAt") if isinstance(speed_attr, dict) else None,
            "url": f"/sensors/traffic/{slug(entity_id)}"}


def segments_geojson(session: Session) -> dict[str, Any]:
    """Every road segment (TrafficFlowObserved with a location) and its state."""
    rows = session.execute(select(Entity.id, Entity.location, Entity.attrs)
                           .where(Entity.type == TRAFFIC_TYPE).order_by(Entity.id))
    features = [{"type": "Feature", "id": slug(entity_id), "geometry": location,
                 "properties": properties(entity_id, attrs or {})}
                for entity_id, location, attrs in rows if location]
    return {"type": "FeatureCollection", "features": features}


def segment(session: Session, segment_slug: str) -> dict[str, Any] | None:
    row = session.execute(select(Entity.id, Entity.location, Entity.attrs).where(
        Entity.id == entity_id_of(segment_slug), Entity.type == TRAFFIC_TYPE)).first()
    if row is None:
        return None
    return {**properties(row.id, row.attrs or {}), "classes": traffic.by_class(row.attrs or {}),
            "geometry": row.location}


@dataclass
class DaySeries:
    """One attribute by local hour: today's averages and the typical values of the weekday."""
    name: str
    today: dict[int, float] = field(default_factory=dict)
    typical: dict[int, float] = field(default_factory=dict)


def day(session: Session, entity_id: str, timezone: str, now: datetime) -> dict[str, DaySeries]:
    """Today's hourly averages of the charted attributes and the weekday's typical profile
    (``aggregates.profile``; left empty when there is none)."""
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    out = {name: DaySeries(name) for name in CHARTED}
    by_iri = {iri: name for name, iri in CHARTED.items()}
    sums: dict[tuple[str, int], list[float]] = {}
    rows = session.execute(select(Observation.attribute, Observation.observed_at, Observation.number).where(
        Observation.entity_id == entity_id, Observation.attribute.in_(list(by_iri)),
        Observation.observed_at >= midnight, Observation.observed_at < midnight + timedelta(days=1),
        Observation.number.is_not(None)))
    for iri, observed_at, number in rows:
        hour = observed_at.astimezone(zone).hour
        sums.setdefault((by_iri[iri], hour), []).append(number)
    for (name, hour), values in sums.items():
        out[name].today[hour] = sum(values) / len(values)
    weekday = local_now.weekday()
    for name, iri in CHARTED.items():
        typical = aggregates.profile(session, entity_id, iri, timezone=timezone, now=now)
        out[name].typical = {hour: value for (wd, hour), value in typical.items() if wd == weekday}
    return out
