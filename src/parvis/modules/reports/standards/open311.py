"""Open311 GeoReport v2 codec: Parvis values in, the spec's XML or JSON documents out.

Pure functions, no database: the routes (``reports.open311_api``) shape plain dicts whose keys
are the spec's element names, and this module writes them in the spec's element order with the
spec's roots (``services``/``service``, ``service_requests``/``request``, ``service_definition``,
``discovery``, ``errors``/``error`` and FixMyStreet's ``service_request_updates``/
``request_update``). A missing value is ``null`` in JSON and an empty element in XML, as the
spec's examples show. Datetimes are W3C (ISO 8601) with the city's offset, whole seconds.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# Sortable date of the last change to what this server implements (discovery's changeset).
CHANGESET = "2026-11-25T00:00:00+00:00"

XML = "xml"
JSON = "json"
MEDIA_TYPES = {XML: "text/xml; charset=utf-8", JSON: "application/json; charset=utf-8"}
DISCOVERY_FORMATS = ["text/xml", "application/json"]
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'

SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
ATTRIBUTE_FIELDS = ("variable", "code", "datatype", "required", "datatype_description", "order",
                    "description", "values")
VALUE_FIELDS = ("key", "name")
REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "lat", "long", "media_url")
CREATED_FIELDS = ("service_request_id", "token", "service_notice", "account_id")
TOKEN_FIELDS = ("service_request_id", "token")
UPDATE_FIELDS = ("update_id", "service_request_id", "status", "updated_datetime", "description",
                 "media_url")
ENDPOINT_FIELDS = ("specification", "url", "changeset", "type", "formats")
DISCOVERY_FIELDS = ("changeset", "contact", "key_service", "endpoints")
ERROR_FIELDS = ("code", "description")

# Characters XML 1.0 cannot carry at all (ElementTree would write them and break the document).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# ------------------------------------------------------------------------------- values

def w3c(value: datetime | None, tz: str) -> str | None:
    """``2026-11-25T09:30:00+07:00``: the city's offset, no fractional seconds."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat()


def parse_w3c(value: str, tz: str) -> datetime:
    """A W3C datetime (``Z`` or an offset; a date alone or no offset: the city's time), in UTC.
    Raises ValueError."""
    text = value.strip().replace(" ", "+") if "T" in value else value.strip()  # '+' sent unencoded
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed.astimezone(UTC)


def status_of(parvis_status: str, open_statuses: Iterable[str]) -> str:
    """Open311 knows two states: the Parvis workflow maps onto them (detail in status_notes)."""
    return "open" if parvis_status in set(open_statuses) else "closed"


def attribute_answers(items: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    """``attribute[code]=v`` and ``attribute[code][]=v`` form fields, repeated for multivaluelist.
    One value stays a string; repeated values become a list."""
    out: dict[str, list[str]] = {}
    for name, value in items:
        match = re.fullmatch(r"attribute\[([^\[\]]+)\](?:\[\])?", name)
        if match:
            out.setdefault(match.group(1), []).append(value)
    return {code: values[0] if len(values) == 1 else values for code, values in out.items()}


# ------------------------------------------------------------------------------- documents

def discovery(*, url: str, contact: str, key_service: str, fmt: str) -> bytes:
    endpoint = {"specification": SPECIFICATION, "url": url, "changeset": CHANGESET,
                "type": "production", "formats": DISCOVERY_FORMATS}
    doc = {"changeset": CHANGESET, "contact": contact, "key_service": key_service,
           "endpoints": [endpoint]}
    if fmt == JSON:
        return _json({**doc, "endpoints": [_ordered(endpoint, ENDPOINT_FIELDS)]}, DISCOVERY_FIELDS)
    root = ET.Element("discovery")
    for name in ("changeset", "contact", "key_service"):
        _leaf(root, name, doc[name])
    endpoints = ET.SubElement(root, "endpoints")
    node = ET.SubElement(endpoints, "endpoint")
    for name in ENDPOINT_FIELDS[:-1]:
        _leaf(node, name, endpoint[name])
    formats = ET.SubElement(node, "formats")
    for media_type in DISCOVERY_FORMATS:
        _leaf(formats, "format", media_type)
    return _xml(root)


def services(items: Sequence[Mapping[str, Any]], fmt: str) -> bytes:
    return _list("services", "service", items, SERVICE_FIELDS, fmt)


def service_definition(service_code: str, attributes: Sequence[Mapping[str, Any]], fmt: str) -> bytes:
    if fmt == JSON:
        return _json({"service_code": service_code, "attributes": [
            {**_ordered(a, ATTRIBUTE_FIELDS),
             "values": [_ordered(v, VALUE_FIELDS) for v in a.get("values") or []]}
            for a in attributes]})
    root = ET.Element("service_definition")
    _leaf(root, "service_code", service_code)
    node = ET.SubElement(root, "attributes")
    for attribute in attributes:
        item = ET.SubElement(node, "attribute")
        for name in ATTRIBUTE_FIELDS[:-1]:
            _leaf(item, name, attribute.get(name))
        values = ET.SubElement(item, "values")
        for value in attribute.get("values") or []:
            entry = ET.SubElement(values, "value")
            for name in VALUE_FIELDS:
                _leaf(entry, name, value.get(name))
    return _xml(root)


def service_requests(items: Sequence[Mapping[str, Any]], fmt: str) -> bytes:
    return _list("service_requests", "request", items, REQUEST_FIELDS, fmt)


def created(items: Sequence[Mapping[str, Any]], fmt: str) -> bytes:
    """The answer to POST requests: the new id, its token, a notice, an (empty) account id."""
    return _list("service_requests", "request", items, CREATED_FIELDS, fmt)


def tokens(items: Sequence[Mapping[str, Any]], fmt: str) -> bytes:
    return _list("service_requests", "request", items, TOKEN_FIELDS, fmt)


def request_updates(items: Sequence[Mapping[str, Any]], fmt: str) -> bytes:
    """FixMyStreet's extension: GET servicerequestupdates."""
    return _list("service_request_updates", "request_update", items, UPDATE_FIELDS, fmt)


def errors(items: Sequence[tuple[int, str]], fmt: str) -> bytes:
    """``<errors><error><code>404</code><description>...`` or ``[{"code": 404, ...}]``."""
    return _list("errors", "error", [{"code": code, "description": text} for code, text in items],
                 ERROR_FIELDS, fmt)


# ------------------------------------------------------------------------------- writers

def _ordered(item: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {name: item.get(name) for name in fields}


def _list(root_name: str, item_name: str, items: Sequence[Mapping[str, Any]], fields: Sequence[str],
          fmt: str) -> bytes:
    if fmt == JSON:
        return _json([_ordered(item, fields) for item in items])
    root = ET.Element(root_name)
    for item in items:
        node = ET.SubElement(root, item_name)
        for name in fields:
            _leaf(node, name, item.get(name))
    return _xml(root)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return _NOT_XML.sub("", str(value))


def _leaf(parent: ET.Element, name: str, value: Any) -> None:
    ET.SubElement(parent, name).text = _text(value)


def _xml(root: ET.Element) -> bytes:
    return (XML_DECLARATION + ET.tostring(root, encoding="unicode")).encode("utf-8")


def _json(doc: Any, fields: Sequence[str] | None = None) -> bytes:
    if fields is not None and isinstance(doc, Mapping):
        doc = _ordered(doc, fields)
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")
