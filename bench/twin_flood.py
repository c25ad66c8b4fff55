"""Flood what-if slider over 10 km² at 1 m (10 M cells): time per new water level (target <= 1 s).

Builds a deterministic valley terrain (4,000 x 2,500 cells at 1 m, seed 6): a river running west
to east through the middle with a gentle downstream fall, banks rising at 2-6 % with a terrace,
a ridge-backed hollow to the north, a hill in the north-west and smooth plus fine noise. Then:

1. ``FloodModel.from_terrain`` (the once-per-terrain preparation), timed once;
2. ten new water levels (never seen before, so nothing comes from the cache): flooded raster,
   depth raster and area, each timed; prints the median and the max;
3. the RGBA overlay and PNG encoding for one level;
4. with ``--spill``, the optional spill-elevation precomputation (about 4 GB of memory) and the
   per-level time after it; with ``--hand``, HAND on the demo twin's size (1,500 x 1,000).

Run: `.venv/bin/python bench/twin_flood.py [--spill] [--hand]`
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from scipy import ndimage

from parvis.modules.twin.drainage import height_above_nearest_drainage
from parvis.modules.twin.flood import FloodModel, flood_png, flood_rgba


def valley(rows: int = 2500, cols: int = 4000, seed: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic river valley (metres above sea level) and its river mask."""
    rng = np.random.default_rng(seed)
    y = np.arange(rows, dtype=np.float32)[:, None]
    x = np.arange(cols, dtype=np.float32)[None, :]
    centre = rows / 2 + 120 * np.sin(x / 700.0)  # a meandering river line
    d = np.abs(y - centre)
    ground = 4.0 + 0.0005 * (cols - x)  # 2 m fall along the river
    ground = ground + np.where(d < 15, 0.0, 0.02 * (d - 15))  # banks at 2 %
    ground = ground + np.where(d > 500, 0.04 * (d - 500), 0.0)  # steeper beyond a terrace
    ground = ground + 30.0 * np.exp(-((x - 600) ** 2 + (y - 300) ** 2) / (2 * 350.0**2))  # hill
    hollow = np.exp(-((x - 2600) ** 2 + (y - 500) ** 2) / (2 * 120.0**2))
    ground = ground - 8.0 * hollow  # a hollow behind the northern bank
    smooth = ndimage.gaussian_filter(rng.normal(size=(rows, cols)).astype(np.float32), 25) * 40.0
    fine = rng.normal(scale=0.05, size=(rows, cols)).astype(np.float32)
    dtm = (ground + smooth + fine).astype(np.float32)
    river = d < 6
    bed = np.broadcast_to(4.0 + 0.0005 * (cols - x) - 1.5, (rows, cols))  # the river bed, 1.5 m down
    dtm[river] = np.minimum(dtm[river], bed[river])
    return dtm, river


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spill", action="store_true", help="also time the spill precomputation")
    parser.add_argument("--hand", action="store_true", help="also time HAND on 1,500 x 1,000 cells")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    (dtm, river), t_build = timed(valley)
    print(f"terrain: {dtm.shape[0]} x {dtm.shape[1]} cells at 1 m = {dtm.size / 1e6:.1f} km², "
          f"{float(dtm.min()):.1f}-{float(dtm.max()):.1f} m (generated in {t_build:.1f} s)")
    model, t_prep = timed(FloodModel.from_terrain, dtm, 1.0, river)
    print(f"precomputation (from_terrain, connectivity {model.connectivity}): {t_prep:.3f} s")
    levels = [4.5 + 0.7 * k for k in range(10)]
    per_level = []
    for level in levels:
        start = time.perf_counter()
        model.flooded(level)
        depth = model.depth(level)
        area = model.area_m2(level)
        elapsed = time.perf_counter() - start
        per_level.append(elapsed)
        print(f"  level {level:5.2f} m: {area / 1e6:6.3f} km² flooded, "
              f"max depth {float(depth.max()):5.2f} m, {elapsed:.3f} s")
    print(f"new water level (flooded + depth + area): median {statistics.median(per_level):.3f} s, "
          f"max {max(per_level):.3f} s (target <= 1 s)")
    _, t_rgba = timed(flood_rgba, model, 8.0)
    png, t_png = timed(flood_png, model, 8.0)
    print(f"overlay: RGBA {t_rgba:.3f} s, PNG {t_png:.3f} s ({len(png) / 1e6:.1f} MB)")
    if args.spill:
        fast, t_spill = timed(FloodModel.from_terrain, dtm, 1.0, river, precompute_spill=True)
        times = [timed(fast.flooded, level + 0.05)[1] for level in levels]
        same = all(np.array_equal(fast.flooded(level), model.flooded(level)) for level in levels[:3])
        print(f"spill precomputation: {t_spill:.1f} s; then a level: "
              f"median {statistics.median(times):.3f} s, max {max(times):.3f} s; "
              f"same floods as labelling: {same}")
    if args.hand:
        sub, sub_river = dtm[750:1750, 1000:2500], river[750:1750, 1000:2500]
        result, t_hand = timed(height_above_nearest_drainage, sub, 1.0, river_mask=sub_river)
        print(f"HAND on {sub.shape[0]} x {sub.shape[1]} cells (river mask): {t_hand:.1f} s, "
              f"median HAND {float(np.nanmedian(result.hand)):.2f} m")
        result, t_hand = timed(height_above_nearest_drainage, sub, 1.0, threshold_m2=100_000.0)
        print(f"HAND on {sub.shape[0]} x {sub.shape[1]} cells (0.1 km² threshold): {t_hand:.1f} s, "
              f"{int(result.drainage.sum())} drainage cells")


if __name__ == "__main__":
    main()
