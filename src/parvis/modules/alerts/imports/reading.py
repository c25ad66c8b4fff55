"""Reading an external authority's CAP document into what the city would relay.

Everything here is pure (no database, no network): the document is parsed by the hardened
parser of ``standards.xmlsafe`` (no DTD, no entity, nothing read from disk or network, a size
limit first), validated against the CAP 1.2 XSD and the spec's rules (``standards.cap``), then
checked for the city: relayable (``rules.check_relayable``), not expired, its polygons and
circles sane and touching the city (``area``), with swapped latitude and longitude named as
such. What comes out is the draft the city would send, as the body the alerts API takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from parvis.kernel.errors import N_, ParvisError
from parvis.kernel.i18n import Translator
from parvis.modules.alerts import area as area_rules
from parvis.modules.alerts import rules
from parvis.modules.alerts.standards import cap
from parvis.modules.alerts.targeting import CityMap
from parvis.settings import LANGUAGES

DISTRICT_GEOCODE = "parvis:district"  # the geocode the city's own CAP documents carry
MAX_RING_POINTS = 5000  # what the alerts API takes for one polygon
RELAYED_FROM = N_("Relayed from %(sender)s (message %(identifier)s sent %(sent)s).")


@dataclass
class Reading:
    """A checked external CAP message and the city's draft of it."""

    alert: cap.Alert
    proposal: dict[str, Any]  # an AlertCreate body; its "area" is None when it must be drawn
    area: BaseGeometry | None  # the source's polygons and circles, all of them
    headline: str
    event: str
    expires: datetime | None


def _swapped(data: bytes, max_bytes: int, city: BaseGeometry) -> bool:
    """Whether the document's areas would lie in the city with latitude and longitude swapped."""
    try:
        cap.parse(data, max_bytes=max_bytes, city=city)
    except area_rules.SwappedLatLon:
        return True
    except ParvisError:
        return False
    return False


def parse_checked(data: bytes, max_bytes: int, city: BaseGeometry | None) -> cap.Alert:
    """The CAP message, parsed safely and validated (XSD, CAP rules, sane geometry), or a
    translated error. Areas are not yet checked against the city, except to name swapped
    coordinates (which are out of range for most cities, so the plain parse refuses them)."""
    try:
        return cap.parse(data, max_bytes=max_bytes)
    except area_rules.InvalidAlertArea as exc:
        if type(exc) is area_rules.InvalidAlertArea and city is not None and _swapped(data, max_bytes, city):
            raise area_rules.SwappedLatLon() from exc
        raise


def _language(tag: str) -> str | None:
    primary = tag.split("-")[0].strip().lower()
    return primary if primary in LANGUAGES else None


def _parts(alert: cap.Alert, city: BaseGeometry | None) -> tuple[list[list[area_rules.LonLat]],
                                                                   list[area_rules.Circle]]:
    """The distinct polygons and circles of every info block, each checked against the city."""
    rings: list[list[area_rules.LonLat]] = []
    circles: list[area_rules.Circle] = []
    for info in alert.infos:
        for where in info.areas:
            rings += [r for r in where.polygons if r not in rings]
            circles += [c for c in where.circles if c not in circles]
    if city is None:
        return rings, circles
    for ring in rings:
        if not Polygon(ring).intersects(city):
            swapped = [(lat, lon) for lon, lat in ring]
            in_range = all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in swapped)
            if in_range and Polygon(swapped).intersects(city):
                raise area_rules.SwappedLatLon()
    for circle in circles:
        if not area_rules.circle_polygon(*circle).intersects(city):
            lon, lat, radius = circle
            if -90 <= lon <= 90 and area_rules.circle_polygon(lat, lon, radius).intersects(city):
                raise area_rules.SwappedLatLon()
    return rings, circles


def _shape(rings: list[list[area_rules.LonLat]], circles: list[area_rules.Circle]) -> BaseGeometry | None:
    if not rings and not circles:
        return None
    return area_rules.area_shape(rings, circles)


def _drawn(rings: list[list[area_rules.LonLat]], circles: list[area_rules.Circle],
           city: BaseGeometry | None) -> tuple[list[list[float]] | None, dict[str, float] | None, bool]:
    """The source's area as the alerts API draws one (one polygon and one circle at most): the
    parts touching the city, merged into one polygon when there are more. The last value is
    False when that cannot be done faithfully (separate parts, a hole): an agent draws it."""
    if city is not None:
        rings = [r for r in rings if Polygon(r).intersects(city)]
        circles = [c for c in circles if area_rules.circle_polygon(*c).intersects(city)]
    if len(rings) <= 1 and len(circles) <= 1:
        polygon = [[lon, lat] for lon, lat in rings[0]] if rings else None
        circle = ({"lon": circles[0].lon, "lat": circles[0].lat, "radius_km": circles[0].radius_km}
                  if circles else None)
        return polygon, circle, True
    merged = area_rules.area_shape(rings, circles)
    if merged.geom_type != "Polygon" or len(merged.interiors):
        return None, None, False
    exterior = list(merged.exterior.coords)
    if len(exterior) > MAX_RING_POINTS:
        simpler = merged.simplify(0.0001, preserve_topology=True)
        if simpler.geom_type != "Polygon":
            return None, None, False
        exterior = list(simpler.exterior.coords)
        if len(exterior) > MAX_RING_POINTS:
            return None, None, False
    return [[round(x, 6), round(y, 6)] for x, y in exterior], None, True


def _district_ids(alert: cap.Alert, cmap: CityMap) -> list[int]:
    """Districts named by the city's own geocode (a document the city sent, relayed back)."""
    by_code = {code.upper(): i for i, code in cmap.codes.items()}
    found = {by_code[value.strip().upper()] for info in alert.infos for where in info.areas
             for name, value in where.geocodes
             if name == DISTRICT_GEOCODE and value.strip().upper() in by_code}
    return sorted(found)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def read(data: bytes, cmap: CityMap, *, now: datetime, max_bytes: int, default_language: str) -> Reading:
    """Check an untrusted CAP document for relaying in the city; a translated error otherwise."""
    city = cmap.shape
    alert = parse_checked(data, max_bytes, city)
    rules.check_relayable(alert)
    rules.check_times(alert)
    rules.check_not_expired(alert, now)
    rings, circles = _parts(alert, city)
    shape = _shape(rings, circles)
    if city is not None and shape is not None and not shape.intersects(city):
        raise area_rules.AreaOutsideCity()
    polygon, circle, faithful = _drawn(rings, circles, city)
    districts = _district_ids(alert, cmap)

    kept: dict[str, cap.Info] = {}
    for info in alert.infos:
        language = _language(info.language)
        if language and language not in kept:
            kept[language] = info
    first = next(iter(kept.values()), alert.infos[0] if alert.infos else None)
    shown = kept.get(default_language) or first
    headline = ((shown.headline or shown.event) if shown else alert.note or alert.identifier) or ""
    area_desc = ", ".join(dict.fromkeys(w.description for i in alert.infos for w in i.areas if w.description))
    tr = Translator(default_language)
    note = tr.gettext(RELAYED_FROM, sender=alert.sender, identifier=alert.identifier,
                      sent=cap.format_datetime(alert.sent))
    if alert.note:
        note = f"{note}\n{alert.note}"
    # None: an agent draws the area (no polygon, circle or district of the city's own; or parts
    # that do not make one polygon).
    drawn = ({"description": area_desc[:500], "district_ids": districts, "polygon": polygon, "circle": circle}
             if faithful and (polygon or circle or districts) else None)
    proposal: dict[str, Any] = {
        "status": alert.status,
        "event": (first.event if first else "")[:200] or headline[:200],
        "categories": list(dict.fromkeys(first.categories))[:12] if first else ["Other"],
        "response_types": list(dict.fromkeys(first.response_types))[:9] if first else [],
        "urgency": first.urgency if first else "Unknown",
        "severity": first.severity if first else "Unknown",
        "certainty": first.certainty if first else "Unknown",
        "web": first.web if first and first.web and len(first.web) <= 500 and first.web.startswith(
            ("http://", "https://")) and not any(c.isspace() for c in first.web) else "",
        "contact": ((first.contact if first else "") or "")[:300],
        "note": note[:2000],
        "effective": _iso(first.effective if first else None),
        "onset": _iso(first.onset if first else None),
        "expires": _iso(first.expires if first else None),
        "infos": [{"language": language, "headline": (info.headline or info.event or headline)[:160],
                   "description": (info.description or "")[:4000],
                   "instruction": (info.instruction or "")[:2000]} for language, info in kept.items()],
        "area": drawn,
    }
    return Reading(alert=alert, proposal=proposal, area=shape, headline=headline[:200],
                   event=proposal["event"], expires=first.expires if first else None)
