"""The NGSI-LD query language (``q``) and geo-queries (``georel``), parsed and evaluated.

``q`` subset: ``attr==value``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``~=`` (regex), a bare
``attr`` (it exists) and ``!attr`` (it does not), ``;`` (AND), ``|`` (OR) and parentheses;
values are numbers, quoted strings, ``true``/``false``, date-times (compared as times); after
``==`` and ``!=`` also value lists (``a,"b,c"``: ``==`` any of them, ``!=`` none) and ``a..b``
ranges. An attribute path is ``attr``, ``attr.subAttr`` (sub-attributes, and the members
``observedAt``, ``unitCode``, ``datasetId``, ``createdAt``, ``modifiedAt``) and may end with a
trailing path into a compound value: ``address[addressLocality]``, ``a[b.c]`` or ``a[b][c]``; on a
LanguageProperty the trailing path is a language filter (CIM 009 4.9): ``label[fr]`` its text in
that language, ``label[*]`` its texts in every language (``==``: one of them, ``!=``: none).
A Relationship is compared with ``==`` and ``!=`` only: any other operator does not match it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

import orjson
import re2
import shapely
import shapely.affinity
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from parvis.modules.sensors.standards.context import Context
from parvis.modules.sensors.standards.ngsi_ld import LOCATION, META, NGSI_LD, NgsiError, geometry, ngsi_time

MAX_Q = 2000
MAX_PATTERN = 200
MAX_DEPTH = 20
MAX_COORDINATES = 100_000  # characters of the coordinates parameter
EARTH_RADIUS_M = 6_371_008.8

_TOKEN = re.compile(r"""\s*(?:(?P<op>==|!=|>=|<=|~=|!~=|>|<)|(?P<punct>[;|()!])|
    (?P<string>"(?:[^"\\]|\\.)*")|(?P<atom>[^\s;|()=!<>~"]+))""", re.X)

Predicate = Callable[[dict[str, dict[str, Any]]], bool]


def invalid(detail: str) -> NgsiError:
    return NgsiError("InvalidRequest", detail)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise invalid(f"q: cannot read the query at {text[pos:pos + 20]!r}.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _value(kind: str, text: str) -> Any:
    if kind == "string":
        try:
            return json.loads(text, strict=False)
        except ValueError:
            raise invalid(f"q: {text[:40]!r} is not a valid quoted string.") from None
    if text in ("true", "false"):
        return text == "true"
    try:
        number = float(text)
    except ValueError:
        return text  # an unquoted word: a date-time or an id, compared as text
    if not math.isfinite(number):
        raise invalid("q: numbers must be finite.")
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


_SEPARATOR = re.compile(r"(,|\.\.)")


def _operand(tokens: list[tuple[str, str]]) -> Any:
    """The value after a comparison: one value, a value list (``a,b``: any of them) or a range
    (``a..b``), from the tokens up to the next ``;``, ``|`` or ``)``. Commas and ``..`` separate
    only outside quotes (``"a,b"`` is one text); a quoted text may be an item of either."""
    units: list[tuple[str, str]] = []  # ("sep", "," or "..") between ("atom" | "string", text)
    for kind, text in tokens:
        if kind == "string":
            units.append((kind, text))
        else:
            units += [("sep" if part in (",", "..") else kind, part)
                      for part in _SEPARATOR.split(text) if part]
    values, seps = units[0::2], {text for _kind, text in units[1::2]}
    if (not units or len(units) % 2 == 0 or any(kind == "sep" for kind, _ in values)
            or any(kind != "sep" for kind, _ in units[1::2])):
        shown = "".join(text for _kind, text in tokens)[:40]
        raise invalid(f"q: {shown!r} is not a value, a value list (a,b) or a range (a..b).")
    parsed = [_value(kind, text) for kind, text in values]
    if not seps:
        return parsed[0]
    if seps == {".."} and len(parsed) == 2:
        return ("range", parsed[0], parsed[1])
    if seps == {","}:
        return ("list", parsed)
    raise invalid("q: a range has two values (a..b), and is not mixed with a list (a,b).")


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(right, tuple):  # a list or a range: "==" any of them / inside, "!=" none / outside
        hit = _within(left, right)
        return hit if op == "==" else not hit
    if isinstance(left, list):
        return any(_compare(op, item, right) for item in left) if op != "!=" else all(
            _compare(op, item, right) for item in left)
    if isinstance(left, str) and isinstance(right, str):
        left_time, right_time = _time(left), _time(right)
        if left_time is not None and right_time is not None:
            left, right = left_time, right_time
    numeric = (isinstance(left, (int, float)) and not isinstance(left, bool)
               and isinstance(right, (int, float)) and not isinstance(right, bool))
    if not numeric and type(left) is not type(right):
        return op == "!="
    try:
        return {"==": lambda: left == right, "!=": lambda: left != right,
                ">": lambda: left > right, ">=": lambda: left >= right,
                "<": lambda: left < right, "<=": lambda: left <= right}[op]()
    except TypeError:
        return False


def _within(left: Any, right: tuple[Any, ...]) -> bool:
    """Whether ``left`` is one of a list's values or inside a range; an array value when one of
    its items is (an array [5, 100] is not inside 49..51, though one item is above 49 and one
    below 51)."""
    if isinstance(left, list):
        return any(_within(item, right) for item in left)
    if right[0] == "list":
        return any(_compare("==", left, value) for value in right[1])
    return _compare(">=", left, right[1]) and _compare("<=", left, right[2])


def _time(text: str) -> datetime | None:
    """A date-time (``2026-11-29T08:00:00Z``) as an aware time, for comparing times as times
    (``...:00Z`` and ``...:00.000Z`` are one time); None for any other text."""
    if len(text) < 19 or text[4] != "-" or text[10] != "T":
        return None
    try:
        at = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


@dataclass(frozen=True)
class AttrPath:
    """Where ``q`` looks: an attribute (full IRI), sub-attributes or members below it, and a
    trailing path of keys into its compound value."""
    names: tuple[str, ...]
    trail: tuple[str, ...] = ()


class _Texts(list[Any]):
    """The texts a language filter reads in a LanguageProperty (``label[*]``: those of every
    language; ``label[fr]`` when French has several): a term matches when one of them does (``!=``
    and ``!~=``: when none does), as for an array value."""


_ORDERING = (">", ">=", "<", "<=")


def _target(attrs: dict[str, dict[str, Any]], path: AttrPath) -> tuple[Any, bool]:
    """What ``path`` reads in an entity's attributes (None where there is nothing), and whether
    that is a Relationship's object (CIM 009 4.9: only ``==`` and ``!=`` compare a Relationship)."""
    attr: Any = attrs.get(path.names[0])
    for part in path.names[1:]:
        if not isinstance(attr, dict):
            return None, False
        attr = attr.get(part)
    relationship = False
    if isinstance(attr, dict):
        if "languageMap" in attr and path.trail:
            return _language(attr["languageMap"], path.trail), False
        relationship = "object" in attr
        attr = next((attr[key] for key in ("value", "object", "languageMap") if key in attr), None)
    for key in path.trail:
        if not isinstance(attr, dict):
            return None, False
        attr = attr.get(key)
    return attr, relationship and not path.trail


def _attribute_value(attrs: dict[str, dict[str, Any]], path: AttrPath) -> Any:
    return _target(attrs, path)[0]


def _language(texts: Any, trail: tuple[str, ...]) -> Any:
    """A languageMap read through a language filter: ``[*]`` every language's texts, ``[tag]`` the
    texts of that language (BCP 47 tags match whatever their case); None where there are none."""
    if not isinstance(texts, dict) or len(trail) != 1:
        return None
    tag = trail[0].casefold()
    found = [text for key, value in texts.items() if tag == "*" or key.casefold() == tag
             for text in (value if isinstance(value, list) else [value])]
    if not found:
        return None
    return found[0] if len(found) == 1 and tag != "*" else _Texts(found)


# What SQL may test before Python does (a superset of the matches, never fewer): numeric
# comparisons of an attribute's value, combined with AND/OR; None where SQL cannot help.
Prefilter = tuple[Any, ...] | None
_NUMERIC_OPS = (">", ">=", "<", "<=", "==")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _all(parts: list[Prefilter]) -> Prefilter:
    kept = [p for p in parts if p is not None]
    return None if not kept else kept[0] if len(kept) == 1 else ("and", kept)


def _any(parts: list[Prefilter]) -> Prefilter:
    return None if any(p is None for p in parts) else ("or", parts)


def _numeric(attr: AttrPath, op: str, right: Any) -> Prefilter:
    """The SQL-testable form of ``attr op right``, when it is a numeric test of a top attribute."""
    if len(attr.names) != 1 or attr.trail or op not in _NUMERIC_OPS:
        return None
    path = attr.names
    if isinstance(right, tuple) and right[0] == "range" and op == "==":
        if _is_number(right[1]) and _is_number(right[2]):
            return ("between", path[0], right[1], right[2])
        return None
    if isinstance(right, tuple) and right[0] == "list" and op == "==":
        if right[1] and all(_is_number(v) for v in right[1]):
            return ("in", path[0], list(right[1]))
        return None
    return ("cmp", path[0], op, right) if _is_number(right) else None


# the entity's system attributes (CIM 009 4.8): a ``q`` naming only them does not narrow a query
# enough to stand as its only filter (5.7.2.4)
SYSTEM_ATTRIBUTES = frozenset(NGSI_LD + name for name in ("createdAt", "modifiedAt", "deletedAt"))


@dataclass(frozen=True)
class Q:
    """A parsed ``q``: call it on an entity's attributes; ``prefilter`` is what SQL may test first;
    ``attributes`` the IRIs of the (top-level) attributes it names, system ones as in
    ``SYSTEM_ATTRIBUTES``."""
    test: Predicate
    prefilter: Prefilter
    attributes: frozenset[str] = frozenset()

    def __call__(self, attrs: dict[str, Any]) -> bool:
        return self.test(attrs)

    @property
    def only_system_attributes(self) -> bool:
        """Whether it names system attributes alone (``modifiedAt>"2026-01-01T00:00:00Z"``): as
        a query's only filter it is too wide (CIM 009 5.7.2.4, a BadRequestData)."""
        return bool(self.attributes) and self.attributes <= SYSTEM_ATTRIBUTES

    @property
    def names_entity_times(self) -> bool:
        """Whether it reads the entity's own ``createdAt``/``modifiedAt``: the caller adds them to
        the attributes it tests (``with_entity_times``)."""
        return not self.attributes.isdisjoint(SYSTEM_ATTRIBUTES)


def with_entity_times(attrs: dict[str, Any], created: datetime | None,
                      modified: datetime | None) -> dict[str, Any]:
    """An entity's attributes with its ``createdAt`` and ``modifiedAt`` as a ``q`` reads them
    (``q=modifiedAt>"2026-01-01T00:00:00Z"``)."""
    out = dict(attrs)
    for name, when in (("createdAt", created), ("modifiedAt", modified)):
        if when is not None:
            out[NGSI_LD + name] = {"type": "Property", "value": ngsi_time(when)}
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], ctx: Context) -> None:
        self.tokens, self.pos, self.ctx, self.depth = tokens, 0, ctx, 0
        self.attributes: set[str] = set()  # the IRIs of the attributes named (``Q.attributes``)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise invalid("q: the query ends too early.")
        self.pos += 1
        return token

    def expr(self) -> Q:
        parts = [self.conjunction()]
        while self.peek() == ("punct", "|"):
            self.take()
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        tests = [p.test for p in parts]
        return Q(lambda a: any(t(a) for t in tests), _any([p.prefilter for p in parts]))

    def conjunction(self) -> Q:
        parts = [self.factor()]
        while self.peek() == ("punct", ";"):
            self.take()
            parts.append(self.factor())
        if len(parts) == 1:
            return parts[0]
        tests = [p.test for p in parts]
        return Q(lambda a: all(t(a) for t in tests), _all([p.prefilter for p in parts]))

    def factor(self) -> Q:
        kind, text = self.take()
        if (kind, text) == ("punct", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise invalid(f"q: parentheses nest more than {MAX_DEPTH} deep.")
            inner = self.expr()
            self.depth -= 1
            if self.take() != ("punct", ")"):
                raise invalid("q: a parenthesis is not closed.")
            return inner
        if (kind, text) == ("punct", "!"):  # "!attr": the entity has no such attribute
            kind, text = self.take()
            nxt = self.peek()
            if kind != "atom" or (nxt is not None and nxt[0] == "op"):
                raise invalid("q: \"!\" goes before an attribute alone (\"!attr\": it does not exist).")
            absent = self._path(text)
            return Q(lambda a: _attribute_value(a, absent) is None, None)
        if kind != "atom":
            raise invalid(f"q: an attribute name was expected, not {text!r}.")
        path = self._path(text)
        nxt = self.peek()
        if nxt is None or nxt[0] != "op":
            return Q(lambda a: _attribute_value(a, path) is not None, None)
        op = self.take()[1]
        # the value: the tokens up to the next ";", "|" or ")" (a list of quoted texts is several)
        tokens: list[tuple[str, str]] = []
        while (token := self.peek()) is not None and token[0] in ("atom", "string"):
            tokens.append(self.take())
        if not tokens:
            raise invalid(f"q: a value was expected after {op}.")
        if op in ("~=", "!~="):
            # one regular expression: unquoted, its commas and dots are the pattern's own
            if len(tokens) > 1:
                raise invalid(f"q: {op} takes one regular expression, not a value list or a range.")
            pattern = _pattern(_value(*tokens[0]), "q")

            def hit(a: dict[str, Any]) -> bool:  # a text (a language filter's: one of them) in L(R)
                v = _attribute_value(a, path)
                return any(isinstance(t, str) and bool(pattern.search(t))
                           for t in (v if isinstance(v, _Texts) else [v]))
            return Q(hit, None) if op == "~=" else Q(lambda a: not hit(a), None)
        right = _operand(tokens)
        if isinstance(right, tuple) and op not in ("==", "!="):
            raise invalid(f"q: a value list (a,b) or a range (a..b) is only allowed after == and !=, "
                          f"not after {op}.")
        ordering = op in _ORDERING

        def compared(a: dict[str, Any]) -> bool:
            v, relationship = _target(a, path)
            return v is not None and not (relationship and ordering) and _compare(op, v, right)
        return Q(compared, _numeric(path, op, right))

    def _path(self, text: str) -> AttrPath:
        where, bracket, inner = text.partition("[")
        trail: list[str] = []
        if bracket:
            if not inner.endswith("]"):
                raise invalid(f"q: {text!r} is not a supported attribute path.")
            trail = inner[:-1].replace("][", ".").split(".")
        if "%" in where and "://" not in where:
            # NGSI-LD's attribute names have no "%": a query percent-encoded once too often
            raise invalid(f"q: {text!r} is not an attribute name (no \"%\" in names; was the "
                          "query percent-encoded twice?).")
        head, *rest = where.split(".") if "://" not in where else [where]
        if not head or not all(rest) or not all(trail) or any(c in k for k in trail for c in "[]"):
            raise invalid(f"q: {text!r} is not a supported attribute path.")
        # the members of an attribute are stored by their short names (``ngsi_ld.META``);
        # sub-attributes by their IRIs
        iri = self.ctx.expand(head)
        system = NGSI_LD + head if NGSI_LD + head in SYSTEM_ATTRIBUTES else None
        self.attributes.add(system or iri)
        return AttrPath((iri, *(p if p in META else self.ctx.expand(p) for p in rest)), tuple(trail))


def parse_q(text: str, ctx: Context) -> Q:
    if len(text) > MAX_Q:
        raise invalid(f"q is longer than {MAX_Q} characters.")
    parser = _Parser(_tokens(text), ctx)
    q = parser.expr()
    if parser.peek() is not None:
        raise invalid(f"q: unexpected {parser.peek()[1]!r}.")  # type: ignore[index]
    return replace(q, attributes=frozenset(parser.attributes))


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 << 20  # a pattern whose automaton needs more is refused
    return options


_RE2_OPTIONS = _re2_options()


def _pattern(text: Any, what: str) -> Any:
    """A user's regular expression, compiled with RE2: matching takes linear time, whatever the
    pattern (no backtracking), so no pattern can tie up the server. RE2 has no backreferences
    nor lookarounds: such a pattern is refused, as is a pattern RE2 cannot otherwise compile."""
    if not isinstance(text, str) or not text or len(text) > MAX_PATTERN:
        raise NgsiError("BadRequestData",
                        f"{what}: a pattern must be text of 1 to {MAX_PATTERN} characters.")
    try:
        return re2.compile(text, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(
            exc.args[0], bytes) else str(exc)
        raise NgsiError("BadRequestData", f"{what}: not a supported regular expression (RE2 "
                        f"syntax, no backreferences or lookarounds): {reason}.") from None


def id_pattern(text: str) -> Any:
    """``idPattern``: searched anywhere in the id (anchor it with ``^``/``$``), as Orion-LD,
    Stellio and Scorpio do."""
    return _pattern(text, "idPattern")


# ------------------------------------------------------------------------------------- geo

GEORELS = ("near", "within", "intersects", "contains", "disjoint", "overlaps", "equals")


@dataclass
class GeoQuery:
    rel: str
    shape: BaseGeometry
    max_distance: float | None = None
    min_distance: float | None = None
    # ``geoproperty``: the IRI of the GeoProperty tested; None for ``location``, whose geometry
    # and box have columns of their own (SQL narrows by the box); another is read from the attributes
    prop: str | None = None

    def geometry_of(self, attrs: dict[str, Any]) -> BaseGeometry | None:
        """The tested GeoProperty's geometry in these attributes, or None when there is none."""
        found = attrs.get(self.prop or LOCATION)
        if not isinstance(found, dict) or found.get("type") != "GeoProperty" or not isinstance(
                found.get("value"), dict):
            return None
        try:
            return shape(found["value"])
        except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError):
            return None  # not a geometry (a value written before its type became GeoProperty)

    def bbox(self) -> tuple[float, float, float, float] | None:
        """The box an entity's location must overlap to possibly match (None: no prefilter)."""
        if self.rel == "disjoint" or (self.rel == "near" and self.max_distance is None):
            return None
        minx, miny, maxx, maxy = self.shape.bounds
        if self.rel == "near" and self.max_distance is not None:
            dlat = math.degrees(self.max_distance / EARTH_RADIUS_M)
            coslat = max(math.cos(math.radians(max(abs(miny), abs(maxy)) + dlat)), 1e-6)
            dlon = min(dlat / coslat, 360.0)
            return (minx - dlon, max(miny - dlat, -90), maxx + dlon, min(maxy + dlat, 90))
        return (minx, miny, maxx, maxy)

    def matches(self, location: BaseGeometry) -> bool:
        if self.rel == "near":
            d = distance_m(self.shape, location)
            return ((self.max_distance is None or d <= self.max_distance)
                    and (self.min_distance is None or d >= self.min_distance))
        return bool(getattr(location, self.rel)(self.shape))


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_m(a: BaseGeometry, b: BaseGeometry) -> float:
    """Metres between the nearest points of two geometries (0 when they touch). Points: the
    great-circle distance. Otherwise the nearest points are found with longitudes scaled by the
    cosine of the latitude (a degree of longitude is shorter away from the equator: in plain
    degrees, at 85° north a line's end 1° east would look as far as 1° north), then measured
    on the sphere."""
    if a.intersects(b):
        return 0.0
    if a.geom_type == "Point" and b.geom_type == "Point":
        return haversine_m(a.x, a.y, b.x, b.y)
    scale = max(math.cos(math.radians(a.centroid.y)), 1e-6)
    squeeze = partial(shapely.affinity.scale, xfact=scale, yfact=1.0, origin=(0, 0))
    pa, pb = nearest_points(squeeze(a), squeeze(b))
    return haversine_m(pa.x / scale, pa.y, pb.x / scale, pb.y)


def parse_geo(georel: str | None, geometry_type: str | None, coordinates: str | None,
              geoproperty: str | None = None, ctx: Context | None = None) -> GeoQuery | None:
    """A geo-query; ``geoproperty`` (a term of ``ctx``, or an IRI) names the GeoProperty tested
    (CIM 009 4.10: ``location`` by default)."""
    if not georel and not geometry_type and not coordinates:
        return None
    if not (georel and geometry_type and coordinates):
        raise bad_geo("A geo-query needs georel, geometry and coordinates together.")
    prop = geo_property(geoproperty, ctx)
    rel, *modifiers = georel.split(";")
    if rel not in GEORELS:
        raise bad_geo(f"georel must be one of {', '.join(GEORELS)}.")
    query = GeoQuery(rel=rel, shape=Point(0, 0), prop=prop)
    for modifier in modifiers:
        key, sep, value = modifier.partition("==")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or key not in ("maxDistance", "minDistance") or rel != "near" or not (
                math.isfinite(number) and number > 0):  # CIM 009 4.10: a PositiveNumber, not 0
            raise bad_geo(f"georel: {modifier!r} is not a valid modifier (near;maxDistance==metres, "
                          "more than 0).")
        setattr(query, "max_distance" if key == "maxDistance" else "min_distance", number)
    if rel == "near" and len(modifiers) != 1:  # the grammar's nearRel: exactly one distance
        raise bad_geo("georel=near takes one distance: maxDistance or minDistance.")
    if len(coordinates) > MAX_COORDINATES:
        raise bad_geo(f"coordinates is longer than {MAX_COORDINATES} characters.")
    try:  # orjson: no NaN or Infinity, and nesting is bounded (never a RecursionError)
        coords = orjson.loads(coordinates)
    except (orjson.JSONDecodeError, RecursionError):
        raise bad_geo("coordinates must be a JSON array of finite numbers.") from None
    try:
        query.shape = geometry({"type": geometry_type, "coordinates": coords}, "The query geometry")
    except NgsiError as exc:
        raise bad_geo(exc.detail) from None
    if shapely.get_num_coordinates(query.shape) > 10_000:
        raise bad_geo("The query geometry has too many points.")
    return query


def geo_property(geoproperty: str | None, ctx: Context | None) -> str | None:
    """The IRI of a ``geoproperty`` parameter, None for ``location`` (the default)."""
    if geoproperty is None or geoproperty in ("", "location", LOCATION):
        return None
    if ctx is None:  # a stored subscription's: the IRI its creation expanded and checked
        return None if geoproperty == LOCATION else geoproperty
    if not isinstance(geoproperty, str) or len(geoproperty) > MAX_PATTERN:
        raise bad_geo("geoproperty must be the name of a GeoProperty.")
    iri = ctx.expand(geoproperty)
    return None if iri == LOCATION else iri


def bad_geo(detail: str) -> NgsiError:
    return NgsiError("BadRequestData", detail)
