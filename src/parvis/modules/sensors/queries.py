"""Reads of the sensor hub: one entity, entity queries (type, ids, pattern, q, geo), API keys.

What SQL can decide (type, ids, the location's bounding box) is decided in SQL, with indexes;
the rest (``idPattern``, ``q``, the exact geometry test) in Python on what remains, streamed in
id order so that ``offset``/``limit`` and the count are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from shapely.geometry import shape
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from parvis.kernel.auth import token_digest
from parvis.modules.sensors.models import ApiKey, Device, Entity
from parvis.modules.sensors.standards.query import GeoQuery

SCAN_CHUNK = 500


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

    def needs_python(self) -> bool:
        return bool(self.id_pattern is not None or self.q or self.geo or self.attrs)


def entity(session: Session, entity_id: str) -> Entity | None:
    return session.get(Entity, entity_id)


def _base(query: EntityQuery) -> Select[tuple[Entity]]:
    stmt = select(Entity)
    if query.types is not None:
        stmt = stmt.where(Entity.type.in_(query.types))
    if query.readable_types is not None:
        stmt = stmt.where(Entity.type.in_(sorted(query.readable_types)))
    if query.ids is not None:
        stmt = stmt.where(Entity.id.in_(query.ids))
    if query.geo is not None:
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
    return stmt


def _matches(row: Entity, query: EntityQuery) -> bool:
    if query.id_pattern is not None and not query.id_pattern.search(row.id):
        return False
    if query.attrs is not None and not query.attrs.intersection(row.attrs):
        return False
    if query.geo is not None and (row.location is None or not query.geo.matches(shape(row.location))):
        return False
    return query.q is None or query.q(row.attrs)


def _scan(session: Session, query: EntityQuery) -> Iterator[Entity]:
    """Rows that pass every filter, in id order, fetched by chunks (keyset on id)."""
    last: str | None = None
    while True:
        stmt = _base(query).order_by(Entity.id).limit(SCAN_CHUNK)
        if last is not None:
            stmt = stmt.where(Entity.id > last)
        rows = list(session.scalars(stmt))
        for row in rows:
            if _matches(row, query):
                yield row
        if len(rows) < SCAN_CHUNK:
            return
        last = rows[-1].id


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
