"""Traffic: congestion index and level of service of road segments (pure functions)."""

from __future__ import annotations


def congestion_index(speed_kmh: float, free_flow_kmh: float) -> float:
    """Observed travel time over free-flow travel time (1.0 = free flow)."""
    raise NotImplementedError


def level_of_service(index: float) -> str:
    """The level of service, 'A' (free flow) to 'F' (jammed), of a congestion index."""
    raise NotImplementedError
