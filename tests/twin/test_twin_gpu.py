"""The twin's GPU path (CuPy): the fused shadow kernel, the sky view and the roof map against the CPU.

Marked ``gpu``: deselected unless pytest is given ``--gpu``, and run on a machine with a CUDA GPU
and CuPy (the README's performance section says when and on which card they last ran). Without
a GPU `array_module("gpu")` fails with its message, so a ``--gpu`` run on a machine without one
fails rather than passing empty.
"""

from __future__ import annotations

import numpy as np
import pytest

from parvis.modules.twin.backend import array_module, to_numpy
from parvis.modules.twin.shadow import sunlit
from parvis.modules.twin.skyview import horizon_angles, sky_view_factor
from parvis.modules.twin.solar import roof_irradiation
from parvis.modules.twin.solar_tiles import roof_irradiation_tiled
from parvis.modules.twin.sun import year_sky

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cupy():
    return array_module("gpu")


@pytest.fixture(scope="module")
def sky():
    return year_sky(16.463, 107.585, timezone="Asia/Ho_Chi_Minh")


def blocks(rng: np.random.Generator, rows: int, cols: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Random flat-roofed blocks on rolling ground: (dsm, labels), one label per block."""
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    dsm = (3.0 * np.sin(x / 17.0) * np.cos(y / 23.0)).astype(np.float32)
    labels = np.zeros((rows, cols), dtype=np.int32)
    for label in range(1, count + 1):
        h, w = rng.integers(3, 15, size=2)
        r, c = rng.integers(0, rows - h), rng.integers(0, cols - w)
        dsm[r : r + h, c : c + w] = rng.uniform(3.0, 40.0)
        labels[r : r + h, c : c + w] = label
    return dsm, labels


def test_auto_picks_the_gpu_when_there_is_one(cupy) -> None:
    assert array_module("auto") is cupy
    rng = np.random.default_rng(1)
    dsm, labels = blocks(rng, 40, 40, 3)
    sky = year_sky(16.463, 107.585, timezone="Asia/Ho_Chi_Minh", step_minutes=60)
    faces = int(labels.max()) + 1
    result = roof_irradiation(dsm, 1.0, labels, np.zeros(faces), np.full(faces, 180.0), sky)
    assert result.backend == "cupy"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_gpu_kernel_lights_exactly_the_cells_the_array_code_lights(cupy, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(60, 200, size=2)  # not square: the quarter turns swap the sides
    dsm, _ = blocks(rng, int(rows), int(cols), 40)
    dsm[rng.random(dsm.shape) < 0.01] = np.nan  # holes: transparent, never lit
    azimuths = np.concatenate([rng.uniform(0.0, 360.0, 60), [0.0, 45.0, 90.0, 135.0, 180.0, 315.0]])
    altitudes = np.concatenate([rng.uniform(0.5, 89.0, 60), [1.0, 10.0, 30.0, 60.0, 5.0, -2.0]])
    on_cpu = sunlit(dsm, 1.0, azimuths, altitudes, nodata="transparent", batch=16)
    on_gpu = sunlit(dsm, 1.0, azimuths, altitudes, xp=cupy, nodata="transparent", batch=50)
    assert on_gpu.shape == on_cpu.shape and on_gpu.dtype == bool
    assert 0.05 < 1.0 - on_cpu[:-1].mean() < 0.95  # shadows there are, and light too
    assert int((on_gpu != on_cpu).sum()) == 0


def test_a_towers_shadow_on_the_gpu_is_h_over_tan_altitude(cupy) -> None:
    n, centre = 161, 80
    yy, xx = np.mgrid[0:n, 0:n]
    dsm = np.zeros((n, n), dtype=np.float32)
    dsm[(yy - centre) ** 2 + (xx - centre) ** 2 <= 16] = 20.0
    lit = sunlit(dsm, 1.0, 180.0, 30.0, xp=cupy)  # sun in the south: the shadow falls north
    dark_north = np.flatnonzero(~lit[:centre, centre])
    length = centre - 4 - dark_north.min()  # from the tower's north edge to the shadow's end
    assert length == pytest.approx(20.0 / np.tan(np.radians(30.0)), abs=2.0)


def test_the_sky_view_on_the_gpu_matches_the_cpu(cupy) -> None:
    dsm, _ = blocks(np.random.default_rng(4), 150, 120, 30)
    on_gpu = to_numpy(sky_view_factor(dsm, 1.0, xp=cupy))
    assert np.allclose(on_gpu, sky_view_factor(dsm, 1.0), atol=1e-5)
    assert np.allclose(to_numpy(horizon_angles(dsm, 1.0, xp=cupy)), horizon_angles(dsm, 1.0), atol=1e-5)


def test_a_city_blocks_roof_map_on_the_gpu_is_the_cpus_within_one_percent(cupy, sky) -> None:
    rng = np.random.default_rng(5)
    dsm, labels = blocks(rng, 300, 260, 150)
    faces = int(labels.max()) + 1
    tilt = rng.uniform(0.0, 45.0, faces)
    azimuth = rng.uniform(0.0, 360.0, faces)
    args = (dsm, 1.0, labels, tilt, azimuth, sky)
    cpu = roof_irradiation(*args, xp=np)
    gpu = roof_irradiation(*args, xp=cupy)
    seen = cpu.cells > 0
    seen[0] = False
    assert seen.sum() > 50 and np.nanmean(cpu.shading_loss()[seen]) > 0.01  # towers shade others
    assert np.allclose(gpu.annual_kwh_m2[seen], cpu.annual_kwh_m2[seen], rtol=0.01)
    assert np.allclose(gpu.monthly_kwh_m2[seen], cpu.monthly_kwh_m2[seen], rtol=0.01)
    assert np.allclose(gpu.sky_view[seen], cpu.sky_view[seen], atol=1e-4)
    roof = labels > 0
    assert np.allclose(gpu.cell_annual_kwh_m2[roof], cpu.cell_annual_kwh_m2[roof], rtol=0.01)


def test_the_roof_map_by_tiles_on_the_gpu_is_the_cpus(cupy, sky) -> None:
    rng = np.random.default_rng(6)
    dsm, labels = blocks(rng, 260, 300, 160)
    faces = int(labels.max()) + 1
    args = (dsm, 1.0, labels, rng.uniform(0.0, 45.0, faces), rng.uniform(0.0, 360.0, faces), sky)
    cpu = roof_irradiation_tiled(*args, xp=np, tile_m=100.0)
    gpu = roof_irradiation_tiled(*args, xp=cupy, tile_m=100.0)
    assert gpu.tiles == cpu.tiles >= 6 and gpu.backend == "cupy"
    seen = cpu.cells > 0
    seen[0] = False
    assert np.allclose(gpu.annual_kwh_m2[seen], cpu.annual_kwh_m2[seen], rtol=0.01)
    roof = labels > 0
    assert np.allclose(gpu.cell_annual_kwh_m2[roof], cpu.cell_annual_kwh_m2[roof], rtol=0.01)
