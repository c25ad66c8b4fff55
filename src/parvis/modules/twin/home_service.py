"""Glue of "My home": the city's settings and the twin's data to the insulation and thermography
engines, shaped for the page and the JSON API.

- :func:`read_form` turns the form's text (or the API's JSON) into :class:`insulation.HomeInputs`,
  with one translated message per wrong field; :func:`compute` runs the estimate and the "what if"
  improvements with the city's degree-days, prices, improvement costs and typology; nothing the
  person types is stored or logged.
- :func:`prefill` reads what the twin knows about a building (period, floor area, storeys,
  attached sides, roof, wall and window types, heating) and says which fields it filled.
- :func:`classify_thermography` classifies every roof of the twin from the imported thermography
  raster (median of each roof's pixels, six levels: see ``thermography.py``) and stores the levels.
- :func:`link_demo_owner` gives the demo twin a generated thermography and links the demo citizen to
  one house, so the demo shows a level on "My home".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from shapely.geometry import shape
from sqlalchemy import select

from parvis.kernel.db import Database
from parvis.kernel.errors import N_, ParvisError, ValidationFailed
from parvis.kernel.i18n import _
from parvis.modules.twin import actions, owners, queries
from parvis.modules.twin.grid import Grid, reproject_geometries, write_geotiff
from parvis.modules.twin.insulation import (
    CARRIERS,
    DEFAULT_HORIZON_YEARS,
    HEATING_SYSTEM_LABELS,
    NO_PAYBACK_LABELS,
    EnergyPrices,
    HomeEstimate,
    HomeInputs,
    Improvement,
    ImprovementCosts,
    InvalidHomeInputs,
    estimate,
    improvements,
)
from parvis.modules.twin.models import Building
from parvis.modules.twin.thermography import classify_roofs
from parvis.modules.twin.typology import (
    ROOF_TYPE_LABELS,
    WALL_TYPE_LABELS,
    WINDOW_TYPE_LABELS,
    Typology,
    load_typology,
)

#: The form's fields, in order, with their labels (source strings).
FIELD_LABELS: dict[str, str] = {
    "period": N_("Construction period"),
    "year": N_("Or the year it was built"),
    "floor_area_m2": N_("Heated floor area (m², all storeys)"),
    "storeys": N_("Storeys"),
    "attached_sides": N_("Sides joined to a neighbour's house"),
    "roof_type": N_("Roof"),
    "wall_type": N_("Walls"),
    "window_type": N_("Windows"),
    "heating_system": N_("Heating"),
    "air_conditioned": N_("Air conditioning"),
}
ENERGY_CLASS_COLOURS = {  # the familiar A (green) to G (red) scale; text colour chosen for contrast
    "A": ("#00783f", "#fff"), "B": ("#2f9e44", "#000"), "C": ("#8cc63f", "#000"), "D": ("#ffd500", "#000"),
    "E": ("#f7a600", "#000"), "F": ("#e8590c", "#000"), "G": ("#c92a2a", "#fff"),
}


class NoThermography(ValidationFailed):
    type_slug = "twin-no-thermography"
    title = N_("No roof thermography has been imported: import one first (parvis twin import thermography).")


# ------------------------------------------------------------------------------ settings

@lru_cache(maxsize=8)
def _typology(path: str) -> Typology:
    return load_typology(path or None)


def typology_of(settings: Any) -> Typology:
    """The city's typology (``twin_typology_file``, else the shipped indicative table)."""
    return _typology(str(getattr(settings, "twin_typology_file", "") or ""))


def prices_of(settings: Any) -> EnergyPrices:
    """The city's energy prices (``twin_energy_prices``; a missing carrier costs nothing)."""
    given = dict(settings.twin_energy_prices or {})
    return EnergyPrices(**{k: float(given.get(k, 0.0)) for k in ("gas", "oil", "electricity", "wood")})


def costs_of(settings: Any) -> ImprovementCosts:
    given = dict(settings.twin_improvement_costs or {})
    return ImprovementCosts(roof_per_m2=float(given.get("roof_per_m2", 0.0)),
                            wall_per_m2=float(given.get("wall_per_m2", 0.0)),
                            window_per_m2=float(given.get("window_per_m2", 0.0)),
                            heat_pump_per_kw=float(given.get("heat_pump_per_kw", 0.0)),
                            heat_pump_fixed=float(given.get("heat_pump_fixed", 0.0)))


def choices(settings: Any) -> dict[str, list[tuple[str, str]]]:
    """(key, translated label) of each select of the form, from the city's typology."""
    typology = typology_of(settings)
    return {
        "period": [(p.key, _(p.label)) for p in typology.periods],
        "roof_type": [(k, _(ROOF_TYPE_LABELS.get(k, k))) for k in typology.roof_types],
        "wall_type": [(k, _(WALL_TYPE_LABELS.get(k, k))) for k in typology.wall_types],
        "window_type": [(k, _(WINDOW_TYPE_LABELS.get(k, k))) for k in typology.window_types],
        "heating_system": [(k, _(v)) for k, v in HEATING_SYSTEM_LABELS.items()],
    }


# ------------------------------------------------------------------------------ reading the form

@dataclass
class FormResult:
    """The form's values as typed (to show again), the inputs when valid, field errors otherwise."""

    values: dict[str, str]
    inputs: HomeInputs | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None or isinstance(value, bool):
        return "" if value is None else ("1" if value else "")
    return str(value).strip()


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", ".").replace("\u00a0", "").replace(" ", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _whole(text: str) -> int | None:
    value = _number(text)
    return int(value) if value is not None and value == int(value) else None


def read_form(raw: Mapping[str, Any]) -> FormResult:
    """Inputs from the form (strings) or a JSON object (numbers and strings). Every field is
    checked; each wrong one gets a translated message (the engine's own checks included)."""
    values = {name: _text(raw, name) for name in FIELD_LABELS}
    ac = raw.get("air_conditioned")
    values["air_conditioned"] = "1" if ac is True or str(ac).lower() in ("1", "on", "true", "yes") else ""
    result = FormResult(values=values)
    errors = result.errors
    area = _number(values["floor_area_m2"])
    if not values["floor_area_m2"]:
        errors["floor_area_m2"] = _("Give the heated floor area.")
    elif area is None:
        errors["floor_area_m2"] = _("Enter a number.")
    storeys = _whole(values["storeys"]) if values["storeys"] else 1
    if storeys is None:
        errors["storeys"] = _("Enter a whole number.")
    sides = _whole(values["attached_sides"]) if values["attached_sides"] else 0
    if sides is None:
        errors["attached_sides"] = _("Enter a whole number.")
    year = _whole(values["year"]) if values["year"] else None
    if values["year"] and year is None:
        errors["year"] = _("Enter a whole number.")
    if errors:
        return result
    try:
        result.inputs = HomeInputs(
            floor_area_m2=float(area),  # type: ignore[arg-type]
            storeys=int(storeys),  # type: ignore[arg-type]
            period=values["period"] or None, year=year, attached_sides=int(sides),  # type: ignore[arg-type]
            roof_type=values["roof_type"] or None, wall_type=values["wall_type"] or None,
            window_type=values["window_type"] or None,
            heating_system=values["heating_system"] or "gas_boiler",
            air_conditioned=bool(values["air_conditioned"]))
    except InvalidHomeInputs as exc:
        field_error(errors, exc)
    return result


def field_error(errors: dict[str, str], exc: ParvisError) -> None:
    from parvis.kernel.web import error_message

    name = (exc.errors[0].get("field") if exc.errors else None) or "floor_area_m2"
    errors[name if name in FIELD_LABELS else "floor_area_m2"] = error_message(exc)


# ------------------------------------------------------------------------------ the estimate

def _improvement_view(item: Improvement) -> dict[str, Any]:
    reason = None
    if item.no_payback is not None:
        reason = _(NO_PAYBACK_LABELS[item.no_payback], years=int(DEFAULT_HORIZON_YEARS))
    return {"key": item.key, "label": _(item.label), "saving_kwh": round(item.saving_kwh),
            "saving_money": round(item.saving_money), "cost": round(item.cost),
            "payback_years": None if item.payback_years is None else round(item.payback_years, 1),
            "no_payback": item.no_payback, "no_payback_reason": reason,
            "energy_class_after": item.after.energy_class}


def compute(inputs: HomeInputs, settings: Any) -> dict[str, Any]:
    """The estimate and the "what if" table with the city's settings, as plain numbers (kWh/yr,
    kWh/m²/yr, money per year in the city's currency). Cooling is computed only when the city sets
    cooling degree-days and the home is air-conditioned; otherwise ``cooling_need_kwh`` is None.
    Raises :class:`InvalidHomeInputs` (with the field) for an unknown period or type."""
    typology = typology_of(settings)
    prices, costs = prices_of(settings), costs_of(settings)
    hdd = float(settings.twin_heating_degree_days)
    cdd = float(settings.twin_cooling_degree_days)
    cooling = cdd > 0 and inputs.air_conditioned
    result: HomeEstimate = estimate(inputs, hdd, prices, typology, cooling_degree_days=cdd)
    options = improvements(inputs, hdd, prices, costs, typology, cooling_degree_days=cdd)
    return {
        "period": result.envelope.period,
        "heating_need_kwh": round(result.heating_need_kwh),
        "heating_need_kwh_m2": round(result.heating_need_kwh_m2, 1),
        "heating_final_kwh": round(result.heating_final_kwh),
        "heating_system": result.heating_system,
        "cooling_need_kwh": round(result.cooling_need_kwh) if cooling else None,
        "cooling_final_kwh": round(result.cooling_final_kwh) if cooling else None,
        "final_energy_kwh": round(result.final_energy_kwh),
        "energy_class": result.energy_class,
        "cost_per_year": round(result.cost_per_year),
        "currency": settings.currency,
        "heating_degree_days": hdd,
        "cooling_degree_days": cdd,
        "improvements": [_improvement_view(i) for i in options],
    }


# ------------------------------------------------------------------------------ pre-filling

def prefill(session: Any, building_id: int,
            settings: Any) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """What the twin knows of a building: (the building as ``queries.building`` gives it, form
    values, the names of the fields the twin filled). Types the city's typology does not know are
    left for the person to choose."""
    found = queries.building(session, building_id)
    if found is None:
        return {}, {}, []
    typology = typology_of(settings)
    values: dict[str, str] = {}
    if found.get("construction_period") and typology.period(found["construction_period"]) is not None:
        values["period"] = found["construction_period"]
    elif found.get("construction_year"):
        values["year"] = str(found["construction_year"])
    if found.get("floor_area_m2"):
        values["floor_area_m2"] = str(round(float(found["floor_area_m2"])))
    if found.get("storeys"):
        values["storeys"] = str(found["storeys"])
    if found.get("attached_sides") is not None:
        values["attached_sides"] = str(found["attached_sides"])
    for name, source, table in (("roof_type", "roof_construction", typology.roof_types),
                                ("wall_type", "wall_type", typology.wall_types),
                                ("window_type", "window_type", typology.window_types)):
        if found.get(source) in table:
            values[name] = found[source]
    if found.get("heating_system") in CARRIERS:
        values["heating_system"] = found["heating_system"]
    return found, values, list(values)


# ------------------------------------------------------------------------------ thermography

def _roofs(session: Any, crs: str) -> dict[int, Any]:
    """Each building's footprint (its roof seen from above) in ``crs``."""
    rows = session.execute(select(Building.id, Building.footprint_local).order_by(Building.id)).all()
    twin_crs = queries.local_crs_of_twin(session) or crs
    geoms = reproject_geometries([shape(json.loads(text)) for _id, text in rows], twin_crs, crs)
    return {row_id: geom for (row_id, _text), geom in zip(rows, geoms, strict=True)}


def classify_thermography(db: Database, data_dir: Path, *,
                          method: Literal["quantiles", "thresholds"] = "quantiles",
                          thresholds: Iterable[float] | None = None,
                          statistic: str = "median") -> dict[str, int]:
    """Classify every roof of the twin from the imported thermography layer and store the levels
    (``actions.set_heat_loss_levels``). Returns counts: buildings, classified, unknown (too few
    measured pixels), and how many are at each level. Raises :class:`NoThermography` without one.

    For the integrator's CLI: ``parvis twin classify-thermography [--thresholds a,b,c,d,e]``."""
    with db.read() as session:
        grid = queries.load_grid(session, Path(data_dir), "thermography")
        if grid is None:
            raise NoThermography()
        roofs = _roofs(session, grid.crs)
    levels = classify_roofs(grid.values, grid.transform, roofs, method, thresholds, statistic=statistic)
    actions.set_heat_loss_levels(db, {int(k): v for k, v in levels.items()})
    counts = {"buildings": len(levels), "classified": sum(v is not None for v in levels.values())}
    counts["unknown"] = counts["buildings"] - counts["classified"]
    for level in range(1, 7):
        counts[f"level_{level}"] = sum(v == level for v in levels.values())
    return counts


def demo_thermography(db: Database, data_dir: Path, seed: int = 16) -> Grid:
    """A generated night-time roof thermography of the demo twin (surface temperature, °C, on the
    terrain's grid): the ground near -3 °C, each roof warmer by 0.8 K per W/m²K of its roof's
    U-value (from its construction type, else its period) plus a roof-to-roof spread, pixel noise
    and a few hot chimney pixels. Written to ``data_dir/twin/thermography.tif`` and stored as the
    twin's thermography layer. Deterministic for a seed. Illustrative only: a real one is flown."""
    from rasterio.features import rasterize
    from shapely.geometry import mapping

    with db.read() as session:
        dtm = queries.load_grid(session, Path(data_dir), "dtm")
        if dtm is None:
            raise NoThermography()
        rows = session.execute(select(Building.id, Building.footprint_local, Building.roof_construction,
                                      Building.construction_period).order_by(Building.id)).all()
    typology = load_typology(None)
    rng = np.random.default_rng(seed)
    values = (-3.0 + rng.normal(0.0, 0.3, dtm.shape)).astype(np.float32)
    shapes = []
    for index, (_id, footprint, _roof, _period) in enumerate(rows, start=1):
        shapes.append((mapping(shape(json.loads(footprint))), index))
    if shapes:
        labels = rasterize(shapes, out_shape=dtm.shape, transform=dtm.transform, fill=0, dtype="int32")
        warmth = np.zeros(len(rows) + 1, dtype=np.float32)
        for index, (_id, _fp, roof, period) in enumerate(rows, start=1):
            defaults = typology.period(period) if period else None
            u_roof = typology.roof_types.get(roof or "", defaults.u_roof if defaults else 1.0)
            warmth[index] = -1.0 + 0.8 * u_roof + rng.normal(0.0, 0.4)
        roof_pixels = labels > 0
        values[roof_pixels] = warmth[labels[roof_pixels]] + rng.normal(0.0, 0.15, int(roof_pixels.sum()))
        hot = roof_pixels & (rng.random(dtm.shape) < 0.01)
        values[hot] += 6.0
    grid = dtm.with_values(values)
    path = write_geotiff(grid, Path(data_dir) / "twin" / "thermography.tif")
    actions.store_layer(db, "thermography", path, Path(data_dir), grid,
                        source="demo thermography (generated)",
                        report={"generated": True, "seed": seed, "unit": "degC"})
    return grid


DEMO_CITIZEN_PHONE = "+84912000001"  # parvis.demo.CITIZEN_PHONE (a module does not import the demo)


def link_demo_owner(db: Database, settings: Any, phone: str = DEMO_CITIZEN_PHONE) -> int | None:
    """Make the demo show a heat-loss level: generate the demo twin's thermography, classify its
    roofs, and link the demo citizen (``phone``: ``parvis.demo.CITIZEN_PHONE``) to one house with a high level
    (level 5 or 6: the "what if" table then has something to say). Safe to run again. Returns the
    building's id, or None when the demo has no twin or no such citizen."""
    data_dir = Path(settings.data_dir)
    with db.read() as session:
        if queries.layer(session, "dtm") is None:
            return None
    demo_thermography(db, data_dir)
    classify_thermography(db, data_dir)
    with db.read() as session:
        try:
            contact = owners.find_account(session, phone, settings.phone_region)
        except owners.AccountNotFound:
            return None
        candidates = session.execute(
            select(Building.id).where(Building.heat_loss_level >= 5, Building.storeys <= 3,
                                      Building.address.is_not(None)).order_by(Building.ref).limit(1)).all()
        if not candidates:
            candidates = session.execute(select(Building.id).where(Building.heat_loss_level.is_not(None))
                                         .order_by(Building.ref).limit(1)).all()
    if not candidates:
        return None
    building_id = int(candidates[0][0])
    owners.link_quietly(db, building_id, contact.user_id)
    return building_id
