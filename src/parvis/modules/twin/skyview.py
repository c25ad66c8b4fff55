"""How much of the sky each cell of a surface model sees: horizon angles and sky-view factors.

Horizon angles: for ``directions`` azimuths evenly spaced clockwise from north, the horizon's
elevation seen from a cell is the largest angle atan((z_other - z_cell) / distance) over cells
sampled along that direction out to ``radius_m`` (every cell for the first 10 cells, then at
distances growing by 15 % a step: obstacles narrower than the gap between two samples far away
can be missed; buildings, several metres wide, are not). Angles below the horizontal count as 0.
Beyond the raster's edge nothing is seen (a cell near the edge may look less obstructed than it is).

Sky-view factor of a horizontal cell (`sky_view_factor`): the share of isotropic sky diffuse
light it receives compared with an open field, SVF = mean over directions of cos²(h), which is
the cosine-weighted solid angle of the sky above horizon h (1 in an open field, 0.5 at the foot
of an infinitely long wall, 0 at the bottom of a deep well).

Tilted planes (`tilted_sky_view`): the same cosine-weighted integral, but over the sky that is
both above the surroundings' horizon and in front of the plane, divided by the same integral for
an unobstructed plane ((1 + cos tilt) / 2): so a roof face's own slope is not counted as an
obstacle, and 1 means "nothing around this roof hides any of its sky". For direction psi with
horizon h (at least the plane's own horizon, atan(-tan(tilt) cos(psi - azimuth)), and 0):
integral from h to 90 degrees of cos(incidence) cos(e) de =
cos(tilt) cos²(h) / 2 + sin(tilt) cos(psi - azimuth) ((pi/2 - h) / 2 - sin(2h) / 4).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def sample_distances(radius_cells: float) -> np.ndarray:
    """Distances (in cells) at which the horizon is sampled: 1..10, then growing by 15 % a step."""
    near = np.arange(1.0, min(10.0, radius_cells) + 1.0)
    far: list[float] = []
    d = 10.0
    while d * 1.15 <= radius_cells:
        d *= 1.15
        far.append(d)
    if radius_cells > 10.0 and (not far or far[-1] < radius_cells):
        far.append(float(radius_cells))
    return np.concatenate([near, np.asarray(far)]) if far else near


def direction_azimuths(directions: int) -> np.ndarray:
    """The azimuths (degrees clockwise from north) of the horizon directions."""
    return np.arange(directions) * (360.0 / directions)


def horizon_angles(
    dsm: Any, resolution: float, directions: int = 16, radius_m: float = 100.0, xp: Any = np
) -> Any:
    """Horizon elevation angles (radians, >= 0) in each direction: shape (directions, rows, cols).

    NaN (nodata) neighbours are ignored; a NaN cell gets NaN. Returned on ``xp``.
    """
    surface = xp.asarray(dsm, dtype=xp.float32)
    rows, cols = surface.shape
    radius_cells = max(1.0, radius_m / resolution)
    distances = sample_distances(radius_cells)
    out = xp.zeros((directions, rows, cols), dtype=xp.float32)
    for index, azimuth in enumerate(direction_azimuths(directions)):
        best = xp.zeros((rows, cols), dtype=xp.float32)  # tan of the horizon, at least 0
        seen: set[tuple[int, int]] = set()
        for d in distances:
            dr = int(np.round(-d * np.cos(np.radians(azimuth))))
            dc = int(np.round(d * np.sin(np.radians(azimuth))))
            if (dr, dc) in seen or (dr == 0 and dc == 0) or abs(dr) >= rows or abs(dc) >= cols:
                continue
            seen.add((dr, dc))
            inv_dist = np.float32(1.0 / (resolution * np.hypot(dr, dc)))
            r0, r1 = max(0, -dr), rows - max(0, dr)
            c0, c1 = max(0, -dc), cols - max(0, dc)
            here = surface[r0:r1, c0:c1]
            other = surface[r0 + dr : r1 + dr, c0 + dc : c1 + dc]
            with np.errstate(invalid="ignore"):  # holes (NaN or -inf) give NaN, which fmax skips
                slope = (other - here) * inv_dist
            best[r0:r1, c0:c1] = xp.fmax(best[r0:r1, c0:c1], slope)
        out[index] = xp.arctan(best)
    return xp.where(xp.isnan(surface)[None, :, :], xp.float32(np.nan), out)


def sky_view_factor(
    dsm: Any, resolution: float, directions: int = 16, radius_m: float = 100.0, xp: Any = np
) -> Any:
    """Sky-view factor of each cell as a horizontal surface, in [0, 1] (mean of cos² of the horizon).

    Returned on ``xp`` (NumPy by default); NaN where the DSM is NaN.
    """
    horizon = horizon_angles(dsm, resolution, directions, radius_m, xp)
    return xp.mean(xp.cos(horizon) ** 2, axis=0)


def _plane_integral(horizon: Any, tilt_rad: Any, relative: Any, plane_horizon: Any, xp: Any) -> Any:
    h = xp.maximum(xp.maximum(horizon, plane_horizon), 0.0)
    value = xp.cos(tilt_rad) * xp.cos(h) ** 2 + xp.sin(tilt_rad) * xp.cos(relative) * (
        (np.pi / 2 - h) - xp.sin(2 * h) / 2
    )
    return xp.mean(value, axis=0)


def tilted_sky_view(horizon: Any, tilt: Any, azimuth: Any, xp: Any = np) -> Any:
    """Share of a tilted plane's own sky view left by its surroundings, in [0, 1] (see module doc).

    ``horizon``: (directions, n) radians from `horizon_angles` (restricted to n cells);
    ``tilt``, ``azimuth``: (n,) degrees, the plane of each cell. 1 for an unobstructed plane.
    """
    horizon = xp.asarray(horizon, dtype=xp.float32)
    directions = horizon.shape[0]
    psi = xp.asarray(np.radians(direction_azimuths(directions)), dtype=xp.float32)[:, None]
    tilt_rad = xp.radians(xp.asarray(tilt, dtype=xp.float32))[None, :]
    relative = psi - xp.radians(xp.asarray(azimuth, dtype=xp.float32))[None, :]
    plane_horizon = xp.arctan(-xp.tan(tilt_rad) * xp.cos(relative))
    obstructed = _plane_integral(horizon, tilt_rad, relative, plane_horizon, xp)
    open_plane = _plane_integral(xp.zeros_like(horizon), tilt_rad, relative, plane_horizon, xp)
    return xp.clip(obstructed / xp.maximum(open_plane, 1e-6), 0.0, 1.0)
