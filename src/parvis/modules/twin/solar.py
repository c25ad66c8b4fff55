"""Roof solar potential: yearly and monthly irradiation of every roof face, and a PV estimate.

`roof_irradiation` is the engine behind the citizen's roof page and the city-wide solar map. For
every binned sun position of `sun.year_sky` (a few hundred over the year) and every roof face:

* beam: DNI x max(0, cos(angle of incidence on the face's plane)), counted only on the face's
  cells that the sun reaches (`shadow.sweep_lit` on the whole surface model), so the face's mean beam
  is its unshaded beam x the fraction of its cells that are sunlit at that sun position;
* sky diffuse: pvlib's Perez transposition for the face's tilt and azimuth (all three Perez
  components), x the face cell's `skyview.tilted_sky_view` (the share of the face's own sky that
  the surroundings leave visible; 1 in the open). Circumsolar light is thus reduced like the rest
  of the sky, not shaded with the beam: a simplification (at most a few % of the year's energy);
* ground-reflected: pvlib's isotropic ground term, GHI x albedo x (1 - cos tilt) / 2, unshaded.

Each term is weighted by the hours its sun position stands for and summed per month. A cell's
value is the irradiation of its face's plane: the face's tilt and azimuth, not the cell's local
slope. Faces are means over their cells. Everything is in kWh/m² of the face's own (sloped) area.

Cost: one shadow sweep per sun position over the raster (see `shadow`; rows after the last roof
row, away from the sun, are not swept), batched, plus horizon angles on the roof cells' bounding
box and the sky view's radius around it. `roof_irradiation` processes the raster whole (memory ~
cells x 4 bytes x (4 + directions) + batch x roof cells x 9 bytes); `solar_tiles` processes a
large one by cores, each inside the buffer that holds its shadows, through `roof_faces`,
`roof_cells` and `by_face`. Sun positions are swept in batches of ``batch`` (64 on the CPU, 256
on a GPU).

Clear sky is an upper bound: under real weather a year's irradiation is lower (in central Vietnam
roughly 1.3 to 1.5 times lower); give `sun.year_sky` the city's typical meteorological year to
get realistic kWh.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pvlib

from parvis.kernel.errors import N_
from parvis.modules.twin.backend import array_module, to_numpy
from parvis.modules.twin.errors import InvalidRoof
from parvis.modules.twin.shadow import (
    Nodata,
    Selection,
    default_batch,
    prepare_dsm,
    sweep_geometry,
    sweep_lit,
)
from parvis.modules.twin.skyview import horizon_angles, tilted_sky_view
from parvis.modules.twin.sun import SunSky

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RoofIrradiation:
    """Per face arrays are indexed by face label (index 0, "not a roof", is NaN).

    annual_kwh_m2, beam/diffuse/reflected_kwh_m2: (faces + 1,); monthly_kwh_m2: (faces + 1, 12);
    unshaded_beam_kwh_m2: the beam the face would get with nothing around it (shading loss =
    1 - beam / unshaded beam); sky_view: mean `tilted_sky_view` of the face's cells;
    cells: cells per face counted in the means; cell_annual_kwh_m2: raster, NaN off roofs and on
    nodata; positions: sun positions used; nodata_roof_cells: roof cells left out for lack of data.
    """

    annual_kwh_m2: np.ndarray
    monthly_kwh_m2: np.ndarray
    beam_kwh_m2: np.ndarray
    unshaded_beam_kwh_m2: np.ndarray
    diffuse_kwh_m2: np.ndarray
    reflected_kwh_m2: np.ndarray
    sky_view: np.ndarray
    cells: np.ndarray
    cell_annual_kwh_m2: np.ndarray
    positions: int
    backend: str
    nodata_roof_cells: int
    tiles: int = 1  # cores computed (`solar_tiles`: those holding roofs)
    buffer_m: float = 0.0  # the buffer around each core; 0: the raster computed whole

    def shading_loss(self) -> np.ndarray:
        """Share of each face's beam irradiation lost to shadows, 0..1 (NaN where no beam at all)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 - self.beam_kwh_m2 / self.unshaded_beam_kwh_m2


def _check_faces(
    face_labels: np.ndarray, shape: tuple[int, ...], tilt: np.ndarray, azimuth: np.ndarray
) -> int:
    if face_labels.shape != shape:
        raise InvalidRoof(
            N_("The roof-face raster (%(faces)s) and the surface model (%(dsm)s) differ in size."),
            params={"faces": str(face_labels.shape), "dsm": str(shape)},
        )
    if face_labels.size and int(face_labels.min()) < 0:
        raise InvalidRoof(N_("Roof-face labels must be 0 (no roof) or positive."))
    n_faces = int(face_labels.max()) if face_labels.size else 0
    if len(tilt) <= n_faces or len(azimuth) <= n_faces:
        raise InvalidRoof(
            N_("Roof face %(face)s has no tilt or azimuth."), params={"face": min(len(tilt), len(azimuth))}
        )
    used = np.zeros(n_faces + 1, dtype=bool)
    used[np.unique(face_labels)] = True
    used[0] = False
    tilt, azimuth = tilt[: n_faces + 1], azimuth[: n_faces + 1]  # labels above the highest used stay unread
    bad = used & ~((tilt >= 0) & (tilt <= 90) & np.isfinite(azimuth))
    if bad.any():
        face = int(np.flatnonzero(bad)[0])
        raise InvalidRoof(
            N_("Roof face %(face)s has a tilt of %(tilt)s degrees; a roof's tilt is 0 to 90 degrees."),
            params={"face": face, "tilt": float(tilt[face])},
        )
    return n_faces


def perez_coefficients(sky: SunSky) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sun position, the three coefficients of pvlib's Perez sky diffuse (W/m²).

    pvlib's Perez model gives a plane of tilt b whose beam projection is A = max(0, cos(aoi)):
    sky_diffuse = max(0, c1 (1 + cos b) + c2 A + c3 sin b), with c1 = DHI (1 - F1) / 2,
    c2 = DHI F1 / max(cos(zenith), cos(85°)) and c3 = DHI F2, where F1 and F2 (circumsolar and
    horizon brightening) depend on the sun and sky only. The coefficients are read from pvlib's
    own components on two reference planes (flat, and vertical facing the sun), so the face
    terms below are pvlib's Perez (``allsitescomposite1990``) evaluated for every face at once.
    """
    zen, azi = np.asarray(sky.zenith, dtype=float), np.asarray(sky.azimuth, dtype=float)
    args = (sky.dhi, sky.dni, sky.dni_extra, zen, azi, sky.airmass)
    flat = pvlib.irradiance.perez(np.zeros_like(zen), azi, *args, return_components=True)
    facing = pvlib.irradiance.perez(np.full_like(zen, 90.0), azi, *args, return_components=True)
    cos_zenith = np.maximum(np.cos(np.radians(zen)), 1e-9)
    c1 = np.nan_to_num(np.asarray(flat["poa_isotropic"], dtype=float)) / 2.0
    c2 = np.nan_to_num(np.asarray(flat["poa_circumsolar"], dtype=float)) / cos_zenith
    c3 = np.nan_to_num(np.asarray(facing["poa_horizon"], dtype=float))
    return c1, c2, c3


def _face_sky_terms(
    tilt: np.ndarray, azimuth: np.ndarray, sky: SunSky, albedo: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (face, sun) in kWh/m² (hours included): unshaded beam, Perez sky diffuse, ground-reflected.

    Beam projection as pvlib's ``aoi_projection``; ground as pvlib's ``get_ground_diffuse``
    (GHI x albedo x (1 - cos tilt) / 2); sky diffuse from `perez_coefficients`.
    """
    b = np.radians(np.asarray(tilt, dtype=float))[:, None]
    face_az = np.radians(np.asarray(azimuth, dtype=float))[:, None]
    zen = np.radians(np.asarray(sky.zenith, dtype=float))[None, :]
    sun_az = np.radians(np.asarray(sky.azimuth, dtype=float))[None, :]
    projection = np.cos(b) * np.cos(zen) + np.sin(b) * np.sin(zen) * np.cos(sun_az - face_az)
    projection = np.clip(projection, 0.0, None)
    beam = np.asarray(sky.dni, dtype=float)[None, :] * projection
    c1, c2, c3 = perez_coefficients(sky)
    diffuse = c1[None, :] * (1.0 + np.cos(b)) + c2[None, :] * projection + c3[None, :] * np.sin(b)
    diffuse = np.maximum(diffuse, 0.0)
    ground = np.asarray(sky.ghi, dtype=float)[None, :] * albedo * (1.0 - np.cos(b)) / 2.0
    weight = np.asarray(sky.hours, dtype=float)[None, :] / 1000.0
    return beam * weight, diffuse * weight, ground * weight


def roof_irradiation(
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
    nodata: Nodata = "raise",
    batch: int | None = None,
    skyview_directions: int = 16,
    skyview_radius_m: float = 100.0,
    tolerance_m: float = 0.05,
) -> RoofIrradiation:
    """Yearly and monthly irradiation (kWh/m²) of every roof face, with shading and sky view.

    ``dsm``: surface heights (m, row 0 north, square cells of ``resolution`` m); ``face_labels``:
    int raster, 0 = not a roof, k = roof face k; ``tilt``/``azimuth``: degrees per label (index
    0 unused); ``sky``: `sun.year_sky`; ``albedo``: ground reflectance for the reflected term.
    ``xp``: NumPy or CuPy (None: `backend.array_module("auto")`). ``progress(done, total)`` is
    called after each batch of ``batch`` sun positions (default `shadow.default_batch`).
    ``nodata``: "raise" refuses a DSM with NaN cells; "transparent" lets light pass over them
    and leaves roof cells without data out of the faces' means (counted in
    ``nodata_roof_cells``). ``tolerance_m``: see `shadow`. See the module docstring for the method.
    The raster is processed whole; `solar_tiles.roof_irradiation_tiled` processes it by tiles.
    """
    xp = array_module("auto") if xp is None else xp
    faces = roof_faces(face_labels, np.shape(dsm), tilt, azimuth, sky, albedo)
    cells = roof_cells(
        dsm, resolution, faces.labels, faces, sky, xp, progress, nodata=nodata, batch=batch,
        skyview_directions=skyview_directions, skyview_radius_m=skyview_radius_m, tolerance_m=tolerance_m,
    )
    return by_face(faces, cells, np.shape(dsm), len(sky), getattr(xp, "__name__", str(xp)))


@dataclass(frozen=True)
class RoofFaces:
    """The roof faces checked, with their unshaded sky terms per (face, sun) (kWh/m², hours in)."""

    labels: np.ndarray  # int64 raster
    n_faces: int
    tilt: np.ndarray  # (faces + 1,)
    azimuth: np.ndarray
    beam: np.ndarray  # (faces + 1, suns)
    diffuse: np.ndarray
    ground: np.ndarray
    month_hot: np.ndarray  # (suns, 12) float32: 1 where the sun position is in that month


@dataclass(frozen=True)
class RoofCells:
    """Per roof cell computed: its flat index in the raster, its face, its beam per month (12, n)
    and its `tilted_sky_view` (n,); ``nodata`` roof cells left out for lack of data."""

    flat: np.ndarray
    face: np.ndarray
    beam: np.ndarray
    view: np.ndarray
    nodata: int


def roof_faces(face_labels: Any, shape: tuple[int, ...], tilt: Any, azimuth: Any, sky: SunSky,
               albedo: float) -> RoofFaces:
    """Check the faces (`InvalidRoof`) and compute their unshaded sky terms."""
    labels = np.asarray(to_numpy(face_labels)).astype(np.int64)
    tilt_a = np.asarray(tilt, dtype=float)
    azimuth_a = np.asarray(azimuth, dtype=float) % 360.0
    n_faces = _check_faces(labels, tuple(shape), tilt_a, azimuth_a)
    tilt_f, azimuth_f = tilt_a[: n_faces + 1], azimuth_a[: n_faces + 1]
    beam, diffuse, ground = _face_sky_terms(np.nan_to_num(tilt_f), azimuth_f, sky, albedo)
    n_sun = len(sky)
    month_hot = np.zeros((n_sun, 12), dtype=np.float32)
    month_hot[np.arange(n_sun), np.asarray(sky.month) - 1] = 1.0
    return RoofFaces(labels, n_faces, tilt_f, azimuth_f, beam, diffuse, ground, month_hot)


def roof_cells(
    dsm: Any,
    resolution: float,
    labels: np.ndarray,
    faces: RoofFaces,
    sky: SunSky,
    xp: Any,
    progress: Progress | None = None,
    *,
    nodata: Nodata = "raise",
    batch: int | None = None,
    skyview_directions: int = 16,
    skyview_radius_m: float = 100.0,
    tolerance_m: float = 0.05,
) -> RoofCells:
    """Beam per month and sky view of the roof cells of ``labels`` (a raster the shape of ``dsm``,
    0 off roofs: a tile's buffer is left out by zeroing it), shaded by the whole of ``dsm``."""
    batch = batch or default_batch(xp)
    shape = tuple(np.shape(dsm))
    surface, holes_x = prepare_dsm(dsm, nodata, xp)
    holes = np.zeros(shape, dtype=bool) if holes_x is None else to_numpy(holes_x)
    roof = (labels > 0) & ~holes
    nodata_roof = int(((labels > 0) & holes).sum())
    roof_flat = np.flatnonzero(roof)
    face_of_cell = labels.ravel()[roof_flat]
    n_roof = roof_flat.size

    # Beam on each roof cell, per month: sweep the suns in batches, keep roof cells only.
    cell_beam = xp.zeros((12, n_roof), dtype=xp.float32)
    roof_id = np.full(shape, -1, dtype=np.int64)
    roof_id.ravel()[roof_flat] = np.arange(n_roof)
    geometry = sweep_geometry(sky.azimuth, sky.altitude, resolution)
    up = sky.altitude > 0
    done, total = 0, int(up.sum())
    for k in range(4):
        chosen = np.flatnonzero(up & (geometry["k"] == k))
        if chosen.size == 0 or n_roof == 0:
            done += chosen.size
            continue
        ids_rot = np.rot90(roof_id, k)
        # light travels down the turned raster's rows: rows after the last roof row are not swept
        last = int(np.flatnonzero((ids_rot >= 0).any(axis=1))[-1]) + 1
        ids_rot = ids_rot[:last]
        roof_rot = Selection(ids_rot >= 0)  # the roof cells, in the turned raster's reading order
        order = ids_rot[roof_rot.mask]
        face_order = xp.asarray(face_of_cell[order])
        turned = xp.rot90(surface, k)[:last]
        acc = xp.zeros((12, n_roof), dtype=xp.float32)
        for start in range(0, chosen.size, batch):
            ids = chosen[start : start + batch]
            s, drop = geometry["s"][ids], geometry["drop"][ids]
            lit_roof = sweep_lit(turned, s, drop, roof_rot, xp, tolerance_m)
            weights = xp.asarray(faces.beam[:, ids].T.astype(np.float32))  # (batch, faces + 1)
            contribution = xp.where(lit_roof, weights[:, face_order], xp.float32(0.0))
            acc += xp.asarray(faces.month_hot[ids].T) @ contribution
            done += len(ids)
            if progress is not None:
                progress(done, total)
        cell_beam[:, xp.asarray(order)] += acc
    if progress is not None and n_roof == 0:  # nothing swept (no roof, or only holes): done too
        progress(done, total)

    # Sky view of each roof cell, relative to its face's open-sky view.
    if n_roof:  # on the roof cells' bounding box and the sky view's radius around it only
        margin = math.ceil(max(1.0, skyview_radius_m / resolution))
        roof_rows, roof_cols = np.divmod(roof_flat, shape[1])
        top, left = max(0, int(roof_rows.min()) - margin), max(0, int(roof_cols.min()) - margin)
        bottom = min(shape[0], int(roof_rows.max()) + margin + 1)
        right = min(shape[1], int(roof_cols.max()) + margin + 1)
        horizon = horizon_angles(surface[top:bottom, left:right], resolution, skyview_directions,
                                 skyview_radius_m, xp)
        flat_x = xp.asarray((roof_rows - top) * (right - left) + roof_cols - left)
        horizon_roof = horizon.reshape(skyview_directions, -1)[:, flat_x]
        view_x = tilted_sky_view(horizon_roof, faces.tilt[face_of_cell], faces.azimuth[face_of_cell], xp)
        view = to_numpy(view_x).astype(float)
    else:
        view = np.zeros(0)
    beam_cells = to_numpy(cell_beam).astype(float)  # (12, n_roof)
    return RoofCells(roof_flat, face_of_cell, beam_cells, view, nodata_roof)


def by_face(faces: RoofFaces, cells: RoofCells, shape: tuple[int, ...], positions: int,
            backend: str) -> RoofIrradiation:
    """The faces' means over their cells, and the raster of the cells' annual irradiation."""
    n_faces, face_of_cell, view, beam_cells = faces.n_faces, cells.face, cells.view, cells.beam
    month_hot, diffuse_w, ground_w, beam_w = faces.month_hot, faces.diffuse, faces.ground, faces.beam
    counts = np.bincount(face_of_cell, minlength=n_faces + 1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(counts > 0, 1.0 / counts, np.nan)
        size = n_faces + 1
        by_month = [np.bincount(face_of_cell, weights=beam_cells[m], minlength=size) for m in range(12)]
        monthly_beam = np.stack(by_month, axis=1) * inv[:, None]
        mean_view = np.bincount(face_of_cell, weights=view, minlength=n_faces + 1) * inv
    monthly_diffuse = (diffuse_w @ month_hot) * mean_view[:, None]
    monthly_ground = (ground_w @ month_hot) * np.where(counts > 0, 1.0, np.nan)[:, None]
    monthly = monthly_beam + monthly_diffuse + monthly_ground
    unshaded = beam_w.sum(axis=1) * np.where(counts > 0, 1.0, np.nan)
    for per_face in (monthly, monthly_beam, monthly_diffuse, monthly_ground, mean_view, unshaded):
        per_face[0] = np.nan  # label 0 is "not a roof"

    cell_total = (
        beam_cells.sum(axis=0)
        + view * diffuse_w.sum(axis=1)[face_of_cell]
        + ground_w.sum(axis=1)[face_of_cell]
    )
    raster = np.full(shape, np.nan, dtype=np.float32)
    raster.ravel()[cells.flat] = cell_total
    return RoofIrradiation(
        annual_kwh_m2=monthly.sum(axis=1) if n_faces else np.full(1, np.nan),
        monthly_kwh_m2=monthly,
        beam_kwh_m2=monthly_beam.sum(axis=1),
        unshaded_beam_kwh_m2=unshaded,
        diffuse_kwh_m2=monthly_diffuse.sum(axis=1),
        reflected_kwh_m2=monthly_ground.sum(axis=1),
        sky_view=mean_view,
        cells=counts.astype(np.int64),
        cell_annual_kwh_m2=raster,
        positions=positions,
        backend=backend,
        nodata_roof_cells=cells.nodata,
    )


def best_plane_kwh_m2(sky: SunSky, latitude: float, albedo: float = 0.2) -> float:
    """Yearly irradiation (kWh/m²) of the best unshaded plane at the city under this sky: facing
    the equator, at the best tilt from 0 to 60 degrees. The reference a solar cadastre grades roofs
    against ("at least 80 % of the best")."""
    tilts = np.arange(0.0, 61.0, 1.0)
    azimuth = np.full_like(tilts, 180.0 if latitude >= 0 else 0.0)
    beam, diffuse, ground = _face_sky_terms(tilts, azimuth, sky, albedo)
    return float((beam + diffuse + ground).sum(axis=1).max())


@dataclass(frozen=True)
class PvEstimate:
    """A PV estimate for one face (floats) or many (arrays of the same shape).

    usable_area_m2: module area that fits; kwp: peak power; yearly_kwh: AC energy a year;
    saving: yearly_kwh x price (the city's currency); performance_ratio: AC kWh per kWp per
    kWh/m² of plane-of-array irradiation (the product of the losses below).
    """

    usable_area_m2: Any
    kwp: Any
    yearly_kwh: Any
    saving: Any
    performance_ratio: float


def pv_estimate(
    face_area_m2: Any,
    tilt: Any,
    annual_kwh_m2: Any,
    *,
    price_per_kwh: float,
    min_annual_kwh_m2: float = 1000.0,
    max_tilt_deg: float = 60.0,
    usable_fraction: float = 0.7,
    min_usable_area_m2: float = 5.0,
    module_efficiency: float = 0.20,
    packing_factor: float = 0.9,
    cell_temperature_c: float = 45.0,
    gamma_pdc: float = -0.004,
    system_losses_percent: float | None = None,
    inverter_efficiency: float = 0.96,
) -> PvEstimate:
    """Order-of-magnitude PV potential of roof faces, PVWatts-style. Every assumption is a parameter.

    * Area: ``face_area_m2`` is the face's own (sloped) area. Usable area = area x
      ``usable_fraction`` (edges, fire setbacks, chimneys, skylights: 0.7 by default), and 0 when
      the face gets less than ``min_annual_kwh_m2`` (1000 kWh/m² a year by default: under real
      weather in central Vietnam a good roof gets ~1600-1800, and the clear-sky model 1.3 to 1.5
      times that: scale this threshold to the sky used), is steeper than ``max_tilt_deg`` (60°:
      no module mounting) or when what is left is under ``min_usable_area_m2`` (5 m², ~1 kWp).
      A steep face turned away from the sun therefore comes out unusable. Flat roofs are counted
      with modules laid flat (or low east-west racks), using the flat roof's irradiation.
    * Size: kWp = usable area x ``module_efficiency`` (kWp per m² of module at 1000 W/m², 20 %)
      x ``packing_factor`` (frames and gaps, 0.9).
    * Yield: pvlib's ``pvwatts_dc`` applied to the year's plane-of-array irradiation (it is linear
      in irradiance) at an irradiance-weighted cell temperature ``cell_temperature_c`` (45 °C, a
      hot-climate figure) with ``gamma_pdc`` (-0.4 %/K), then pvlib's ``pvwatts_losses`` with
      shading set to 0 (shadows are already in the irradiation; ~11 % for soiling, mismatch,
      wiring, LID, nameplate and availability) unless ``system_losses_percent`` is given, then
      ``inverter_efficiency`` (0.96). Shading also causes electrical mismatch that this ignores,
      and the angle-of-incidence reflection loss (a few %) is not modelled.
    * Saving: yearly_kwh x ``price_per_kwh``: what the energy would cost from the grid, assuming
      it is all used on site (no export tariff, no investment cost): an order of magnitude.
    """
    area = np.asarray(face_area_m2, dtype=float)
    tilt_a = np.asarray(tilt, dtype=float)
    irradiation = np.nan_to_num(np.asarray(annual_kwh_m2, dtype=float))
    usable = area * usable_fraction
    usable = np.where(
        (irradiation >= min_annual_kwh_m2) & (tilt_a <= max_tilt_deg) & (usable >= min_usable_area_m2),
        usable,
        0.0,
    )
    kwp = usable * module_efficiency * packing_factor
    losses = (
        pvlib.pvsystem.pvwatts_losses(shading=0) if system_losses_percent is None else system_losses_percent
    )
    dc_factor = float(
        pvlib.pvsystem.pvwatts_dc(1000.0, temp_cell=cell_temperature_c, pdc0=1.0, gamma_pdc=gamma_pdc)
    )  # DC kW per kWp at 1000 W/m²: the temperature derate
    ratio = dc_factor * (1.0 - float(losses) / 100.0) * inverter_efficiency
    yearly = kwp * irradiation * ratio  # kWp x (kWh/m² / 1 kW/m²) = equivalent full-sun hours

    def plain(value: np.ndarray) -> Any:
        return float(value) if np.ndim(value) == 0 else value

    return PvEstimate(
        usable_area_m2=plain(usable),
        kwp=plain(kwp),
        yearly_kwh=plain(yearly),
        saving=plain(yearly * price_per_kwh),
        performance_ratio=ratio,
    )
