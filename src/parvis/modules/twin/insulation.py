""""My home": an annual heating (and optional cooling) estimate, an energy class and "what if"
improvements, from a few answers a householder can give.

The method is a steady-state degree-day balance, the simplest one that is honest about its inputs
(it is *not* an energy performance certificate, which needs a visit and a certified tool):

1. **Geometry** (:func:`envelope`): ``floor_area_m2`` is the heated floor area of all storeys
   together. The plan is a square of ``floor_area / storeys`` m², each storey ``storey_height``
   (2.7 m) high. The facade is the perimeter times the height; each attached side (a terraced house
   has 1 or 2) removes one side of the facade, taken as a party wall to a heated neighbour with no
   loss. Windows are the typology's window share of the exposed facade; the rest is opaque wall. The
   roof (or top-floor ceiling under an unheated attic) and the ground floor each have the plan's
   area. Heated volume = floor area × storey height.
2. **Losses**: transmission H_T = U_wall·A_wall + U_window·A_window + U_roof·A_roof
   + b·U_floor·A_floor, where b = ``ground_factor`` (0.5) accounts for the ground being warmer
   than the outside air in winter (the temperature-correction factor TABULA and EN ISO 13789 use);
   ventilation H_V = 0.34 · n · V (0.34 Wh/m³K is the heat capacity of air, n the air changes per
   hour). Thermal bridges are not counted.
3. **Heating need** (useful heat) = (1 - ``gains_share``) · (H_T + H_V) · HDD · 24 / 1000 kWh/yr.
   Degree-days at a base below 20 °C (Belgium's 15/16.5) already credit most of the free solar
   and internal gains, so the further deduction defaults to a small 10 %.
4. **Final energy** = need / the heating system's seasonal efficiency (a heat pump's seasonal COP);
   "none" means the home is not heated: the need stays shown but nothing is bought.
5. **Cooling** (optional, for hot cities; the demo city in central Vietnam has almost no heating
   degree-days): when the home is air-conditioned and ``cooling_degree_days`` are given, the cooling
   need is (H_T + H_V) · CDD · 24 / 1000 and the electricity is that over the air conditioner's EER.
   This counts only the heat coming through the envelope and with the air: solar gains through
   windows and roofs and internal gains add to it, so it is a **lower bound**, useful to compare an
   insulated roof with a bare one, not to size a machine.
6. **Energy class** A-G from the heating need per m² of floor (the envelope's quality, whatever the
   heating system) or, with ``class_basis="final"``, from the heating's final energy per m². The
   default scale has the shape of the French DPE's energy thresholds (70/110/180/250/330/420
   kWh/m²/yr, a value on a threshold belongs to the better class); the DPE applies them to primary
   energy, so here the classes are indicative and a city may give its own.

:func:`improvements` recomputes the estimate with one change at a time (roof insulation, wall
insulation, better glazing, a heat pump) and gives the saving in kWh of final energy and in money,
an indicative cost (per m² or per kW: parameters) and a simple payback (cost / yearly saving, no
interest, constant prices) that is ``None`` when there is no saving or when it would take longer
than ``horizon_years`` (40, about the life of the work): with 50 heating degree-days an insulated
roof pays nothing back, and the answer says so (``no_payback`` gives the reason) instead of
printing centuries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Literal

from parvis.kernel.errors import N_, ValidationFailed
from parvis.modules.twin.typology import PeriodDefaults, Typology, default_typology

AIR_HEAT_CAPACITY = 0.34  # Wh/(m³·K)
MAX_FLOOR_AREA = 5000.0  # m²: a home, not a hospital
MAX_STOREYS = 10

#: Heating systems: seasonal efficiency (a heat pump's seasonal COP) and the carrier bought.
#: Indicative: an old non-condensing boiler is nearer 0.75, a condensing one 0.95.
DEFAULT_EFFICIENCIES: dict[str, float] = {
    "gas_boiler": 0.85, "oil_boiler": 0.80, "electric_resistance": 1.0, "heat_pump": 3.0, "wood": 0.70,
}
CARRIERS: dict[str, str | None] = {
    "gas_boiler": "gas", "oil_boiler": "oil", "electric_resistance": "electricity",
    "heat_pump": "electricity", "wood": "wood", "none": None,
}
HEATING_SYSTEM_LABELS: dict[str, str] = {
    "gas_boiler": N_("Gas boiler"), "oil_boiler": N_("Oil boiler"),
    "electric_resistance": N_("Electric heaters"), "heat_pump": N_("Heat pump"),
    "wood": N_("Wood stove or boiler"), "none": N_("No heating"),
}
IMPROVEMENT_LABELS: dict[str, str] = {
    "roof_insulation": N_("Insulate the roof"), "wall_insulation": N_("Insulate the walls"),
    "glazing": N_("Replace the windows with low-emissivity double glazing"),
    "heat_pump": N_("Replace the heating with a heat pump"),
}
#: Why an improvement has no payback (``%(years)s`` is the horizon).
NO_PAYBACK_LABELS: dict[str, str] = {
    "no_saving": N_("No saving: this change does not lower the yearly bill here."),
    "beyond_horizon": N_("It would not pay for itself within %(years)s years."),
}
DEFAULT_HORIZON_YEARS = 40.0
ENERGY_CLASSES = ("A", "B", "C", "D", "E", "F", "G")
#: Upper bounds (kWh/m²/yr, inclusive) of classes A to F; above the last is G.
DEFAULT_CLASS_THRESHOLDS: tuple[float, ...] = (70.0, 110.0, 180.0, 250.0, 330.0, 420.0)


class InvalidHomeInputs(ValidationFailed):
    type_slug = "twin-invalid-home"
    title = N_("Some answers about the home are not valid.")


def _invalid(message: str, field_name: str, code: str, **params: object) -> InvalidHomeInputs:
    return InvalidHomeInputs(message, params=params, errors=[{"field": field_name, "code": code}])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class HomeInputs:
    """What a householder tells (or the twin pre-fills). Type keys (``wall_type``...) are keys of the
    city's typology; ``None`` means "I don't know": the construction period's default is used.
    ``period`` wins over ``year`` when both are given."""

    floor_area_m2: float
    storeys: int = 1
    period: str | None = None
    year: int | None = None
    attached_sides: int = 0
    roof_type: str | None = None
    wall_type: str | None = None
    window_type: str | None = None
    heating_system: str = "gas_boiler"
    air_conditioned: bool = False

    def __post_init__(self) -> None:
        if not _is_number(self.floor_area_m2) or not 0 < self.floor_area_m2 <= MAX_FLOOR_AREA:
            raise _invalid(N_("The floor area must be a positive number of square metres, at most %(max)s."),
                           "floor_area_m2", "out_of_range", max=int(MAX_FLOOR_AREA))
        if isinstance(self.storeys, bool) or not isinstance(self.storeys, int) \
                or not 1 <= self.storeys <= MAX_STOREYS:
            raise _invalid(N_("The number of storeys must be a whole number from 1 to %(max)s."),
                           "storeys", "out_of_range", max=MAX_STOREYS)
        if isinstance(self.attached_sides, bool) or self.attached_sides not in (0, 1, 2):
            raise _invalid(N_("The number of sides joined to a neighbour must be 0, 1 or 2."),
                           "attached_sides", "out_of_range")
        if self.period is None and self.year is None:
            raise _invalid(N_("Give the construction period or the year the home was built."),
                           "period", "missing")
        if self.heating_system not in CARRIERS:
            raise _invalid(N_("Unknown heating system: %(value)s."), "heating_system", "unknown",
                           value=self.heating_system)


@dataclass(frozen=True)
class EnergyPrices:
    """Price of one kWh of final energy per carrier, in the city's currency (wood: per kWh of the
    wood's heat content)."""

    gas: float
    oil: float
    electricity: float
    wood: float

    def of(self, carrier: str | None) -> float:
        return 0.0 if carrier is None else float(getattr(self, carrier))


#: Orders of magnitude for a Belgian household around 2024-2025, in euros: an example, not a setting.
EXAMPLE_PRICES_EUR = EnergyPrices(gas=0.10, oil=0.11, electricity=0.35, wood=0.08)


@dataclass(frozen=True)
class ImprovementCosts:
    """Indicative installed costs in the city's currency: per m² of roof, wall, window; per kW of
    heat pump plus a fixed part."""

    roof_per_m2: float
    wall_per_m2: float
    window_per_m2: float
    heat_pump_per_kw: float
    heat_pump_fixed: float = 0.0


#: Orders of magnitude in Belgium around 2024-2025, in euros, before subsidies: an example only.
EXAMPLE_COSTS_EUR = ImprovementCosts(roof_per_m2=70.0, wall_per_m2=160.0, window_per_m2=650.0,
                                     heat_pump_per_kw=1200.0, heat_pump_fixed=4000.0)


@dataclass(frozen=True)
class ImprovementTargets:
    """What each improvement achieves: U-values after the work (W/m²K) and the heat pump's sizing
    (design heat load = H · ``heat_pump_design_delta_t``, at least ``heat_pump_min_kw``)."""

    roof_u: float = 0.25  # about 16-20 cm of mineral wool
    wall_u: float = 0.32  # about 10 cm
    window_u: float = 1.5  # low-emissivity double glazing with its frame
    heat_pump_design_delta_t: float = 28.0  # K: 20 °C inside, -8 °C outside (Namur)
    heat_pump_min_kw: float = 3.0


@dataclass(frozen=True)
class ModelParameters:
    """The model's assumptions (candidates for city settings)."""

    storey_height: float = 2.7  # m
    ground_factor: float = 0.5  # b for the ground floor
    gains_share: float = 0.10  # share of the gross loss covered by free gains
    efficiencies: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EFFICIENCIES))
    ac_eer: float = 3.0  # seasonal energy efficiency ratio of an air conditioner
    class_thresholds: tuple[float, ...] = DEFAULT_CLASS_THRESHOLDS
    class_basis: Literal["need", "final"] = "need"


@dataclass(frozen=True)
class Envelope:
    """Areas (m²), volume (m³), U-values (W/m²K) and air changes (1/h) of one home."""

    period: str
    wall_m2: float
    window_m2: float
    roof_m2: float
    floor_m2: float
    volume_m3: float
    u_wall: float
    u_window: float
    u_roof: float
    u_floor: float
    air_changes: float


@dataclass(frozen=True)
class HomeEstimate:
    """A yearly estimate. Energies in kWh/yr, H in W/K, cost in the city's currency per year."""

    envelope: Envelope
    heating_system: str
    h_transmission: float
    h_ventilation: float
    heating_need_kwh: float
    heating_final_kwh: float
    cooling_need_kwh: float
    cooling_final_kwh: float
    final_energy_kwh: float
    heating_need_kwh_m2: float
    final_energy_kwh_m2: float
    energy_class: str
    cost_per_year: float

    @property
    def h_total(self) -> float:
        return self.h_transmission + self.h_ventilation


@dataclass(frozen=True)
class Improvement:
    """One "what if": yearly saving of final energy (kWh) and money, cost, simple payback (years;
    ``None`` when nothing is saved or beyond the horizon, ``no_payback`` then says which: a key of
    :data:`NO_PAYBACK_LABELS`) and the estimate after the work."""

    key: str
    label: str
    saving_kwh: float
    saving_money: float
    cost: float
    payback_years: float | None
    after: HomeEstimate
    no_payback: str | None = None


def energy_class(value_kwh_m2: float, thresholds: tuple[float, ...] = DEFAULT_CLASS_THRESHOLDS) -> str:
    """A to G: the first class whose upper bound (inclusive) the value does not exceed; above the
    last bound, G. ``thresholds`` are the six ascending upper bounds of A to F."""
    if len(thresholds) != 6 or any(b <= a for a, b in pairwise(thresholds)):
        raise ValueError("class thresholds must be six ascending numbers (upper bounds of A to F)")
    for letter, bound in zip(ENERGY_CLASSES, thresholds, strict=False):
        if value_kwh_m2 <= bound:
            return letter
    return "G"


def _period(inputs: HomeInputs, typology: Typology) -> PeriodDefaults:
    if inputs.period is not None:
        found = typology.period(inputs.period)
        if found is None:
            raise _invalid(N_("Unknown construction period: %(value)s."), "period", "unknown",
                           value=inputs.period)
        return found
    year = inputs.year
    found = typology.period_for_year(year) if isinstance(year, int) and not isinstance(year, bool) else None
    if found is None:
        raise _invalid(N_("No construction period covers the year %(value)s."), "year", "unknown", value=year)
    return found


def _type_u(table: Mapping[str, float], key: str | None, default: float, field_name: str,
            message: str) -> float:
    if key is None:
        return default
    if key not in table:
        raise _invalid(message, field_name, "unknown", value=key)
    return table[key]


def envelope(inputs: HomeInputs, typology: Typology | None = None, storey_height: float = 2.7) -> Envelope:
    """The home's envelope by the square-plan geometry described in the module docstring."""
    typology = typology or default_typology()
    period = _period(inputs, typology)
    u_wall = _type_u(typology.wall_types, inputs.wall_type, period.u_wall, "wall_type",
                     N_("Unknown wall type: %(value)s."))
    u_roof = _type_u(typology.roof_types, inputs.roof_type, period.u_roof, "roof_type",
                     N_("Unknown roof type: %(value)s."))
    u_window = _type_u(typology.window_types, inputs.window_type, period.u_window, "window_type",
                       N_("Unknown window type: %(value)s."))
    plan = inputs.floor_area_m2 / inputs.storeys
    side = math.sqrt(plan)
    facade = (4 - inputs.attached_sides) * side * inputs.storeys * storey_height
    window = period.window_share * facade
    return Envelope(period=period.key, wall_m2=facade - window, window_m2=window, roof_m2=plan,
                    floor_m2=plan, volume_m3=inputs.floor_area_m2 * storey_height, u_wall=u_wall,
                    u_window=u_window, u_roof=u_roof, u_floor=period.u_floor,
                    air_changes=period.air_changes)


def _check_climate(degree_days: float, cooling_degree_days: float, params: ModelParameters) -> None:
    if not _is_number(degree_days) or degree_days < 0:
        raise _invalid(N_("Heating degree-days must be a number of zero or more."), "degree_days",
                       "out_of_range")
    if not _is_number(cooling_degree_days) or cooling_degree_days < 0:
        raise _invalid(N_("Cooling degree-days must be a number of zero or more."), "cooling_degree_days",
                       "out_of_range")
    if not 0 <= params.gains_share < 1 or params.ac_eer <= 0 or params.storey_height <= 0:
        raise ValueError("model parameters out of range (gains share in [0, 1), EER and storey height > 0)")


def _evaluate(env: Envelope, system: str, air_conditioned: bool, degree_days: float,
              cooling_degree_days: float, prices: EnergyPrices, params: ModelParameters,
              floor_area: float) -> HomeEstimate:
    h_t = (env.u_wall * env.wall_m2 + env.u_window * env.window_m2 + env.u_roof * env.roof_m2
           + params.ground_factor * env.u_floor * env.floor_m2)
    h_v = AIR_HEAT_CAPACITY * env.air_changes * env.volume_m3
    need = (1 - params.gains_share) * (h_t + h_v) * degree_days * 24 / 1000
    carrier = CARRIERS[system]
    if carrier is None:
        heating_final = 0.0
    else:
        efficiency = params.efficiencies.get(system, DEFAULT_EFFICIENCIES[system])
        if efficiency <= 0:
            raise ValueError(f"efficiency of {system} must be positive")
        heating_final = need / efficiency
    cooling_need = (h_t + h_v) * cooling_degree_days * 24 / 1000 if air_conditioned else 0.0
    cooling_final = cooling_need / params.ac_eer
    final = heating_final + cooling_final
    cost = heating_final * prices.of(carrier) + cooling_final * prices.electricity
    basis = need if params.class_basis == "need" else heating_final
    return HomeEstimate(
        envelope=env, heating_system=system, h_transmission=h_t, h_ventilation=h_v,
        heating_need_kwh=need, heating_final_kwh=heating_final, cooling_need_kwh=cooling_need,
        cooling_final_kwh=cooling_final, final_energy_kwh=final,
        heating_need_kwh_m2=need / floor_area, final_energy_kwh_m2=final / floor_area,
        energy_class=energy_class(basis / floor_area, params.class_thresholds), cost_per_year=cost)


def estimate(inputs: HomeInputs, degree_days: float, prices: EnergyPrices, typology: Typology | None = None,
             *, cooling_degree_days: float = 0.0, params: ModelParameters | None = None) -> HomeEstimate:
    """The home's yearly heating (and, when air-conditioned, cooling) estimate.

    ``degree_days``: the city's heating degree-days (K·day/yr; Namur about 2,800 at base 15/16.5 °C,
    central Vietnam a few tens); ``cooling_degree_days`` likewise for cooling (base about 24 °C
    suits an air-conditioned home). ``typology`` defaults to the shipped indicative table.
    """
    params = params or ModelParameters()
    _check_climate(degree_days, cooling_degree_days, params)
    env = envelope(inputs, typology, params.storey_height)
    return _evaluate(env, inputs.heating_system, inputs.air_conditioned, degree_days, cooling_degree_days,
                     prices, params, inputs.floor_area_m2)


def _heat_pump_kw(base: HomeEstimate, targets: ImprovementTargets) -> float:
    return max(targets.heat_pump_min_kw, base.h_total * targets.heat_pump_design_delta_t / 1000)


def improvements(inputs: HomeInputs, degree_days: float, prices: EnergyPrices, costs: ImprovementCosts,
                 typology: Typology | None = None, *, cooling_degree_days: float = 0.0,
                 targets: ImprovementTargets | None = None,
                 params: ModelParameters | None = None,
                 horizon_years: float = DEFAULT_HORIZON_YEARS) -> list[Improvement]:
    """Each improvement alone, against the current estimate. An improvement is left out when it
    changes nothing (the roof is already at or below the target U, the home already has a heat
    pump) and the heat pump is left out for a home with no heating (it would add a bill, not save
    one). Payback is ``None`` when the yearly money saving is zero or negative, or when the payback
    would be longer than ``horizon_years``."""
    params = params or ModelParameters()
    targets = targets or ImprovementTargets()
    _check_climate(degree_days, cooling_degree_days, params)
    env = envelope(inputs, typology, params.storey_height)

    def run(changed: Envelope, system: str) -> HomeEstimate:
        return _evaluate(changed, system, inputs.air_conditioned, degree_days, cooling_degree_days, prices,
                         params, inputs.floor_area_m2)

    base = run(env, inputs.heating_system)
    options: list[tuple[str, Envelope, str, float]] = []
    if env.u_roof > targets.roof_u:
        options.append(("roof_insulation", replace(env, u_roof=targets.roof_u), inputs.heating_system,
                        costs.roof_per_m2 * env.roof_m2))
    if env.u_wall > targets.wall_u:
        options.append(("wall_insulation", replace(env, u_wall=targets.wall_u), inputs.heating_system,
                        costs.wall_per_m2 * env.wall_m2))
    if env.u_window > targets.window_u and env.window_m2 > 0:
        options.append(("glazing", replace(env, u_window=targets.window_u), inputs.heating_system,
                        costs.window_per_m2 * env.window_m2))
    if inputs.heating_system not in ("heat_pump", "none"):
        options.append(("heat_pump", env, "heat_pump",
                        costs.heat_pump_per_kw * _heat_pump_kw(base, targets) + costs.heat_pump_fixed))
    result: list[Improvement] = []
    for key, changed, system, cost in options:
        after = run(changed, system)
        saving_money = base.cost_per_year - after.cost_per_year
        payback: float | None = cost / saving_money if saving_money > 1e-9 else None
        reason = "no_saving" if payback is None else None
        if payback is not None and payback > horizon_years:
            payback, reason = None, "beyond_horizon"
        result.append(Improvement(key=key, label=IMPROVEMENT_LABELS[key],
                                  saving_kwh=base.final_energy_kwh - after.final_energy_kwh,
                                  saving_money=saving_money, cost=cost, payback_years=payback, after=after,
                                  no_payback=reason))
    return result
