"""Roof solar potential (twin.solar): irradiation of roof faces and the PV estimate, on known cases."""

from __future__ import annotations

import numpy as np
import pvlib
import pytest

from parvis.modules.twin.errors import InvalidRoof, RasterHoles
from parvis.modules.twin.solar import pv_estimate, roof_irradiation
from parvis.modules.twin.sun import year_sky

LAT, LON, TZ = 16.463, 107.585, "Asia/Ho_Chi_Minh"  # the demo city


@pytest.fixture(scope="module")
def sky():
    return year_sky(LAT, LON, timezone=TZ)


def flat_house(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    dsm = np.zeros((n, n), dtype=np.float32)
    labels = np.zeros((n, n), dtype=np.int32)
    dsm[25:35, 25:35] = 6.0
    labels[25:35, 25:35] = 1
    return dsm, labels


def gable_house(pitch: float, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """A 20 m x 20 m house, ridge west-east: face 1 looks north, face 2 looks south."""
    dsm = np.zeros((n, n), dtype=np.float32)
    labels = np.zeros((n, n), dtype=np.int32)
    rows = np.arange(20, 40) + 0.5
    dsm[20:40, 20:40] = (6.0 + (10.0 - np.abs(rows - 30.0)) * np.tan(np.radians(pitch)))[:, None]
    labels[20:40, 20:40] = np.where(rows < 30.0, 1, 2)[:, None]
    return dsm, labels


def pvlib_poa_sum(sky, tilt: float, azimuth: float, albedo: float = 0.2) -> float:
    poa = pvlib.irradiance.get_total_irradiance(
        tilt, azimuth, sky.zenith, sky.azimuth, sky.dni, sky.ghi, sky.dhi,
        dni_extra=sky.dni_extra, airmass=sky.airmass, albedo=albedo, model="perez",
    )
    return float(np.sum(np.asarray(poa["poa_global"]) * sky.hours) / 1000.0)


def test_an_unshaded_flat_roof_gets_pvlibs_plane_of_array_sum(sky) -> None:
    dsm, labels = flat_house()
    result = roof_irradiation(dsm, 1.0, labels, np.array([0.0, 0.0]), np.array([0.0, 180.0]), sky)
    assert result.annual_kwh_m2[1] == pytest.approx(pvlib_poa_sum(sky, 0.0, 180.0), rel=0.01)
    assert result.shading_loss()[1] == pytest.approx(0.0, abs=1e-4)
    assert result.sky_view[1] == pytest.approx(1.0, abs=1e-3)
    assert result.positions == len(sky) >= 300


def test_unshaded_tilted_faces_match_pvlib_and_the_equator_facing_one_beats_flat(sky) -> None:
    dsm, labels = flat_house()
    labels[25:35, 30:35] = 2  # the same roof, labelled as two faces of different planes
    tilt, azimuth = np.array([0.0, 0.0, 16.0]), np.array([0.0, 180.0, 180.0])
    result = roof_irradiation(dsm, 1.0, labels, tilt, azimuth, sky)
    assert result.annual_kwh_m2[2] == pytest.approx(pvlib_poa_sum(sky, 16.0, 180.0), rel=0.01)
    # at 16.5 N, a roof facing the equator at about the latitude's tilt beats a flat one
    assert result.annual_kwh_m2[2] > 1.03 * result.annual_kwh_m2[1]


def test_a_steep_north_face_yields_less_than_the_south_face_and_may_be_unusable(sky) -> None:
    dsm, labels = gable_house(55.0)
    result = roof_irradiation(dsm, 1.0, labels, np.array([0.0, 55.0, 55.0]), np.array([0.0, 0.0, 180.0]), sky)
    north, south = result.annual_kwh_m2[1], result.annual_kwh_m2[2]
    assert north < 0.7 * south
    # the roof's own ridge is not an obstacle to its sky, and shades almost nothing of its beam
    assert np.all(result.sky_view[1:] > 0.98) and np.all(result.shading_loss()[1:] < 0.002)
    area = 200.0 / np.cos(np.radians(55.0))  # each face: 20 m x 10 m of footprint
    flat = pvlib_poa_sum(sky, 0.0, 180.0)
    estimate = pv_estimate(
        np.array([area, area]), np.array([55.0, 55.0]), result.annual_kwh_m2[1:],
        price_per_kwh=2500.0, min_annual_kwh_m2=0.6 * flat, max_tilt_deg=60.0,
    )
    assert estimate.kwp[0] == 0.0 and estimate.yearly_kwh[0] == 0.0  # north: unusable
    assert estimate.kwp[1] > 10.0 and estimate.yearly_kwh[1] > 10_000.0


def test_a_house_next_to_a_tower_on_its_sunny_side_loses_yield(sky) -> None:
    n = 80
    dsm = np.zeros((n, n), dtype=np.float32)
    labels = np.zeros((n, n), dtype=np.int32)
    dsm[20:30, 30:40] = 6.0
    labels[20:30, 30:40] = 1
    tilt, azimuth = np.array([0.0, 0.0]), np.array([0.0, 180.0])
    alone = roof_irradiation(dsm, 1.0, labels, tilt, azimuth, sky)
    dsm[35:55, 25:45] = 40.0  # a 40 m tower 5 m south of the house
    shaded = roof_irradiation(dsm, 1.0, labels, tilt, azimuth, sky)
    assert shaded.annual_kwh_m2[1] < 0.9 * alone.annual_kwh_m2[1]
    assert shaded.shading_loss()[1] > 0.15 and shaded.sky_view[1] < 0.9
    # the same tower north of the house (the shady side most of the year at 16.5 N) costs much less
    dsm[35:55, 25:45] = 0.0
    dsm[0:15, 25:45] = 40.0
    north = roof_irradiation(dsm, 1.0, labels, tilt, azimuth, sky)
    assert shaded.annual_kwh_m2[1] < north.annual_kwh_m2[1] < alone.annual_kwh_m2[1]
    # on the map, the roof's edge by the tower is darker than its far edge
    cells = shaded.cell_annual_kwh_m2
    assert cells[29, 35] < cells[20, 35] - 200.0


def test_months_add_up_and_the_map_agrees_with_the_faces(sky) -> None:
    dsm, labels = gable_house(30.0)
    dsm[45:55, 15:45] = 25.0  # a building south of the house: the cells differ
    result = roof_irradiation(dsm, 1.0, labels, np.array([0.0, 30.0, 30.0]), np.array([0.0, 0.0, 180.0]), sky)
    assert result.monthly_kwh_m2.shape == (3, 12)
    assert np.allclose(result.monthly_kwh_m2[1:].sum(axis=1), result.annual_kwh_m2[1:])
    assert np.all(result.monthly_kwh_m2[1:] > 0)
    cells = result.cell_annual_kwh_m2
    assert np.isnan(cells[labels == 0]).all()
    for face in (1, 2):
        assert np.nanmean(cells[labels == face]) == pytest.approx(result.annual_kwh_m2[face], rel=1e-4)
    total = result.beam_kwh_m2 + result.diffuse_kwh_m2 + result.reflected_kwh_m2
    assert np.allclose(total[1:], result.annual_kwh_m2[1:])
    assert list(result.cells) == [0, 200, 200]
    assert np.isnan(result.annual_kwh_m2[0])


def test_progress_is_reported_and_bad_roofs_are_refused(sky) -> None:
    dsm, labels = flat_house(30)
    seen: list[tuple[int, int]] = []
    roof_irradiation(dsm, 1.0, labels, np.array([0.0, 0.0]), np.array([0.0, 180.0]), sky,
                     progress=lambda done, total: seen.append((done, total)), batch=200)
    assert seen[-1] == (len(sky), len(sky)) and len(seen) >= 4
    with pytest.raises(InvalidRoof, match="tilt"):
        roof_irradiation(dsm, 1.0, labels, np.array([0.0, 95.0]), np.array([0.0, 180.0]), sky)
    with pytest.raises(InvalidRoof):
        roof_irradiation(dsm, 1.0, labels[:-1], np.array([0.0, 0.0]), np.array([0.0, 180.0]), sky)
    with pytest.raises(InvalidRoof):
        roof_irradiation(dsm, 1.0, labels * 2, np.array([0.0, 0.0]), np.array([0.0, 180.0]), sky)


def test_a_crop_of_the_city_is_computed_with_the_whole_citys_face_table(sky) -> None:
    # the faces' tilt and azimuth tables may go on past the highest label in the crop (the GPU
    # bench warms up on a corner of its city): faces not in the crop are neither read nor checked
    dsm, labels = flat_house()
    tilt = np.array([0.0, 0.0, 95.0, np.nan])  # faces 2 and 3 are elsewhere, and wrong
    azimuth = np.array([0.0, 180.0, 180.0, np.nan])
    result = roof_irradiation(dsm, 1.0, labels, tilt, azimuth, sky)
    assert result.annual_kwh_m2[1] == pytest.approx(pvlib_poa_sum(sky, 0.0, 180.0), rel=0.01)
    assert len(result.annual_kwh_m2) == 2


def test_holes_in_the_surface_model_are_refused_or_left_out_and_counted(sky) -> None:
    dsm, labels = flat_house()
    dsm[25, 25:27] = np.nan
    with pytest.raises(RasterHoles):
        roof_irradiation(dsm, 1.0, labels, np.array([0.0, 0.0]), np.array([0.0, 180.0]), sky)
    result = roof_irradiation(dsm, 1.0, labels, np.array([0.0, 0.0]), np.array([0.0, 180.0]), sky,
                              nodata="transparent")
    assert result.nodata_roof_cells == 2 and result.cells[1] == 98
    assert np.isnan(result.cell_annual_kwh_m2[25, 25])
    assert result.annual_kwh_m2[1] == pytest.approx(pvlib_poa_sum(sky, 0.0, 180.0), rel=0.01)


def test_pv_estimate_states_its_arithmetic() -> None:
    estimate = pv_estimate(100.0, 30.0, 1800.0, price_per_kwh=2000.0)
    assert estimate.usable_area_m2 == pytest.approx(70.0)
    assert estimate.kwp == pytest.approx(70.0 * 0.20 * 0.9)
    # PVWatts losses without shading (~10.6 %), 45 °C cells at -0.4 %/K, a 96 % inverter
    assert 0.75 < estimate.performance_ratio < 0.80
    assert estimate.yearly_kwh == pytest.approx(estimate.kwp * 1800.0 * estimate.performance_ratio)
    assert estimate.saving == pytest.approx(estimate.yearly_kwh * 2000.0)
    # too little sun, too steep, or too small: nothing to install
    assert pv_estimate(100.0, 30.0, 900.0, price_per_kwh=1.0).kwp == 0.0
    assert pv_estimate(100.0, 70.0, 1800.0, price_per_kwh=1.0).kwp == 0.0
    assert pv_estimate(6.0, 30.0, 1800.0, price_per_kwh=1.0).kwp == 0.0
    lossless = pv_estimate(100.0, 30.0, 1800.0, price_per_kwh=1.0, system_losses_percent=0.0,
                           cell_temperature_c=25.0, inverter_efficiency=1.0)
    assert lossless.performance_ratio == pytest.approx(1.0)


@pytest.mark.gpu
def test_the_gpu_path_gives_the_cpu_results_within_one_percent(sky) -> None:
    from parvis.modules.twin.backend import array_module

    cupy = array_module("gpu")  # fails here with a clear message when no GPU is present
    dsm, labels = gable_house(35.0, 80)
    dsm[50:70, 20:40] = 30.0
    args = (dsm, 1.0, labels, np.array([0.0, 35.0, 35.0]), np.array([0.0, 0.0, 180.0]), sky)
    cpu = roof_irradiation(*args, xp=np)
    gpu = roof_irradiation(*args, xp=cupy)
    assert gpu.backend == "cupy"
    assert np.allclose(gpu.annual_kwh_m2[1:], cpu.annual_kwh_m2[1:], rtol=0.01)
    assert np.allclose(gpu.monthly_kwh_m2[1:], cpu.monthly_kwh_m2[1:], rtol=0.01)
    roof = labels > 0
    assert np.allclose(gpu.cell_annual_kwh_m2[roof], cpu.cell_annual_kwh_m2[roof], rtol=0.01)


def test_the_best_plane_faces_the_equator_near_the_latitude_and_beats_a_flat_roof() -> None:
    from parvis.modules.twin.solar import _face_sky_terms, best_plane_kwh_m2

    sky = year_sky(16.463, 107.585, timezone="Asia/Ho_Chi_Minh")
    best = best_plane_kwh_m2(sky, 16.463)

    def plane(tilt: float, azimuth: float) -> float:
        beam, diffuse, ground = _face_sky_terms(np.array([tilt]), np.array([azimuth]), sky, 0.2)
        return float((beam + diffuse + ground).sum())

    assert best >= plane(16.0, 180.0) > plane(0.0, 180.0) > plane(30.0, 0.0)
    assert best == pytest.approx(max(plane(t, 180.0) for t in range(0, 61)))
    south = best_plane_kwh_m2(sky, -16.463)  # in the south the best plane faces north
    assert south == pytest.approx(max(plane(t, 0.0) for t in range(0, 61)))
