"""The sun over a year at one place: binned sun positions with their irradiance, for the roof solar engine.

`year_sky` samples a whole year every ``step_minutes`` (clear sky from pvlib's Ineichen model with
pvlib's own Linke turbidity climatology, shipped with pvlib, so no network), or takes a typical
meteorological year (TMY) the city provides, and bins the samples into a few hundred representative
sun positions: one per (period of the month, time-of-day slot). Each position carries the mean
irradiance of its samples and the number of hours it stands for, so that

    sum(hours * ghi) / 1000 == the year's global horizontal irradiation in kWh/m²

exactly (only samples with the sun above ``min_altitude_deg`` are kept; with the default 0 degrees
nothing with daylight is dropped). The direction of a bin is the normalised mean of its samples'
unit vectors, so bins that straddle the zenith (the sun passes north of the zenith in the tropics'
summer) stay correct. Binning error: within a month the sun's path shifts by at most ~0.4 degree
of declination a day, so a monthly bin mixes paths up to ~12 degrees apart at the equinoxes;
use ``periods_per_month=2`` or 3 for finer bins (more positions, proportionally slower shading).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pvlib

_KEYS = ("ghi", "dni", "dhi")


@dataclass(frozen=True)
class SunSky:
    """Binned sun positions over a year; all arrays have one entry per position.

    zenith, azimuth: degrees (azimuth clockwise from north); dni, dhi, ghi, dni_extra: W/m²
    (mean over the bin's samples); airmass: absolute airmass at the bin's zenith; hours: hours of
    the year the position stands for; month: 1-12.
    """

    zenith: np.ndarray
    azimuth: np.ndarray
    dni: np.ndarray
    dhi: np.ndarray
    ghi: np.ndarray
    dni_extra: np.ndarray
    airmass: np.ndarray
    hours: np.ndarray
    month: np.ndarray

    def __len__(self) -> int:
        return int(self.zenith.shape[0])

    @property
    def altitude(self) -> np.ndarray:
        """Sun altitude above the horizon, degrees (90 - zenith)."""
        return 90.0 - self.zenith

    def annual_ghi_kwh_m2(self) -> float:
        """The year's global horizontal irradiation these positions stand for, kWh/m²."""
        return float(np.sum(self.hours * self.ghi) / 1000.0)

    def subset(self, mask: np.ndarray) -> SunSky:
        """The positions where ``mask`` is True (e.g. one month)."""
        return SunSky(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})


def clear_sky_year(
    latitude: float,
    longitude: float,
    altitude_m: float = 0.0,
    timezone: str = "UTC",
    step_minutes: int = 15,
    year: int = 2023,
) -> pd.DataFrame:
    """Full-year clear-sky samples (Ineichen, pvlib's Linke turbidity), at the centre of each step.

    Columns: ghi, dni, dhi (W/m²), zenith, azimuth (degrees); index: local times.
    """
    start = pd.Timestamp(f"{year}-01-01", tz=timezone) + pd.Timedelta(minutes=step_minutes / 2)
    end = pd.Timestamp(f"{year + 1}-01-01", tz=timezone)
    times = pd.date_range(start, end, freq=f"{step_minutes}min", inclusive="left")
    site = pvlib.location.Location(latitude, longitude, tz=timezone, altitude=altitude_m)
    position = site.get_solarposition(times)
    clear = site.get_clearsky(times, model="ineichen", solar_position=position)
    frame = clear[list(_KEYS)].copy()
    frame["zenith"] = position["apparent_zenith"].to_numpy()
    frame["azimuth"] = position["azimuth"].to_numpy()
    return frame


def year_sky(
    latitude: float,
    longitude: float,
    altitude_m: float = 0.0,
    timezone: str = "UTC",
    step_minutes: int = 15,
    tmy: pd.DataFrame | None = None,
    *,
    periods_per_month: int | None = None,
    min_altitude_deg: float = 0.0,
    year: int = 2023,
) -> SunSky:
    """Sun positions and irradiance over a year, binned into representative positions.

    Without ``tmy``: clear sky (pvlib Ineichen + pvlib's Linke turbidity lookup) every
    ``step_minutes`` over ``year``. With ``tmy``: a DataFrame with columns ghi, dni, dhi (W/m²)
    indexed by timestamps (hourly, labelled at the centre of each interval; naive timestamps are
    taken in ``timezone``), one typical year; each sample stands for the median spacing of the index.

    Samples are binned by (month, period of the month, time-of-day slot); ``periods_per_month``
    defaults to 1 for clear sky and 3 for a TMY (hourly data has 4x fewer slots; 3 periods keep
    the position count above 300). Samples with the sun at or below ``min_altitude_deg`` are
    dropped, with their energy: at the demo city a 5 degree floor drops about 0.06 % of the year's
    clear-sky GHI, so the default keeps everything above the horizon.
    """
    if tmy is None:
        frame = clear_sky_year(latitude, longitude, altitude_m, timezone, step_minutes, year)
        sample_hours = step_minutes / 60.0
        periods = periods_per_month or 1
    else:
        missing = [key for key in _KEYS if key not in tmy.columns]
        if missing:
            raise ValueError(f"the typical meteorological year lacks the columns {missing}")
        if not isinstance(tmy.index, pd.DatetimeIndex) or len(tmy.index) < 2:
            raise ValueError("the typical meteorological year needs a DatetimeIndex of several samples")
        index = tmy.index if tmy.index.tz is not None else tmy.index.tz_localize(timezone)
        site = pvlib.location.Location(latitude, longitude, tz=timezone, altitude=altitude_m)
        position = site.get_solarposition(index)
        frame = pd.DataFrame(
            {key: np.clip(tmy[key].to_numpy(dtype=float), 0.0, None) for key in _KEYS}, index=index
        )
        frame["zenith"] = position["apparent_zenith"].to_numpy()
        frame["azimuth"] = position["azimuth"].to_numpy()
        sample_hours = float(pd.Series(index).diff().dropna().median() / pd.Timedelta(hours=1))
        periods = periods_per_month or 3
    return _bin(frame, sample_hours, periods, min_altitude_deg, altitude_m)


def _bin(
    frame: pd.DataFrame, sample_hours: float, periods: int, min_altitude_deg: float, altitude_m: float
) -> SunSky:
    up = frame[(90.0 - frame["zenith"]) > min_altitude_deg]
    index = pd.DatetimeIndex(up.index)
    month = index.month.to_numpy()
    days_in_month = index.days_in_month.to_numpy()
    period = np.minimum(((index.day.to_numpy() - 1) * periods) // days_in_month, periods - 1)
    minute_of_day = index.hour.to_numpy() * 60 + index.minute.to_numpy() + index.second.to_numpy() / 60
    slot = np.floor(minute_of_day / (sample_hours * 60) + 1e-6).astype(int)
    key = (month * 16 + period) * 10_000 + slot
    zen = np.radians(up["zenith"].to_numpy())
    azi = np.radians(up["azimuth"].to_numpy())
    work = pd.DataFrame(
        {
            "key": key,
            "month": month,
            "e": np.sin(zen) * np.sin(azi),
            "n": np.sin(zen) * np.cos(azi),
            "u": np.cos(zen),
            "ghi": up["ghi"].to_numpy(),
            "dni": up["dni"].to_numpy(),
            "dhi": up["dhi"].to_numpy(),
            "dni_extra": pvlib.irradiance.get_extra_radiation(index).to_numpy(),
        }
    )
    grouped = work.groupby("key", sort=True)
    mean = grouped.mean()
    count = grouped.size().to_numpy()
    norm = np.sqrt(mean["e"] ** 2 + mean["n"] ** 2 + mean["u"] ** 2).to_numpy()
    zenith = np.degrees(np.arccos(np.clip(mean["u"].to_numpy() / norm, -1.0, 1.0)))
    azimuth = np.degrees(np.arctan2(mean["e"].to_numpy(), mean["n"].to_numpy())) % 360.0
    relative = pvlib.atmosphere.get_relative_airmass(zenith)
    airmass = pvlib.atmosphere.get_absolute_airmass(relative, pvlib.atmosphere.alt2pres(altitude_m))
    return SunSky(
        zenith=zenith,
        azimuth=azimuth,
        dni=mean["dni"].to_numpy(),
        dhi=mean["dhi"].to_numpy(),
        ghi=mean["ghi"].to_numpy(),
        dni_extra=mean["dni_extra"].to_numpy(),
        airmass=np.asarray(airmass, dtype=float),
        hours=count * sample_hours,
        month=mean["month"].to_numpy().astype(int),
    )
