"""The sun over a year (twin.sun): binned positions keep the year's energy and the sun's path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib
import pytest

from parvis.modules.twin.sun import clear_sky_year, year_sky

LAT, LON, TZ = 16.463, 107.585, "Asia/Ho_Chi_Minh"


@pytest.fixture(scope="module")
def sky():
    return year_sky(LAT, LON, timezone=TZ)


def test_clear_sky_year_keeps_the_years_ghi_from_pvlib(sky) -> None:
    # pvlib directly, on a finer (5-minute) full year: the binned 15-minute sky carries the same energy.
    times = pd.date_range("2023-01-01 00:02:30", "2023-12-31 23:59", freq="5min", tz=TZ)
    site = pvlib.location.Location(LAT, LON, tz=TZ)
    direct = site.get_clearsky(times, model="ineichen")["ghi"].sum() * (5 / 60) / 1000.0
    assert len(sky) >= 300
    assert sky.annual_ghi_kwh_m2() == pytest.approx(direct, rel=0.002)
    # and exactly the sum of its own 15-minute samples (nothing lost in the binning)
    frame = clear_sky_year(LAT, LON, timezone=TZ)
    assert sky.annual_ghi_kwh_m2() == pytest.approx(frame["ghi"].sum() * 0.25 / 1000.0, rel=1e-9)


def test_positions_are_daylight_and_cover_the_year(sky) -> None:
    assert np.all(sky.zenith < 90.0)
    assert np.all((sky.azimuth >= 0.0) & (sky.azimuth < 360.0))
    assert set(np.unique(sky.month)) == set(range(1, 13))
    # about half of the year's 8,760 hours are daylight at 16 degrees north
    assert 4300 < sky.hours.sum() < 4500
    assert all(len(a) == len(sky) for a in (sky.dni, sky.dhi, sky.ghi, sky.dni_extra, sky.airmass, sky.month))
    assert np.all(np.isfinite(sky.airmass)) and np.all(sky.dni_extra > 1300)


def test_tropical_noon_sun_is_north_in_june_and_south_in_december(sky) -> None:
    # the sun passes north of the zenith in June at 16.5 N (declination 23.4): averaging directions
    # as vectors keeps that right.
    june = sky.subset(sky.month == 6)
    december = sky.subset(sky.month == 12)
    june_noon = june.azimuth[np.argmax(june.altitude)]
    december_noon = december.azimuth[np.argmax(december.altitude)]
    assert june_noon < 30.0 or june_noon > 330.0
    assert 150.0 < december_noon < 210.0
    assert june.altitude.max() == pytest.approx(90.0 - (23.3 - LAT), abs=1.5)
    assert december.altitude.max() == pytest.approx(90.0 - (LAT + 23.2), abs=1.5)


def test_typical_meteorological_year_is_binned_with_its_energy() -> None:
    hourly = clear_sky_year(LAT, LON, timezone=TZ, step_minutes=60)
    tmy = (hourly[["ghi", "dni", "dhi"]] * 0.7).copy()  # a cloudier year, same timestamps
    sky = year_sky(LAT, LON, timezone=TZ, tmy=tmy)
    assert len(sky) >= 300
    assert sky.annual_ghi_kwh_m2() == pytest.approx(tmy["ghi"].sum() / 1000.0, rel=1e-3)
    with pytest.raises(ValueError, match="dni"):
        year_sky(LAT, LON, timezone=TZ, tmy=tmy.drop(columns=["dni"]))


def test_an_altitude_floor_drops_only_the_low_sun(sky) -> None:
    floored = year_sky(LAT, LON, timezone=TZ, min_altitude_deg=5.0)
    assert np.all(floored.altitude > 5.0 - 1.0)  # bin means of samples above 5 degrees
    lost = 1.0 - floored.annual_ghi_kwh_m2() / sky.annual_ghi_kwh_m2()
    assert 0.0 < lost < 0.005
