"""Shadows and sky view (twin.shadow, twin.skyview, twin.backend): known geometric answers."""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pytest

from parvis.modules.twin import backend
from parvis.modules.twin.errors import RasterHoles
from parvis.modules.twin.shadow import shadow_buffer_m, sunlit
from parvis.modules.twin.skyview import horizon_angles, sky_view_factor, tilted_sky_view


def tower(n: int = 161, radius: float = 4.0, height: float = 20.0) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n]
    centre = n // 2
    dsm = np.zeros((n, n), dtype=np.float32)
    dsm[(yy - centre) ** 2 + (xx - centre) ** 2 <= radius * radius] = height
    return dsm


def shadow_length(lit: np.ndarray, dsm: np.ndarray, azimuth: float, radius: float) -> float:
    """Distance from the tower's edge to the end of its shadow, walking away from the sun."""
    centre = dsm.shape[0] // 2
    away = np.radians(azimuth + 180.0)
    last = 0.0
    for t in np.arange(0.0, centre - 1.0, 0.25):
        i = round(centre - t * np.cos(away))
        j = round(centre + t * np.sin(away))
        if not lit[i, j] or dsm[i, j] > 0:
            last = t
    return last - radius


@pytest.mark.parametrize("altitude", [25.0, 50.0])
def test_a_towers_shadow_is_h_over_tan_altitude_long_at_every_azimuth(altitude: float) -> None:
    dsm = tower()
    azimuths = np.array([0.0, 30.0, 45.0, 100.0, 135.0, 160.0, 200.0, 225.0, 290.0, 315.0])
    lit = sunlit(dsm, 1.0, azimuths, np.full(azimuths.shape, altitude))
    expected = 20.0 / np.tan(np.radians(altitude))
    for n, azimuth in enumerate(azimuths):
        assert shadow_length(lit[n], dsm, azimuth, 4.0) == pytest.approx(expected, abs=2.0), azimuth


def test_shadow_lengths_over_the_whole_compass_are_within_two_cells() -> None:
    dsm = tower()
    azimuths = np.arange(0.0, 360.0, 9.0)
    lit = sunlit(dsm, 1.0, azimuths, np.full(azimuths.shape, 30.0))
    errors = np.array([shadow_length(lit[n], dsm, a, 4.0) for n, a in enumerate(azimuths)])
    errors -= 20.0 / np.tan(np.radians(30.0))
    assert np.abs(errors).max() <= 2.5 and np.abs(errors.mean()) <= 1.5


def test_a_sloped_plane_facing_the_sun_does_not_shade_itself() -> None:
    # a 40 degree slope facing south, lit from the east-north-east to the west-north-west at 30
    # degrees: the sun is in front of the plane (cos(incidence) > 0.1), so no cell is in shadow,
    # although the digital ray steps sideways down the slope
    n = 80
    y = np.mgrid[0:n, 0:n][0].astype(np.float32)
    plane = ((n - y) * np.tan(np.radians(40.0))).astype(np.float32)
    azimuths = np.array([60.0, 70.0, 80.0, 100.0, 260.0, 280.0, 300.0])
    lit = sunlit(plane, 1.0, azimuths, np.full(azimuths.shape, 30.0))
    assert lit.all()
    # with the sun behind it (north, 30 degrees: lower than the slope) the plane is dark
    assert not sunlit(plane, 1.0, 0.0, 30.0)[2:, :].any()


def test_shadows_fall_away_from_the_sun_and_scale_with_resolution() -> None:
    dsm = tower()
    centre = dsm.shape[0] // 2
    noon_south = sunlit(dsm, 1.0, 180.0, 45.0)  # sun in the south: shadow to the north
    assert not noon_south[centre - 10, centre] and noon_south[centre + 10, centre]
    morning = sunlit(dsm, 1.0, 90.0, 45.0)  # sun in the east: shadow to the west
    assert not morning[centre, centre - 10] and morning[centre, centre + 10]
    # the same tower on 2 m cells: a 20 m shadow is 10 cells, not 20
    coarse = sunlit(dsm, 2.0, 180.0, 45.0)
    assert not coarse[centre - 12, centre] and coarse[centre - 16, centre]


def test_flat_ground_is_all_lit_and_a_sun_below_the_horizon_lights_nothing() -> None:
    ground = np.full((30, 40), 5.0, dtype=np.float32)
    lit = sunlit(ground, 1.0, np.array([10.0, 95.0, 250.0, 120.0]), np.array([1.0, 30.0, 80.0, -3.0]))
    assert lit.shape == (4, 30, 40)
    assert lit[:3].all() and not lit[3].any()


def test_a_batch_gives_the_same_shadows_as_one_sun_at_a_time() -> None:
    rng = np.random.default_rng(3)
    dsm = (rng.random((50, 70)) * 8.0).astype(np.float32)
    azimuths, altitudes = rng.uniform(0, 360, 9), rng.uniform(5, 80, 9)
    together = sunlit(dsm, 1.0, azimuths, altitudes, batch=4)
    for n in range(9):
        assert np.array_equal(together[n], sunlit(dsm, 1.0, azimuths[n], altitudes[n]))


def test_holes_are_refused_or_transparent_never_silently_lit() -> None:
    dsm = tower(61, 3.0, 10.0)
    dsm[10:13, 40:43] = np.nan
    with pytest.raises(RasterHoles):
        sunlit(dsm, 1.0, 180.0, 30.0)
    lit = sunlit(dsm, 1.0, 180.0, 30.0, nodata="transparent")
    assert not lit[10:13, 40:43].any()  # a hole gets no beam credited
    assert lit[14:20, 40:43].all()  # and casts no shadow
    assert not lit[25, 30]  # the tower still does


def test_the_tile_buffer_is_the_longest_shadow() -> None:
    assert shadow_buffer_m(30.0, 45.0) == pytest.approx(30.0)
    assert shadow_buffer_m(30.0, 5.0) == pytest.approx(342.9, abs=0.1)
    with pytest.raises(ValueError):
        shadow_buffer_m(30.0, 0.0)


def test_sky_view_factor_open_field_wall_foot_and_well() -> None:
    open_field = np.zeros((40, 40), dtype=np.float32)
    assert np.allclose(sky_view_factor(open_field, 1.0), 1.0)
    # the foot of a very long, very high wall sees half the sky
    wall = np.zeros((81, 401), dtype=np.float32)
    wall[:40, :] = 1000.0
    svf = sky_view_factor(wall, 1.0, directions=32, radius_m=5000.0)
    assert svf[41, 200] == pytest.approx(0.5, abs=0.05)
    assert svf[80, 200] > svf[41, 200]
    # the bottom of a 10 m wide, 30 m deep well sees little sky
    well = np.full((41, 41), 30.0, dtype=np.float32)
    well[15:26, 15:26] = 0.0
    assert sky_view_factor(well, 1.0)[20, 20] < 0.15


def test_a_tilted_roof_does_not_count_its_own_slope_as_an_obstacle() -> None:
    # a lone gable roof: each face sees all of its own sky; one next to a tall wall does not
    n = 60
    x = np.arange(n) + 0.5
    roof = np.zeros((n, n), dtype=np.float32)
    roof[20:40, 20:40] = (10.0 + (10.0 - np.abs(x[20:40] - 30.0)) * np.tan(np.radians(35.0)))[None, :]
    horizon = horizon_angles(roof, 1.0).reshape(16, -1)
    cells = np.ravel_multi_index(([30, 30], [25, 35]), roof.shape)
    view = tilted_sky_view(horizon[:, cells], np.array([35.0, 35.0]), np.array([270.0, 90.0]))
    assert np.allclose(view, 1.0, atol=0.03)
    roof[:, 42:] = 60.0  # a tall building east of the east face
    horizon = horizon_angles(roof, 1.0).reshape(16, -1)
    view = tilted_sky_view(horizon[:, cells], np.array([35.0, 35.0]), np.array([270.0, 90.0]))
    # the east face loses much of its sky; the west face only the part it saw over its own ridge
    assert view[1] < 0.75 and 0.85 < view[0] < 0.97


def test_array_module_picks_numpy_without_a_gpu_and_says_why_gpu_fails(monkeypatch) -> None:
    assert backend.array_module("cpu") is np
    monkeypatch.setattr(backend, "_cupy_with_device", lambda: (None, "CuPy is not importable"))
    assert backend.array_module("auto") is np
    with pytest.raises(backend.GpuUnavailableError, match="not importable"):
        backend.array_module("gpu")
    fake = types.ModuleType("cupy")
    monkeypatch.setattr(backend, "_cupy_with_device", lambda: (fake, ""))
    assert backend.array_module("auto") is fake and backend.is_gpu(fake)
    with pytest.raises(ValueError):
        backend.array_module("tpu")  # type: ignore[arg-type]


def test_the_engines_import_without_the_web_stack() -> None:
    # a GPU machine or a worker runs the engines with NumPy, pandas, pvlib (and CuPy) alone
    code = (
        "import sys, parvis.modules.twin.solar, parvis.modules.twin.flood, parvis.modules.twin.sweep_gpu; "
        "print([m for m in ('sqlalchemy', 'fastapi', 'starlette', 'rasterio', 'shapely', 'cupy') "
        "if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_twins_public_surface_is_loaded_on_first_use() -> None:
    from parvis.modules import twin

    assert callable(twin.register) and callable(twin.provision_demo)
    assert set(twin.__all__) <= set(dir(twin))
    with pytest.raises(AttributeError):
        twin.no_such_thing  # noqa: B018


class RecordingModule(types.ModuleType):
    """NumPy behind a module that records which of its functions the engine calls."""

    def __init__(self) -> None:
        super().__init__("recording_numpy")
        self.calls: set[str] = set()

    def __getattr__(self, name: str):
        value = getattr(np, name)
        if callable(value) and not isinstance(value, type):
            def record(*args, **kwargs):
                self.calls.add(name)
                return value(*args, **kwargs)
            return record
        return value


def test_the_shadow_engine_is_backend_generic() -> None:
    # every array operation goes through the module it is given (what makes CuPy a drop-in)
    dsm = tower(41, 3.0, 12.0)
    xp = RecordingModule()
    lit = sunlit(dsm, 1.0, np.array([150.0, 260.0]), np.array([30.0, 40.0]), xp=xp)
    assert np.array_equal(lit, sunlit(dsm, 1.0, np.array([150.0, 260.0]), np.array([30.0, 40.0])))
    assert {"asarray", "rot90", "where", "maximum", "full"} <= xp.calls
    svf = sky_view_factor(dsm, 1.0, xp=xp)
    assert np.allclose(svf, sky_view_factor(dsm, 1.0))
    assert {"arctan", "fmax", "mean"} <= xp.calls


def test_the_roof_engine_is_backend_generic() -> None:
    from parvis.modules.twin.solar import roof_irradiation
    from parvis.modules.twin.sun import year_sky

    sky = year_sky(16.463, 107.585, timezone="Asia/Ho_Chi_Minh", step_minutes=60)
    dsm = tower(41, 3.0, 12.0)
    dsm[10:15, 15:25] = 4.0  # north of the tower: in its shadow around noon
    labels = np.zeros(dsm.shape, dtype=np.int32)
    labels[10:15, 15:25] = 1
    args = (dsm, 1.0, labels, np.array([0.0, 0.0]), np.array([0.0, 180.0]), sky)
    xp = RecordingModule()
    recorded = roof_irradiation(*args, xp=xp)
    plain = roof_irradiation(*args, xp=np)
    assert recorded.backend == "recording_numpy" and plain.backend == "numpy"
    assert np.allclose(recorded.annual_kwh_m2[1:], plain.annual_kwh_m2[1:])
    assert recorded.shading_loss()[1] > 0.01  # the tower shades it, through either module
    assert {"rot90", "where", "maximum", "zeros", "asarray", "arctan"} <= xp.calls
