"""Beam shading from a surface model: which cells the sun's direct light reaches, for many sun positions.

Method (a "shadow surface" sweep, vectorised over sun positions):

1. The raster is turned by a multiple of 90 degrees (`rot90`) so that the sun stands on the side
   of row 0, within 45 degrees of straight "up" (relative azimuth phi in [-45, 45)).
2. Light then travels row by row, away from the sun, drifting sideways by s = -tan(phi) cells per
   row. A ray's column at row r is c = j + round(r * s): a digital straight line, so each row moves
   each ray by -1, 0 or +1 column.
3. Along each ray a shadow surface is propagated, S_r = max(Z_r, S_(r-1) - drop), where
   drop = resolution * sqrt(1 + s^2) * tan(altitude) is how much the sun's ray descends between
   two rows and Z_r is the surface height where the ray truly passes (up to half a cell beside
   the cell's centre: linear interpolation with the sideways neighbour). A cell is shaded when
   the surface arriving at it, S_(r-1) - drop, is above max(its own height, Z_r) by more than
   ``tolerance_m`` (default 5 cm: obstacles lower than that cast no shadow). Sampling on the true
   ray means a roof plane facing the sun never shades itself through the digital line's one-cell
   sideways jumps; comparing with the cell's own height as well keeps roof edges parallel to the
   sun's direction lit. The propagated surface moves by whole cells only, so it is not blurred.
4. Many sun positions are swept at once (a batch dimension), so the Python loop runs once per
   row per batch, and the arithmetic is whole-array NumPy (or any module with NumPy's API, see
   `backend`). On a CUDA GPU (CuPy) the same sweep runs as one fused kernel (`sweep_gpu`): one
   thread per sun position and ray walks the rows, with the same float32 operations in the same
   order, so it gives the same cells as the array code (checked by the tests marked ``gpu``).

Error: heights are point samples at cell centres and the ray is a digital line, so a shadow's
end is placed within about two cells of h / tan(altitude) (on average one cell short: an
obstacle's height stands at its cell's centre, not its edge), and its sides within half a cell.
Tests check a tower's shadow length at many azimuths, diagonals included. The sun is a point (no
penumbra); the raster's edges see no obstacle beyond them. Cost per sun position and cell: about
ten float32 operations.

The whole raster given is swept, so shadows of any length are exact inside it. A caller that
tiles a large area (`solar_tiles`) gives each tile a buffer of `shadow_buffer_m` (the longest
shadow: highest obstacle height difference / tan(lowest sun altitude)) on every side.

Nodata (NaN) cells: ``nodata="raise"`` (the default) refuses the raster (`RasterHoles`): fill the
holes first, as the twin's importer does. ``nodata="transparent"`` lets light pass over them (they
cast no shadow) and reports them as not sunlit (no beam credited), so a hole never adds energy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

from parvis.kernel.errors import N_
from parvis.modules.twin.backend import is_gpu, to_numpy
from parvis.modules.twin.errors import RasterHoles

Nodata = Literal["raise", "transparent"]
RowSink = Callable[[int, Any], None]

FUSED_ON_GPU = True  # False: CuPy runs the row-by-row array code too (`bench/twin_solar.py --array-code`)
DEFAULT_BATCH = 64  # sun positions swept together on the CPU: the (batch, cols) rows stay in cache
GPU_BATCH = 256  # on a GPU: fewer, larger kernels (memory ~ batch x roof cells x 9 bytes in `solar`)


def default_batch(xp: Any) -> int:
    """How many sun positions to sweep together on ``xp``."""
    return GPU_BATCH if is_gpu(xp) else DEFAULT_BATCH


def shadow_buffer_m(max_height_difference_m: float, min_altitude_deg: float) -> float:
    """The longest shadow, in metres: the buffer a tile needs on every side for exact shading."""
    if min_altitude_deg <= 0:
        raise ValueError("the lowest sun altitude must be above 0 degrees for a finite shadow")
    return float(max_height_difference_m / np.tan(np.radians(min_altitude_deg)))


def sweep_geometry(azimuth: np.ndarray, altitude: np.ndarray, resolution: float) -> dict[str, np.ndarray]:
    """Per sun position: the quarter turn ``k``, sideways drift per row ``s`` and height drop per row.

    ``k`` = 0 (sun in the north), 1 (east), 2 (south), 3 (west): the raster is turned by
    ``rot90(dsm, k)`` so that the sun stands on the side of row 0.
    """
    az = np.asarray(azimuth, dtype=float) % 360.0
    alt = np.asarray(altitude, dtype=float)
    k = (((az + 45.0) % 360.0) // 90.0).astype(int)
    phi = (az - 90.0 * k + 180.0) % 360.0 - 180.0
    s = -np.tan(np.radians(phi))
    drop = resolution * np.sqrt(1.0 + s * s) * np.tan(np.radians(np.clip(alt, 1e-6, 90.0 - 1e-6)))
    return {"k": k, "s": s, "drop": drop}


def prepare_dsm(dsm: Any, nodata: Nodata, xp: Any) -> tuple[Any, Any | None]:
    """The DSM as float32 on ``xp`` with NaN replaced by -inf, and the nodata mask (None if none)."""
    surface = xp.asarray(dsm, dtype=xp.float32)
    holes = xp.isnan(surface)
    count = int(holes.sum())
    if count == 0:
        return surface, None
    if nodata == "raise":
        raise RasterHoles(
            N_("The surface model has %(count)s cells without data; fill them before computing shadows."),
            params={"count": count},
        )
    if nodata != "transparent":
        raise ValueError(f"nodata must be 'raise' or 'transparent', not {nodata!r}")
    return xp.where(holes, xp.float32(-np.inf), surface), holes


def ray_offsets(rows: int, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row and sun position (rows, batch): the ray's column offset round(r * s) (int64), and
    the shares of the east and west neighbours where the ray truly passes (float32, one is 0)."""
    true_offsets = np.arange(rows)[:, None] * np.asarray(s, dtype=float)[None, :]
    offsets = np.floor(true_offsets + 0.5).astype(np.int64)
    beside = (true_offsets - offsets).astype(np.float32)  # where the ray passes, from the centre
    return offsets, np.maximum(beside, np.float32(0.0)), np.maximum(-beside, np.float32(0.0))


def sideways_differences(surface_rot: Any, xp: Any) -> tuple[Any, Any]:
    """Height differences to the east and west neighbour in the turned raster (0 at edges and holes)."""
    zero = xp.float32(0.0)
    east = xp.zeros_like(surface_rot)
    west = xp.zeros_like(surface_rot)
    with np.errstate(invalid="ignore"):  # -inf - -inf between two holes: NaN, replaced by 0 below
        east[:, :-1] = surface_rot[:, 1:] - surface_rot[:, :-1]
        west[:, 1:] = surface_rot[:, :-1] - surface_rot[:, 1:]
    return xp.where(xp.isfinite(east), east, zero), xp.where(xp.isfinite(west), west, zero)


def sweep(
    surface_rot: Any,
    s: np.ndarray,
    drop: np.ndarray,
    on_row: RowSink,
    xp: Any,
    tolerance_m: float = 0.05,
) -> None:
    """Sweep one batch of sun positions over a raster already turned so the suns are on row 0's side.

    Calls ``on_row(r, lit)`` for every row r with ``lit`` a (batch, cols) boolean array (True =
    the cell gets beam light). ``s`` and ``drop`` come from `sweep_geometry` (one per sun).
    The surface is sampled where the ray truly passes (up to half a cell beside the cell centre,
    linearly interpolated with the sideways neighbour), so a plane lit by the sun never shades
    itself through the digital line's one-cell jumps; the propagated surface itself moves by whole
    cells only, so it is not blurred.
    """
    rows, cols = surface_rot.shape
    batch = len(s)
    offsets, east_np, west_np = ray_offsets(rows, s)
    steps = np.diff(offsets, axis=0, prepend=offsets[:1])  # (rows, batch), each -1, 0 or +1
    east_share = xp.asarray(east_np)[:, :, None]
    west_share = xp.asarray(west_np)[:, :, None]
    east, west = sideways_differences(surface_rot, xp)
    right = xp.asarray(steps == 1)[:, :, None]  # ray moves one column east (+1)
    left = xp.asarray(steps == -1)[:, :, None]
    any_right = (steps == 1).any(axis=1)
    any_left = (steps == -1).any(axis=1)
    drop_x = xp.asarray(np.asarray(drop, dtype=np.float32))[:, None]
    tol = xp.float32(tolerance_m)
    neg_inf = xp.float32(-np.inf)
    padded = xp.full((batch, cols + 2), neg_inf, dtype=xp.float32)  # -inf margins enter at the edges
    for r in range(rows):
        centre = surface_rot[r][None, :]
        on_ray = centre + east_share[r] * east[r][None, :] + west_share[r] * west[r][None, :]
        if r == 0:
            on_row(r, xp.ones((batch, cols), dtype=bool))
            padded[:, 1:-1] = on_ray
            continue
        arriving = padded[:, 1:-1]
        if any_right[r]:
            arriving = xp.where(right[r], padded[:, :-2], arriving)
        if any_left[r]:
            arriving = xp.where(left[r], padded[:, 2:], arriving)
        arriving = arriving - drop_x
        on_row(r, arriving <= xp.maximum(on_ray, centre) + tol)
        padded[:, 1:-1] = xp.maximum(arriving, on_ray)


@dataclass(frozen=True, eq=False)
class Selection:
    """The cells of a turned raster whose light a sweep reports, numbered in row-major order."""

    mask: np.ndarray  # (rows, cols) bool

    @cached_property
    def columns(self) -> list[np.ndarray]:
        """Per row, the selected columns."""
        return [np.flatnonzero(row) for row in self.mask]

    @cached_property
    def starts(self) -> np.ndarray:
        """Where each row's cells start in the numbering (rows + 1 entries; the last is `size`)."""
        return np.concatenate([[0], np.cumsum([cols.size for cols in self.columns])])

    @cached_property
    def positions(self) -> np.ndarray:
        """(rows, cols) int32: each selected cell's number, -1 elsewhere."""
        flat = self.mask.ravel()
        numbers = np.full(flat.size, -1, dtype=np.int32)
        numbers[flat] = np.arange(int(flat.sum()), dtype=np.int32)
        return numbers.reshape(self.mask.shape)

    @property
    def size(self) -> int:
        return int(self.starts[-1])


def sweep_lit(
    surface_rot: Any,
    s: np.ndarray,
    drop: np.ndarray,
    selection: Selection,
    xp: Any,
    tolerance_m: float = 0.05,
) -> Any:
    """Which selected cells each sun position lights: a (batch, selection.size) bool array on ``xp``.

    The turned raster, ``s`` and ``drop`` as for `sweep`. On CuPy the fused kernel of `sweep_gpu`
    does the work; on any other module, `sweep` row by row.
    """
    if FUSED_ON_GPU and is_gpu(xp):
        from parvis.modules.twin import sweep_gpu  # CuPy only: imported where a GPU is in use

        return sweep_gpu.sweep_lit(surface_rot, s, drop, selection, tolerance_m)
    width = surface_rot.shape[1]
    out = xp.zeros((len(s), selection.size), dtype=bool)
    columns = [xp.asarray(cols) if 0 < cols.size < width else None for cols in selection.columns]
    starts = selection.starts

    def keep(r: int, lit: Any) -> None:
        size = starts[r + 1] - starts[r]
        if size == width:
            out[:, starts[r] : starts[r + 1]] = lit
        elif size:
            out[:, starts[r] : starts[r + 1]] = lit[:, columns[r]]

    sweep(surface_rot, s, drop, keep, xp, tolerance_m)
    return out


def sunlit(
    dsm: Any,
    resolution: float,
    azimuth: float | np.ndarray,
    altitude: float | np.ndarray,
    xp: Any = np,
    *,
    nodata: Nodata = "raise",
    tolerance_m: float = 0.05,
    batch: int | None = None,
) -> np.ndarray:
    """Which cells of ``dsm`` get the sun's direct light, for one sun position or a batch.

    ``dsm``: heights (m), row 0 north, columns west to east, square cells of ``resolution`` m.
    ``azimuth`` (clockwise from north) and ``altitude`` in degrees, scalars or 1-d arrays.
    Returns a NumPy bool array, (rows, cols) for scalars or (n, rows, cols) for arrays; a sun at
    or below the horizon lights nothing. Nodata: see the module docstring. Work is done in
    batches of ``batch`` positions (default: `default_batch`) on ``xp`` (NumPy or CuPy).
    """
    scalar = np.ndim(azimuth) == 0 and np.ndim(altitude) == 0
    az = np.atleast_1d(np.asarray(azimuth, dtype=float))
    alt = np.atleast_1d(np.asarray(altitude, dtype=float))
    az, alt = np.broadcast_arrays(az, alt)
    surface, holes = prepare_dsm(dsm, nodata, xp)
    rows, cols = surface.shape
    out = np.zeros((len(az), rows, cols), dtype=bool)
    batch = batch or default_batch(xp)
    geometry = sweep_geometry(az, alt, resolution)
    up = alt > 0
    for k in range(4):
        chosen = np.flatnonzero(up & (geometry["k"] == k))
        if chosen.size == 0:
            continue
        turned = xp.rot90(surface, k)
        everything = Selection(np.ones(turned.shape, dtype=bool))
        for start in range(0, chosen.size, batch):
            ids = chosen[start : start + batch]
            s, drop = geometry["s"][ids], geometry["drop"][ids]
            lit_rot = sweep_lit(turned, s, drop, everything, xp, tolerance_m).reshape(len(ids), *turned.shape)
            lit = xp.rot90(lit_rot, -k, axes=(1, 2))
            if holes is not None:
                lit = lit & ~holes[None, :, :]
            out[ids] = to_numpy(lit)
    return out[0] if scalar else out
