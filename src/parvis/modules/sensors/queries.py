"""Reads of the sensor hub: one entity, entity queries (type, ids, pattern, q, geo), API keys.

What SQL can decide (type, ids, the location's bounding box) is decided in SQL, with indexes;
the rest (``idPattern``, ``q``, the exact geometry test) in Python on what remains, streamed in
id order so that ``offset``/``limit`` and the count are exact.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shapely.geometry import shape
from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from parvis.kernel.auth import token_digest
from parvis.modules.sensors.models import ApiKey, Device, Entity, Observation
from parvis.modules.sensors.standards.query import GeoQuery, with_entity_times

SCAN_CHUNK = 500


@dataclass(frozen=True)
class Selector:
    """One entity selector of a query's ``entities`` (CIM 009 5.2.33): types, ids or an id
    pattern, all of those given; a query's selectors are alternatives (OR)."""

    types: frozenset[str] | None = None
    ids: frozenset[str] | None = None
    pattern: Any = None  # a compiled RE2 pattern, searched in the id

    def sql(self) -> ColumnElement[bool]:
        tests = []
        if self.types is not None:
            tests.append(Entity.type.in_(sorted(self.types)))
        if self.ids is not None:
            tests.append(Entity.id.in_(sorted(self.ids)))
        return and_(true(), *tests)

    def matches(self, row: Entity) -> bool:
        return ((self.types is None or row.type in self.types) and (self.ids is None or row.id in self.ids)
                and (self.pattern is None or bool(self.pattern.search(row.id))))


@dataclass
class EntityQuery:
    types: list[str] | None = None  # full IRIs
    ids: list[str] | None = None
    id_pattern: Any = None  # a compiled RE2 pattern, searched in the id
    q: Callable[[dict[str, Any]], bool] | None = None
    geo: GeoQuery | None = None
    attrs: set[str] | None = None  # full IRIs: an entity matches if it has one of them
    readable_types: set[str] | None = None  # None: every type; else only these (anonymous)
    limit: int = 20
    offset: int = 0
    count: bool = False
    # the temporal query: only entities with an instance (of ``attrs``, if given) observed in
    # [lower, upper), either bound None for open
    observed: tuple[datetime | None, datetime | None] | None = None
    # a POSTed query's selectors when they are not one conjunction (then types, ids and
    # id_pattern are None): an entity matches if one of them does
    selectors: tuple[Selector, ...] | None = None

    def needs_python(self) -> bool:
        return bool(self.id_pattern is not None or self.q or self.geo or self.attrs
                    or any(s.pattern is not None for s in self.selectors or ()))


def entity(session: Session, entity_id: str) -> Entity | None:
    return session.get(Entity, entity_id)


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, "==": lambda a, b: a == b}


def _number_test(iri: str, dialect: str, test: Callable[[Any], Any]) -> ColumnElement[bool] | None:
    """SQL keeping the entities whose ``iri`` value is a number passing ``test``, or an array
    (which ``q`` tests item by item, in Python). None where the IRI cannot be put in a path."""
    if dialect == "postgresql":
        value = Entity.attrs.op("->")(literal(iri)).op("->")(literal("value"))
        kind = func.json_typeof(value)
        number = cast(Entity.attrs.op("->")(literal(iri)).op("->>")(literal("value")), Float)
        return case((kind == "number", test(number)), else_=kind == "array")
    if '"' in iri or "\\" in iri:
        return None
    path = f'$."{iri}".value'
    kind = func.json_type(Entity.attrs, path)
    number = func.json_extract(Entity.attrs, path)
    return or_(kind == "array", and_(kind.in_(("integer", "real")), test(number)))


def _prefilter(pre: Any, dialect: str) -> ColumnElement[bool] | None:
    """The SQL form of a ``q`` prefilter (``standards/query.py``): a superset of the matches."""
    if pre is None:
        return None
    kind = pre[0]
    if kind in ("and", "or"):
        parts = [_prefilter(p, dialect) for p in pre[1]]
        if kind == "and":
            kept = [p for p in parts if p is not None]
            return and_(*kept) if kept else None
        return None if any(p is None for p in parts) else or_(*parts)  # type: ignore[arg-type]
    if kind == "cmp":
        op, right = pre[2], pre[3]
        return _number_test(pre[1], dialect, lambda v: _OPS[op](v, right))
    if kind == "between":
        return _number_test(pre[1], dialect, lambda v: and_(v >= pre[2], v <= pre[3]))
    if kind == "in":
        return _number_test(pre[1], dialect, lambda v: or_(false(), *(v == x for x in pre[2])))
    return None


def _base(query: EntityQuery, dialect: str = "") -> Select[tuple[Entity]]:
    stmt = select(Entity)
    if query.types is not None:
        stmt = stmt.where(Entity.type.in_(query.types))
    if query.readable_types is not None:
        stmt = stmt.where(Entity.type.in_(sorted(query.readable_types)))
    if query.ids is not None:
        stmt = stmt.where(Entity.id.in_(query.ids))
    if query.selectors is not None:
        stmt = stmt.where(or_(*(selector.sql() for selector in query.selectors)))
    if query.geo is not None and query.geo.prop is None:  # location: the box's columns narrow
        box = query.geo.bbox()
        if box is not None:
            minx, miny, maxx, maxy = box
            stmt = stmt.where(Entity.lon_max >= minx, Entity.lon_min <= maxx,
                              Entity.lat_max >= miny, Entity.lat_min <= maxy)
            if query.geo.rel == "within":
                stmt = stmt.where(Entity.lon_min >= minx, Entity.lon_max <= maxx,
                                  Entity.lat_min >= miny, Entity.lat_max <= maxy)
        else:
            stmt = stmt.where(Entity.lon_min.is_not(None))
    if dialect and query.q is not None:
        narrowed = _prefilter(getattr(query.q, "prefilter", None), dialect)
        if narrowed is not None:
            stmt = stmt.where(narrowed)
    if query.observed is not None:
        stmt = stmt.where(_observed(query.observed, query.attrs))
    return stmt


def _observed(window: tuple[datetime | None, datetime | None], attrs: set[str] | None) -> ColumnElement[bool]:
    """An instance of the entity (of one of ``attrs``) in the window: the temporal query's
    entities are those with something to show (the unique index leads with entity_id)."""
    lower, upper = window
    found = select(Observation.id).where(Observation.entity_id == Entity.id)
    if attrs:
        found = found.where(Observation.attribute.in_(sorted(attrs)))
    if lower is not None:
        found = found.where(Observation.observed_at >= lower)
    if upper is not None:
        found = found.where(Observation.observed_at < upper)
    return found.exists()


def _matches(row: Entity, query: EntityQuery) -> bool:
    if query.id_pattern is not None and not query.id_pattern.search(row.id):
        return False
    if query.selectors is not None and not any(s.matches(row) for s in query.selectors):
        return False
    if query.attrs is not None and not query.attrs.intersection(row.attrs):
        return False
    if query.geo is not None:
        if query.geo.prop is None:
            found = shape(row.location) if row.location is not None else None
        else:
            found = query.geo.geometry_of(row.attrs)
        if found is None or not query.geo.matches(found):
            return False
    if query.q is None:
        return True
    if getattr(query.q, "names_entity_times", False):
        return query.q(with_entity_times(row.attrs, row.created_at, row.modified_at))
    return query.q(row.attrs)


def _scan(session: Session, query: EntityQuery) -> Iterator[Entity]:
    """Rows that pass every filter, in id order, fetched by chunks (keyset on id); numeric
    comparisons of ``q`` are tested by SQL first."""
    last: str | None = None
    dialect = session.get_bind().dialect.name
    while True:
        stmt = _base(query, dialect).order_by(Entity.id).limit(SCAN_CHUNK)
        if last is not None:
            stmt = stmt.where(Entity.id > last)
        rows = list(session.scalars(stmt))
        for row in rows:
            if _matches(row, query):
                yield row
        if len(rows) < SCAN_CHUNK:
            return
        last = rows[-1].id


# the distinct types, one index look-up each ("loose index scan": neither engine skips through
# an index for DISTINCT on its own, and a scan of 100,000 entities took 0.7 s)
_TYPES = ("WITH RECURSIVE t(type) AS (SELECT min(type) FROM sensors_entities UNION ALL "
          "SELECT (SELECT min(type) FROM sensors_entities WHERE type > t.type) FROM t "
          "WHERE t.type IS NOT NULL) SELECT type FROM t WHERE type IS NOT NULL")


def entity_types(session: Session, readable: set[str] | None) -> list[str]:
    """The types (full IRIs) of the stored entities, in order; only ``readable`` ones if given."""
    return [t for (t,) in session.execute(text(_TYPES)) if readable is None or t in readable]


_CENSUS = {  # (type, attribute, the attribute's kind, how many entities), counted by the database
    "sqlite": "SELECT e.type, j.key, json_extract(j.value, '$.type'), count(*) "
              "FROM sensors_entities AS e, json_each(e.attrs) AS j GROUP BY 1, 2, 3",
    "postgresql": "SELECT e.type, j.key, j.value->>'type', count(*) "
                  "FROM sensors_entities AS e, json_each(e.attrs) AS j GROUP BY 1, 2, 3",
}
Census = list[tuple[str, str, str, int]]
_census: weakref.WeakKeyDictionary[Engine, tuple[float, Census]] = weakref.WeakKeyDictionary()
_census_lock = threading.Lock()


def attribute_census(session: Session, readable: set[str] | None, *, type_iri: str | None = None,
                     max_age: float = 0.0) -> Census:
    """(type, attribute IRI, its kind such as ``Property``, how many entities) for the stored
    entities, of one type if given, only ``readable`` types if given. Counting reads every entity:
    a census at most ``max_age`` seconds old is reused (one count at a time per process)."""
    key = session.get_bind().engine
    with _census_lock:
        at, rows = _census.get(key, (-math.inf, []))
        if time.monotonic() - at > max_age:
            found = session.execute(text(_CENSUS[session.get_bind().dialect.name]))
            rows = [(t, a, k or "Property", n) for t, a, k, n in found]
            _census[key] = (time.monotonic(), rows)
    return [row for row in rows if (readable is None or row[0] in readable)
            and (type_iri is None or row[0] == type_iri)]


def type_count(session: Session, type_iri: str) -> int:
    return session.scalar(select(func.count()).select_from(Entity).where(Entity.type == type_iri)) or 0


def entities(session: Session, query: EntityQuery) -> tuple[list[Entity], int | None]:
    """A page of matching entities, and their total when ``count`` is asked."""
    if not query.needs_python():
        page = list(session.scalars(_base(query).order_by(Entity.id)
                                    .offset(query.offset).limit(query.limit)))
        total = None
        if query.count:
            total = session.scalar(select(func.count()).select_from(_base(query).subquery()))
        return page, total
    page, total = [], 0
    for row in _scan(session, query):
        if query.offset <= total < query.offset + query.limit:
            page.append(row)
        total += 1
        if not query.count and total >= query.offset + query.limit:
            break
    return page, (total if query.count else None)


def api_key(session: Session, key: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.digest == token_digest(key),
                                               ApiKey.revoked_at.is_(None)))


def api_key_by_digest(session: Session, digest: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.digest == digest))


def api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def devices(session: Session, *, limit: int = 100, offset: int = 0) -> tuple[list[Device], int]:
    rows = list(session.scalars(select(Device).order_by(Device.device_id).limit(limit).offset(offset)))
    return rows, session.scalar(select(func.count(Device.id))) or 0


def device(session: Session, device_id: str) -> Device | None:
    return session.scalar(select(Device).where(Device.device_id == device_id))
