"""Events the hub raises from its sensors (congestion, air quality) and the hourly and daily
aggregates kept after raw observations expire."""

from __future__ import annotations
