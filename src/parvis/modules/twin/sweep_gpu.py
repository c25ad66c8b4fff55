"""The shadow sweep as one CUDA kernel (CuPy), for `shadow.sweep_lit` when the arrays live on a GPU.

`shadow.sweep` walks the rows in Python and does a dozen whole-array operations per row: on a
GPU that is a dozen kernel launches per row, ~50,000 for a square kilometre at 1 m, and their
launch cost, not the arithmetic, sets the time. Here each GPU thread follows one ray of one sun
position down the rows (rays are independent: a ray's column at row r is j + round(r * s), see
`shadow`), carrying its shadow surface in a register, so a whole batch of sun positions is one
launch.

Same answer as the array code, cell for cell: the ray offsets and the neighbours' shares come
from `shadow.ray_offsets` (computed on the host, in float64, as there), the east and west
differences from `shadow.sideways_differences`, and the float32 arithmetic is written with
round-to-nearest intrinsics in the array code's order (no fused multiply-add), so
``arriving <= max(on_ray, centre) + tolerance`` compares the same numbers. A ray that leaves the
raster loses its surface; one entering from beyond the edge brings none (-inf), as the array
code's -inf margins do. The tests marked ``gpu`` compare both on random scenes.

CuPy compiles the kernel (NVRTC) at its first use and caches it on disk.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from parvis.modules.twin.shadow import Selection, ray_offsets, sideways_differences

if TYPE_CHECKING:
    import cupy  # type: ignore[import-not-found]

THREADS = 256

_SOURCE = r"""
extern "C" __global__ void sweep_lit(
    const float* __restrict__ surface, const float* __restrict__ east, const float* __restrict__ west,
    const int* __restrict__ offsets, const float* __restrict__ east_share,
    const float* __restrict__ west_share, const float* __restrict__ drop,
    const int* __restrict__ positions, bool* __restrict__ out,
    const int rows, const int cols, const int batch, const int ray_min, const int n_rays,
    const long long n_out, const float tolerance)
{
    const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (thread >= (long long)batch * n_rays) return;
    const int b = (int)(thread / n_rays);          /* the sun position */
    const int j = ray_min + (int)(thread % n_rays); /* the ray: its column at row 0 */
    const float minus_inf = __int_as_float(0xff800000);
    const float fall = drop[b];
    bool* lit_out = out + (long long)b * n_out;
    float shadow_surface = minus_inf;
    for (int r = 0; r < rows; ++r) {
        const long long rb = (long long)r * batch + b;
        const int c = j + offsets[rb];
        if (c < 0 || c >= cols) { shadow_surface = minus_inf; continue; }
        const long long cell = (long long)r * cols + c;
        const float centre = surface[cell];
        const float on_ray = __fadd_rn(__fadd_rn(centre, __fmul_rn(east_share[rb], east[cell])),
                                       __fmul_rn(west_share[rb], west[cell]));
        bool lit = true;
        if (r == 0) {
            shadow_surface = on_ray;
        } else {
            const float arriving = __fsub_rn(shadow_surface, fall);
            lit = arriving <= __fadd_rn(fmaxf(on_ray, centre), tolerance);
            shadow_surface = fmaxf(arriving, on_ray);
        }
        const int p = positions[cell];
        if (p >= 0) lit_out[p] = lit;
    }
}
"""


@cache
def _kernel() -> Any:
    import cupy  # type: ignore[import-not-found]

    return cupy.RawKernel(_SOURCE, "sweep_lit", options=("--fmad=false",))


def sweep_lit(
    surface_rot: cupy.ndarray, s: np.ndarray, drop: np.ndarray, selection: Selection, tolerance_m: float
) -> cupy.ndarray:
    """`shadow.sweep_lit` on CuPy arrays: (batch, selection.size) bool, True where the sun lights."""
    import cupy  # type: ignore[import-not-found]

    rows, cols = surface_rot.shape
    batch = len(s)
    offsets, east_share, west_share = ray_offsets(rows, s)
    surface = cupy.ascontiguousarray(surface_rot, dtype=cupy.float32)
    east, west = (cupy.ascontiguousarray(a) for a in sideways_differences(surface, cupy))
    last = offsets[-1] if rows else np.zeros(batch, dtype=np.int64)
    high, low = max(0, int(last.max(initial=0))), min(0, int(last.min(initial=0)))
    ray_min, n_rays = -high, cols + high - low  # every ray that crosses the raster somewhere
    out = cupy.zeros((batch, selection.size), dtype=cupy.bool_)
    if batch == 0 or selection.size == 0:
        return out
    threads = batch * n_rays
    _kernel()(
        ((threads + THREADS - 1) // THREADS,),
        (THREADS,),
        (
            surface,
            east,
            west,
            cupy.asarray(offsets.astype(np.int32)),
            cupy.asarray(np.ascontiguousarray(east_share, dtype=np.float32)),
            cupy.asarray(np.ascontiguousarray(west_share, dtype=np.float32)),
            cupy.asarray(np.asarray(drop, dtype=np.float32)),
            cupy.asarray(selection.positions),
            out,
            np.int32(rows),
            np.int32(cols),
            np.int32(batch),
            np.int32(ray_min),
            np.int32(n_rays),
            np.int64(selection.size),
            np.float32(tolerance_m),
        ),
    )
    return out
