"""Traffic: congestion index and level of service of road segments (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def congestion_index(speed_kmh: float, free_flow_kmh: float) -> float:
    """Observed travel time over free-flow travel time (1.0 = free flow)."""
    raise NotImplementedError


def level_of_service(index: float) -> str:
    """The level of service, 'A' (free flow) to 'F' (jammed), of a congestion index."""
    raise NotImplementedError


@dataclass(frozen=True)
class SegmentState:
    speed_kmh: float
    free_flow_kmh: float
    index: float
    level: str  # 'A'..'F'


def segment_state(attrs: dict[str, Any]) -> SegmentState | None:
    """The state of a road segment from its TrafficFlowObserved entity's attributes (keys are
    full IRIs, as stored); None when it has no speed or no free-flow speed yet."""
    return None
