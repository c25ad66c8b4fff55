"""Roof thermography: synthetic roofs at known temperatures get known levels."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.transform import from_origin
from shapely.geometry import box

from parvis.modules.twin.thermography import (
    LEVEL_LABELS,
    ThermographyError,
    classify_roofs,
    may_see_level,
    roof_statistics,
)

# Six roofs of 6 x 6 pixels in a row, 1 m pixels; temperatures given out of order on purpose.
TEMPS = {1: 4.0, 2: 9.0, 3: 1.5, 4: 12.0, 5: 6.0, 6: 2.5}  # °C; expected ranks 3, 5, 1, 6, 4, 2
EXPECTED = {1: 3, 2: 5, 3: 1, 4: 6, 5: 4, 6: 2}


def _scene(temps: dict[int, float] = TEMPS, size: int = 6) -> tuple[np.ndarray, np.ndarray]:
    values = np.full((20, 10 * len(temps)), -3.0, dtype=np.float32)  # cold ground around
    labels = np.zeros(values.shape, dtype=np.int32)
    for i, (label, temp) in enumerate(temps.items()):
        labels[2:2 + size, i * 10:i * 10 + size] = label
        values[2:2 + size, i * 10:i * 10 + size] = temp
    return values, labels


def test_six_roofs_at_known_temperatures_get_levels_1_to_6_in_order() -> None:
    values, labels = _scene()
    assert classify_roofs(values, labels) == EXPECTED


def test_roofs_given_as_polygons_and_a_transform_get_the_same_levels() -> None:
    values, _labels = _scene()
    transform = from_origin(500000.0, 1800000.0, 1.0, 1.0)  # row 0 = north edge
    roofs = {f"house-{label}": box(500000.0 + i * 10, 1800000.0 - 8, 500000.0 + i * 10 + 6, 1800000.0 - 2)
             for i, label in enumerate(TEMPS)}
    levels = classify_roofs(values, transform, roofs)
    assert levels == {f"house-{label}": level for label, level in EXPECTED.items()}
    stats = roof_statistics(values, transform, roofs)
    assert stats["house-1"].pixels == 36 and stats["house-1"].value == pytest.approx(4.0)


def test_thresholds_give_absolute_levels_and_a_value_on_a_threshold_takes_the_lower_level() -> None:
    values, labels = _scene()
    levels = classify_roofs(values, labels, method="thresholds", thresholds=(2.0, 4.0, 6.0, 8.0, 10.0))
    # 4.0 -> 2 (on the threshold), 9.0 -> 5, 1.5 -> 1, 12.0 -> 6, 6.0 -> 3, 2.5 -> 2
    assert levels == {1: 2, 2: 5, 3: 1, 4: 6, 5: 3, 6: 2}
    with pytest.raises(ThermographyError):
        classify_roofs(values, labels, method="thresholds", thresholds=(1.0, 2.0, 3.0))
    with pytest.raises(ThermographyError):
        classify_roofs(values, labels, method="thresholds", thresholds=(1.0, 3.0, 2.0, 4.0, 5.0))


def test_nodata_pixels_are_ignored_and_an_unmeasured_roof_is_unknown() -> None:
    temps = {**TEMPS, 7: 30.0}
    values, labels = _scene(temps)
    values[labels == 7] = -9999.0  # the whole roof is nodata
    values[2:4, 0:6] = np.nan  # a third of roof 1 missing: still measured
    values[4, 10:13] = -9999.0  # a few nodata pixels on roof 2
    stats = roof_statistics(values, labels, nodata=-9999.0)
    assert stats[1].valid == 24 and stats[1].value == pytest.approx(4.0)
    assert stats[2].valid == 33 and stats[2].value == pytest.approx(9.0)
    levels = classify_roofs(values, labels, nodata=-9999.0)
    assert levels[7] is None
    assert {k: v for k, v in levels.items() if k != 7} == EXPECTED  # the unknown roof takes no rank


def test_tiny_or_mostly_empty_roofs_are_unknown() -> None:
    values, labels = _scene()
    labels[15:17, 0:2] = 8  # a 2 x 2 pixel shed
    values[15:17, 0:2] = 50.0
    labels[12:18, 20:26] = 9  # 36 pixels, only 8 measured (22 %)
    values[12:18, 20:26] = np.nan
    values[12, 20:26] = 7.0
    values[13, 20:22] = 7.0
    levels = classify_roofs(values, labels)
    assert levels[8] is None and levels[9] is None
    assert {k: levels[k] for k in EXPECTED} == EXPECTED
    assert classify_roofs(values, labels, min_valid_pixels=4, min_valid_share=0.2)[8] == 6


def test_a_requested_roof_missing_from_the_raster_is_unknown() -> None:
    values, labels = _scene()
    levels = classify_roofs(values, labels, [4, 42], method="thresholds", thresholds=(2.0, 4.0, 6.0, 8.0, 10.0))
    assert levels == {4: 6, 42: None}


def test_median_ignores_a_chimney_that_a_high_percentile_sees() -> None:
    values, labels = _scene()
    values[2, 30:33] = 60.0  # a hot chimney on roof 4 (12 °C): 3 of 36 pixels
    values[2, 0:3] = 60.0  # and on roof 1 (4 °C)
    assert roof_statistics(values, labels)[1].value == pytest.approx(4.0)
    assert roof_statistics(values, labels, statistic="p95")[1].value == pytest.approx(60.0)
    assert classify_roofs(values, labels) == EXPECTED
    with pytest.raises(ThermographyError):
        roof_statistics(values, labels, statistic="mean")


def test_mismatched_labels_or_a_multiband_raster_are_refused() -> None:
    values, labels = _scene()
    with pytest.raises(ThermographyError) as err:
        classify_roofs(values, labels[:, :-1])
    assert err.value.errors[0]["code"] == "shape_mismatch"
    with pytest.raises(ThermographyError):
        classify_roofs(np.stack([values, values]), labels)


def test_six_translatable_level_labels() -> None:
    assert sorted(LEVEL_LABELS) == [1, 2, 3, 4, 5, 6]
    assert len(set(LEVEL_LABELS.values())) == 6


@pytest.mark.parametrize(("policy", "owner", "staff", "allowed"), [
    ("owner", True, False, True), ("owner", False, True, False), ("owner", False, False, False),
    ("staff", True, False, True), ("staff", False, True, True), ("staff", False, False, False),
    ("public", False, False, True),
])
def test_who_may_see_a_house_level(policy: str, owner: bool, staff: bool, allowed: bool) -> None:
    assert may_see_level(policy, viewer_is_owner=owner, viewer_is_staff=staff) is allowed


def test_an_unknown_visibility_policy_is_a_loud_error() -> None:
    with pytest.raises(ValueError):
        may_see_level("neighbours", viewer_is_owner=False, viewer_is_staff=False)


def test_roof_statistic_is_numpys_percentile_of_the_roof_valid_pixels() -> None:
    rng = np.random.default_rng(6)
    values = rng.normal(8.0, 3.0, (30, 40)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    labels = np.zeros(values.shape, dtype=np.int64)
    labels[0:12, 0:15], labels[15:30, 5:40], labels[0:10, 20:40] = 3, 1_000_000_007, 12
    for statistic, q in (("median", 50.0), ("p75", 75.0), ("p90", 90.0)):
        stats = roof_statistics(values, labels, statistic=statistic)
        for label in (3, 12, 1_000_000_007):
            pixels = values[labels == label].astype(np.float64)
            assert stats[label].value == pytest.approx(np.nanpercentile(pixels, q), rel=1e-9)
            assert stats[label].pixels == pixels.size and stats[label].valid == np.isfinite(pixels).sum()
