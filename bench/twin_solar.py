"""Roof solar map: the whole-year roof irradiation of 1 km² at 1 m, in seconds per km².

Builds a deterministic synthetic surface model (``synthetic_city``): gently rolling terrain (a
valley and hills, 0-25 m) and about 2,000 buildings per km² on a jittered grid of 22 m lots
(45 x 45 per km²), 8-16 m wide, 4-20 m high with 1 in 20 a tower of 30-60 m, half with flat
roofs and half gable roofs (ridge east-west or north-south, pitch 15-40 degrees), each roof face
labelled with its tilt and azimuth. Then runs `roof_irradiation` with the demo city's clear-sky
year (15-minute steps binned per month, ~590 sun positions) and prints:

1. the number of sun positions, roof faces and roof cells;
2. seconds for the sky (pvlib, once per city) and for the roof map, in seconds per km²
   (target: <= 60 s per km² on the 2-core CI machine; <= 1 s per km² on one GPU);
3. a sanity line: mean annual irradiation of flat roofs and of south / north faces.

With ``--tile-m`` the map is computed by cores of that side, each inside the buffer that holds
its shadows (`solar_tiles`, what the city's run does past ``twin_solar_tile_m``); the figure per
km² then includes the buffers' extra work. With ``--gpu --compare-cpu`` it then computes the same
map on the CPU and prints the largest relative difference per face and per roof cell (the GPU
path must agree within 1 %). With ``--array-code`` CuPy runs the row-by-row array code instead
of the fused kernel (`sweep_gpu`), to show what the kernel saves.

Run: `.venv/bin/python bench/twin_solar.py [--size-m 1000] [--gpu [--compare-cpu] [--array-code] | --cpu]
[--tile-m 2000] [--batch 64]`
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from parvis.modules.twin import shadow
from parvis.modules.twin.backend import array_module
from parvis.modules.twin.solar import roof_irradiation
from parvis.modules.twin.solar_tiles import roof_irradiation_tiled
from parvis.modules.twin.sun import year_sky

LATITUDE, LONGITUDE, TIMEZONE = 16.463, 107.585, "Asia/Ho_Chi_Minh"


def synthetic_city(
    size_m: float = 1000.0, resolution: float = 1.0, seed: int = 6
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A deterministic DSM with roof faces: (dsm float32, labels int32, tilt, azimuth per label)."""
    rng = np.random.default_rng(seed)
    n = round(size_m / resolution)
    y, x = (np.mgrid[0:n, 0:n].astype(np.float32) + 0.5) * resolution
    terrain = (
        12.0
        + 6.0 * np.sin(x / 170.0) * np.cos(y / 230.0)
        + 8.0 * np.abs((y - size_m / 2) / (size_m / 2))  # a valley along the middle, west-east
    ).astype(np.float32)
    dsm = terrain.copy()
    labels = np.zeros((n, n), dtype=np.int32)
    tilt: list[float] = [0.0]
    azimuth: list[float] = [0.0]
    lots = max(1, round(45 * size_m / 1000.0))  # about 2,000 buildings per km²
    lot = size_m / lots
    for i in range(lots):
        for j in range(lots):
            width, depth = rng.uniform(8.0, min(16.0, lot - 4.0), size=2)
            west = j * lot + rng.uniform(1.0, lot - width - 1.0)
            north = i * lot + rng.uniform(1.0, lot - depth - 1.0)
            r0, r1 = int(north / resolution), int((north + depth) / resolution)
            c0, c1 = int(west / resolution), int((west + width) / resolution)
            if r1 - r0 < 3 or c1 - c0 < 3:
                continue
            tower = rng.random() < 0.05
            eave = rng.uniform(30.0, 60.0) if tower else rng.uniform(4.0, 20.0)
            base = float(terrain[r0:r1, c0:c1].min())
            block = (slice(r0, r1), slice(c0, c1))
            if tower or rng.random() < 0.5:
                dsm[block] = base + eave
                labels[block] = len(tilt)
                tilt.append(0.0)
                azimuth.append(180.0)
                continue
            pitch = rng.uniform(15.0, 40.0)
            slope = np.tan(np.radians(pitch))
            rows = (np.arange(r0, r1) + 0.5) * resolution
            cols = (np.arange(c0, c1) + 0.5) * resolution
            first, second = len(tilt), len(tilt) + 1
            if rng.random() < 0.5:  # ridge west-east: faces north (first) and south (second)
                ridge = (rows[0] + rows[-1]) / 2
                half = (rows[-1] - rows[0]) / 2
                height = base + eave + (half - np.abs(rows - ridge)) * slope
                dsm[block] = height[:, None]
                face = np.where(rows < ridge, first, second)
                labels[block] = face[:, None]
                azimuth += [0.0, 180.0]
            else:  # ridge north-south: faces west (first) and east (second)
                ridge = (cols[0] + cols[-1]) / 2
                half = (cols[-1] - cols[0]) / 2
                height = base + eave + (half - np.abs(cols - ridge)) * slope
                dsm[block] = height[None, :]
                face = np.where(cols < ridge, first, second)
                labels[block] = face[None, :]
                azimuth += [270.0, 90.0]
            tilt += [pitch, pitch]
    return dsm, labels, np.asarray(tilt), np.asarray(azimuth)


def gpu_name(cupy: object) -> str:
    """The CUDA device's name, as the driver gives it."""
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)  # type: ignore[attr-defined]
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-m", type=float, default=1000.0)
    parser.add_argument("--batch", type=int, default=None, help="sun positions per sweep (64 CPU, 256 GPU)")
    device = parser.add_mutually_exclusive_group()
    device.add_argument("--gpu", action="store_true", help="use CuPy (fails if no GPU)")
    device.add_argument("--cpu", action="store_true", help="force NumPy")
    parser.add_argument("--tile-m", type=float, default=None,
                        help="compute by cores of this side with their buffer (solar_tiles)")
    parser.add_argument("--compare-cpu", action="store_true", help="with --gpu: run on the CPU too, compare")
    parser.add_argument("--array-code", action="store_true", help="with --gpu: row-by-row CuPy")
    args = parser.parse_args()
    xp = array_module("gpu" if args.gpu else "cpu")
    if args.array_code:
        shadow.FUSED_ON_GPU = False

    dsm, labels, tilt, azimuth = synthetic_city(args.size_m)
    km2 = (args.size_m / 1000.0) ** 2
    buildings = int(np.count_nonzero(tilt == 0.0)) - 1 + int(np.count_nonzero(tilt > 0.0)) // 2
    print(f"synthetic city: {dsm.shape[0]} x {dsm.shape[1]} cells at 1 m ({km2:g} km²), "
          f"{buildings} buildings, {len(tilt) - 1} roof faces, {int((labels > 0).sum())} roof cells")

    start = time.perf_counter()
    sky = year_sky(LATITUDE, LONGITUDE, timezone=TIMEZONE)
    sky_s = time.perf_counter() - start
    print(f"sun positions: {len(sky)} (clear sky, 15 min binned per month), {sky_s:.1f} s")

    if xp.__name__ == "cupy":  # warm-up: CUDA context and kernel compilation are not the engine's cost
        small = slice(0, min(200, dsm.shape[0]))
        roof_irradiation(dsm[small, small], 1.0, labels[small, small], tilt, azimuth, sky, xp=xp)
        xp.cuda.Stream.null.synchronize()
    start = time.perf_counter()
    if args.tile_m:
        result = roof_irradiation_tiled(dsm, 1.0, labels, tilt, azimuth, sky, xp=xp, batch=args.batch,
                                        tile_m=args.tile_m)
    else:
        result = roof_irradiation(dsm, 1.0, labels, tilt, azimuth, sky, xp=xp, batch=args.batch)
    if xp.__name__ == "cupy":
        xp.cuda.Stream.null.synchronize()
    map_s = time.perf_counter() - start
    engine = result.backend + (" array code" if args.array_code else "")
    if args.tile_m:
        engine += f", {result.tiles} cores of {args.tile_m:g} m with a {result.buffer_m:.0f} m buffer"
    print(f"roof map ({engine}, batch {args.batch or 'default'}): {map_s:.2f} s -> "
          f"{map_s / km2:.2f} s per km² (target <= 60 s per km² on CPU, <= 1 s on a GPU; the sky, "
          f"computed once per city, is not included)")
    if xp.__name__ == "cupy":
        print(f"GPU: {gpu_name(xp)}, CuPy {xp.__version__}")
    if args.compare_cpu and xp.__name__ == "cupy":
        start = time.perf_counter()
        cpu = roof_irradiation(dsm, 1.0, labels, tilt, azimuth, sky, xp=np)
        cpu_s = time.perf_counter() - start
        faces = cpu.cells > 0
        faces[0] = False
        roof = labels > 0
        face_diff = np.abs(result.annual_kwh_m2[faces] / cpu.annual_kwh_m2[faces] - 1.0).max()
        month_diff = np.abs(result.monthly_kwh_m2[faces] / cpu.monthly_kwh_m2[faces] - 1.0).max()
        cell_diff = np.abs(result.cell_annual_kwh_m2[roof] / cpu.cell_annual_kwh_m2[roof] - 1.0).max()
        print(f"CPU (NumPy) on this machine: {cpu_s:.1f} s; GPU against CPU, largest relative difference: "
              f"{face_diff:.2e} per face (annual), {month_diff:.2e} per face (monthly), "
              f"{cell_diff:.2e} per roof cell (annual) (must be < 1e-2)")

    annual = result.annual_kwh_m2
    flat = (tilt == 0.0) & (result.cells > 0)
    pitched = tilt > 0
    groups = (("flat", flat), ("south", (azimuth == 180.0) & pitched), ("north", (azimuth == 0.0) & pitched))
    for name, mask in groups:
        mask = mask & (result.cells > 0)
        mask[0] = False
        print(f"mean annual irradiation, {name} faces: {np.nanmean(annual[mask]):.0f} kWh/m² "
              f"(shading loss {np.nanmean(result.shading_loss()[mask]) * 100:.1f} %)")


if __name__ == "__main__":
    main()
