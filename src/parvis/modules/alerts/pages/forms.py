"""The compose form of an alert, as plain strings and lists: filled from a hazard template or an
existing alert, read back into an ``AlertCreate``, and every refusal put next to the field it
concerns (in the request's language), so that nothing typed is lost."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from starlette.datastructures import FormData

from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_, ParvisError, ValidationFailed
from parvis.kernel.i18n import LANGUAGE_NAMES, _
from parvis.kernel.web import error_message
from parvis.modules.alerts import area
from parvis.modules.alerts.hazard_templates import HAZARDS, translated
from parvis.modules.alerts.models import Alert, AlertInfo
from parvis.modules.alerts.schemas import AlertCreate
from parvis.modules.alerts.targeting import CityMap
from parvis.settings import LANGUAGES, Settings

TEXT_FIELDS = ("headline", "description", "instruction")
SCALARS = ("status", "event", "urgency", "severity", "certainty", "web", "contact", "effective", "onset",
           "expires", "area_desc", "polygon", "circle_lon", "circle_lat", "circle_radius_km",
           *(f"{name}_{lang}" for lang in LANGUAGES for name in TEXT_FIELDS))
LISTS = ("categories", "response_types", "district_ids")
LIMITS = {"event": 200, "web": 500, "contact": 300, "area_desc": 500, "polygon": 200_000}
TEXT_LIMITS = {"headline": 160, "description": 4000, "instruction": 2000}
DEFAULT_HOURS = 12

CORRECT_FIELDS = N_("Please correct the fields below.")
MESSAGES = {  # pydantic's error types, in words (the same sentences as the API's problems)
    "missing": N_("This field is required."),
    "string_too_long": N_("This text is too long."),
    "string_too_short": N_("This text is too short."),
    "too_short": N_("Choose at least one."),
    "too_long": N_("Too many items."),
    "literal_error": N_("This value is not one of the allowed choices."),
    "string_pattern_mismatch": N_("This value has the wrong format."),
}
WEB_FORMAT = N_("Give a web address starting with http:// or https://.")
NEED_HEADLINE = N_("Write a headline for this language.")
NEED_TEXT = N_("Write the alert's text in at least the city's language.")
BAD_TIME = N_("Enter a date and a time.")
BAD_NUMBER = N_("Enter a number.")
BAD_POLYGON = N_("Write one point per line: the longitude, a space, then the latitude.")
CIRCLE_PARTS = N_("Give the centre (longitude and latitude) and the radius of the circle.")
# Where a refusal of the alerts actions belongs on the form, by problem type.
SLUG_FIELDS = {"alert-expired": "expires", "alert-ends-before-start": "expires",
               "invalid-radius": "circle_radius_km", "unknown-district": "district_ids",
               "alert-missing-language": "headline_{default}"}
ERROR_FIELDS = {"area.district_ids": "district_ids", "district_ids": "district_ids", "polygon": "polygon",
                "area": "area"}


# ------------------------------------------------------------------------------- filling

def _local(value: datetime | None, settings: Settings) -> str:
    return value.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%dT%H:%M") if value else ""


def blank(settings: Settings) -> dict[str, Any]:
    """An empty form: an actual alert, lasting a few hours from now."""
    values: dict[str, Any] = {name: "" for name in SCALARS}
    values.update({name: [] for name in LISTS})
    values.update(status="Actual", urgency="Expected", severity="Moderate", certainty="Likely",
                  expires=_local(utcnow() + timedelta(hours=DEFAULT_HOURS), settings))
    return values


def from_hazard(key: str, settings: Settings) -> dict[str, Any]:
    """The form pre-filled from a hazard template: the text goes in every language whose
    catalogue translates it; the event name in the city's default language."""
    values = blank(settings)
    hazard = HAZARDS.get(key)
    if hazard is None:
        return values
    event = translated(hazard.event, settings.default_language) or _(hazard.event)
    values.update(event=event, categories=list(hazard.categories), response_types=list(hazard.response_types),
                  urgency=hazard.urgency, severity=hazard.severity, certainty=hazard.certainty,
                  expires=_local(utcnow() + timedelta(hours=hazard.hours), settings))
    for lang in LANGUAGES:
        texts = {name: translated(getattr(hazard, name), lang) for name in TEXT_FIELDS}
        if all(texts.values()):
            values.update({f"{name}_{lang}": text for name, text in texts.items()})
    return values


def from_alert(row: Alert, texts: list[AlertInfo], settings: Settings) -> dict[str, Any]:
    """The form showing an alert as it is (to edit a draft, or to write an update)."""
    values = blank(settings)
    values.update(status=row.status, event=row.event, urgency=row.urgency, severity=row.severity,
                  certainty=row.certainty, web=row.web, contact=row.contact, area_desc=row.area_desc,
                  effective=_local(row.effective, settings), onset=_local(row.onset, settings),
                  expires=_local(row.expires, settings), categories=list(row.categories),
                  response_types=list(row.response_types), district_ids=[str(i) for i in row.district_ids])
    if row.polygon:
        values["polygon"] = "\n".join(f"{lon:g} {lat:g}" for lon, lat in row.polygon)
    if row.circle_lon is not None:
        values.update(circle_lon=f"{row.circle_lon:g}", circle_lat=f"{row.circle_lat:g}",
                      circle_radius_km=f"{row.circle_radius_km:g}")
    for info in texts:
        for name in TEXT_FIELDS:
            values[f"{name}_{info.language}"] = getattr(info, name)
    return values


def read(form: FormData) -> dict[str, Any]:
    """What was typed, as strings and lists of strings (cut to their limits)."""
    values: dict[str, Any] = {}
    for name in SCALARS:
        raw = form.get(name)
        limit = LIMITS.get(name) or TEXT_LIMITS.get(name.split("_")[0], 200)
        values[name] = (raw if isinstance(raw, str) else "")[:limit + 1]
    for name in LISTS:
        values[name] = [v for v in form.getlist(name) if isinstance(v, str)][:50]
    return values


def languages_present(values: dict[str, Any]) -> list[str]:
    return [lang for lang in LANGUAGES if values.get(f"headline_{lang}", "").strip()]


def missing_languages(present: list[str]) -> list[tuple[str, str]]:
    """The city's languages the alert has no text in, as (code, name)."""
    return [(lang, LANGUAGE_NAMES[lang]) for lang in LANGUAGES if lang not in present]


# ------------------------------------------------------------------------------- reading back

def _number(raw: str) -> float:
    return float(raw.strip().replace(",", "."))


def parse_ring(text: str) -> list[list[float]] | None:
    """``lon lat`` pairs, one per line (``lon,lat`` and decimal commas are understood)."""
    points = []
    for line in re.split(r"[\n;]+", text):
        line = line.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) == 1 and line.count(",") == 1:
            parts = line.split(",")
        if len(parts) != 2:
            raise ValueError(line)
        points.append([_number(p.rstrip(",")) for p in parts])
    return points or None


def _time(raw: str, settings: Settings) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(settings.timezone))


def _pydantic_field(loc: tuple[Any, ...], included: list[str], default: str) -> str:
    head = str(loc[0]) if loc else ""
    if head == "infos":
        if len(loc) >= 3 and isinstance(loc[1], int) and loc[1] < len(included):
            return f"{loc[2]}_{included[loc[1]]}"
        return f"headline_{default}"
    if head == "area":
        part = str(loc[1]) if len(loc) > 1 else "area"
        return {"description": "area_desc", "circle": "circle", "polygon": "polygon",
                "district_ids": "district_ids"}.get(part, "area")
    return head or "form"


def to_create(values: dict[str, Any], settings: Settings) -> AlertCreate:
    """The alert as the actions take it; raises ``ValidationFailed`` whose ``errors`` name the
    form's fields, with their message."""
    errors: dict[str, str] = {}
    times: dict[str, datetime | None] = {}
    for name in ("effective", "onset", "expires"):
        try:
            times[name] = _time(values[name], settings)
        except ValueError:
            errors[name] = _(BAD_TIME)
    polygon = None
    try:
        polygon = parse_ring(values["polygon"])
    except ValueError:
        errors["polygon"] = _(BAD_POLYGON)
    circle = None
    parts = [values[f"circle_{p}"].strip() for p in ("lon", "lat", "radius_km")]
    if any(parts):
        try:
            if not all(parts):
                raise ValueError("incomplete")
            lon, lat, radius = (_number(p) for p in parts)
            circle = {"lon": lon, "lat": lat, "radius_km": radius}
        except ValueError:
            errors["circle"] = _(CIRCLE_PARTS)
    district_ids = []
    for raw in values["district_ids"]:
        if raw.strip().isdigit():
            district_ids.append(int(raw))
    included = [lang for lang in LANGUAGES
                if any(values[f"{name}_{lang}"].strip() for name in TEXT_FIELDS)]
    data = {
        "status": values["status"], "event": values["event"].strip(), "categories": values["categories"],
        "response_types": values["response_types"], "urgency": values["urgency"],
        "severity": values["severity"], "certainty": values["certainty"], "web": values["web"].strip(),
        "contact": values["contact"].strip(), **times,
        "infos": [{"language": lang, **{name: values[f"{name}_{lang}"].strip() for name in TEXT_FIELDS}}
                  for lang in included],
        "area": {"description": values["area_desc"].strip(), "district_ids": district_ids,
                 "polygon": polygon, "circle": circle},
    }
    result = None
    try:
        result = AlertCreate.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            field = _pydantic_field(loc, included, settings.default_language)
            kind = err.get("type", "")
            if field in errors:
                continue
            if field == "web" and kind == "string_pattern_mismatch":
                message = _(WEB_FORMAT)
            elif field.startswith("headline_") and kind in ("string_too_short", "missing"):
                message = _(NEED_HEADLINE) if included else _(NEED_TEXT)
            elif loc[:1] == ("infos",) and kind == "too_short":
                message = _(NEED_TEXT)
            elif kind == "string_too_short" and not err.get("input"):
                message = _(MESSAGES["missing"])
            else:
                message = _(MESSAGES.get(kind, N_("This value is not valid.")))
            errors.setdefault(field, message)
    if errors or result is None:
        raise ValidationFailed(CORRECT_FIELDS, errors=[{"field": f, "message": m} for f, m in errors.items()])
    return result


def _area_part(data: AlertCreate, cmap: CityMap) -> str:
    """Which part of the drawn area an area refusal is about."""
    bounds = cmap.shape
    if data.area.polygon is not None:
        try:
            area.check_polygon(data.area.polygon, bounds)
        except area.InvalidAlertArea:
            return "polygon"
    if data.area.circle is not None:
        circle = data.area.circle
        try:
            area.check_circle((circle.lon, circle.lat, circle.radius_km), bounds)
        except area.InvalidAlertArea:
            return "circle"
    return "area"


def field_errors(exc: ParvisError, *, data: AlertCreate | None = None, cmap: CityMap | None = None,
                 default_language: str = "fr") -> dict[str, str]:
    """The refusal next to the field it concerns; what names no field goes above the form."""
    message = error_message(exc)
    out: dict[str, str] = {}
    for err in exc.errors:
        field = ERROR_FIELDS.get(str(err.get("field", "")), str(err.get("field") or ""))
        if field == "area" and data is not None and cmap is not None:
            field = _area_part(data, cmap)
        out.setdefault(field or "form", err.get("message") or message)
    if not out:
        field = SLUG_FIELDS.get(exc.type_slug, "").format(default=default_language)
        if not field and isinstance(exc, area.InvalidAlertArea):
            field = _area_part(data, cmap) if data is not None and cmap is not None else "area"
        out[field or "form"] = message
    return out
