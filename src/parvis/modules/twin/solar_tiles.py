"""Roof solar potential by tiles: `solar.roof_irradiation` over a surface model too large to sweep
whole (memory grows with the raster: about 80 bytes a cell for the horizon angles alone).

The raster is cut into square cores of ``tile_m``. Each core is computed inside a buffer (clipped
at the raster's edges) that holds what shades it and what closes its horizons: every cell of the
buffer casts shadows, only the core's roof cells are computed. A roof face that crosses cores gets
its cells from each, and the faces' means are taken over all their cells at the end, so no face
is cut. Cores without roof cells are skipped.

The buffer is the longest shadow that matters: `shadow.shadow_buffer_m` of the surface model's
relief (highest minus lowest cell) at ``min_shadow_altitude_deg`` (5 degrees by default: at the
demo city the sun positions under 5 degrees carry 0.14 % of the year's direct normal
irradiation, an upper bound of what cutting their longer shadows at the buffer's edge can change
on any roof), at least the sky view's radius, at most ``max_buffer_m`` (1.5 km). The relief is
the whole raster's, terrain included: past about 131 m of it (1,500 x tan 5°) the cap decides,
and shadows of suns lower than atan(relief / buffer) that are longer than the buffer are cut
(a hill more than 1.5 km away at a low sun); the result's ``buffer_m`` says which buffer was used.
With a buffer as long as the raster, tiles give the whole-raster answer (tested).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from parvis.modules.twin.backend import array_module, to_numpy
from parvis.modules.twin.shadow import Nodata, prepare_dsm, shadow_buffer_m
from parvis.modules.twin.solar import (
    Progress,
    RoofCells,
    RoofIrradiation,
    by_face,
    roof_cells,
    roof_faces,
)
from parvis.modules.twin.sun import SunSky


def tile_buffer_m(
    dsm: Any, min_shadow_altitude_deg: float = 5.0, skyview_radius_m: float = 100.0,
    max_buffer_m: float = 1500.0,
) -> float:
    """The buffer each tile needs, in metres (see the module docstring)."""
    heights = to_numpy(dsm).astype(np.float32, copy=False)
    finite = heights[np.isfinite(heights)]
    relief = float(finite.max() - finite.min()) if finite.size else 0.0
    longest = shadow_buffer_m(relief, min_shadow_altitude_deg) if relief > 0 else 0.0
    return min(max(longest, skyview_radius_m), max_buffer_m)


def roof_irradiation_tiled(
    dsm: Any,
    resolution: float,
    face_labels: Any,
    tilt: Any,
    azimuth: Any,
    sky: SunSky,
    albedo: float = 0.2,
    xp: Any = None,
    progress: Progress | None = None,
    *,
    tile_m: float = 1000.0,
    buffer_m: float | None = None,
    min_shadow_altitude_deg: float = 5.0,
    max_buffer_m: float = 1500.0,
    nodata: Nodata = "raise",
    batch: int | None = None,
    skyview_directions: int = 16,
    skyview_radius_m: float = 100.0,
    tolerance_m: float = 0.05,
) -> RoofIrradiation:
    """`solar.roof_irradiation` computed core by core (arguments as there; ``tile_m``: a core's
    side; ``buffer_m``: the buffer, default `tile_buffer_m`). A raster that fits in one core is
    computed whole. ``progress(done, total)`` counts sun positions over all the cores computed."""
    xp = array_module("auto") if xp is None else xp
    shape = tuple(np.shape(dsm))
    faces = roof_faces(face_labels, shape, tilt, azimuth, sky, albedo)
    rows, cols = shape
    core = max(1, round(tile_m / resolution))
    backend = getattr(xp, "__name__", str(xp))
    options: dict[str, Any] = {"nodata": nodata, "batch": batch, "skyview_directions": skyview_directions,
                               "skyview_radius_m": skyview_radius_m, "tolerance_m": tolerance_m}
    if rows <= core and cols <= core:
        cells = roof_cells(dsm, resolution, faces.labels, faces, sky, xp, progress, **options)
        return by_face(faces, cells, shape, len(sky), backend)
    heights = to_numpy(dsm)
    if nodata == "raise":
        prepare_dsm(heights, nodata, np)  # holes anywhere: refused as for the whole raster
    if buffer_m is None:
        buffer_m = tile_buffer_m(heights, min_shadow_altitude_deg, skyview_radius_m, max_buffer_m)
    pad = math.ceil(buffer_m / resolution)
    cores = [(r0, c0) for r0 in range(0, rows, core) for c0 in range(0, cols, core)
             if (faces.labels[r0 : r0 + core, c0 : c0 + core] > 0).any()]
    up = int((np.asarray(sky.altitude) > 0).sum())
    parts: list[RoofCells] = []
    for n, (r0, c0) in enumerate(cores):
        r1, c1 = min(rows, r0 + core), min(cols, c0 + core)
        top, bottom = max(0, r0 - pad), min(rows, r1 + pad)
        left, right = max(0, c0 - pad), min(cols, c1 + pad)
        labels = np.zeros((bottom - top, right - left), dtype=np.int64)
        labels[r0 - top : r1 - top, c0 - left : c1 - left] = faces.labels[r0:r1, c0:c1]

        def tile_progress(done: int, total: int, before: int = n * up) -> None:
            if progress is not None:
                progress(before + done, len(cores) * up)

        part = roof_cells(heights[top:bottom, left:right], resolution, labels, faces, sky, xp,
                          tile_progress, **options)
        local_row, local_col = np.divmod(part.flat, right - left)
        parts.append(RoofCells((local_row + top) * cols + local_col + left, part.face, part.beam,
                               part.view, part.nodata))
    merged = RoofCells(
        np.concatenate([p.flat for p in parts]) if parts else np.zeros(0, dtype=np.int64),
        np.concatenate([p.face for p in parts]) if parts else np.zeros(0, dtype=np.int64),
        np.concatenate([p.beam for p in parts], axis=1) if parts else np.zeros((12, 0)),
        np.concatenate([p.view for p in parts]) if parts else np.zeros(0),
        sum(p.nodata for p in parts),
    )
    return replace(by_face(faces, merged, shape, len(sky), backend), tiles=len(cores), buffer_m=buffer_m)
