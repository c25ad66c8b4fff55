"""Events the hub raises from its sensors (congestion on a road segment, a pollutant over its
threshold) for the city's departments."""

from __future__ import annotations
