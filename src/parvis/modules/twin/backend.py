"""Choose the array library the twin's raster engines run on: NumPy on the CPU, CuPy on a CUDA GPU.

The engines (`shadow`, `skyview`, `solar`) are written once against an array module passed as
``xp`` (NumPy's API, which CuPy mirrors), so the GPU path is the same code as the CPU path: only the
place where the arrays live changes. Results come back to the caller as NumPy arrays
(`to_numpy`). CuPy is an optional extra (``pip install parvis[gpu]``); nothing here needs it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Literal

import numpy

Prefer = Literal["auto", "cpu", "gpu"]


class GpuUnavailableError(RuntimeError):
    """A GPU was required (``prefer="gpu"``) but CuPy or a CUDA device is missing."""


def _cupy_with_device() -> tuple[ModuleType | None, str]:
    """Return (cupy, "") when CuPy imports and sees at least one CUDA device, else (None, why)."""
    try:
        import cupy  # type: ignore[import-not-found]
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        return None, f"CuPy is not importable ({exc.__class__.__name__}: {exc})"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # no driver, no device
        return None, f"CuPy sees no CUDA device ({exc.__class__.__name__}: {exc})"
    if count < 1:
        return None, "CuPy sees no CUDA device"
    return cupy, ""


def array_module(prefer: Prefer = "auto") -> ModuleType:
    """Return the array module for the engines.

    ``"auto"``: CuPy when it is importable AND a CUDA device is present, else NumPy.
    ``"cpu"``: NumPy, always. ``"gpu"``: CuPy, or `GpuUnavailableError` saying why not.
    """
    if prefer == "cpu":
        return numpy
    if prefer not in ("auto", "gpu"):
        raise ValueError(f"prefer must be 'auto', 'cpu' or 'gpu', not {prefer!r}")
    cupy, why = _cupy_with_device()
    if cupy is not None:
        return cupy
    if prefer == "gpu":
        raise GpuUnavailableError(f"a GPU was asked for but cannot be used: {why}")
    return numpy


def is_gpu(xp: Any) -> bool:
    """True when ``xp`` is CuPy (the arrays live on a GPU)."""
    return getattr(xp, "__name__", "") == "cupy"


def to_numpy(array: Any) -> numpy.ndarray:
    """Bring an array from any backend to a NumPy array (a no-op for NumPy arrays)."""
    if isinstance(array, numpy.ndarray):
        return array
    get = getattr(array, "get", None)  # CuPy arrays copy to the host with .get()
    if callable(get):
        return numpy.asarray(get())
    return numpy.asarray(array)
