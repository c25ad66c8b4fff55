"""Roof thermography: six heat-loss levels per roof from a night-time thermal raster.

A city flies (or buys) a thermal image of its roofs on a cold, clear, windless night; warm roofs
lose heat. :func:`classify_roofs` takes that raster (surface temperatures, or any quantity where
higher means more loss) and the roofs, and gives each roof a level from 1 (very low loss) to 6
(very high), or ``None`` (unknown) when too few of its pixels hold a value.

**Zonal statistic: the median of the roof's valid pixels** (by default). The median describes the
roof as a whole and is not moved by the few very hot pixels of a chimney, a flue, a vent or a
skylight, nor by the mixed pixels at the roof's edge that see a warm facade or the cold ground;
with the small pixel counts of a house roof (a few dozen at 1 m) it is also far steadier than a
mean. A high percentile (``statistic="p90"``) finds local defects instead, but a chimney alone can
then put a well-insulated roof in level 6: use it knowingly.

**Classes.** ``method="quantiles"`` ranks the classified roofs and cuts them into six groups of
equal size (level = 1 + ⌊6 · r / n⌋ with r the roof's rank from 0, ties sharing the lowest rank),
so the levels are *relative to this city's roofs on this night*: in a well-insulated district a
sixth of the roofs are still level 6. ``method="thresholds"`` takes five ascending values: a
statistic up to the first threshold is level 1, above the first and up to the second level 2, ...,
above the fifth level 6; that is the absolute scale to use when the raster is calibrated (say, in
kelvin above the air temperature).

**Limits, to say to citizens.** Night-time emissivity matters: bare metal and some membranes
reflect the cold sky and look cold whatever their insulation; a roof over an unheated attic or a
garage looks cold because nothing below is heated. The levels are a prompt to look closer, not a
diagnosis.

Who may see a given house's level is a city setting enforced by the caller: see
:func:`may_see_level` (owner only by default).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from parvis.kernel.errors import N_, ValidationFailed

LEVELS = (1, 2, 3, 4, 5, 6)
LEVEL_LABELS: dict[int, str] = {
    1: N_("Very low heat loss"),
    2: N_("Low heat loss"),
    3: N_("Rather low heat loss"),
    4: N_("Rather high heat loss"),
    5: N_("High heat loss"),
    6: N_("Very high heat loss"),
}
UNKNOWN_LABEL = N_("Unknown: too few measured pixels on this roof")

#: Who may see a house's level: its owner only (default), also city staff, or everyone.
VISIBILITY_POLICIES = ("owner", "staff", "public")
POLICY_LABELS: dict[str, str] = {
    "owner": N_("The owner only"),
    "staff": N_("The owner and city staff"),
    "public": N_("Everyone"),
}


class ThermographyError(ValidationFailed):
    type_slug = "twin-invalid-thermography"
    title = N_("The roof thermography cannot be classified.")


@dataclass(frozen=True)
class RoofStatistic:
    """Pixels of one roof: how many it covers, how many hold a value, and the statistic (None when
    too few are valid)."""

    pixels: int
    valid: int
    value: float | None


def _label_raster(shape: tuple[int, int], transform: Any, roofs: Mapping[Hashable, Any]) -> tuple[
        np.ndarray, list[Hashable]]:
    """Burns polygons (shapely geometries or GeoJSON mappings) into a raster of 1-based indices; a
    pixel belongs to a roof when its centre is inside. Where roofs overlap the later one wins."""
    from rasterio.features import rasterize
    from shapely.geometry import mapping

    keys = list(roofs)
    if not keys:
        return np.zeros(shape, dtype=np.int32), keys
    shapes = []
    for index, key in enumerate(keys, start=1):
        geom = roofs[key]
        shapes.append((geom if isinstance(geom, Mapping) else mapping(geom), index))
    raster = rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="int32")
    return raster, keys


def _parse_statistic(statistic: str) -> float:
    """The percentile (0-100) a statistic name stands for: "median" is 50, "p90" is 90."""
    if statistic == "median":
        return 50.0
    if statistic.startswith("p"):
        try:
            q = float(statistic[1:])
        except ValueError:
            q = -1.0
        if 0 <= q <= 100:
            return q
    raise ThermographyError(N_("Unknown statistic %(value)s: use median or a percentile such as p90."),
                            params={"value": statistic}, errors=[{"field": "statistic", "code": "unknown"}])


def roof_statistics(thermo_values: np.ndarray, transform_or_labels: Any,
                    roof_labels: Mapping[Hashable, Any] | Iterable[Hashable] | None = None, *,
                    statistic: str = "median", nodata: float | None = None, min_valid_pixels: int = 9,
                    min_valid_share: float = 0.25) -> dict[Hashable, RoofStatistic]:
    """Zonal statistics of each roof.

    ``transform_or_labels`` is either an integer raster of roof labels with the shape of
    ``thermo_values`` (0 = no roof; ``roof_labels`` then lists the labels wanted, all non-zero ones
    when ``None``), or the raster's affine transform (rasterio ``Affine``), in which case
    ``roof_labels`` maps each roof's key to its polygon in the raster's CRS.

    NaN and ``nodata`` pixels are ignored; a roof with fewer than ``min_valid_pixels`` valid
    pixels, or whose valid pixels are less than ``min_valid_share`` of its pixels, gets ``None``.
    """
    values = np.asarray(thermo_values)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    if values.ndim != 2:
        raise ThermographyError(N_("The thermography must be a single-band raster."),
                                errors=[{"field": "thermo_values", "code": "not_2d"}])
    q = _parse_statistic(statistic)
    if isinstance(transform_or_labels, np.ndarray):
        labels = transform_or_labels
        if labels.shape != values.shape:
            raise ThermographyError(
                N_("The roof labels (%(labels)s pixels) do not match the thermography (%(values)s pixels)."),
                params={"labels": "×".join(map(str, labels.shape)),
                        "values": "×".join(map(str, values.shape))},
                errors=[{"field": "labels", "code": "shape_mismatch"}])
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError("roof labels must be an integer raster")
        wanted = (sorted(int(v) for v in np.unique(labels) if v != 0) if roof_labels is None
                  else list(roof_labels))
        index_of = {key: key for key in wanted}
    else:
        if not isinstance(roof_labels, Mapping):
            raise TypeError("with a transform, roof_labels must map each roof's key to its polygon")
        labels, wanted = _label_raster(values.shape, transform_or_labels, roof_labels)
        index_of = {key: i for i, key in enumerate(wanted, start=1)}

    valid = np.isfinite(values)
    if nodata is not None and np.isfinite(nodata):
        valid &= values != nodata
    flat_labels = labels.ravel()
    inside = flat_labels != 0
    all_labels, all_counts = np.unique(flat_labels[inside], return_counts=True)
    pixels_of = dict(zip(all_labels.tolist(), all_counts.tolist(), strict=True))
    # Every valid roof pixel sorted by (label, value) once; each roof's percentile is then read at
    # its position in its run (linear interpolation, as numpy.percentile), with no loop over roofs.
    # One float sort key, "roof index + value scaled into [0, 1)", sorts by roof then value about
    # three times faster than numpy.lexsort; the values themselves are read back unscaled (two values
    # closer than about 1e-9 of the raster's spread may swap, which moves no percentile noticeably).
    take = inside & valid.ravel()
    roof_of, value_of = flat_labels[take], values.ravel()[take].astype(np.float64)
    run_labels, group = np.unique(roof_of, return_inverse=True)
    if value_of.size:
        spread = float(value_of.max() - value_of.min()) or 1.0
        sort_key = group + (value_of - value_of.min()) * ((1.0 - 1e-6) / spread)
        value_of = value_of[np.argsort(sort_key)]
    run_counts = np.bincount(group, minlength=run_labels.size)
    run_starts = np.concatenate(([0], np.cumsum(run_counts)[:-1])).astype(np.int64)
    position = (run_counts - 1) * (q / 100.0)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, run_counts - 1)
    below, above = value_of[run_starts + low], value_of[run_starts + high]
    stats = below + (above - below) * (position - low)
    measured = {int(lab): (int(c), float(v))
                for lab, c, v in zip(run_labels.tolist(), run_counts.tolist(), stats.tolist(), strict=True)}

    result: dict[Hashable, RoofStatistic] = {}
    for key in wanted:
        index = index_of[key]
        is_int = isinstance(index, int | np.integer) and not isinstance(index, bool)
        count = pixels_of.get(int(index), 0) if is_int else 0
        good, value = measured.get(int(index), (0, None)) if is_int else (0, None)
        enough = good >= max(1, min_valid_pixels) and good >= min_valid_share * count
        result[key] = RoofStatistic(pixels=count, valid=good, value=value if enough else None)
    return result


def levels_from_values(values: Mapping[Hashable, float | None],
                       method: Literal["quantiles", "thresholds"] = "quantiles",
                       thresholds: Iterable[float] | None = None) -> dict[Hashable, int | None]:
    """Levels 1-6 from one number per roof (``None`` stays ``None``); see the module docstring."""
    known = {key: v for key, v in values.items() if v is not None}
    levels: dict[Hashable, int | None] = dict.fromkeys(values)
    if method == "thresholds":
        bounds = np.asarray(list(thresholds or ()), dtype=np.float64)
        if bounds.shape != (5,) or not np.all(np.isfinite(bounds)) or np.any(np.diff(bounds) <= 0):
            raise ThermographyError(N_("Give five ascending thresholds between the six levels."),
                                    errors=[{"field": "thresholds", "code": "invalid"}])
        for key, v in known.items():
            levels[key] = 1 + int(np.searchsorted(bounds, v, side="left"))
    elif method == "quantiles":
        if not known:
            return levels
        data = np.fromiter(known.values(), dtype=np.float64, count=len(known))
        ranks = np.searchsorted(np.sort(data), data, side="left")  # lowest rank among ties
        for key, rank in zip(known, ranks, strict=True):
            levels[key] = 1 + int(6 * int(rank) // len(data))
    else:
        raise ThermographyError(N_("Unknown classification method %(value)s: use quantiles or thresholds."),
                                params={"value": method}, errors=[{"field": "method", "code": "unknown"}])
    return levels


def classify_roofs(thermo_values: np.ndarray, transform_or_labels: Any,
                   roof_labels: Mapping[Hashable, Any] | Iterable[Hashable] | None = None,
                   method: Literal["quantiles", "thresholds"] = "quantiles",
                   thresholds: Iterable[float] | None = None, *, statistic: str = "median",
                   nodata: float | None = None, min_valid_pixels: int = 9,
                   min_valid_share: float = 0.25) -> dict[Hashable, int | None]:
    """Each roof's heat-loss level (1 very low ... 6 very high) or ``None`` (unknown).

    Arguments as in :func:`roof_statistics` and :func:`levels_from_values`. Roofs with an unknown
    level do not take part in the quantiles.
    """
    stats = roof_statistics(thermo_values, transform_or_labels, roof_labels, statistic=statistic,
                            nodata=nodata, min_valid_pixels=min_valid_pixels, min_valid_share=min_valid_share)
    return levels_from_values({key: s.value for key, s in stats.items()}, method, thresholds)


def may_see_level(policy: str, viewer_is_owner: bool, viewer_is_staff: bool) -> bool:
    """Whether a viewer may see a given house's level under the city's policy: ``"owner"`` (the
    default: the owner only, not even staff, since a level says something about a household),
    ``"staff"`` (the owner and city staff) or ``"public"`` (everyone). An unknown policy is a
    configuration error and raises ``ValueError`` rather than guess."""
    if policy == "owner":
        return viewer_is_owner
    if policy == "staff":
        return viewer_is_owner or viewer_is_staff
    if policy == "public":
        return True
    raise ValueError(f"unknown thermography visibility policy {policy!r}; use one of {VISIBILITY_POLICIES}")
