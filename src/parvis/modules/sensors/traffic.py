"""Traffic: congestion index and level of service of road segments (pure functions).

- The **congestion index** is the observed travel time over the free-flow travel time on the
  segment, that is free-flow speed / observed speed (1.0 = free flow). A stopped segment (speed 0)
  has no finite travel time: its index is capped at ``MAX_INDEX``, the worst level.
- The **level of service** (A-F) follows the Highway Capacity Manual, 6th edition, urban street
  segments (exhibit 18-1): the travel speed as a share of the base free-flow speed, A > 85 %,
  B > 67 %, C > 50 %, D > 40 %, E > 30 %, F <= 30 %.
- **Passenger-car units**: motorcycles 0.3, cars 1, heavy vehicles (trucks, buses) 2, the
  conversion factors of TCVN 4054:2005 (Vietnam, plain terrain) for the classes detectors count.

A segment's free-flow speed is its entity's ``freeFlowSpeed`` property (km/h; not a Smart Data
Models attribute: ``maximumAllowedSpeed`` is the legal limit, which traffic seldom reaches in town).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from parvis.modules.sensors.actions import attribute_iri

MAX_INDEX = 10.0  # a segment slower than a tenth of its free-flow speed: stopped
LEVELS = ("A", "B", "C", "D", "E", "F")
# lowest share of the free-flow speed of each level, HCM 6th ed. exhibit 18-1 (F: the rest)
SPEED_SHARE = {"A": 0.85, "B": 0.67, "C": 0.50, "D": 0.40, "E": 0.30}
PCU = {"motorcycleIntensity": 0.3, "carIntensity": 1.0, "heavyVehicleIntensity": 2.0}

SPEED = attribute_iri("averageVehicleSpeed")
FREE_FLOW = attribute_iri("freeFlowSpeed")
INTENSITY = attribute_iri("intensity")
OCCUPANCY = attribute_iri("occupancy")
LENGTH = attribute_iri("length")
NAME = attribute_iri("name")
CLASSES = {name: attribute_iri(name) for name in PCU}
# per vehicle class (Parvis' own attributes, beside SDM's per-segment ones): count, speed, occupancy
VEHICLE_CLASSES = ("motorcycle", "car", "heavyVehicle")
CLASS_SPEEDS = {c: attribute_iri(f"{c}AverageSpeed") for c in VEHICLE_CLASSES}
CLASS_OCCUPANCIES = {c: attribute_iri(f"{c}Occupancy") for c in VEHICLE_CLASSES}


def congestion_index(speed_kmh: float, free_flow_kmh: float) -> float:
    """Observed travel time over free-flow travel time (1.0 = free flow), at most ``MAX_INDEX``
    (a stopped segment). Raises ValueError without a positive free-flow speed."""
    if not free_flow_kmh or free_flow_kmh <= 0 or not math.isfinite(free_flow_kmh):
        raise ValueError("a free-flow speed must be a positive number")
    if speed_kmh is None or not math.isfinite(speed_kmh) or speed_kmh <= free_flow_kmh / MAX_INDEX:
        return MAX_INDEX
    return free_flow_kmh / speed_kmh


def level_of_service(index: float) -> str:
    """The level of service, 'A' (free flow) to 'F' (jammed), of a congestion index."""
    if index is None or not math.isfinite(index) or index <= 0:
        return "F" if index is None or index > 0 else "A"
    share = round(1.0 / index, 6)  # the speed as a share of free flow (rounded: exact thresholds)
    for level in LEVELS[:-1]:
        if share > SPEED_SHARE[level]:
            return level
    return "F"


def level_rank(level: str) -> int:
    """0 for A .. 5 for F (to compare levels)."""
    return LEVELS.index(level)


@dataclass(frozen=True)
class SegmentState:
    speed_kmh: float
    free_flow_kmh: float
    index: float
    level: str  # 'A'..'F'


def _number(attrs: dict[str, Any], iri: str) -> float | None:
    attr = attrs.get(iri)
    value = attr.get("value") if isinstance(attr, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def segment_state(attrs: dict[str, Any]) -> SegmentState | None:
    """The state of a road segment from its TrafficFlowObserved entity's attributes (keys are
    full IRIs, as stored); None when it has no speed or no free-flow speed yet."""
    speed, free_flow = _number(attrs, SPEED), _number(attrs, FREE_FLOW)
    if speed is None or free_flow is None or free_flow <= 0:
        return None
    index = congestion_index(max(0.0, speed), free_flow)
    return SegmentState(speed, free_flow, round(index, 3), level_of_service(index))


def pcu(counts: dict[str, float | None]) -> float | None:
    """Passenger-car units of the vehicles counted by class (``motorcycleIntensity``,
    ``carIntensity``, ``heavyVehicleIntensity``: short names); None without any class count."""
    known = [(PCU[name], value) for name, value in counts.items() if name in PCU and value is not None]
    return round(sum(f * v for f, v in known), 1) if known else None


def classes(attrs: dict[str, Any]) -> dict[str, float | None]:
    """The per-class intensities (short names) of a TrafficFlowObserved entity's attributes."""
    return {name: _number(attrs, iri) for name, iri in CLASSES.items()}


def by_class(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """Each vehicle class (motorcycles first) with its count in the last minute, its average
    speed (km/h) and its share of the detectors' occupancy (0-1); None where not measured."""
    return [{"class": c, "count": _number(attrs, CLASSES[f"{c}Intensity"]),
             "speed": _number(attrs, CLASS_SPEEDS[c]), "occupancy": _number(attrs, CLASS_OCCUPANCIES[c])}
            for c in VEHICLE_CLASSES]
