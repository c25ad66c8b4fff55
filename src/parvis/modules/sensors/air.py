"""Air quality: the hourly Vietnam Air Quality Index (VN_AQI) of each station.

Parvis computes the **VN_AQI** of Vietnam's General Department of Environment, Decision
1459/QĐ-TCMT of 12 November 2019 (the index Vietnamese cities publish), hourly variant:

- sub-index of a pollutant: linear between the breakpoints of its table (below), rounded to
  the nearest integer; a concentration above the last breakpoint gives 500 (the top of the scale);
- PM2.5 and PM10 with the **NowCast** of their last 12 hourly means (weight w = Cmin/Cmax, at
  least 1/2; NowCast = sum(w^(i-1) c_i) / sum(w^(i-1)), i = 1 for the latest hour; hours without
  data are left out and at least 2 of the 3 latest hours are needed; with fewer, as a new
  station has, Parvis rates the latest hourly mean and says so: ``nowcast`` false), O3, NO2, SO2
  and CO with their latest hourly mean;
- the station's VN_AQI is the highest sub-index, and only when PM2.5 or PM10 is known (the
  decision requires one of them); the pollutant giving it is the dominant one.

Hours are the hourly aggregates (``aggregates.hourly``: the rollup, completed with the raw
observations not yet rolled up); a station whose pollutants were only written as current
values (no observation) is rated from those values. Concentrations are in µg/m³ (CO too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_
from parvis.modules.sensors import aggregates
from parvis.modules.sensors.actions import attribute_iri, type_iri
from parvis.modules.sensors.models import Entity
from parvis.modules.sensors.readings import display_name, observed_at

INDEX = "VN_AQI"
AQI_LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)
# Decision 1459/QĐ-TCMT, table 2: concentration breakpoints (µg/m³) for the AQI levels above.
BREAKPOINTS: dict[str, tuple[float, ...]] = {
    "o3": (0, 160, 200, 300, 400, 800, 1000, 1200),  # 1-hour mean
    "co": (0, 10_000, 30_000, 45_000, 60_000, 90_000, 120_000, 150_000),
    "so2": (0, 125, 350, 550, 800, 1600, 2100, 2630),
    "no2": (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    "pm10": (0, 50, 150, 250, 350, 420, 500, 600),  # NowCast
    "pm25": (0, 25, 50, 80, 150, 250, 350, 500),  # NowCast
}
POLLUTANTS = ("pm25", "pm10", "o3", "no2", "so2", "co")
NOWCAST = frozenset({"pm25", "pm10"})
# Names a station may use for each pollutant (Smart Data Models' and the older FIWARE ones).
NAMES: dict[str, tuple[str, ...]] = {
    "pm25": ("pm25", "PM25", "pm2_5"), "pm10": ("pm10", "PM10"), "o3": ("o3", "O3"),
    "no2": ("no2", "NO2"), "so2": ("so2", "SO2"), "co": ("co", "CO"),
}
LABELS = {"pm25": "PM2.5", "pm10": "PM10", "o3": "O₃", "no2": "NO₂", "so2": "SO₂", "co": "CO"}


@dataclass(frozen=True)
class Category:
    code: str
    low: int  # the lowest AQI of the category
    label: str  # msgid
    colour: str  # the decision's RGB
    advice: str  # msgid


# Decision 1459/QĐ-TCMT, table 1: the six categories, their colours and advice.
CATEGORIES = (
    Category("good", 0, N_("Good"), "#00e400", N_("Air quality is good: no effect on health.")),
    Category("moderate", 51, N_("Moderate"), "#ffff00",
             N_("Acceptable; people very sensitive to pollution may feel some effects.")),
    Category("poor", 101, N_("Poor"), "#ff7e00",
             N_("Sensitive people (children, the elderly, people with heart or lung disease) should "
                "limit time outdoors.")),
    Category("bad", 151, N_("Bad"), "#ff0000",
             N_("Everyone may begin to feel effects; sensitive people should stay indoors.")),
    Category("very_bad", 201, N_("Very bad"), "#8f3f97",
             N_("Health warning: everyone should limit time outdoors.")),
    Category("hazardous", 301, N_("Hazardous"), "#7e0023",
             N_("Health emergency: everyone should stay indoors.")),
)


def category(aqi: int) -> Category:
    found = CATEGORIES[0]
    for item in CATEGORIES:
        if aqi >= item.low:
            found = item
    return found


def sub_index(pollutant: str, concentration: float) -> int:
    """The VN_AQI sub-index of a concentration (µg/m³) of one pollutant."""
    points = BREAKPOINTS[pollutant]
    value = max(0.0, float(concentration))
    if value >= points[-1]:
        return AQI_LEVELS[-1]
    for n in range(len(points) - 1):
        low, high = points[n], points[n + 1]
        if value < high:
            level = AQI_LEVELS[n] + (AQI_LEVELS[n + 1] - AQI_LEVELS[n]) * (value - low) / (high - low)
            return int(level + 0.5)
    return AQI_LEVELS[-1]  # pragma: no cover - the loop always returns


def nowcast(hourly_means: Sequence[float | None]) -> float | None:
    """The NowCast of up to 12 hourly means, the latest first (None: an hour without data)."""
    hours = list(hourly_means[:12])
    if sum(1 for c in hours[:3] if c is not None) < 2:
        return None
    known = [c for c in hours if c is not None]
    high = max(known)
    weight = 1.0 if high <= 0 else max(min(known) / high, 0.5)
    numerator = denominator = 0.0
    for i, c in enumerate(hours):
        if c is not None:
            numerator += weight ** i * c
            denominator += weight ** i
    return numerator / denominator


@dataclass(frozen=True)
class Reading:
    pollutant: str
    concentration: float  # the value rated: NowCast of PM, latest hourly mean of the gases
    latest: float  # the latest value received
    aqi: int
    nowcast: bool = False  # rated with the NowCast (PM with enough hours)


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    lon: float | None
    lat: float | None
    readings: tuple[Reading, ...]
    aqi: int | None
    dominant: str | None
    observed_at: datetime | None

    @property
    def category(self) -> Category | None:
        return category(self.aqi) if self.aqi is not None else None


def rate(concentrations: dict[str, float]) -> tuple[int | None, str | None, dict[str, int]]:
    """(VN_AQI, dominant pollutant, sub-indices) of the concentrations to rate (NowCast for PM)."""
    subs = {p: sub_index(p, c) for p, c in concentrations.items() if p in BREAKPOINTS}
    if not subs or not NOWCAST.intersection(subs):
        return None, None, subs
    dominant = max(subs, key=lambda p: (subs[p], p in NOWCAST))
    return subs[dominant], dominant, subs


def _iris(attrs: dict[str, Any]) -> dict[str, str]:
    """The attribute IRI each pollutant of a station is stored under."""
    out = {}
    for pollutant, names in NAMES.items():
        for name in names:
            iri = attribute_iri(name)
            if iri in attrs:
                out[pollutant] = iri
                break
    return out


def _number(attr: Any) -> float | None:
    value = attr.get("value") if isinstance(attr, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None




def point_of(row: Entity) -> tuple[float | None, float | None]:
    if row.lon_min is None or row.lat_min is None:
        return None, None
    lon_max = row.lon_max if row.lon_max is not None else row.lon_min
    lat_max = row.lat_max if row.lat_max is not None else row.lat_min
    return (row.lon_min + lon_max) / 2, (row.lat_min + lat_max) / 2


def stations(session: Session, *, now: datetime | None = None) -> list[Station]:
    """Every air-quality station with its VN_AQI, by name."""
    now = now or utcnow()
    rows = list(session.scalars(select(Entity).where(Entity.type == type_iri("AirQualityObserved"))
                                .order_by(Entity.id)))
    iris = {row.id: _iris(row.attrs or {}) for row in rows}
    wanted = sorted({iri for found in iris.values() for iri in found.values()})
    top = now.replace(minute=0, second=0, microsecond=0)
    history = aggregates.hourly_many(session, [row.id for row in rows], wanted,
                                     top - timedelta(hours=11), now + timedelta(seconds=1))
    out = []
    for row in rows:
        readings, moments = [], []
        for pollutant, iri in iris[row.id].items():
            attr = row.attrs[iri]
            latest = _number(attr)
            if latest is None:
                continue
            moments.append(observed_at(attr))
            hours = history.get((row.id, iri), {})
            means = [hours[h][1] / hours[h][0] if h in hours and hours[h][0] else None
                     for h in (top - timedelta(hours=i) for i in range(12))]
            recent = next((m for m in means if m is not None), None)
            smoothed = nowcast(means) if pollutant in NOWCAST else None
            # no hourly mean: the current value as it is; too few hours for a NowCast: the latest mean
            rated = smoothed if smoothed is not None else recent if recent is not None else latest
            readings.append(Reading(pollutant, round(rated, 1), latest, sub_index(pollutant, rated),
                                    smoothed is not None))
        aqi, dominant, _subs = rate({r.pollutant: r.concentration for r in readings})
        lon, lat = point_of(row)
        observed = [m for m in moments if m is not None]
        out.append(Station(row.id, display_name(row), lon, lat,
                           tuple(sorted(readings, key=lambda r: POLLUTANTS.index(r.pollutant))),
                           aqi, dominant, max(observed) if observed else None))
    return sorted(out, key=lambda s: s.name.lower())


def station_aqi(attrs: dict[str, Any]) -> tuple[int, str] | None:
    """(VN_AQI, category code) of a station from its current values only (attributes keyed by
    IRI, as stored): a quick rating for live maps, without the NowCast of ``stations``."""
    found = _iris(attrs)
    values = {p: v for p, iri in found.items() if (v := _number(attrs[iri])) is not None}
    aqi, _dominant, _subs = rate(values)
    return (aqi, category(aqi).code) if aqi is not None else None
