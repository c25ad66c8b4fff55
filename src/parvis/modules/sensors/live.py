"""The operations room's live feed: the city's sensors as map features, and what changed since a cursor.

Web processes keep no shared state (there can be several behind a proxy), so each open operations
room polls the database. What it follows is the feed log (``models.FeedLog``): every transaction
that writes entities drawn on the map adds one row naming them (``on_changes``, a reaction to the
hub's changes, in the writing transaction). The entities' own ``modified_at`` is not indexed: an
index on a column every update changes would cost each update an entry in every index of the
table on PostgreSQL (migration 0018).

A row is stamped before its transaction commits, so a transaction that commits late can land
*behind* a cursor that already moved on: each poll also looks again at a window of ``overlap``
before the cursor for rows it has not read. The entities named are queued (once each) and sent as
they are now, deduplicated by (id, modified_at). Every poll is bounded (``SEND_MAX`` features,
``ROWS_MAX`` fresh rows and ``SCAN_MAX`` rows of the window), so one connection's work stays small
whatever the city's size. Rows older than ``LOG_KEEP`` are deleted by the writers themselves (at
most every ``PRUNE_EVERY`` seconds per process); a stream coming back with an older cursor starts
with the whole map again (``Feed.resync``).

A feature is compact GeoJSON carrying the state the room shows, computed here: a road segment's
level of service (``traffic.segment_state``), a car park's free spaces, an air station's VN_AQI
(``air.station_aqi``), a container's fill level.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from shapely.geometry import shape
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from parvis.kernel.auth import Principal
from parvis.kernel.db import utcnow
from parvis.modules import city
from parvis.modules.sensors import actions, air, events, raw_sql, traffic, waste
from parvis.modules.sensors.changes import Change
from parvis.modules.sensors.models import Entity, FeedLog
from parvis.settings import Settings

# map layer -> its Smart Data Models types (single parking spots are not drawn: too many)
LAYERS: dict[str, tuple[str, ...]] = {
    "traffic": ("TrafficFlowObserved",), "parking": ("OffStreetParking", "OnStreetParking"),
    "air": ("AirQualityObserved",), "waste": ("WasteContainer",)}
SEND_MAX = 300  # features sent at most by one poll (the rest follows at the next)
ROWS_MAX = 50  # fresh rows of the feed log read at most by one poll
SCAN_MAX = 5_000  # rows of the overlap window looked at again by one poll
LOG_KEEP = timedelta(minutes=10)  # rows of the feed log kept (a stream lives a minute at most)
PRUNE_EVERY = 30.0  # seconds between two deletions of old rows by one process
SNAPSHOT_MAX = 5_000  # features of the first load
EVENTS_MAX = 200  # open events listed

# Levels of each layer, from best to worst (the page's legend and summaries follow this order).
TRAFFIC_LEVELS = ("A", "B", "C", "D", "E", "F")
PARKING_LEVELS = ("free", "few", "full")
AIR_LEVELS = tuple(c.code for c in air.CATEGORIES)  # the VN_AQI categories
WASTE_LEVELS = ("low", "medium", "high")
LEVELS: dict[str, tuple[str, ...]] = {"traffic": TRAFFIC_LEVELS, "parking": PARKING_LEVELS,
                                      "air": AIR_LEVELS, "waste": WASTE_LEVELS}
# From this fill a container is to collect ("high"): the waste list's ``waste_collect_threshold``,
# given by the caller so that the room and the list agree (this is the setting's default).
WASTE_COLLECT = Settings.model_fields["waste_collect_threshold"].default
PARKING_FEW = 0.1  # share of free spaces under which a car park has "few" left


@functools.cache
def layer_of_type() -> dict[str, str]:
    """Full type IRI -> layer."""
    return {actions.type_iri(name): layer for layer, names in LAYERS.items() for name in names}


@functools.cache
def _iri(name: str) -> str:
    return actions.attribute_iri(name)


def _value(attrs: dict[str, Any], name: str) -> Any:
    attr = attrs.get(_iri(name))
    return attr.get("value") if isinstance(attr, dict) else None


def _number(attrs: dict[str, Any], name: str) -> float | None:
    value = _value(attrs, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def stamp(when: datetime) -> str:
    """A cursor as text (the SSE event id): UTC, microseconds."""
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_cursor(text: str | None) -> datetime | None:
    if not text or len(text) > 40:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo is not None else None


# ----------------------------------------------------------------------------- state of a sensor

def _traffic(attrs: dict[str, Any]) -> dict[str, Any]:
    state = traffic.segment_state(attrs)
    if state is None:
        return {"level": None, "speed": _number(attrs, "averageVehicleSpeed")}
    return {"level": state.level, "index": round(state.index, 2), "speed": round(state.speed_kmh, 1),
            "free_flow": round(state.free_flow_kmh, 1)}


def _parking(attrs: dict[str, Any]) -> dict[str, Any]:
    free, total = _number(attrs, "availableSpotNumber"), _number(attrs, "totalSpotNumber")
    if free is None:
        return {"level": None, "free": None, "total": int(total) if total is not None else None}
    level = "full" if free <= 0 else "few" if total and free < max(1.0, PARKING_FEW * total) else "free"
    return {"level": level, "free": int(free), "total": int(total) if total is not None else None}


def _air(attrs: dict[str, Any]) -> dict[str, Any]:
    """The station's VN_AQI from its current values (``air.station_aqi``: the quick rating, without
    the NowCast of the air-quality page); its PM2.5 shown as well."""
    out: dict[str, Any] = {"level": None, "aqi": None, "pm25": _number(attrs, "pm25")}
    rated = air.station_aqi(attrs)
    if rated is not None:
        out["aqi"], out["level"] = rated
    return out


def _waste(attrs: dict[str, Any], collect: float = WASTE_COLLECT) -> dict[str, Any]:
    fill = _number(attrs, "fillingLevel")
    return {"level": waste.level(fill, collect), "fill": None if fill is None else round(fill * 100)}


STATES = {"traffic": _traffic, "parking": _parking, "air": _air, "waste": _waste}


def feature(row: Any, collect: float = WASTE_COLLECT) -> dict[str, Any] | None:
    """A sensor's compact GeoJSON feature (``row``: an entity with id, type, location, attrs,
    modified_at), None for a type the map does not show; ``collect``: the waste list's threshold."""
    layer = layer_of_type().get(row.type)
    if layer is None:
        return None
    name = _value(row.attrs or {}, "name")
    props: dict[str, Any] = {"layer": layer, "modified": stamp(row.modified_at),
                             "name": name if isinstance(name, str) and name else row.id.rsplit(":", 1)[-1]}
    attrs = row.attrs or {}
    props.update(_waste(attrs, collect) if layer == "waste" else STATES[layer](attrs))
    return {"type": "Feature", "id": row.id, "geometry": row.location, "properties": props}


# ----------------------------------------------------------------------------- the first load

def _map_types() -> list[str]:
    return sorted(layer_of_type())


def cursor_now(session: Session) -> datetime:
    """Where a feed starts after a snapshot: the newest row of the feed log (the writers' clock, not
    this process's), or now when there is none."""
    newest = session.scalar(select(func.max(FeedLog.at)))
    return newest or utcnow()


def snapshot(session: Session, collect: float = WASTE_COLLECT) -> dict[str, Any]:
    """Every sensor of the map as a GeoJSON FeatureCollection, with the ``cursor`` to follow
    changes from (read first: what changes during the read is sent again by the feed)."""
    cursor = cursor_now(session)
    rows = session.scalars(select(Entity).where(Entity.type.in_(_map_types()))
                           .order_by(Entity.id).limit(SNAPSHOT_MAX))
    features = [f for f in (feature(r, collect) for r in rows) if f is not None]
    return {"type": "FeatureCollection", "cursor": stamp(cursor), "features": features}


@dataclass
class LayerSummary:
    layer: str
    count: int = 0
    located: int = 0
    levels: dict[str, int] = field(default_factory=dict)  # level -> count ("" for no data)
    free: int = 0  # parking: free spaces
    total: int = 0  # parking: spaces


def summaries(features: Iterable[dict[str, Any]]) -> list[LayerSummary]:
    """Per layer: how many sensors, how many in each state (the page's table without JavaScript)."""
    out = {layer: LayerSummary(layer, levels={k: 0 for k in (*LEVELS[layer], "")}) for layer in LAYERS}
    for f in features:
        props = f["properties"]
        summary = out[props["layer"]]
        summary.count += 1
        summary.located += f["geometry"] is not None
        summary.levels[props.get("level") or ""] += 1
        if props["layer"] == "parking":
            summary.free += props.get("free") or 0
            summary.total += props.get("total") or 0
    return list(out.values())


# ----------------------------------------------------------------------------- what changed

@dataclass
class Feed:
    """One connection's view of the changes: its cursor ((at, id) of the last feed log row read in
    order), the rows read in the overlap window behind it, the entities still to send."""
    cursor: datetime
    overlap: timedelta
    collect: float = WASTE_COLLECT  # the waste list's threshold
    last_row: int = 0
    resync: bool = False  # the cursor is older than the log: send the whole map first
    rows: dict[int, datetime] = field(default_factory=dict)  # feed log rows read -> their time
    pending: dict[str, None] = field(default_factory=dict)  # entities to send, in order
    seen: dict[str, datetime] = field(default_factory=dict)  # id -> modified_at sent

    def poll(self, session: Session) -> list[dict[str, Any]]:
        """The features that changed since the last poll (at most ``SEND_MAX``), oldest first."""
        if self.resync:
            self.resync = False
            self.pending = dict.fromkeys(session.scalars(
                select(Entity.id).where(Entity.type.in_(_map_types())).order_by(Entity.id).limit(SNAPSHOT_MAX)))
        if len(self.pending) < SEND_MAX:
            self._read_log(session)
        ids = list(self.pending)[:SEND_MAX]
        for i in ids:
            del self.pending[i]
        rows = session.scalars(select(Entity).where(Entity.id.in_(ids), Entity.type.in_(_map_types()))) \
            if ids else []
        order = {i: n for n, i in enumerate(ids)}
        sent = []
        for row in sorted(rows, key=lambda r: order[r.id]):
            if self.seen.get(row.id) == row.modified_at:
                continue
            self.seen[row.id] = row.modified_at
            f = feature(row, self.collect)
            if f is not None:
                sent.append(f)
        horizon = self.cursor - self.overlap
        self.rows = {n: at for n, at in self.rows.items() if at >= horizon}
        self.seen = {i: at for i, at in self.seen.items() if at >= horizon}
        return sent

    def _read_log(self, session: Session) -> None:
        """Queue the entities of the log rows not read yet: those that committed late, behind the
        cursor but inside the window, then those after the cursor, in order."""
        window = session.execute(
            select(FeedLog.id, FeedLog.at)
            .where(FeedLog.at >= self.cursor - self.overlap, FeedLog.at <= self.cursor)
            .order_by(FeedLog.at.desc(), FeedLog.id.desc()).limit(SCAN_MAX)).all()
        late = [n for n, at in window if n not in self.rows
                and not (at == self.cursor and n > self.last_row)]
        found = list(session.execute(select(FeedLog.id, FeedLog.at, FeedLog.entity_ids)
                                     .where(FeedLog.id.in_(late)).order_by(FeedLog.at, FeedLog.id))
                     ) if late else []
        fresh = list(session.execute(
            select(FeedLog.id, FeedLog.at, FeedLog.entity_ids).where(or_(
                FeedLog.at > self.cursor, and_(FeedLog.at == self.cursor, FeedLog.id > self.last_row)))
            .order_by(FeedLog.at, FeedLog.id).limit(ROWS_MAX)))
        if fresh:
            self.cursor, self.last_row = fresh[-1].at, fresh[-1].id
        for n, at, entity_ids in found + fresh:
            self.rows[n] = at
            self.pending.update(dict.fromkeys(entity_ids))


def feed_from(session: Session, start: datetime | None, overlap: timedelta,
              collect: float = WASTE_COLLECT) -> Feed:
    """The feed of a stream that starts at ``start`` (a snapshot's cursor or the last event id the
    browser had; None: from now). Never ahead of the log; older than what the log keeps: the
    whole map is sent first, then the changes."""
    newest = cursor_now(session)
    if start is None:
        return Feed(newest, overlap, collect)
    return Feed(min(start, newest), overlap, collect, resync=start < utcnow() - LOG_KEEP + overlap)


# ----------------------------------------------------------------------------- the feed log

_pruned = {"at": 0.0}  # when this process last deleted old rows (time.monotonic)
_PG_LOG = "INSERT INTO sensors_feed_log (at, entity_ids) VALUES (%s, %s::json)"
_SQLITE_LOG = "INSERT INTO sensors_feed_log (at, entity_ids) VALUES (?, ?)"


def on_changes(session: Session, changes: list[Change]) -> None:
    """A reaction to the hub's changes (``changes.reactions``): one feed log row naming the entities
    drawn on the map that this transaction wrote; now and then, the old rows deleted."""
    drawn = layer_of_type()
    ids = [c.entity_id for c in changes if not c.deleted and c.type in drawn]
    if not ids:
        return
    now = utcnow()
    # through the driver: one statement at every write transaction (SQLAlchemy's insert cost a
    # partial update a seventh of its CPU)
    raw_sql.execute(session, _PG_LOG if raw_sql.is_postgres(session) else _SQLITE_LOG,
                    (now, orjson.dumps(ids).decode()))
    if time.monotonic() - _pruned["at"] >= PRUNE_EVERY:
        _pruned["at"] = time.monotonic()
        session.execute(delete(FeedLog).where(FeedLog.at < now - LOG_KEEP))


# ----------------------------------------------------------------------------- open events

def department_kinds(session: Session, principal: Principal) -> set[str] | None:
    """The kinds of department whose events this person sees (None: every kind)."""
    scope = principal.department_scope
    if scope is None:
        return None
    return {d.kind for d in city.departments(session, only_ids=scope)}


def _place(session: Session, geometry: dict[str, Any] | None, names: dict[int, str]) -> str:
    if not geometry:
        return ""
    try:
        point = shape(geometry).representative_point()
        district_id = city.district_id_at(session, point.x, point.y)
    except Exception:  # an odd geometry names no place, it does not break the room
        return ""
    return names.get(district_id, "") if district_id is not None else ""


@dataclass(frozen=True)
class OpenEvent:
    event: events.EventView
    place: str  # the district, or ""
    department: str  # the department's name (or its kind when the city has none of that kind)


def visible_events(session: Session, kinds: set[str] | None) -> list[events.EventView]:
    """The open events of these department kinds (None: all), newest first, at most ``EVENTS_MAX``
    (filtered and limited in the query: every open stream runs it each second)."""
    return events.events(session, departments=kinds, status="open", limit=EVENTS_MAX)


def describe(session: Session, found: list[events.EventView]) -> list[OpenEvent]:
    """Events with their place (district) and their department's name."""
    if not found:
        return []
    names = city.district_names(session)
    departments: dict[str, str] = {}
    for d in city.departments(session):
        departments.setdefault(d.kind, d.name)
    return [OpenEvent(e, _place(session, e.location, names), departments.get(e.department, e.department))
            for e in found]


def open_events(session: Session, kinds: set[str] | None) -> list[OpenEvent]:
    """The open events of these department kinds (None: all), newest first, with their place."""
    return describe(session, visible_events(session, kinds))
