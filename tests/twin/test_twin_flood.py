"""Flood what-ifs (bathtub with connectivity), HAND and exposure, on terrains with known answers."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from rasterio.transform import from_origin
from shapely.geometry import box

from parvis.modules.twin.drainage import TerrainInputError, height_above_nearest_drainage, spill_elevation
from parvis.modules.twin.exposure import BuildingInput, exposure
from parvis.modules.twin.flood import FloodModel, flood_png, flood_rgba


def v_valley(slope: float, resolution: float, half_width_m: float = 100.0, rows: int = 12) -> np.ndarray:
    """Ground rising at ``slope`` on both sides of a river at the centre column (flat bed at 0)."""
    half = round(half_width_m / resolution)
    x = (np.arange(2 * half + 1) - half) * resolution
    return np.tile(slope * np.abs(x), (rows, 1)).astype(np.float32)


@pytest.mark.parametrize("slope", [0.05, 0.1, 0.3])
@pytest.mark.parametrize("height", [1.0, 2.5, 4.0])
@pytest.mark.parametrize("resolution", [0.5, 1.0])
def test_v_valley_flood_width_is_2h_over_s(slope: float, height: float, resolution: float) -> None:
    dtm = v_valley(slope, resolution)
    river = np.zeros(dtm.shape, dtype=bool)
    river[:, dtm.shape[1] // 2] = True
    model = FloodModel.from_terrain(dtm, resolution, river)
    wet = model.flooded(height)
    widths = wet.sum(axis=1) * resolution
    assert np.all(widths == widths[0])  # the same across the valley
    assert abs(widths[0] - 2 * height / slope) <= 2 * resolution
    assert model.area_m2(height) == pytest.approx(widths.sum() * resolution)
    depth = model.depth(height)
    assert depth.max() == pytest.approx(height)  # over the river bed
    assert np.all(depth[~wet] == 0)


def ridge_terrain() -> tuple[np.ndarray, np.ndarray]:
    """West to east: river bed (0 m), bank rising to a 5 m ridge, a hollow down to 1 m, a 10 m hill."""
    profile = np.concatenate([
        np.zeros(3), np.linspace(0.5, 5.0, 10), np.linspace(4.0, 1.0, 4), np.full(5, 1.0),
        np.linspace(2.0, 10.0, 8),
    ]).astype(np.float32)
    dtm = np.tile(profile, (8, 1))
    river = np.zeros(dtm.shape, dtype=bool)
    river[:, 0] = True
    return dtm, river


def test_depression_behind_a_ridge_floods_only_above_the_ridge() -> None:
    dtm, river = ridge_terrain()
    hollow = (dtm == 1.0) & (np.arange(dtm.shape[1]) > 12)
    model = FloodModel.from_terrain(dtm, 1.0, river)
    below = model.flooded(4.9)
    assert below[:, :3].all()  # the river side is wet
    assert not below[hollow].any()  # the hollow is lower than the water but cut off by the ridge
    above = model.flooded(5.1)
    assert above[hollow].all()
    assert model.depth(5.1)[hollow] == pytest.approx(np.full(hollow.sum(), 4.1), abs=1e-5)


def test_precomputed_spill_gives_the_same_floods_as_labelling() -> None:
    rng = np.random.default_rng(3)
    dtm, river = ridge_terrain()
    dtm = dtm + rng.uniform(0, 0.8, dtm.shape).astype(np.float32)
    dtm[2, 20] = np.nan  # nodata never floods
    for connectivity in (4, 8):
        fast = FloodModel.from_terrain(dtm, 1.0, river, connectivity=connectivity, precompute_spill=True)
        plain = FloodModel.from_terrain(dtm, 1.0, river, connectivity=connectivity)
        for level in (0.5, 2.0, 4.9, 5.3, 6.0, 9.0):
            assert np.array_equal(fast.flooded(level), plain.flooded(level)), (connectivity, level)
        assert not plain.flooded(20.0)[2, 20]


def test_a_one_cell_diagonal_dyke_holds_with_4_connectivity_only() -> None:
    dtm = np.zeros((6, 6), dtype=np.float32)
    dtm[np.arange(6), np.arange(6)[::-1]] = 3.0  # anti-diagonal dyke, 3 m high
    river = np.zeros(dtm.shape, dtype=bool)
    river[0, 0] = True
    behind = np.add.outer(np.arange(6), np.arange(6)) > 5  # cells beyond the anti-diagonal
    assert not FloodModel.from_terrain(dtm, 1.0, river).flooded(1.0)[behind].any()
    assert FloodModel.from_terrain(dtm, 1.0, river, connectivity=8).flooded(1.0)[behind].all()


def test_flood_overlay_is_blue_by_depth_and_transparent_when_dry() -> None:
    dtm = v_valley(0.1, 1.0, half_width_m=40.0)
    river = np.zeros(dtm.shape, dtype=bool)
    river[:, 40] = True
    model = FloodModel.from_terrain(dtm, 1.0, river)
    rgba = flood_rgba(model, 2.0, max_depth_m=2.0)
    assert rgba.dtype == np.uint8 and rgba.shape == (*dtm.shape, 4)
    wet = model.flooded(2.0)
    assert np.all(rgba[~wet, 3] == 0) and np.all(rgba[wet, 3] > 0)
    deep, shallow = rgba[0, 40], rgba[0, 40 + 19]
    assert deep[2] > deep[0] and shallow[2] > shallow[0]  # blue
    assert deep[:3].sum() < shallow[:3].sum()  # deeper is darker
    png = flood_png(model, 2.0, max_depth_m=2.0)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (height, width) == dtm.shape
    idat = png[png.index(b"IDAT") + 4:png.index(b"IEND") - 8]
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width * 4 + 1)
    assert np.array_equal(rows[:, 1:].reshape(rgba.shape), rgba)


def test_bad_flood_inputs_are_refused_clearly() -> None:
    dtm = np.zeros((5, 5), dtype=np.float32)
    with pytest.raises(TerrainInputError, match="no cell"):
        FloodModel.from_terrain(dtm, 1.0, np.zeros((5, 5), dtype=bool))
    with pytest.raises(TerrainInputError, match="shape"):
        FloodModel.from_terrain(dtm, 1.0, np.ones((4, 5), dtype=bool))
    with pytest.raises(TerrainInputError, match="resolution"):
        FloodModel.from_terrain(dtm, 0.0, np.ones((5, 5), dtype=bool))
    with pytest.raises(TerrainInputError, match="level"):
        FloodModel.from_terrain(dtm, 1.0, np.ones((5, 5), dtype=bool)).flooded(float("nan"))


def channel_plane(cross: float, along: float, rows: int = 30, half: int = 15) -> np.ndarray:
    """A plane tilted at ``cross`` towards a channel (centre column) that falls ``along`` southwards."""
    j = np.abs(np.arange(2 * half + 1) - half)[None, :]
    i = np.arange(rows)[:, None]
    return (cross * j + along * (rows - 1 - i)).astype(np.float32)


def test_spill_elevation_fills_a_pit_to_its_rim() -> None:
    dtm = np.full((5, 5), 4.0, dtype=np.float32)
    dtm[1:4, 1:4] = 2.0
    dtm[2, 2] = 0.5
    dtm[0, 2] = 3.0  # the lowest gap in the rim
    border = np.zeros(dtm.shape, dtype=bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    spill = spill_elevation(dtm, border)
    assert np.allclose(spill[1:4, 1:4], 3.0)
    assert spill[1, 0] == 4.0


@pytest.mark.parametrize("along", [0.0, 0.01])
def test_hand_on_a_tilted_plane_is_the_analytic_height(along: float) -> None:
    cross = 0.1
    dtm = channel_plane(cross, along)
    river = np.zeros(dtm.shape, dtype=bool)
    river[:, 15] = True
    expected = cross * np.abs(np.arange(31) - 15)[None, :].repeat(30, axis=0)
    result = height_above_nearest_drainage(dtm, 1.0, river_mask=river)
    assert np.allclose(result.hand, expected, atol=1e-5)
    # Same answer when the channel comes from flow accumulation instead of a given mask: the
    # channel cell of row i gathers (i + 1) x 31 cells, a hillside cell at most 15.
    if along > 0:
        auto = height_above_nearest_drainage(dtm, 1.0, threshold_m2=40.0)
        assert auto.accumulation_m2[-1, 15] == dtm.size  # the whole valley leaves at the outlet
        assert auto.accumulation_m2[0, 15] == 31
        assert np.array_equal(auto.drainage[1:], river[1:]) and not auto.drainage[0].any()
        assert np.allclose(auto.hand[1:], expected[1:], atol=1e-5)


def test_hand_flows_around_a_nodata_hole() -> None:
    dtm = channel_plane(0.1, 0.0)
    dtm[10:14, 20:23] = np.nan  # a hole in the terrain between hillside and channel
    river = np.zeros(dtm.shape, dtype=bool)
    river[:, 15] = True
    expected = 0.1 * np.abs(np.arange(31) - 15)[None, :].repeat(30, axis=0)
    hand = height_above_nearest_drainage(dtm, 1.0, river_mask=river).hand
    assert np.isnan(hand[10:14, 20:23]).all()
    valid = np.isfinite(dtm)
    assert np.allclose(hand[valid], expected[valid], atol=1e-5)  # cells behind the hole go round it


def test_hand_of_a_closed_hollow_is_measured_to_the_stream_it_spills_into() -> None:
    dtm = channel_plane(0.1, 0.01)
    dtm[10, 25] -= 1.0  # a 1 m pit 10 cells from the channel
    river = np.zeros(dtm.shape, dtype=bool)
    river[:, 15] = True
    result = height_above_nearest_drainage(dtm, 1.0, river_mask=river)
    assert np.isfinite(result.hand).all()
    # The pit spills west along row 10 or 11: ground 0.19 m, stream there 0.19 or 0.18 m.
    assert result.hand[10, 25] == pytest.approx(0.0, abs=0.011)
    assert result.filled[10, 25] > dtm[10, 25]


def test_exposure_counts_buildings_and_people_on_a_toy_flood() -> None:
    flooded = np.zeros((10, 10), dtype=bool)
    flooded[:, :5] = True
    depth = np.where(flooded, 1.0, 0.0).astype(np.float32)
    depth[:, 0] = 2.0
    transform = from_origin(0.0, 10.0, 1.0, 1.0)
    buildings = [
        BuildingInput("A", box(0, 0, 2, 2), "Rive Nord", population=10),
        BuildingInput("B", box(4, 4, 6, 6), "Rive Nord"),  # half wet; population from the district
        BuildingInput("C", box(7, 7, 9, 9), "Rive Sud", population=5),  # dry
        BuildingInput("D", box(1.1, 8.1, 1.4, 8.4), "Rive Sud", population=2),  # smaller than a cell
    ]
    result = exposure(buildings, flooded, transform, depth=depth, district_population={"Rive Nord": 30})
    by_ref = {b.ref: b for b in result.buildings}
    assert set(by_ref) == {"A", "B", "D"}
    assert by_ref["A"].max_depth_m == 2.0 and by_ref["A"].flooded_share == 1.0
    assert by_ref["B"].flooded_share == 0.5 and by_ref["B"].people == 30
    assert by_ref["D"].max_depth_m == 1.0
    assert (result.total_buildings, result.total_people) == (3, 42)
    districts = {d.district: (d.buildings, d.people) for d in result.per_district}
    assert districts == {"Rive Nord": (2, 40), "Rive Sud": (1, 2)}
    strict = exposure(buildings, flooded, transform, depth=depth, min_share=0.6)
    assert {b.ref for b in strict.buildings} == {"A", "D"}
    assert strict.total_people == 12  # B's people are unknown without the district figure


def test_exposure_follows_the_flood_model() -> None:
    dtm = v_valley(0.1, 1.0, half_width_m=20.0)
    river = np.zeros(dtm.shape, dtype=bool)
    river[:, 20] = True
    model = FloodModel.from_terrain(dtm, 1.0, river)
    transform = from_origin(0.0, float(dtm.shape[0]), 1.0, 1.0)
    near = BuildingInput("near", box(21, 2, 24, 5), population=4)  # ground 0.1-0.3 m
    far = BuildingInput("far", box(35, 2, 38, 5), population=6)  # ground 1.5-1.7 m
    low = exposure([near, far], model.flooded(1.0), transform, depth=model.depth(1.0))
    high = exposure([near, far], model.flooded(2.0), transform, depth=model.depth(2.0))
    assert [b.ref for b in low.buildings] == ["near"]
    assert low.buildings[0].max_depth_m == pytest.approx(0.9)
    assert (high.total_buildings, high.total_people) == (2, 10)
