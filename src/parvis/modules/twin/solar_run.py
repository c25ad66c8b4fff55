"""The whole-city roof solar run, and the reads that the solar pages and API show from its results.

`run_solar` computes every roof face of the twin in one go and stores the figures per face:

1. **Surface and faces.** The buildings' roof faces (stored polygons, local metres) are rasterised
   on the terrain model (`roofs.burn_buildings`): a cell belongs to a face when its centre is
   inside the face's outline. The surface the shadows are cast on is the stored surface model
   (DSM: it also has the trees and everything else that was measured) when it has the terrain's
   grid, else the terrain with the roofs burnt in.
2. **Sky.** `sun.year_sky` at the twin's centre (converted to lon/lat), in the city's time zone:
   pvlib's clear sky every ``twin_sun_step_minutes`` (an upper bound: cloudless every day), or
   the city's typical meteorological year when ``twin_tmy_file`` is set (CSV ``time,ghi,dni,dhi``,
   hourly, W/m²).
3. **Irradiation.** `solar_tiles.roof_irradiation_tiled` (`solar.roof_irradiation`: shadows cast
   by the surface model for every sun position, Perez sky diffuse reduced by the sky-view factor,
   ground reflection, by cores of ``twin_solar_tile_m`` with the buffer that holds their shadows)
   on the ``twin_backend`` (NumPy, or CuPy on a GPU).
4. **PV.** `solar.pv_estimate` per face with the ``twin_pv_*`` settings and
   ``twin_electricity_price``.
5. **Store.** `actions.store_face_results` writes every face, so a rerun replaces all results;
   faces too small to hold one cell centre at the raster's resolution get no irradiation and
   zero PV.

Progress goes to ``twin_runs`` (kind ``solar``); any failure marks the run failed with a message a
person can act on, and the previous results stay until a run succeeds.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from parvis.kernel.db import Database
from parvis.kernel.errors import N_, ParvisError
from parvis.modules import city
from parvis.modules.twin import actions, queries, solar_charts
from parvis.modules.twin.backend import array_module
from parvis.modules.twin.errors import NoTerrain, TwinError
from parvis.modules.twin.grid import transformer
from parvis.modules.twin.models import Building, RoofFaceRow, Run
from parvis.modules.twin.roofs import burn_buildings
from parvis.modules.twin.solar import best_plane_kwh_m2, pv_estimate
from parvis.modules.twin.solar_tiles import roof_irradiation_tiled
from parvis.modules.twin.sun import SunSky, year_sky

log = logging.getLogger(__name__)

KIND = "solar"
Progress = Callable[[str, float], None]


class NoBuildings(TwinError):
    status = 409
    type_slug = "twin-no-buildings"
    title = N_("The twin has no buildings with roof faces: import buildings first.")


class BadTmyFile(TwinError):
    type_slug = "twin-bad-tmy"
    title = N_("The typical meteorological year file cannot be used.")


@dataclass(frozen=True)
class SolarRunResult:
    run_id: int
    faces: int
    buildings: int
    positions: int
    backend: str
    seconds: float
    sky: str  # "clear sky" or "typical year"
    threshold_kwh_m2: float = 0.0  # the yearly irradiation a face needed to be suggested for PV
    best_kwh_m2: float = 0.0  # the best unshaded plane at the city under the same sky
    tiles: int = 1  # cores of twin_solar_tile_m computed (those holding roofs)
    buffer_m: float = 0.0  # their buffer; 0: the surface model computed whole


# ------------------------------------------------------------------------------------ the run


def load_tmy(path: str | Path, timezone: str) -> pd.DataFrame:
    """A typical meteorological year from a CSV with columns time, ghi, dni, dhi (W/m²).

    Times without a zone are local times in ``timezone``. A missing file, a missing column, an
    unreadable time or fewer than 24 rows is a `BadTmyFile` saying so."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise BadTmyFile(
            N_("The typical year file %(path)s cannot be read: %(why)s"),
            params={"path": str(path), "why": str(exc)[:200]},
        ) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("time", "ghi", "dni", "dhi") if c not in frame.columns]
    if missing:
        raise BadTmyFile(
            N_("The typical year file lacks the columns %(columns)s (needs time, ghi, dni, dhi)."),
            params={"columns": ", ".join(missing)},
        )
    try:
        index = pd.DatetimeIndex(pd.to_datetime(frame["time"]))
        values = frame[["ghi", "dni", "dhi"]].astype(float)
    except (ValueError, TypeError) as exc:
        raise BadTmyFile(
            N_("The typical year file has a value that is not a time or a number: %(why)s"),
            params={"why": str(exc)[:200]},
        ) from None
    if len(frame) < 24:
        raise BadTmyFile(
            N_("The typical year file has only %(rows)s rows; it needs a year of hours."),
            params={"rows": len(frame)},
        )
    if index.tz is None:
        index = index.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    values.index = index
    return values[~values.index.isna()]


@functools.lru_cache(maxsize=4)
def clear_sky(
    latitude: float, longitude: float, altitude_m: float, timezone: str, step_minutes: int
) -> SunSky:
    """`sun.year_sky` under clear sky, kept for the process's next runs (the same city's sky
    is the same every year: pvlib's turbidity is a climatology)."""
    return year_sky(latitude, longitude, altitude_m=altitude_m, timezone=timezone, step_minutes=step_minutes)


def twin_location(
    session: Session, dtm_crs: str, bounds: tuple[float, float, float, float]
) -> tuple[float, float]:
    """(lon, lat) of the centre of the twin's terrain model."""
    west, south, east, north = bounds
    to_lonlat = transformer(dtm_crs, "EPSG:4326")
    lon, lat = to_lonlat(np.array([[(west + east) / 2, (south + north) / 2]]))[0]
    return float(lon), float(lat)


def suitability_threshold(best_kwh_m2: float, settings: Any) -> float:
    """The yearly irradiation (kWh/m²) a roof face needs to be suggested for PV: the larger of
    ``twin_pv_min_annual_kwh_m2`` (an absolute floor) and ``twin_pv_min_share_of_best`` of
    ``best_kwh_m2``, the best unshaded plane at the city under the same sky. The relative part keeps
    the grading meaningful whatever the sky: under clear sky (an upper bound) the absolute floor
    alone lets every roof pass."""
    share = getattr(settings, "twin_pv_min_share_of_best", 0.0) or 0.0
    return max(float(settings.twin_pv_min_annual_kwh_m2), share * best_kwh_m2)


def _report(
    progress: Progress | None, db: Database, run_id: int, stage: str, fraction: float, last: dict[str, float]
) -> None:
    """Progress to the caller (every call) and to twin_runs (at most every 2 % or 1 s)."""
    if progress is not None:
        progress(stage, fraction)
    now = time.monotonic()
    if fraction >= 1.0 or fraction - last["fraction"] >= 0.02 or now - last["at"] >= 1.0:
        actions.progress_run(db, run_id, fraction, message=stage)
        last["fraction"], last["at"] = fraction, now


def run_solar(
    db: Database,
    settings: Any,
    *,
    run_id: int | None = None,
    progress: Progress | None = None,
    xp: Any = None,
) -> SolarRunResult:
    """Compute and store the roof solar potential of every roof face of the twin (method: the
    module's docstring). ``run_id``: a run opened by `jobs.request_solar_run` (else one is
    opened here). ``progress(stage, fraction)`` is told as it goes. ``xp``: the array module
    (default: ``settings.twin_backend``). A failure marks the run failed and is raised again."""
    started = time.perf_counter()
    if run_id is None:
        run_id = actions.start_run(db, KIND, message="loading")
    else:
        actions.progress_run(db, run_id, 0.0, message="loading")
    last = {"fraction": 0.0, "at": time.monotonic()}
    try:
        result = _compute(db, settings, run_id, progress, xp, last, started)
    except Exception as exc:
        message = (
            exc.message()
            if isinstance(exc, TwinError)
            else (
                str(exc.detail or exc.title)
                if isinstance(exc, ParvisError)
                else f"{type(exc).__name__}: {exc}"
            )
        )
        log.warning("solar run %s failed: %s", run_id, message)
        actions.finish_run(db, run_id, ok=False, message=message)
        raise
    actions.finish_run(
        db,
        run_id,
        ok=True,
        message=(
            f"{result.faces} roof faces of {result.buildings} buildings, {result.positions} sun positions "
            f"({result.sky}, {result.backend}), {result.seconds:.1f} s"
            + tiles_note(result)
        ),
        details={"sky": result.sky, "pv_threshold_kwh_m2": round(result.threshold_kwh_m2, 1),
                 "best_plane_kwh_m2": round(result.best_kwh_m2, 1), "tiles": result.tiles},
    )
    return result


def _compute(
    db: Database,
    settings: Any,
    run_id: int,
    progress: Progress | None,
    xp: Any,
    last: dict[str, float],
    started: float,
) -> SolarRunResult:
    data_dir = Path(settings.data_dir)
    with db.read() as session:
        dtm = queries.load_grid(session, data_dir, "dtm")
        if dtm is None:
            raise NoTerrain(N_("The twin has no terrain model (DTM): import one before the solar run."))
        dsm = queries.load_grid(session, data_dir, "dsm")
        shapes, building_ids = queries.building_shapes(session)
        rows = session.execute(
            select(RoofFaceRow.id, RoofFaceRow.tilt, RoofFaceRow.azimuth, RoofFaceRow.area_m2).order_by(
                RoofFaceRow.id
            )
        ).all()
        lon, lat = twin_location(session, dtm.crs, dtm.bounds)
    if not rows:
        raise NoBuildings()
    face_ids = np.array([r[0] for r in rows], dtype=np.int64)
    tilt = np.concatenate([[0.0], [r[1] for r in rows]])
    azimuth = np.concatenate([[0.0], [r[2] for r in rows]])
    area = np.array([r[3] for r in rows], dtype=float)
    _report(progress, db, run_id, "surface", 0.02, last)

    burnt, labels = burn_buildings(dtm, shapes)  # labels are face ids
    compact = np.zeros(labels.shape, dtype=np.int32)  # 1..n in face_ids' order
    on_roof = labels > 0
    compact[on_roof] = np.searchsorted(face_ids, labels[on_roof]) + 1
    surface = (
        dsm.values if dsm is not None and dsm.shape == dtm.shape and dsm.transform == dtm.transform else burnt
    )
    ground = float(np.nanmean(dtm.values)) if np.isfinite(dtm.values).any() else 0.0

    _report(progress, db, run_id, "sky", 0.05, last)
    tmy_file = getattr(settings, "twin_tmy_file", "") or ""
    tmy = load_tmy(tmy_file, settings.timezone) if tmy_file else None
    step = getattr(settings, "twin_sun_step_minutes", 15)
    if tmy is None:
        sky = clear_sky(round(lat, 4), round(lon, 4), round(ground), settings.timezone, step)
    else:
        sky = year_sky(lat, lon, altitude_m=ground, timezone=settings.timezone, step_minutes=step, tmy=tmy)
    xp = xp if xp is not None else array_module(getattr(settings, "twin_backend", "auto"))

    def shading(done: int, total: int) -> None:
        _report(progress, db, run_id, "shadows", 0.08 + 0.84 * done / max(total, 1), last)

    result = roof_irradiation_tiled(
        surface,
        dtm.resolution,
        compact,
        tilt,
        azimuth,
        sky,
        albedo=getattr(settings, "twin_albedo", 0.2),
        xp=xp,
        progress=shading,
        nodata="transparent",
        tile_m=getattr(settings, "twin_solar_tile_m", 1000.0),
    )
    _report(progress, db, run_id, "storing", 0.94, last)
    annual = result.annual_kwh_m2[1:]
    monthly = result.monthly_kwh_m2[1:]
    best = best_plane_kwh_m2(sky, lat, getattr(settings, "twin_albedo", 0.2))
    threshold = suitability_threshold(best, settings)
    pv = pv_estimate(
        area,
        tilt[1:],
        annual,
        price_per_kwh=settings.twin_electricity_price,
        min_annual_kwh_m2=threshold,
        usable_fraction=settings.twin_pv_usable_fraction,
        module_efficiency=settings.twin_pv_module_efficiency,
    )
    items = []
    for k, face_id in enumerate(face_ids.tolist()):
        known = bool(np.isfinite(annual[k]))
        items.append(
            {
                "id": face_id,
                "annual_kwh_m2": float(annual[k]) if known else None,
                "monthly_kwh_m2": monthly[k].tolist() if known else None,
                "usable_area_m2": float(pv.usable_area_m2[k]),
                "kwp": float(pv.kwp[k]),
                "yearly_kwh": float(pv.yearly_kwh[k]),
                "saving": float(pv.saving[k]),
            }
        )
    actions.store_face_results(db, items)
    _report(progress, db, run_id, "done", 1.0, last)
    return SolarRunResult(
        run_id=run_id,
        faces=len(items),
        buildings=len(building_ids),
        positions=len(sky),
        backend=result.backend,
        seconds=time.perf_counter() - started,
        sky="typical year" if tmy is not None else "clear sky",
        threshold_kwh_m2=threshold,
        best_kwh_m2=best,
        tiles=result.tiles,
        buffer_m=result.buffer_m,
    )


def tiles_note(result: SolarRunResult) -> str:
    """", 4 tiles with a 853 m buffer" when the surface model was computed by tiles, else ""."""
    return f", {result.tiles} tiles with a {result.buffer_m:.0f} m buffer" if result.buffer_m > 0 else ""


# ---------------------------------------------------------------------- reads for pages and API


def latest_run(session: Session) -> dict[str, Any] | None:
    """The newest solar run (queued, running, done or failed), or None if there was none."""
    run_id = session.scalar(select(Run.id).where(Run.kind == KIND).order_by(Run.id.desc()).limit(1))
    return queries.run(session, run_id) if run_id is not None else None


def computed_with(session: Session) -> dict[str, Any]:
    """What the figures on show were computed with (the last finished run): ``sky``,
    ``pv_threshold_kwh_m2`` and ``best_plane_kwh_m2``; empty before any run finished."""
    details = session.scalar(select(Run.details).where(Run.kind == KIND, Run.status == "done")
                             .order_by(Run.id.desc()).limit(1))
    return dict(details or {})


def colour_thresholds(session: Session) -> tuple[float, ...]:
    """The colour classes of the figures on show: shares of the best plane their run found
    (``solar_charts.thresholds_for``); the fixed classes before any run said so."""
    return solar_charts.thresholds_for(computed_with(session).get("best_plane_kwh_m2"))


def run_state(session: Session) -> dict[str, Any]:
    """What a page says about the computation: ``computing`` (a run is queued or running, with its
    ``percent``), ``failed`` (the last run failed: ``message``), ``done`` or ``never``."""
    run = latest_run(session)
    if run is None:
        return {"state": "never", "percent": 0, "message": "", "run": None}
    if run["status"] in ("queued", "running"):
        return {"state": "computing", "percent": math.floor(run["progress"] * 100), "message": "", "run": run}
    return {
        "state": "done" if run["status"] == "done" else "failed",
        "percent": 100 if run["status"] == "done" else int(run["progress"] * 100),
        "message": run["message"],
        "run": run,
    }


def _sum(values: list[float | None]) -> float:
    return float(sum(v for v in values if v is not None))


def building_solar(session: Session, building_id: int) -> dict[str, Any] | None:
    """One building's roof for the citizen's page: its faces (with their local polygon, for the
    drawing) and figures, and the building's totals. None when the building does not exist.

    ``computed`` is False until a run has stored this building's faces. Totals: usable area, kWp,
    yearly kWh and saving are sums over the faces; ``annual_kwh_m2`` is the area-weighted mean
    irradiation of the faces; ``monthly_kwh`` is the suggested installation's production per
    month (each face's yearly kWh spread like its monthly irradiation), and
    ``monthly_kwh_m2`` the best face's monthly irradiation."""
    found = queries.building(session, building_id)
    if found is None:
        return None
    polygons = dict(
        session.execute(
            select(RoofFaceRow.id, RoofFaceRow.polygon_local).where(RoofFaceRow.building_id == building_id)
        ).all()
    )
    faces = found["faces"]
    for number, face in enumerate(faces, start=1):
        face["number"] = number
        face["polygon"] = json.loads(polygons[face["id"]]) if face["id"] in polygons else None
        face["suitable"] = bool(face["usable_area_m2"])
    computed = bool(faces) and all(f["computed_at"] is not None for f in faces)
    known = [f for f in faces if f["annual_kwh_m2"] is not None]
    total_area = sum(f["area_m2"] for f in known)
    monthly_kwh = [0.0] * 12
    for f in known:
        if f["yearly_kwh"] and f["monthly_kwh_m2"] and f["annual_kwh_m2"]:
            for m in range(12):
                monthly_kwh[m] += f["yearly_kwh"] * f["monthly_kwh_m2"][m] / f["annual_kwh_m2"]
    best = max(known, key=lambda f: f["annual_kwh_m2"], default=None)
    found["computed"] = computed
    found["totals"] = {
        "area_m2": _sum([f["area_m2"] for f in faces]),
        "annual_kwh_m2": (
            sum(f["annual_kwh_m2"] * f["area_m2"] for f in known) / total_area if total_area > 0 else None
        ),
        "best_kwh_m2": best["annual_kwh_m2"] if best else None,
        "usable_area_m2": _sum([f["usable_area_m2"] for f in faces]),
        "kwp": _sum([f["kwp"] for f in faces]),
        "yearly_kwh": _sum([f["yearly_kwh"] for f in faces]),
        "saving": _sum([f["saving"] for f in faces]),
        "monthly_kwh": monthly_kwh,
        "monthly_kwh_m2": best["monthly_kwh_m2"] if best else None,
        "suitable_faces": sum(1 for f in faces if f["suitable"]),
    }
    return found


def district_stats(session: Session) -> dict[str, Any]:
    """Per district (the city's districts, plus "outside any district" when some buildings are):
    buildings, buildings with a suitable roof (at least one face with usable area), their share,
    suitable roof area (m²), kWp and yearly MWh; and the city's totals (the rows add up to them)."""
    names = city.district_names(session)
    per_building: dict[int, dict[str, float]] = {}
    stmt = select(
        RoofFaceRow.building_id, RoofFaceRow.usable_area_m2, RoofFaceRow.kwp, RoofFaceRow.yearly_kwh
    )
    for building_id, usable, kwp, yearly in session.execute(stmt):
        acc = per_building.setdefault(building_id, {"usable": 0.0, "kwp": 0.0, "kwh": 0.0})
        acc["usable"] += usable or 0.0
        acc["kwp"] += kwp or 0.0
        acc["kwh"] += yearly or 0.0
    rows: dict[int | None, dict[str, Any]] = {}
    for building_id, district_id in session.execute(select(Building.id, Building.district_id)):
        row = rows.setdefault(
            district_id,
            {
                "district_id": district_id,
                "name": names.get(district_id or -1),
                "buildings": 0,
                "suitable_buildings": 0,
                "usable_area_m2": 0.0,
                "kwp": 0.0,
                "yearly_mwh": 0.0,
            },
        )
        acc = per_building.get(building_id, {"usable": 0.0, "kwp": 0.0, "kwh": 0.0})
        row["buildings"] += 1
        row["suitable_buildings"] += 1 if acc["usable"] > 0 else 0
        row["usable_area_m2"] += acc["usable"]
        row["kwp"] += acc["kwp"]
        row["yearly_mwh"] += acc["kwh"] / 1000.0
    ordered = sorted(rows.values(), key=lambda r: (r["district_id"] is None, (r["name"] or "").lower()))
    total = {
        "district_id": None,
        "name": None,
        "buildings": 0,
        "suitable_buildings": 0,
        "usable_area_m2": 0.0,
        "kwp": 0.0,
        "yearly_mwh": 0.0,
    }
    for row in ordered:
        row["share_suitable"] = row["suitable_buildings"] / row["buildings"] if row["buildings"] else 0.0
        for key in ("buildings", "suitable_buildings", "usable_area_m2", "kwp", "yearly_mwh"):
            total[key] += row[key]
    total["share_suitable"] = total["suitable_buildings"] / total["buildings"] if total["buildings"] else 0.0
    return {"districts": ordered, "total": total}


def twin_bounds_lonlat(session: Session) -> list[float] | None:
    """[lon_min, lat_min, lon_max, lat_max] of the twin's terrain model, for the map's first view."""
    row = queries.layer(session, "dtm") or queries.layer(session, "dsm")
    if row is None:
        return None
    to_lonlat = transformer(row.crs, "EPSG:4326")
    corners = to_lonlat(
        np.array(
            [[row.west, row.south], [row.east, row.north], [row.west, row.north], [row.east, row.south]],
            dtype=float,
        )
    )
    return [
        float(corners[:, 0].min()),
        float(corners[:, 1].min()),
        float(corners[:, 0].max()),
        float(corners[:, 1].max()),
    ]


def face_outline(face: dict[str, Any]) -> Any:
    """A face's outline (shapely, local metres) or None."""
    return shape(face["polygon"]) if face.get("polygon") else None
