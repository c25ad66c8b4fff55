"""The units Parvis reads the Smart Data Models attributes in, as UN/CEFACT common codes.

The hub computes on some attributes (air-quality indexes and thresholds on pollutants, levels of
service on speeds): a value sent in another unit would give a wrong answer without a word. So an
attribute of this table written with another ``unitCode`` is refused with a clear message, and
one written with a negative value too (no concentration, speed or length is negative); without
``unitCode``, the table's unit is meant (as Smart Data Models says). Other attributes keep any unit.
"""

from __future__ import annotations

import functools
from typing import Any

from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards.ngsi_ld import NgsiError

# term -> (UN/CEFACT code, the unit in words)
MICROGRAMS = ("GQ", "µg/m³")
UNITS: dict[str, tuple[str, str]] = {
    **{term: MICROGRAMS for term in ("pm1", "pm10", "pm25", "NO", "NO2", "NOx", "O3", "SO2",
                                     "no", "no2", "nox", "o3", "so2")},
    "CO": ("GP", "mg/m³"), "co": ("GP", "mg/m³"),
    "averageVehicleSpeed": ("KMH", "km/h"), "freeFlowSpeed": ("KMH", "km/h"),
    "maximumAllowedSpeed": ("KMH", "km/h"),
    "length": ("MTR", "m"),
    "temperature": ("CEL", "°C"),
}


@functools.cache
def _by_iri() -> dict[str, tuple[str, str, str]]:
    """Full IRI (as the shipped Smart Data Models context expands the term) -> (term, code, words)."""
    sdm = ldctx.shipped(ldctx.SDM_CONTEXT_URL)
    return {sdm.expand(term): (term, code, words) for term, (code, words) in UNITS.items()}


def check(iri: str, attr: dict[str, Any]) -> None:
    """Refuse an attribute whose unit or sign the hub would misread (``BadRequestData``)."""
    known = _by_iri().get(iri)
    if known is None:
        return
    term, code, words = known
    sent = attr.get("unitCode")
    if sent is not None and sent != code:
        raise NgsiError("BadRequestData", f"{term} is read in {words} (unitCode {code}); {sent} was "
                        f"sent. Convert the value to {words}, or leave unitCode out.")
    value = attr.get("value")
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0 and term != "temperature":
        raise NgsiError("BadRequestData", f"{term} cannot be negative ({value} {words}).")
