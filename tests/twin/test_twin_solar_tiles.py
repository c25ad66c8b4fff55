"""The roof solar map by tiles (twin.solar_tiles): the same answer as the whole raster, faces across
cores kept whole, shadows from the buffer, holes and progress."""

from __future__ import annotations

import numpy as np
import pytest

from parvis.modules.twin.errors import RasterHoles
from parvis.modules.twin.solar import roof_irradiation
from parvis.modules.twin.solar_tiles import roof_irradiation_tiled, tile_buffer_m
from parvis.modules.twin.sun import year_sky


@pytest.fixture(scope="module")
def sky():
    return year_sky(16.463, 107.585, timezone="Asia/Ho_Chi_Minh", step_minutes=60)


def city(seed: int = 7, n: int = 240) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Blocks of 6-30 m on gently sloping ground, one face each, some tilted; (dsm, labels, tilt, azimuth)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    dsm = (0.02 * x + 0.01 * y).astype(np.float32)
    labels = np.zeros((n, n), dtype=np.int32)
    for label in range(1, 61):
        h, w = rng.integers(6, 20, size=2)
        r, c = rng.integers(0, n - h), rng.integers(0, n - w)
        dsm[r : r + h, c : c + w] = rng.uniform(6.0, 30.0)
        labels[r : r + h, c : c + w] = label
    faces = int(labels.max()) + 1
    return dsm, labels, rng.uniform(0.0, 35.0, faces), rng.uniform(0.0, 360.0, faces)


def test_tiles_with_a_buffer_as_long_as_the_raster_give_the_whole_rasters_answer(sky) -> None:
    dsm, labels, tilt, azimuth = city()
    whole = roof_irradiation(dsm, 1.0, labels, tilt, azimuth, sky, xp=np)
    tiled = roof_irradiation_tiled(dsm, 1.0, labels, tilt, azimuth, sky, xp=np, tile_m=70.0, buffer_m=240.0)
    assert tiled.tiles > 9 and tiled.buffer_m == 240.0
    rows, cols = np.nonzero(labels)
    cores_of_face = {}
    for label, core in zip(labels[rows, cols], (rows // 70) * 10 + cols // 70, strict=True):
        cores_of_face.setdefault(int(label), set()).add(int(core))
    assert sum(len(cores) > 1 for cores in cores_of_face.values()) >= 5  # faces across cores
    # faces cut by the cores' edges are whole again: same cells, same means
    assert np.array_equal(tiled.cells, whole.cells)
    np.testing.assert_allclose(tiled.annual_kwh_m2, whole.annual_kwh_m2, rtol=1e-6)  # NaN where NaN
    np.testing.assert_allclose(tiled.monthly_kwh_m2, whole.monthly_kwh_m2, rtol=1e-6)
    np.testing.assert_allclose(tiled.cell_annual_kwh_m2, whole.cell_annual_kwh_m2, rtol=1e-6)
    # a raster that fits in one core is computed whole
    single = roof_irradiation_tiled(dsm, 1.0, labels, tilt, azimuth, sky, xp=np, tile_m=500.0)
    assert single.tiles == 1 and single.buffer_m == 0.0
    np.testing.assert_allclose(single.annual_kwh_m2, whole.annual_kwh_m2, rtol=1e-6)


def test_the_buffer_holds_the_shadows_that_reach_a_core(sky) -> None:
    n = 160
    dsm = np.zeros((n, n), dtype=np.float32)
    labels = np.zeros((n, n), dtype=np.int32)
    dsm[20:30, 70:80], labels[20:30, 70:80] = 4.0, 1  # a house in the northern core
    dsm[45:55, 65:85] = 40.0  # a tower 25 m south of it, in the next core
    args = (dsm, 1.0, labels, np.array([0.0, 0.0]), np.array([0.0, 180.0]), sky)
    whole = roof_irradiation(*args, xp=np)
    assert whole.shading_loss()[1] > 0.05
    buffered = roof_irradiation_tiled(*args, xp=np, tile_m=40.0)  # the default buffer
    assert buffered.buffer_m == pytest.approx(40.0 / np.tan(np.radians(5.0)))
    assert buffered.annual_kwh_m2[1] == pytest.approx(whole.annual_kwh_m2[1], rel=0.005)
    cut = roof_irradiation_tiled(*args, xp=np, tile_m=40.0, buffer_m=5.0)  # too short: the tower is lost
    assert cut.shading_loss()[1] < whole.shading_loss()[1] / 2


def test_the_default_buffer_is_the_longest_shadow_over_five_degrees() -> None:
    ground = np.zeros((50, 50), dtype=np.float32)
    assert tile_buffer_m(ground) == 100.0  # the sky view's radius at least
    ground[10, 10] = 30.0
    assert tile_buffer_m(ground) == pytest.approx(30.0 / np.tan(np.radians(5.0)))
    ground[10, 10] = 1000.0
    assert tile_buffer_m(ground) == 1500.0  # capped
    ground[0, 0] = np.nan
    assert tile_buffer_m(ground, min_shadow_altitude_deg=10.0, max_buffer_m=1e9) == pytest.approx(
        1000.0 / np.tan(np.radians(10.0)))


def test_holes_are_refused_anywhere_or_counted_once(sky) -> None:
    dsm, labels, tilt, azimuth = city(n=200)
    roofless = labels == 0
    r, c = np.argwhere(roofless)[0]
    holed = dsm.copy()
    holed[r, c] = np.nan
    with pytest.raises(RasterHoles):
        roof_irradiation_tiled(holed, 1.0, labels, tilt, azimuth, sky, xp=np, tile_m=50.0)
    on_roof = dsm.copy()
    on_roof[labels > 0] = np.where(np.random.default_rng(1).random(int((labels > 0).sum())) < 0.02, np.nan,
                                   dsm[labels > 0])
    whole = roof_irradiation(on_roof, 1.0, labels, tilt, azimuth, sky, xp=np, nodata="transparent")
    tiled = roof_irradiation_tiled(on_roof, 1.0, labels, tilt, azimuth, sky, xp=np, nodata="transparent",
                                   tile_m=50.0, buffer_m=200.0)
    assert tiled.nodata_roof_cells == whole.nodata_roof_cells > 0
    assert np.array_equal(tiled.cells, whole.cells)


def test_progress_counts_every_core_and_roofless_cores_are_skipped(sky) -> None:
    n = 300
    dsm = np.zeros((n, n), dtype=np.float32)
    labels = np.zeros((n, n), dtype=np.int32)
    dsm[10:20, 10:20], labels[10:20, 10:20] = 5.0, 1  # roofs in two corners only
    dsm[280:290, 280:290], labels[280:290, 280:290] = 5.0, 2
    seen: list[tuple[int, int]] = []
    result = roof_irradiation_tiled(dsm, 1.0, labels, np.zeros(3), np.full(3, 180.0), sky, xp=np,
                                    tile_m=100.0, progress=lambda done, total: seen.append((done, total)))
    assert result.tiles == 2  # of 9 cores
    up = int((np.asarray(sky.altitude) > 0).sum())
    assert seen[-1] == (2 * up, 2 * up)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    # a core whose roof cells are all holes still reports its progress
    holed = dsm.copy()
    holed[280:290, 280:290] = np.nan
    seen.clear()
    roof_irradiation_tiled(holed, 1.0, labels, np.zeros(3), np.full(3, 180.0), sky, xp=np, nodata="transparent",
                           tile_m=100.0, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (2 * up, 2 * up)
