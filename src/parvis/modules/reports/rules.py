"""Pure rules of the reports domain: attribute checks, routing choice, location fuzzing, SLA."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from parvis.kernel.errors import N_, ValidationFailed


def check_attributes(definitions: list[dict[str, Any]], given: dict[str, Any], *,
                     enforce_required: bool = True) -> dict[str, Any]:
    """Validate answers to a category's extra questions; returns them normalised.

    Reports by SMS cannot answer questions: they skip the required ones (staff complete them).
    """
    known = {d["code"]: d for d in definitions}
    errors = []
    out: dict[str, Any] = {}
    for code in given:
        if code not in known:
            errors.append({"field": f"attribute[{code}]", "code": "unknown_attribute"})
    for code, definition in known.items():
        value = given.get(code)
        empty = value is None or value == "" or value == []
        if empty:
            if definition.get("required") and enforce_required:
                errors.append({"field": f"attribute[{code}]", "code": "missing"})
            continue
        datatype = definition.get("datatype", "string")
        allowed = {v["key"] for v in definition.get("values", [])}
        if datatype == "number":
            try:
                out[code] = float(value)
            except (TypeError, ValueError):
                errors.append({"field": f"attribute[{code}]", "code": "float_parsing"})
        elif datatype == "singlevaluelist":
            if str(value) not in allowed:
                errors.append({"field": f"attribute[{code}]", "code": "literal_error"})
            else:
                out[code] = str(value)
        elif datatype == "multivaluelist":
            values = [str(v) for v in (value if isinstance(value, list) else [value])]
            if not set(values) <= allowed:
                errors.append({"field": f"attribute[{code}]", "code": "literal_error"})
            else:
                out[code] = values
        elif datatype == "datetime":
            try:
                out[code] = datetime.fromisoformat(str(value)).isoformat()
            except ValueError:
                errors.append({"field": f"attribute[{code}]", "code": "datetime_parsing"})
        else:
            text = str(value)
            if len(text) > 2000:
                errors.append({"field": f"attribute[{code}]", "code": "string_too_long"})
            out[code] = text
    if errors:
        raise ValidationFailed(N_("Some answers to the category's questions are missing or not valid."),
                               errors=errors)
    return out


def fuzz(lon: float, lat: float, grid: float = 0.002) -> tuple[float, float]:
    """A public position for sensitive categories: the centre of a ~200 m cell."""
    return (round((lon // grid) * grid + grid / 2, 6), round((lat // grid) * grid + grid / 2, 6))


def due_dates(created: datetime, ack_hours: int, resolve_hours: int) -> tuple[datetime, datetime]:
    return created + timedelta(hours=ack_hours), created + timedelta(hours=resolve_hours)


def origin_of(ip: str, secret: str) -> str:
    """A keyed hash of an address: enough to count a burst, useless to find a person."""
    if not ip:
        return ""
    return hmac.new(secret.encode(), ip.encode(), hashlib.sha256).hexdigest()[:32]


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance, accurate to a few metres at city scale."""
    from math import cos, radians, sqrt

    x = radians(lon2 - lon1) * cos(radians((lat1 + lat2) / 2))
    y = radians(lat2 - lat1)
    return 6_371_000 * sqrt(x * x + y * y)
