"""The demo city's road segments: each traffic detector measures a stretch of street a few hundred
metres long, drawn as a GeoJSON LineString through the detector, with what the city knows of it.

Static attributes of a segment's ``TrafficFlowObserved`` entity:

- ``location``: the LineString (GeoJSON, lon/lat);
- ``name``: the street's name; ``length`` (m) and ``totalLaneNumber`` (Smart Data Models
  ``RoadSegment`` names); ``maximumAllowedSpeed`` (km/h, the legal limit);
- ``freeFlowSpeed`` (km/h): the speed of traffic on the empty segment, which the hub's congestion
  index and level of service compare the observed speed with (``traffic.py``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from parvis.modules.sensors.simulate import Device

STREETS = ("Lê Lợi", "Trần Hưng Đạo", "Hùng Vương", "Nguyễn Huệ", "Hai Bà Trưng", "Lý Thường Kiệt",
           "Phan Chu Trinh", "Điện Biên Phủ", "Bà Triệu", "Nguyễn Trãi", "Quang Trung", "Lê Duẩn",
           "Đống Đa", "Nguyễn Du", "Trần Phú", "Ngô Quyền", "Phan Đình Phùng", "Hàm Nghi",
           "Lê Thánh Tôn", "Võ Thị Sáu")
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Segment:
    name: str
    coordinates: list[list[float]]  # lon, lat
    length_m: float
    lanes: int
    limit_kmh: float
    free_flow_kmh: float

    @property
    def line(self) -> dict[str, Any]:
        return {"type": "LineString", "coordinates": self.coordinates}

    def static(self) -> dict[str, Any]:
        """The segment's static attributes (short names, as provisioning takes them)."""
        return {"name": self.name, "length": round(self.length_m), "totalLaneNumber": self.lanes,
                "maximumAllowedSpeed": self.limit_kmh, "freeFlowSpeed": self.free_flow_kmh}


def _offset(lon: float, lat: float, metres: float, bearing_deg: float) -> tuple[float, float]:
    b = math.radians(bearing_deg)
    dlat = metres * math.cos(b) / METRES_PER_DEGREE
    dlon = metres * math.sin(b) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def segment(device: Device) -> Segment:
    """The road segment a demo detector measures (the same for a device each time): 250-600 m of
    street through the detector, along one of the grid's directions, with a slight bend."""
    rng = random.Random(f"segment:{device.device_id}")
    length = rng.uniform(250, 600)
    bearing = rng.choice((0, 30, 60, 90, 120, 150)) + rng.uniform(-8, 8)
    bend = rng.uniform(-12, 12)
    half = length / 2
    start = _offset(device.lon, device.lat, half, bearing + 180)
    end = _offset(device.lon, device.lat, half, bearing + bend)
    coordinates = [[round(x, 6), round(y, 6)] for x, y in (start, (device.lon, device.lat), end)]
    limit = {30.0: 40.0, 40.0: 50.0, 50.0: 60.0}.get(device.free_flow_kmh, device.free_flow_kmh + 10)
    return Segment(name=f"{rng.choice(STREETS)} ({device.district})", coordinates=coordinates,
                   length_m=length, lanes=2 if device.capacity <= 45 else 4, limit_kmh=limit,
                   free_flow_kmh=device.free_flow_kmh)
