"""Realistic sensor streams for the demo city (``parvis simulate``), used by the demo and the tests.

What a city of central Vietnam or Cambodia looks like through its sensors:

- **traffic detectors**, one per road segment, a reading a minute: flow with a morning and an
  evening rush hour on weekdays (flatter at weekends), motorcycles about four vehicles in five,
  speed falling as the segment fills (the BPR volume-delay curve), occupancy from flow and speed;
  the hub computes the congestion index and level of service itself (``traffic.py``). A *jam*
  (``Simulator.jams``) holds one segment at a crawl (level of service F) for a while;
- **parking facilities**, arrivals and departures of a day of offices, shops and evening
  markets, never more cars than spaces;
- **air-quality stations**: PM2.5, PM10 and NO2 follow the rush hours, ozone the afternoon sun,
  with slow weather drift and sensor noise;
- **waste containers** that fill through the day, faster near markets, and are emptied by the
  morning round once over three quarters full.

Each reading is a device's JSON measures, keyed by the short *object ids* devices send on the
IoT-agent topic ``/<apikey>/<device_id>/attrs``; ``ATTRIBUTES`` maps them to the Smart Data
Models attribute names the hub stores. Everything is deterministic for a given seed, so a test can
check the shape of a day.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

Kind = Literal["traffic", "parking", "air", "waste"]

ENTITY_TYPES: dict[str, str] = {"traffic": "TrafficFlowObserved", "parking": "OffStreetParking",
                                "air": "AirQualityObserved", "waste": "WasteContainer"}
# object id sent by the device -> Smart Data Models attribute name
ATTRIBUTES: dict[str, dict[str, str]] = {
    "traffic": {"f": "intensity", "mc": "motorcycleIntensity", "car": "carIntensity",
                "hv": "heavyVehicleIntensity", "s": "averageVehicleSpeed", "o": "occupancy",
                "smc": "motorcycleAverageSpeed", "scar": "carAverageSpeed", "shv": "heavyVehicleAverageSpeed",
                "omc": "motorcycleOccupancy", "ocar": "carOccupancy", "ohv": "heavyVehicleOccupancy"},
    "parking": {"free": "availableSpotNumber", "occ": "occupiedSpotNumber"},
    "air": {"pm25": "pm25", "pm10": "pm10", "no2": "no2", "o3": "o3"},
    "waste": {"fill": "fillingLevel", "temp": "temperature"},
}
TIME_KEY = "t"  # the reading's own time (ISO 8601 with offset), as IoT agents' TimeInstant
# metres of road a vehicle of each class takes with its spacing, and how its speed departs from
# the segment's as the segment fills: motorcycles weave through queues, trucks and buses lag
_CLASS_LENGTH = {"mc": 2.5, "car": 6.0, "hv": 12.0}
_CLASS_SPEED = {"mc": (1.0, 0.35), "car": (1.0, -0.05), "hv": (0.85, 0.0)}  # (factor, + per congestion)


def class_measures(measures: dict[str, Any], free_flow_kmh: float) -> dict[str, Any]:
    """Speed (km/h) and occupancy share of each vehicle class of a traffic reading, from its
    counts, speed and occupancy (``smc``/``scar``/``shv``, ``omc``/``ocar``/``ohv``): the class
    occupancies add up to the segment's, in proportion to the time each class's vehicles cover a
    detector (count x length / speed)."""
    speed = float(measures["s"])
    congestion = max(0.0, 1 - speed / free_flow_kmh) if free_flow_kmh > 0 else 0.0
    speeds = {c: max(1.0, speed * (factor + slope * congestion))
              for c, (factor, slope) in _CLASS_SPEED.items()}
    cover = {c: measures[c] * _CLASS_LENGTH[c] / speeds[c] for c in _CLASS_LENGTH}
    total = sum(cover.values())
    out: dict[str, Any] = {}
    for c in _CLASS_LENGTH:
        out[f"s{c}"] = round(speeds[c], 1) if measures[c] else None
        out[f"o{c}"] = round(measures["o"] * cover[c] / total, 3) if total else 0.0
    return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class Device:
    device_id: str
    kind: Kind
    lon: float
    lat: float
    district: str
    capacity: int = 0  # parking: spaces; traffic: vehicles per minute the segment carries
    free_flow_kmh: float = 0.0
    busy: float = 1.0  # how busy the place is (a market street, a hospital car park): 0.5-1.5

    @property
    def entity_id(self) -> str:
        return f"urn:ngsi-ld:{ENTITY_TYPES[self.kind]}:{self.device_id}"

    @property
    def entity_type(self) -> str:
        return ENTITY_TYPES[self.kind]


def demo_devices(anchors: Sequence[tuple[str, float, float]], *, seed: int = 7,
                 per_district: dict[Kind, int] | None = None) -> list[Device]:
    """The demo city's devices around each district's point (code, lon, lat): by default two
    traffic detectors, one car park, one bin in three districts' markets... see ``per_district``."""
    counts: dict[Kind, int] = per_district or {"traffic": 2, "parking": 1, "air": 1, "waste": 3}
    rng = random.Random(seed)
    devices: list[Device] = []
    for code, lon, lat in anchors:
        ascii_name = unicodedata.normalize("NFKD", code.replace("đ", "d").replace("Đ", "D"))
        slug = "".join(ch for ch in ascii_name.lower() if ch.isascii() and ch.isalnum()) or "d"
        for kind, count in counts.items():
            for n in range(count):
                dx, dy = rng.uniform(-0.004, 0.004), rng.uniform(-0.003, 0.003)
                devices.append(Device(
                    device_id=f"{kind}-{slug}-{n + 1}", kind=kind, lon=round(lon + dx, 6),
                    lat=round(lat + dy, 6), district=code,
                    capacity={"traffic": rng.choice((30, 45, 60)), "parking": rng.choice((40, 80, 150)),
                              "air": 0, "waste": 1100}[kind],
                    free_flow_kmh=rng.choice((30.0, 40.0, 50.0)) if kind == "traffic" else 0.0,
                    busy=round(rng.uniform(0.6, 1.4), 2)))
    return devices


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-((hour - centre) ** 2) / (2 * width * width))


def traffic_demand(hour: float, weekend: bool) -> float:
    """Share of the segment's capacity in use at a local hour (0-24): ~0.05 at night, ~0.9 at
    the weekday rush hours (07:30 and 17:30), a midday plateau; weekends peak lower and later."""
    if weekend:
        return 0.05 + 0.45 * _bump(hour, 11.0, 2.5) + 0.5 * _bump(hour, 18.5, 2.0)
    return (0.05 + 0.85 * _bump(hour, 7.5, 0.9) + 0.35 * _bump(hour, 12.0, 1.5)
            + 0.9 * _bump(hour, 17.5, 1.1) + 0.15 * _bump(hour, 20.5, 1.5))


def parking_target(hour: float, weekend: bool) -> float:
    """Share of spaces taken a car park tends to, by local hour."""
    day = 0.8 * _bump(hour, 10.5, 2.5) + 0.7 * _bump(hour, 15.0, 2.0)
    evening = 0.6 * _bump(hour, 19.5, 1.5)
    return min(0.97, 0.08 + (0.6 * day + evening if weekend else day + 0.6 * evening))


@dataclass
class Simulator:
    """The state of every device; ``readings(at)`` advances it to ``at`` (steps of a minute or
    more) and returns each device's measures."""
    devices: Sequence[Device]
    timezone: str = "Asia/Ho_Chi_Minh"
    seed: int = 1
    _rng: random.Random = field(init=False)
    _parked: dict[str, int] = field(init=False, default_factory=dict)
    _fill: dict[str, float] = field(init=False, default_factory=dict)
    _drift: dict[str, float] = field(init=False, default_factory=dict)
    _last: datetime | None = field(init=False, default=None)
    jams: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)  # device id -> [from, to)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._zone = ZoneInfo(self.timezone)
        for d in self.devices:
            if d.kind == "parking":
                self._parked[d.device_id] = int(d.capacity * 0.1)
            elif d.kind == "waste":
                self._fill[d.device_id] = self._rng.uniform(0.05, 0.5)
            elif d.kind == "air":
                self._drift[d.device_id] = 1.0

    def readings(self, at: datetime) -> list[tuple[Device, dict[str, Any]]]:
        local = at.astimezone(self._zone)
        minutes = 1.0 if self._last is None else max(1.0, (at - self._last).total_seconds() / 60)
        self._last = at
        hour = local.hour + local.minute / 60
        weekend = local.weekday() >= 5
        stamp = local.replace(microsecond=0).isoformat()
        out = []
        for d in self.devices:
            measures = getattr(self, f"_{d.kind}")(d, hour, weekend, minutes, local)
            jam = self.jams.get(d.device_id)
            if jam is not None and jam[0] <= at < jam[1]:
                measures = self._jammed(d, measures, stamp)
            measures[TIME_KEY] = stamp
            out.append((d, measures))
        return out

    def _traffic(self, d: Device, hour: float, weekend: bool, _minutes: float, _local: datetime
                 ) -> dict[str, Any]:
        demand = traffic_demand(hour, weekend) * d.busy * self._rng.uniform(0.85, 1.15)
        flow = max(0, round(d.capacity * demand))  # vehicles in this minute
        motorcycles = round(flow * self._rng.uniform(0.76, 0.86))
        heavy = round((flow - motorcycles) * self._rng.uniform(0.05, 0.15))
        ratio = flow / d.capacity
        speed = d.free_flow_kmh / (1 + 0.15 * ratio ** 4)  # BPR: travel time grows with load
        # metres of road a vehicle takes (motorcycles ~2.5 m with spacing, cars ~6, heavy ~12)
        length = (2.5 * motorcycles + 6.0 * (flow - motorcycles - heavy) + 12.0 * heavy) / max(flow, 1)
        occupancy = min(1.0, flow * length / (speed * 1000 / 60) / 2)  # two lanes of detectors
        measures = {"f": flow, "mc": motorcycles, "car": flow - motorcycles - heavy, "hv": heavy,
                    "s": round(speed, 1), "o": round(occupancy, 3)}
        return {**measures, **class_measures(measures, d.free_flow_kmh)}

    def _jammed(self, d: Device, measures: dict[str, Any], stamp: str) -> dict[str, Any]:
        """A jam: vehicles crawl at a sixth of the free-flow speed, the detectors stay covered and
        fewer vehicles pass (its own random numbers: the other devices' streams do not change)."""
        rng = random.Random(f"{self.seed}:{d.device_id}:{stamp}")
        flow = round(d.capacity * rng.uniform(0.25, 0.35))
        motorcycles = round(flow * 0.8)
        heavy = round((flow - motorcycles) * 0.1)
        jammed = {"f": flow, "mc": motorcycles, "car": flow - motorcycles - heavy, "hv": heavy,
                  "s": round(d.free_flow_kmh * rng.uniform(0.12, 0.2), 1),
                  "o": round(rng.uniform(0.75, 0.95), 3)}
        return {**measures, **jammed, **class_measures(jammed, d.free_flow_kmh)}

    def _parking(self, d: Device, hour: float, weekend: bool, minutes: float, _local: datetime
                 ) -> dict[str, Any]:
        parked = self._parked[d.device_id]
        target = parking_target(hour, weekend) * min(1.0, d.busy)
        # departures: each car leaves with a chance per minute (stays of about two hours);
        # arrivals pull the car park towards the hour's target
        left = sum(1 for _ in range(parked) if self._rng.random() < 1 - (1 - 1 / 120) ** minutes)
        wanted = max(0.0, target * d.capacity - (parked - left)) + d.capacity * minutes / 120 * target
        arrived = min(d.capacity - (parked - left), self._poisson(wanted * 0.5))
        parked = max(0, min(d.capacity, parked - left + arrived))
        self._parked[d.device_id] = parked
        return {"free": d.capacity - parked, "occ": parked}

    def _air(self, d: Device, hour: float, weekend: bool, minutes: float, _local: datetime
             ) -> dict[str, Any]:
        drift = self._drift[d.device_id]
        drift = min(2.0, max(0.5, drift + self._rng.gauss(0, 0.01) * math.sqrt(minutes)))
        self._drift[d.device_id] = drift
        traffic = traffic_demand(hour, weekend)
        sun = max(0.0, math.sin(math.pi * (hour - 6) / 12))  # 06:00-18:00
        noise = self._rng.uniform
        pm25 = (12 + 38 * traffic) * drift * d.busy * noise(0.9, 1.1)
        return {"pm25": round(pm25, 1), "pm10": round(pm25 * noise(1.5, 1.9), 1),
                "no2": round((10 + 45 * traffic) * d.busy * noise(0.9, 1.1), 1),
                "o3": round((20 + 80 * sun ** 2 * (1.1 - 0.3 * traffic)) * noise(0.9, 1.1), 1)}

    def _waste(self, d: Device, hour: float, _weekend: bool, minutes: float, local: datetime
               ) -> dict[str, Any]:
        fill = self._fill[d.device_id]
        # the morning round (05:00-07:00) empties the bins found over 75 %
        if 5 <= hour < 7 and fill > 0.75 and self._rng.random() < 0.1 * minutes:
            fill = self._rng.uniform(0.0, 0.03)
        else:
            active = 0.2 + _bump(hour, 11, 3) + 0.6 * _bump(hour, 19, 2)  # markets, then dinners
            fill = min(1.0, fill + minutes * 0.0006 * active * d.busy * self._rng.uniform(0.5, 1.5))
        self._fill[d.device_id] = fill
        temp = 24 + 8 * math.sin(math.pi * (hour - 8) / 12) + self._rng.gauss(0, 0.5)
        return {"fill": round(fill, 3), "temp": round(temp, 1)}

    def _poisson(self, mean: float) -> int:
        if mean <= 0:
            return 0
        if mean > 50:  # normal approximation
            return max(0, round(self._rng.gauss(mean, math.sqrt(mean))))
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= self._rng.random()
            if p <= limit:
                return k
            k += 1


def find_device(devices: Sequence[Device], ident: str) -> Device | None:
    """The traffic detector named by its device id, its entity id or the end of either."""
    for d in devices:
        if d.kind == "traffic" and ident in (d.device_id, d.entity_id):
            return d
    tail = [d for d in devices if d.kind == "traffic" and d.device_id.endswith(ident)]
    return tail[0] if len(tail) == 1 else None


def timeline(start: datetime, end: datetime, step: timedelta) -> Iterator[datetime]:
    at = start
    while at < end:
        yield at
        at += step


def topic(api_key: str, device: Device) -> str:
    """The IoT-agent topic a device publishes its measures on."""
    return f"/{api_key}/{device.device_id}/attrs"


def messages(simulator: Simulator, api_key: str, times: Iterable[datetime]
             ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(topic, measures) for every device at every time."""
    for at in times:
        for device, measures in simulator.readings(at):
            yield topic(api_key, device), measures
