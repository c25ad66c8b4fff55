"""NGSI-LD (ETSI GS CIM 009) <-> Parvis: entities and attributes in and out, errors.

Parvis keeps an entity as its id, the full IRI of its type and a dict of attributes keyed by
full IRI, each in one normalised form::

    {"type": "Property", "value": 21.5, "observedAt": "2026-11-29T10:00:00Z",
     "unitCode": "CEL", "https://.../accuracy": {"type": "Property", "value": 0.5}}

Meta keys (``type``, ``value``, ``object``, ``languageMap``, ``observedAt``, ``unitCode``,
``datasetId``, ``createdAt``, ``modifiedAt``) are short names; sub-attributes are keyed by
IRI, which always holds a ``:`` so the two never collide. Terms are expanded with the request's
context on the way in and compacted with the reader's context on the way out.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from parvis.modules.sensors.standards.context import CORE_CONTEXT_URL, CORE_CONTEXT_URLS, NGSI_LD, Context

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
STATUS = {"BadRequestData": 400, "InvalidRequest": 400, "ResourceNotFound": 404,
          "AlreadyExists": 409, "NotAcceptable": 406, "OperationNotSupported": 422,
          "LdContextNotAvailable": 503, "UnsupportedMediaType": 415, "TooManyResults": 403}
TITLES = {"BadRequestData": "The request includes input data which does not meet the requirements "
          "of the operation.", "InvalidRequest": "The request associated to the operation is "
          "syntactically invalid or includes wrong content.", "ResourceNotFound": "The referred "
          "element does not exist.", "AlreadyExists": "The referred element already exists.",
          "NotAcceptable": "None of the media types the client accepts can be served.",
          "OperationNotSupported": "The operation is not supported.",
          "LdContextNotAvailable": "A remote JSON-LD @context could not be retrieved.",
          "UnsupportedMediaType": "The request's media type is not supported.",
          "TooManyResults": "The query would return too many results."}

LOCATION = NGSI_LD + "location"
ATTRIBUTE_TYPES = ("Property", "Relationship", "GeoProperty", "LanguageProperty")
# the member each attribute type holds its value in
VALUE_MEMBER = {"Property": "value", "GeoProperty": "value", "Relationship": "object",
                "LanguageProperty": "languageMap"}
NULL = "urn:ngsi-ld:null"  # NGSI-LD's Null: the attribute written with it is deleted
META = ("type", "value", "object", "languageMap", "observedAt", "unitCode", "datasetId",
        "createdAt", "modifiedAt", "valueType", "objectType")
ENTITY_META = ("id", "type", "@context", "createdAt", "modifiedAt", "scope")
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+$")  # no controls (RFC 3986)
# Characters an IRI (RFC 3987) admits but no reader sees, or sees as another: an id holding one
# reads back as a different id in logs and screens. By category: controls, format characters
# (bidi overrides, zero-width space, BOM), private use, surrogates, unassigned and noncharacters,
# separators; and these, whose categories are ordinary: variation selectors, the Hangul fillers,
# the blank Braille pattern.
# format and control characters, private use, surrogates, separators; not "Cn" (unassigned): what
# this Python's Unicode does not know yet, a newer one may (every worker must agree on an id)
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Zs", "Zl", "Zp"})
_JOINERS = frozenset({0x200C, 0x200D})  # ZWNJ and ZWJ: spelling in Persian, Indic scripts, emoji
_INVISIBLE = frozenset({*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0), *range(0xFDD0, 0xFDF0),
                        0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800})
MAX_ID = 256
MAX_NAME = 256
FUTURE_SLACK = timedelta(days=1)  # an observation in the future beyond this is a wrong clock
MAX_VALUE_DEPTH = 32  # arrays and objects nested in a value (the serialiser stops at 255)
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # integers a value may hold: signed 64 bits
# A run of 19 digits or more may be an integer beyond 64 bits, which orjson reads as a float.
# Found with a translation (digits -> "9", the rest -> " ") and a substring search: ten times
# faster than a regular expression over a batch's 100 KB.
_DIGITS_ONLY = bytes(57 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_RUN = b"9" * 19


def _has_long_digits(raw: bytes) -> bool:
    return _LONG_RUN in raw.translate(_DIGITS_ONLY)


class NgsiError(Exception):
    """An error of the NGSI-LD API, rendered as the spec's problem details."""

    def __init__(self, kind: str, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status or STATUS[kind]

    def problem(self) -> dict[str, Any]:
        return {"type": ERRORS + self.kind, "title": TITLES.get(self.kind, self.kind),
                "status": self.status, "detail": self.detail}


def bad(detail: str) -> NgsiError:
    return NgsiError("BadRequestData", detail)


def _int64(text: str) -> int:
    number = int(text)
    if not INT_MIN <= number <= INT_MAX:
        raise bad("Integers must fit in 64 bits (signed): "
                  f"{text[:30]}{'...' if len(text) > 30 else ''} does not.")
    return number


def loads(raw: bytes) -> Any:
    """JSON as NGSI-LD accepts it: UTF-8, no NaN or Infinity, nesting bounded (orjson refuses
    more than 1024 levels, never a RecursionError), integers within 64 bits."""
    try:
        document = orjson.loads(raw)
    except RecursionError:
        raise bad("The body nests too deeply.") from None
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise bad("The body nests too deeply.") from None
        raise NgsiError("InvalidRequest", f"The body is not valid JSON: {exc}") from None
    if _has_long_digits(raw):
        # orjson reads an integer beyond 64 bits as a float, silently: read the numbers again
        # (the document is valid and nests at most 1024 deep) to refuse such integers.
        try:
            json.loads(raw.decode("utf-8"), parse_int=_int64)
        except RecursionError:
            raise bad("The body nests too deeply.") from None
        except ValueError as exc:
            raise NgsiError("InvalidRequest", f"The body is not valid JSON: {exc}") from None
    return document


# ------------------------------------------------------------------------------- validation

def check_uri(value: Any, what: str = "The entity id") -> str:
    if not isinstance(value, str) or len(value) > MAX_ID or not URI_RE.match(value):
        raise bad(f"{what} must be a URI (such as urn:ngsi-ld:Type:1) of at most {MAX_ID} characters.")
    if not value.isascii() and (hidden := next((c for c in value if _invisible(c)), None)):
        raise bad(f"{what} must be a URI without invisible or format characters: it holds "
                  f"U+{ord(hidden):04X}.")
    return value


def _invisible(char: str) -> bool:
    point = ord(char)
    return (point in _INVISIBLE or point & 0xFFFE == 0xFFFE  # U+xFFFE, U+xFFFF: noncharacters
            or (unicodedata.category(char) in _INVISIBLE_CATEGORIES and point not in _JOINERS))


_UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z\Z", re.ASCII)


def check_datetime(value: Any, name: str) -> str:
    """An ISO 8601 date and time in UTC, written with its final ``Z`` (CIM 009 4.6.3: "The string
    shall not contain expressions of the difference between local time and UTC")."""
    if not isinstance(value, str) or len(value) > 40:
        raise bad(f"{name} must be an ISO 8601 date and time string.")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise bad(f"{name} is not an ISO 8601 date and time: {value!r}.") from None
    if when.tzinfo is None or not value.endswith(("Z", "+00:00")):  # +00:00: Python's isoformat
        raise bad(f"{name} must be in UTC and end with Z (2026-11-29T10:00:00Z), without an "
                  f"offset: {value!r}.")
    when = when.astimezone(UTC)
    if when > datetime.now(UTC) + FUTURE_SLACK:
        raise bad(f"{name} is in the future: {value!r}.")
    if _UTC_TEXT.match(value):  # read back as written (2022-03-14T13:00:00.000Z stays so)
        return value
    return when.isoformat().replace("+00:00", "Z")


def _finite(value: Any, path: str, depth: int = 0) -> None:
    """A value that can be stored and served back: finite numbers, integers within signed 64
    bits, at most MAX_VALUE_DEPTH levels of arrays and objects."""
    if isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise bad(f"{path}: NaN and infinite numbers are not allowed.")
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise bad(f"{path}: integers must fit in 64 bits (signed).")
    if isinstance(value, (dict, list)):
        if depth >= MAX_VALUE_DEPTH:
            raise bad(f"{path}: the value nests more than {MAX_VALUE_DEPTH} levels deep.")
        for v in (value.values() if isinstance(value, dict) else value):
            _finite(v, path, depth + 1)


def geometry(value: Any, what: str = "location") -> BaseGeometry:
    """A GeoJSON geometry with WGS84 coordinates in range, valid by OGC rules."""
    if not isinstance(value, dict) or value.get("type") not in GEOMETRY_TYPES:
        raise bad(f"{what} must be a GeoJSON geometry ({', '.join(GEOMETRY_TYPES)}).")
    try:
        geom = shape(value)
    except Exception as exc:  # shapely raises several kinds on malformed coordinates
        raise bad(f"{what} is not a valid GeoJSON geometry: {exc}") from None
    coords = shapely.get_coordinates(geom)
    if geom.is_empty or not len(coords):
        raise bad(f"{what} has no coordinates.")
    if not all(math.isfinite(c) for pair in coords for c in pair):
        raise bad(f"{what} has coordinates that are not finite numbers.")
    if (coords[:, 0].min() < -180 or coords[:, 0].max() > 180 or coords[:, 1].min() < -90
            or coords[:, 1].max() > 90):
        raise bad(f"{what} has coordinates out of range (longitude, latitude in WGS84 order).")
    if not geom.is_valid:
        raise bad(f"{what} is not a valid geometry: {shapely.is_valid_reason(geom)}.")
    return geom


# ------------------------------------------------------------------------------------ input

# the members each attribute type cannot have (CIM 009 4.5: a Property has a value, a Relationship
# an object, a LanguageProperty a languageMap)
_NOT_MEMBERS = {"Property": {"object", "languageMap"}, "GeoProperty": {"object", "languageMap"},
                "Relationship": {"value", "unitCode", "languageMap"},
                "LanguageProperty": {"value", "object", "unitCode"}}
_LANG_STRING = ("langString", "rdf:langString", "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString")
# terms NGSI-LD reserves for members: no attribute is named so (CIM 009 4.6.2)
RESERVED_NAMES = frozenset({"value", "object", "languageMap", "observedAt", "unitCode", "datasetId",
                            "instanceId", "deletedAt", "valueType", "objectType"})
# members only the broker writes (notifications' previous values, proofs' sealed members), never
# the names of sub-attributes
_OUTPUT_MEMBERS = frozenset({"previousValue", "previousObject", "previousLanguageMap", "previousVocab",
                             "previousJson", "previousValueList", "previousObjectList",
                             "entityIdSealed", "entityTypeSealed", "instanceId", "deletedAt"})
# what an ``attrs`` list cannot name: no attribute is called so (entity members, system
# attributes, attributes' members)
NOT_ATTRIBUTES = RESERVED_NAMES | frozenset(ENTITY_META)


def _instance(item: Any) -> bool:
    return isinstance(item, dict) and (item.get("type") in ATTRIBUTE_TYPES or any(
        key in item for key in ("value", "object", "languageMap", "datasetId")))


def _is_geometry(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in GEOMETRY_TYPES and "coordinates" in value


def _normalized(name: str, body: Any) -> Any:
    """An attribute in the concise representation (CIM 009 4.5.2.3, 4.5.3.3, 4.5.18.3), made
    normalized: a bare value is a Property's (a GeoJSON geometry a GeoProperty's); an object
    without a type is a Property by its ``value`` (a GeoProperty when that is a geometry), a
    Relationship by its ``object``, a LanguageProperty by its ``languageMap``. An array of
    attribute instances is a multi-attribute, which Parvis does not keep."""
    if isinstance(body, list):
        if body and all(_instance(item) for item in body):
            raise NgsiError("OperationNotSupported", f"The attribute {name!r} is given as an array of "
                            "instances: Parvis keeps one instance per attribute (multi-attributes "
                            "told apart by datasetId are not supported). Send a single instance.")
        return {"type": "Property", "value": body}
    if not isinstance(body, dict):
        return {"type": "Property", "value": body}
    if _is_geometry(body):
        return {"type": "GeoProperty", "value": body}
    if body.get("type") is not None:
        return body
    if "value" in body:
        return {"type": "GeoProperty" if _is_geometry(body["value"]) else "Property", **body}
    if "object" in body:
        return {"type": "Relationship", **body}
    if "languageMap" in body:
        return {"type": "LanguageProperty", **body}
    return body


def parse_attribute(name: str, body: Any, ctx: Context, *, partial: bool = False,
                    depth: int = 0) -> dict[str, Any]:
    """One attribute, normalized or concise (``partial``: a PATCH of some of its fields, type
    optional)."""
    if not partial:
        body = _normalized(name, body)
    if not isinstance(body, dict):
        raise bad(f"The attribute {name!r} must be a JSON object with a type and a value.")
    kind = body.get("type")
    if not (kind is None and partial) and kind not in ATTRIBUTE_TYPES:
        raise bad(f"The attribute {name!r} must have a type among {', '.join(ATTRIBUTE_TYPES)}.")
    out: dict[str, Any] = {"type": kind} if kind else {}
    for key, value in body.items():
        if key == "type":
            continue
        if key == "value":
            if value is None:
                raise bad(f"The value of {name!r} cannot be null.")
            if kind == "GeoProperty" and isinstance(value, str):
                value = _geometry_text(value)
            _finite(value, name)
            out["value"] = value
        elif key == "object":
            if isinstance(value, list):
                out["object"] = [check_uri(v, f"The object of {name!r}") for v in value]
            else:
                out["object"] = check_uri(value, f"The object of {name!r}")
        elif key == "languageMap":  # a text, or several (CIM 009 v1.8), per language
            if not isinstance(value, dict) or not all(
                    isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v))
                    for v in value.values()):
                raise bad(f"The languageMap of {name!r} must map language tags to strings.")
            out["languageMap"] = value
        elif key in ("valueType", "objectType"):  # v1.8: the value's or the object's type, a term
            if not (isinstance(value, str) and value) and not (
                    isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)):
                raise bad(f"The {key} of {name!r} must be a type name (or a list of them).")
            out[key] = value
        elif key == "observedAt":
            out["observedAt"] = check_datetime(value, f"observedAt of {name!r}")
        elif key == "unitCode":
            if not isinstance(value, str) or not value or len(value) > 20:
                raise bad(f"The unitCode of {name!r} must be a UN/CEFACT code.")
            out["unitCode"] = value
        elif key == "datasetId":
            out["datasetId"] = check_uri(value, f"The datasetId of {name!r}")
        elif key in ("createdAt", "modifiedAt"):
            continue  # system attributes are the broker's
        elif key == "@context":  # CIM 009 5.5.7: terms are read with the payload's @context alone
            raise bad(f"The attribute {name!r} carries its own @context: an attribute cannot embed "
                      "one (CIM 009 5.5.7); give the terms in the payload's @context.")
        else:
            if key in _OUTPUT_MEMBERS:  # CIM 009 4.5.2.2: what the broker writes (or a proof's)
                raise bad(f"{key!r} cannot be written in the attribute {name!r}: NGSI-LD keeps the "
                          "name for a member the broker gives in answers.")
            if depth >= 2:
                raise bad(f"Sub-attributes of {name!r} nest too deeply.")
            out[_name(key, ctx)] = parse_attribute(key, value, ctx, depth=depth + 1)
    kind = out.get("type")
    foreign = sorted(_NOT_MEMBERS.get(kind, set()) & out.keys())
    if foreign:  # a Relationship with a value would be stored and served as neither
        raise bad(f"The {kind} {name!r} cannot have {' or '.join(foreign)}.")
    if kind == "LanguageProperty" and out.get("valueType", "langString") not in _LANG_STRING:
        raise bad(f"The valueType of the LanguageProperty {name!r} is langString (CIM 009 5.2.32).")
    if "languageMap" in out and "" in out["languageMap"]:
        raise bad(f"The languageMap of {name!r} has an empty language tag.")
    if kind in ("Property", "GeoProperty") and "value" not in out and not partial:
        raise bad(f"The {kind} {name!r} needs a value.")
    if kind == "Relationship" and "object" not in out and not partial:
        raise bad(f"The Relationship {name!r} needs an object (the id of another entity).")
    if kind == "LanguageProperty" and "languageMap" not in out and not partial:
        raise bad(f"The LanguageProperty {name!r} needs a languageMap.")
    if kind == "GeoProperty" and "value" in out and out["value"] != NULL:  # Null: deleted
        geometry(out["value"], name)
    return out


def _geometry_text(value: str) -> Any:
    """A GeoProperty's value given as a string holding a GeoJSON geometry (CIM 009 4.7.2): the
    geometry object it encodes; any other string as it is (``geometry`` then refuses it)."""
    if value == NULL or not value.lstrip().startswith("{"):
        return value
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    return decoded if isinstance(decoded, dict) and decoded.get("type") in GEOMETRY_TYPES else value


def is_null(attr: dict[str, Any]) -> bool:
    """NGSI-LD's Null: an attribute written with this value (or object, or a LanguageProperty's
    ``languageMap`` ``{"@none": NULL}``) is deleted."""
    if "languageMap" in attr:
        return attr["languageMap"] == {"@none": NULL}
    return attr.get("value", attr.get("object")) == NULL


_NOT_IN_NAMES = re.compile(r"[ <>\"'=;()]")
_CHECKED_MAX = 4096  # names remembered by one context


def _name(term: Any, ctx: Context) -> str:
    if isinstance(term, str) and (iri := ctx.checked.get(term)) is not None:
        return iri
    if not isinstance(term, str) or not term or len(term) > MAX_NAME:
        raise bad("An attribute name must be a non-empty string of at most 256 characters.")
    if term.startswith("@") or _NOT_IN_NAMES.search(term):
        raise bad(f"{term!r} is not a valid attribute name.")
    if ":" not in term and not term[0].isalpha():  # CIM 009 4.6.2: a short name starts with a letter
        raise bad(f"{term!r} is not a valid name: a name starts with a letter (or is a full IRI).")
    iri = ctx.expand(term)
    if iri.startswith("@"):  # "type" in the core context is @type: no entity type, no attribute
        raise bad(f"{term!r} stands for the JSON-LD keyword {iri} in the @context: it cannot name an "
                  "entity type or an attribute.")
    if len(ctx.checked) < _CHECKED_MAX:
        ctx.checked[term] = iri
    return iri


def expand_type(term: Any, ctx: Context) -> str:
    if isinstance(term, list) and len(term) == 1:
        term = term[0]
    if not isinstance(term, str) or not term:
        raise bad("The entity type is required (a single type name).")
    return _name(term, ctx)


_SYSTEM_IRIS = frozenset(NGSI_LD + name for name in ("createdAt", "modifiedAt", "deletedAt"))


def parse_attributes(body: Any, ctx: Context) -> dict[str, dict[str, Any]]:
    """The attributes of a fragment (append/update), keyed by full IRI (units checked:
    ``units.py``)."""
    from parvis.modules.sensors.standards import units

    if not isinstance(body, dict):
        raise bad("The body must be a JSON object of attributes.")
    if "scope" in body:  # refused rather than dropped: nothing a client sends is lost unsaid
        raise NgsiError("OperationNotSupported", "Entity scopes are not supported: send the entity "
                        "without scope (a city's entities are told apart by type and location).")
    attrs: dict[str, dict[str, Any]] = {}
    for key, value in body.items():
        if key in ENTITY_META or key in ("@id", "@type"):
            continue
        if key in RESERVED_NAMES:
            raise bad(f"{key!r} is a term NGSI-LD reserves for attributes' members: it cannot name "
                      "an attribute.")
        iri = _name(key, ctx)
        if iri in _SYSTEM_IRIS:
            raise bad(f"{key!r} names the entity's own {iri.rsplit('/', 1)[1]}, which the broker "
                      "keeps: it cannot name an attribute.")
        attrs[iri] = parse_attribute(key, value, ctx)
        units.check(iri, attrs[iri])
        if iri == LOCATION and attrs[iri].get("type") != "GeoProperty":
            raise bad("location must be a GeoProperty.")
    return attrs


@dataclass
class EntityIn:
    id: str
    type: str
    attrs: dict[str, dict[str, Any]]


def keyword_aliases(body: dict[str, Any]) -> dict[str, Any]:
    """An entity written with JSON-LD's ``@id`` and ``@type``, which NGSI-LD requests may use for
    ``id`` and ``type`` (CIM 009 4.4; answers use ``id`` and ``type`` only)."""
    if "@id" not in body and "@type" not in body:
        return body
    out = dict(body)
    for keyword, term in (("@id", "id"), ("@type", "type")):
        if keyword in out:
            if term in out:
                raise bad(f"The entity has both {term} and {keyword}: send one of them.")
            out[term] = out.pop(keyword)
    return out


def parse_entity(body: Any, ctx: Context) -> EntityIn:
    if not isinstance(body, dict):  # not even the shape of an entity: a malformed request
        raise NgsiError("InvalidRequest", "An entity must be a JSON object.")
    body = keyword_aliases(body)
    entity_id = check_uri(body.get("id"))
    return EntityIn(id=entity_id, type=expand_type(body.get("type"), ctx),
                    attrs=parse_attributes(body, ctx))


def check_location_patch(iri: str, partial: dict[str, Any]) -> None:
    """A partial update of ``location`` keeps it a GeoProperty with a valid GeoJSON geometry."""
    if iri != LOCATION:
        return
    if partial.get("type", "GeoProperty") != "GeoProperty":
        raise bad("location must stay a GeoProperty.")
    if "value" in partial and partial["value"] != NULL:
        geometry(partial["value"], "location")


def location_of(attrs: dict[str, dict[str, Any]]) -> BaseGeometry | None:
    loc = attrs.get(LOCATION)
    return shape(loc["value"]) if loc and "value" in loc else None


# ----------------------------------------------------------------------------------- output

def render_attribute(attr: dict[str, Any], ctx: Context, key_values: bool,
                     sysattrs: bool = False) -> Any:
    if key_values:
        for key in ("value", "object", "languageMap"):
            if key in attr:
                return attr[key]
        return None
    out: dict[str, Any] = {}
    for key, value in attr.items():
        if key in META or key == "lang":  # lang: a LanguageProperty shown in one language
            if key in ("createdAt", "modifiedAt") and not sysattrs:
                continue
            out[key] = value
        else:
            out[ctx.compact(key)] = render_attribute(value, ctx, False, sysattrs)
    return out


def render_entity(entity_id: str, type_iri: str, attrs: dict[str, dict[str, Any]], ctx: Context, *,
                  key_values: bool = False, only: set[str] | None = None,
                  sysattrs: bool = False, created: datetime | None = None,
                  modified: datetime | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": entity_id, "type": ctx.compact(type_iri)}
    if sysattrs and created and modified:
        out["createdAt"] = ngsi_time(created)
        out["modifiedAt"] = ngsi_time(modified)
    for iri, attr in attrs.items():
        if only is not None and iri not in only:
            continue
        out[ctx.compact(iri)] = render_attribute(attr, ctx, key_values, sysattrs)
    return out


def in_language(attrs: dict[str, dict[str, Any]], lang: str) -> dict[str, dict[str, Any]]:
    """The attributes with each LanguageProperty as a Property in the language asked for
    (``lang``: ``fr``, ``vi,en``, ``km;q=0.9,fr``, ``*``), with its ``lang``: the first language
    asked for that the property has (``fr`` also takes ``fr-BE``; ``nl-BE`` falls back to ``nl``,
    RFC 4647 lookup), else ``@none``, else its first."""
    from parvis.modules.sensors.standards.negotiation import weighted  # it imports this module

    asked = sorted((-q, n, tag) for n, (tag, q) in enumerate(weighted(lang)) if tag and q > 0)
    tags = [tag for _q, _n, tag in asked]
    out = {}
    for iri, attr in attrs.items():
        texts = attr.get("languageMap") if attr.get("type") == "LanguageProperty" else None
        if not isinstance(texts, dict) or not texts:
            out[iri] = attr
            continue
        code = next((c for t in tags for r in _lookup_ranges(t) for c in texts if r == "*" or c.lower() == r
                     or c.lower().startswith(r + "-")), "@none" if "@none" in texts else next(iter(texts)))
        rest = {k: v for k, v in attr.items() if k not in ("type", "languageMap")}
        out[iri] = {"type": "Property", "value": texts[code], "lang": code, **rest}
    return out


def _lookup_ranges(tag: str) -> list[str]:
    """A language range and its truncations, longest first (RFC 4647 3.4 lookup): ``nl-be`` then
    ``nl``; a subtag of one letter left at the end goes with the one after it (``zh-x-a``: ``zh``)."""
    parts = tag.split("-")
    out = []
    while parts:
        out.append("-".join(parts))
        parts.pop()
        while parts and len(parts[-1]) == 1:
            parts.pop()
    return out


def ngsi_time(when: datetime) -> str:
    """A time as NGSI-LD writes it: ISO 8601 in UTC, ``Z``."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def context_value(ctx: Context) -> Any:
    """What an ``application/ld+json`` answer carries as its ``@context``."""
    if ctx.inline is None:
        return CORE_CONTEXT_URL
    return ctx.inline


def link_header(ctx: Context) -> str:
    """The Link header of a JSON answer or notification: the context URL the request (or the
    subscription) named, also in a list, else the core's."""
    # JSON-LD allows one context Link header. The core context always applies (CIM 009 Annex C),
    # so its URLs in a list go unsaid: ``[user, core]`` links the user context. A compound context
    # (several user URLs, or URLs and objects) would need a wrapper context hosted by the broker
    # (Annex C.7), which Parvis does not host: its first user URL is linked, whose terms a
    # receiver then reads right, where with the core's it would read none of them. A context
    # with no URL (an inline object) cannot be linked: the core context's.
    user = [url for url in ctx.links if url not in CORE_CONTEXT_URLS]
    url = user[0] if user else ctx.links[0] if ctx.links else CORE_CONTEXT_URL
    return f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def concise(attr: Any) -> Any:
    """NGSI-LD's concise representation of a normalised attribute: no ``type`` where the
    members say it (value, object, languageMap), a bare value when nothing else is left."""
    if not isinstance(attr, dict):
        return attr
    out = {k: (v if k in META else concise(v)) for k, v in attr.items() if k != "type"}
    if set(out) == {"value"} and not isinstance(out["value"], (dict, list)):
        return out["value"]
    if attr.get("type") == "GeoProperty" and set(out) == {"value"}:
        return out["value"]
    return out


def concise_entity(entity: dict[str, Any]) -> dict[str, Any]:
    """A rendered (normalized) entity in the concise representation."""
    return {k: (v if k in ("id", "type") else concise(v)) for k, v in entity.items()}


@dataclass(frozen=True)
class Projection:
    """``pick`` and ``omit`` (NGSI-LD 1.8): the members of each entity shown (``id``, ``type`` and
    attributes, by their names in the request's context), the rest left out."""
    pick: frozenset[str] | None
    omit: frozenset[str]

    @staticmethod
    def of(pick: str | None, omit: str | None) -> Projection | None:
        """From the parameters' comma lists; None when neither is given."""
        def names(raw: str | None) -> frozenset[str]:
            return frozenset(t.strip() for t in (raw or "").split(",") if t.strip())
        return Projection(names(pick) if pick else None, names(omit)) if pick or omit else None

    def apply(self, entity: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in entity.items()
                if (self.pick is None or k in self.pick) and k not in self.omit}
