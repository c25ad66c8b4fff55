"""Home typology tables: default U-values by construction period and by element type.

A typology (in the manner of the European TABULA/EPISCOPE project) gives, for each construction
period of single-family houses, the U-values (W/m²K) of walls, roof, ground floor and windows, the
share of the facade that is glazed and the air change rate (1/h). Per element type ("brick
uninsulated", "insulated 10 cm", "double glazing"...) a U-value overrides the period's default when
the householder knows what they have.

**Where the shipped numbers come from.** ``data/typology.json`` holds rounded figures in the ranges
that TABULA's typologies for Belgium, France and Germany publish for houses in their original state,
written from memory by the Parvis developers: they are *indicative*, not copied from nor checked
against a TABULA table. They are a city setting: a city replaces them with its national typology
(or, in a tropical city, with a local survey) through a JSON file of the same shape, which
:func:`load_typology` validates. A section the city's file leaves out (say ``window_types``) keeps
the shipped defaults; a section it gives replaces the shipped one as a whole, so a city's periods
are never mixed with ours.

File shape::

    {"_about": "where the figures come from",
     "periods": {"<key>": {"start_year": 1946 | null, "end_year": 1970 | null, "u_wall": 1.5,
                           "u_roof": 1.8, "u_floor": 1.1, "u_window": 4.5, "window_share": 0.18,
                           "air_changes": 0.9, "label": "optional display name"}, ...},
     "wall_types": {"<key>": U, ...}, "roof_types": {...}, "window_types": {...}}

Periods must not overlap; the first may be open at the start (``start_year`` null) and the last
open at the end (``end_year`` null).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from parvis.kernel.errors import N_, ValidationFailed

#: Display names of the shipped periods and element types (source strings, translated at the edge).
PERIOD_LABELS: dict[str, str] = {
    "before_1945": N_("Before 1945"),
    "1946_1970": N_("1946 to 1970"),
    "1971_1990": N_("1971 to 1990"),
    "1991_2005": N_("1991 to 2005"),
    "2006_2015": N_("2006 to 2015"),
    "after_2015": N_("After 2015"),
}
WALL_TYPE_LABELS: dict[str, str] = {
    "stone_uninsulated": N_("Stone, not insulated"),
    "brick_uninsulated": N_("Brick, not insulated"),
    "concrete_block": N_("Concrete block, not insulated"),
    "cavity_uninsulated": N_("Cavity wall, not insulated"),
    "insulated_5cm": N_("Insulated, about 5 cm"),
    "insulated_10cm": N_("Insulated, about 10 cm"),
    "insulated_20cm": N_("Insulated, about 20 cm"),
}
ROOF_TYPE_LABELS: dict[str, str] = {
    "flat_uninsulated": N_("Flat roof, not insulated"),
    "flat_insulated": N_("Flat roof, insulated"),
    "pitched_uninsulated": N_("Pitched roof, not insulated"),
    "pitched_insulated": N_("Pitched roof, insulated"),
    "metal_sheet_uninsulated": N_("Metal sheet roof, not insulated"),
}
WINDOW_TYPE_LABELS: dict[str, str] = {
    "single_glazing": N_("Single glazing"),
    "double_glazing": N_("Double glazing (older, before about 2000)"),
    "low_e_double": N_("Double glazing, low-emissivity (recent)"),
    "triple_glazing": N_("Triple glazing"),
}

_PERIOD_NUMBERS = ("u_wall", "u_roof", "u_floor", "u_window", "window_share", "air_changes")
_SECTIONS = ("wall_types", "roof_types", "window_types")
MAX_U = 10.0  # W/m²K: above this a value is a typing error (a bare metal sheet is about 6-7)


class InvalidTypology(ValidationFailed):
    type_slug = "twin-invalid-typology"
    title = N_("The home typology table is not valid.")


@dataclass(frozen=True)
class PeriodDefaults:
    """Defaults of one construction period (U in W/m²K, window share 0-1, air changes in 1/h)."""

    key: str
    start_year: int | None
    end_year: int | None
    u_wall: float
    u_roof: float
    u_floor: float
    u_window: float
    window_share: float
    air_changes: float
    label: str

    def contains(self, year: int) -> bool:
        return ((self.start_year is None or year >= self.start_year)
                and (self.end_year is None or year <= self.end_year))


@dataclass(frozen=True)
class Typology:
    """A validated typology: periods (oldest first) and per element type U-values."""

    periods: tuple[PeriodDefaults, ...]
    wall_types: Mapping[str, float]
    roof_types: Mapping[str, float]
    window_types: Mapping[str, float]
    about: str = ""
    _by_key: dict[str, PeriodDefaults] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {p.key: p for p in self.periods})

    def period(self, key: str) -> PeriodDefaults | None:
        return self._by_key.get(key)

    def period_for_year(self, year: int) -> PeriodDefaults | None:
        """The period a construction year falls in, or None when no period covers it."""
        for period in self.periods:
            if period.contains(year):
                return period
        return None


def _fail(message: str, where: str, **params: Any) -> InvalidTypology:
    return InvalidTypology(message, params={"where": where, **params},
                           errors=[{"field": where, "code": "invalid"}])


def _number(value: Any, where: str, low: float, high: float, *, low_inclusive: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value >= low if low_inclusive else value > low) and value <= high
    if not ok:
        raise _fail(N_("%(where)s must be a number between %(low)s and %(high)s."), where,
                    low=low, high=high)
    return float(value)


def _year(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1000 <= value <= 2200:
        raise _fail(N_("%(where)s must be a year (or null for an open end)."), where)
    return value


def _parse_periods(raw: Any) -> tuple[PeriodDefaults, ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise _fail(N_("%(where)s must be a non-empty object of periods."), "periods")
    periods: list[PeriodDefaults] = []
    for key, spec in raw.items():
        where = f"periods.{key}"
        if not isinstance(spec, Mapping):
            raise _fail(N_("%(where)s must be an object."), where)
        missing = [name for name in ("start_year", "end_year", *_PERIOD_NUMBERS) if name not in spec]
        if missing:
            raise _fail(N_("%(where)s lacks %(missing)s."), where, missing=", ".join(missing))
        start = _year(spec["start_year"], where + ".start_year")
        end = _year(spec["end_year"], where + ".end_year")
        if start is not None and end is not None and start > end:
            raise _fail(N_("%(where)s starts after it ends."), where)
        label = spec.get("label") or PERIOD_LABELS.get(key, key)
        periods.append(PeriodDefaults(
            key=str(key), start_year=start, end_year=end,
            u_wall=_number(spec["u_wall"], where + ".u_wall", 0, MAX_U),
            u_roof=_number(spec["u_roof"], where + ".u_roof", 0, MAX_U),
            u_floor=_number(spec["u_floor"], where + ".u_floor", 0, MAX_U),
            u_window=_number(spec["u_window"], where + ".u_window", 0, MAX_U),
            window_share=_number(spec["window_share"], where + ".window_share", 0, 0.9, low_inclusive=True),
            air_changes=_number(spec["air_changes"], where + ".air_changes", 0, 5),
            label=str(label)))
    periods.sort(key=lambda p: -math.inf if p.start_year is None else p.start_year)
    for before, after in pairwise(periods):
        if before.end_year is None or after.start_year is None or after.start_year <= before.end_year:
            raise _fail(N_("%(where)s overlaps the period before it."), f"periods.{after.key}")
    return tuple(periods)


def _parse_types(raw: Any, section: str) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise _fail(N_("%(where)s must be an object of U-values."), section)
    return {str(key): _number(value, f"{section}.{key}", 0, MAX_U) for key, value in raw.items()}


def parse_typology(data: Mapping[str, Any], defaults: Typology | None = None) -> Typology:
    """Validates a typology mapping; sections it leaves out come from ``defaults`` (when given)."""
    if not isinstance(data, Mapping):
        raise _fail(N_("%(where)s must be a JSON object."), "typology")
    if defaults is None and not all(name in data for name in ("periods", *_SECTIONS)):
        raise _fail(N_("%(where)s must have the sections periods, wall_types, roof_types and "
                       "window_types."), "typology")
    periods = _parse_periods(data["periods"]) if "periods" in data else defaults.periods  # type: ignore[union-attr]
    sections = {name: (_parse_types(data[name], name) if name in data else dict(getattr(defaults, name)))
                for name in _SECTIONS}
    about = str(data.get("_about", "")) or (defaults.about if defaults else "")
    return Typology(periods=periods, about=about, **sections)


@cache
def default_typology() -> Typology:
    """The shipped, indicative typology (``data/typology.json``)."""
    text = (resources.files("parvis.modules.twin") / "data" / "typology.json").read_text("utf-8")
    return parse_typology(json.loads(text))


def load_typology(source: str | Path | Mapping[str, Any] | None = None) -> Typology:
    """A city's typology: ``None`` gives the shipped defaults; a path to a JSON file or a mapping is
    validated (clear :class:`InvalidTypology` errors, never a silent fallback on a bad value) and
    completed with the shipped sections it leaves out."""
    if source is None:
        return default_typology()
    if isinstance(source, Mapping):
        return parse_typology(source, default_typology())
    try:
        data = json.loads(Path(source).read_text("utf-8"))
    except OSError:
        raise _fail(N_("%(where)s cannot be read."), str(source)) from None
    except ValueError:
        raise _fail(N_("%(where)s is not valid JSON."), str(source)) from None
    return parse_typology(data, default_typology())
