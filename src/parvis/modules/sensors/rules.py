"""Rules that turn sensor values into events for the city's departments: congestion on a road
segment (mobility), a pollutant over its threshold (environment). Run inside the writing
transaction (see ``changes.py``).

- **Congestion**: a TrafficFlowObserved whose speed changes is given its level of service
  (``traffic.py``); at ``PARVIS_SENSORS_CONGESTION_RAISE_LEVEL`` (E) or worse an event opens; it
  clears once the level is back at ``PARVIS_SENSORS_CONGESTION_CLEAR_LEVEL`` (C) or better for
  ``PARVIS_SENSORS_EVENT_CLEAR_READINGS`` readings in a row (and
  ``PARVIS_SENSORS_EVENT_CLEAR_MINUTES``): between the two levels the event stays as it is, so a
  segment hovering around the threshold does not flap.
- **Air quality**: each pollutant of ``PARVIS_SENSORS_AIR_THRESHOLDS`` over its threshold opens an
  event, which clears under ``PARVIS_SENSORS_AIR_CLEAR_RATIO`` of the threshold, as above.

One open event per (entity, kind, pollutant). A call reads the open events of the changed entities
in one query. Two processes may raise the same event at once (PostgreSQL, read committed: neither
sees the other's row): the database's unique index keeps one, the later writer's insert is undone
in a savepoint and its own write commits as it should. Raising emits ``sensors.event_raised``
after commit, and queues a job that emits it again in the worker (whose bus the other modules
listen to: a reading stored by the MQTT listener has no listeners in its own process); listeners
must therefore be idempotent on ``event_id``.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parvis.kernel import jobs
from parvis.kernel.db import Database, utcnow
from parvis.kernel.events import EventBus, emit
from parvis.kernel.jobs import JobRegistry
from parvis.modules.sensors import raw_sql, traffic
from parvis.modules.sensors.actions import attribute_iri, type_iri
from parvis.modules.sensors.changes import Change
from parvis.modules.sensors.event_models import SensorEvent
from parvis.modules.sensors.events import DEPARTMENT_OF
from parvis.modules.sensors.standards.ngsi_ld import LOCATION
from parvis.settings import Settings, get_settings

log = logging.getLogger(__name__)

TRAFFIC_TYPE = type_iri("TrafficFlowObserved")
AIR_TYPE = type_iri("AirQualityObserved")
RAISED = "sensors.event_raised"
CLEARED = "sensors.event_cleared"
RELAY_JOB = "sensors.event_relay"
MANY = 50  # changed entities past which one query reads every open event
# pollutant -> its Smart Data Models name (the demo's stations send the lower-case names)
SDM_POLLUTANTS = {"pm25": "pm25", "pm10": "pm10", "no2": "NO2", "o3": "O3", "so2": "SO2", "co": "CO"}


@dataclass(frozen=True)
class Config:
    raise_rank: int
    clear_rank: int
    thresholds: dict[str, float]
    clear_ratio: float
    clear_readings: int
    clear_minutes: float
    pollutants: dict[str, frozenset[str]]  # pollutant -> the attribute IRIs that carry it
    pollutant_iris: frozenset[str]  # all of them
    pollutant_of: dict[str, str]  # and back: attribute IRI -> pollutant
    pollutant_rank: dict[str, int]  # attribute IRI -> its place in the settings' order

    @classmethod
    def of(cls, settings: Settings) -> Config:
        thresholds = {k.lower(): float(v) for k, v in settings.sensors_air_thresholds.items()}
        raise_rank = traffic.level_rank(settings.sensors_congestion_raise_level)
        clear_rank = traffic.level_rank(settings.sensors_congestion_clear_level)
        if clear_rank >= raise_rank:  # no band between the two: clear one level under the raise level
            log.warning("the congestion clear level must be under the raise level: using %s",
                        traffic.LEVELS[raise_rank - 1])
            clear_rank = raise_rank - 1
        pollutants = {p: frozenset({attribute_iri(p), attribute_iri(SDM_POLLUTANTS.get(p, p))})
                      for p in thresholds}
        return cls(raise_rank=raise_rank, clear_rank=clear_rank,
                   thresholds=thresholds, clear_ratio=settings.sensors_air_clear_ratio,
                   clear_readings=settings.sensors_event_clear_readings,
                   clear_minutes=settings.sensors_event_clear_minutes,
                   pollutants=pollutants, pollutant_iris=frozenset().union(*pollutants.values()),
                   pollutant_of={iri: p for p, iris in pollutants.items() for iri in iris},
                   pollutant_rank={iri: n for n, iri in enumerate(
                       iri for iris in pollutants.values() for iri in sorted(iris))})


_configs: weakref.WeakKeyDictionary[Database, Config] = weakref.WeakKeyDictionary()
_default: list[Config] = []


def configure(db: Database, settings: Settings) -> None:
    """Use these settings for the writes of ``db`` (else the environment's settings)."""
    _configs[db] = Config.of(settings)


def _config(session: Session) -> Config:
    db = session.info.get("db")
    found = _configs.get(db) if db is not None else None
    if found is not None:
        return found
    if not _default:
        _default.append(Config.of(get_settings()))
    return _default[0]


@dataclass(slots=True)  # one per changed entity and rule: cheap to make (not frozen)
class Reading:
    """What one change says for one rule: is it bad enough to raise, calm enough to clear.
    Its time (``at``) is read from the change only when an event needs it: a batch of a thousand
    air readings, nearly all below every threshold, parses no timestamp."""
    entity_id: str
    entity_type: str
    kind: str
    key: str
    value: float
    bad: bool
    calm: bool
    severity: str
    level: str | None
    threshold: float
    change: Change
    iris: frozenset[str] | set[str]  # the attributes whose observedAt is the reading's time

    @property
    def at(self) -> datetime:
        return _observed_at(self.change, self.iris)

    @property
    def attrs(self) -> dict[str, Any]:
        return self.change.attrs or {}


def _observed_at(change: Change, iris: frozenset[str] | set[str]) -> datetime:
    for iri in iris:
        stamp = (change.attrs or {}).get(iri, {}).get("observedAt")
        if isinstance(stamp, str):
            try:
                return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                break
    return change.at


_SPEED_ONLY = frozenset({traffic.SPEED})


def _traffic(change: Change, config: Config) -> Reading | None:
    state = traffic.segment_state(change.attrs or {})
    if state is None:
        return None
    rank = traffic.level_rank(state.level)
    threshold = 1 / traffic.SPEED_SHARE[traffic.LEVELS[config.raise_rank - 1]]
    return Reading(change.entity_id, "TrafficFlowObserved", "congestion", "", round(state.index, 2),
                   bad=rank >= config.raise_rank, calm=rank <= config.clear_rank,
                   severity="severe" if state.level == "F" else "moderate",
                   level=state.level, threshold=round(threshold, 2), change=change,
                   iris=_SPEED_ONLY)


def _air(change: Change, config: Config, followed: set[str] | frozenset[str]) -> list[Reading]:
    """The readings of an air-quality change that matter: over a threshold, or of an entity with
    an open event (``followed``); the calm readings of the others say nothing and cost nothing
    (a batch checks a thousand: only the pollutants written are looked at)."""
    out = []
    attrs = change.attrs or {}
    done: set[str] = set()
    written = config.pollutant_iris.intersection(change.changed)
    if len(written) > 1:  # in the settings' order, the same in every process (not the set's)
        written = sorted(written, key=config.pollutant_rank.__getitem__)
    for iri in written:
        pollutant = config.pollutant_of[iri]
        if pollutant in done:  # written under both of its names: the first one read counts
            continue
        done.add(pollutant)
        value = traffic._number(attrs, iri)
        if value is None:
            continue
        threshold = config.thresholds[pollutant]
        if value <= threshold and change.entity_id not in followed:
            continue
        out.append(Reading(change.entity_id, "AirQualityObserved", "air_quality", pollutant, value,
                           bad=value > threshold, calm=value < threshold * config.clear_ratio,
                           severity="severe" if value >= 2 * threshold else "moderate", level=None,
                           threshold=threshold, change=change,
                           iris=config.pollutants[pollutant] & change.changed))
    return out


def _label(attrs: dict[str, Any], entity_id: str) -> str:
    name = attrs.get(traffic.NAME, {}).get("value")
    return str(name)[:200] if isinstance(name, str) and name else entity_id.rsplit(":", 1)[-1][:200]


def _location(attrs: dict[str, Any]) -> dict[str, Any] | None:
    loc = attrs.get(LOCATION)
    return loc.get("value") if isinstance(loc, dict) else None


def _point(location: dict[str, Any] | None) -> tuple[float, float] | None:
    if not location:
        return None
    try:
        point = shape(location).representative_point()
    except (ValueError, TypeError, AttributeError):
        return None
    return (round(point.x, 6), round(point.y, 6))


def on_changes(session: Session, changes: list[Change]) -> None:
    """Raise or clear events for the entities that changed."""
    config = _config(session)
    readings: list[Reading] = []
    air: list[Change] = []
    deleted: set[str] = set()
    for change in changes:
        if change.deleted:
            if change.type in (TRAFFIC_TYPE, AIR_TYPE):
                deleted.add(change.entity_id)
        elif change.type == TRAFFIC_TYPE:
            if change.changed & {traffic.SPEED, traffic.FREE_FLOW}:
                reading = _traffic(change, config)
                if reading is not None:
                    readings.append(reading)
        elif change.type == AIR_TYPE and not config.pollutant_iris.isdisjoint(change.changed):
            air.append(change)
    if not readings and not air and not deleted:
        return
    ids = {r.entity_id for r in readings} | {c.entity_id for c in air} | deleted
    open_rows = _open_rows(session, ids)
    followed = {entity_id for entity_id, _kind, _key in open_rows}
    for change in air:
        readings.extend(_air(change, config, followed))
    now = utcnow()
    for (entity_id, _kind, _key), row in open_rows.items():
        if entity_id in deleted:  # the entity is gone: its events end with it
            _clear(session, row, now)
    raised: list[Reading] = []
    for reading in readings:
        row = open_rows.get((reading.entity_id, reading.kind, reading.key))
        if row is None or row.cleared_at is not None:
            if reading.bad:
                raised.append(reading)
            continue
        _follow(session, row, reading, config)
    if raised:
        _raise(session, raised)


def _open_rows(session: Session, ids: set[str]) -> dict[tuple[str, str, str], SensorEvent]:
    """The open events of these entities, by (entity, kind, key). Most writes concern entities
    with no open event: the ids say so first (one statement through the driver: it runs at every
    write, and SQLAlchemy cost a partial update a tenth of its CPU); the events are loaded only
    when there are some."""
    if len(ids) <= MANY:
        found = _open_event_ids(session, list(ids))
    else:  # every open event (few in a city: cheaper than a long IN list), kept if one of these
        found = [n for n, entity_id in raw_sql.execute(session, _OPEN_ALL, ()) if entity_id in ids]
    if not found:
        return {}
    query = select(SensorEvent).where(SensorEvent.cleared_at.is_(None), SensorEvent.id.in_(found))
    return {(row.entity_id, row.kind, row.key): row for row in session.scalars(query)
            if row.entity_id in ids}


def _open_event_ids(session: Session, ids: list[str]) -> list[int]:
    """The ids of the open events of these entities (at most ``MANY``)."""
    if raw_sql.is_postgres(session):
        rows = raw_sql.execute(session, _OPEN_PG, [orjson.dumps(ids).decode()])
    else:
        rows = raw_sql.execute(session, _OPEN_SQLITE.format(",".join("?" * len(ids))), ids)
    return [row[0] for row in rows]


_OPEN_ALL = "SELECT id, entity_id FROM sensors_events WHERE cleared_at IS NULL"
_OPEN_PG = ("SELECT id FROM sensors_events WHERE cleared_at IS NULL AND entity_id = ANY("
            + raw_sql.PG_IDS + ")")
_OPEN_SQLITE = "SELECT id FROM sensors_events WHERE cleared_at IS NULL AND entity_id IN ({})"


def _insert(session: Session, readings: list[Reading]) -> list[SensorEvent]:
    """Store new events (one flush for their ids) in a savepoint: an event another process raised
    meanwhile is left to it (its insert is undone), never failing the write that noticed it. In
    one order in every process, so that two writers raising the same events wait, not deadlock."""
    readings = sorted(readings, key=lambda r: (r.entity_id, r.kind, r.key))
    rows = [_new(r) for r in readings]
    session.flush()  # the rest of the write first: its own errors are not these
    try:
        with session.begin_nested():
            session.add_all(rows)
        return rows
    except IntegrityError:
        if len(readings) == 1:
            log.info("event of %s already raised by another writer", readings[0].entity_id)
            return []
    return [row for r in readings for row in _insert(session, [r])]


def _new(r: Reading) -> SensorEvent:
    at = r.at
    return SensorEvent(kind=r.kind, key=r.key, department=DEPARTMENT_OF[r.kind], entity_id=r.entity_id,
                       entity_type=r.entity_type, label=_label(r.attrs, r.entity_id), severity=r.severity,
                       level=r.level, value=r.value, peak=r.value, threshold=r.threshold, raised_at=at,
                       updated_at=at, calm_count=0, location=_location(r.attrs))


def _raise(session: Session, readings: list[Reading]) -> None:
    """Store new events, tell it after commit and queue the relay."""
    for row in _insert(session, readings):
        point = _point(row.location)
        payload = {"event_id": row.id, "kind": row.kind, "pollutant": row.key or None,
                   "department": row.department, "entity_id": row.entity_id, "entity_type": row.entity_type,
                   "label": row.label, "severity": row.severity, "level": row.level, "value": row.value,
                   "threshold": row.threshold, "lon": point[0] if point else None,
                   "lat": point[1] if point else None, "raised_at": row.raised_at.isoformat()}
        emit(session, RAISED, **payload)
        # a new event's key cannot exist yet: no look-up as ``jobs.enqueue`` would do
        session.add(jobs.Job(kind=RELAY_JOB, payload=payload, key=f"{RELAY_JOB}:{row.id}", run_at=utcnow()))


def _follow(session: Session, row: SensorEvent, r: Reading, config: Config) -> None:
    """A new reading of an open event: note it; clear the event once calm long enough."""
    at = r.at
    if at <= row.updated_at:  # an older reading stored late, or the same one written again (a retried
        return                  # request, a corrected free-flow speed): it says nothing new
    row.peak = r.value if row.peak is None else max(row.peak, r.value)
    if r.severity == "severe":  # the worst seen while open
        row.severity = "severe"
    row.value, row.level, row.updated_at = r.value, r.level, at
    if not r.calm:
        row.calm_count, row.calm_since = 0, None
        return
    row.calm_count += 1
    row.calm_since = row.calm_since or at
    if (row.calm_count >= config.clear_readings
            and at - row.calm_since >= timedelta(minutes=config.clear_minutes)):
        _clear(session, row, at)


def _clear(session: Session, row: SensorEvent, at: datetime) -> None:
    row.cleared_at = max(at, row.raised_at)
    emit(session, CLEARED, event_id=row.id, kind=row.kind, department=row.department,
         entity_id=row.entity_id)


def relay(db: Database, payload: dict[str, Any]) -> None:
    """The worker's side of a raised event: emit it on the worker's bus if still open."""
    with db.transaction() as session:
        row = session.get(SensorEvent, int(payload["event_id"]))
        if row is None or row.cleared_at is not None:
            return
        emit(session, RAISED, **payload)


def register(registry: JobRegistry, bus: EventBus, db: Database, settings: Settings) -> None:
    """Use the app's settings for its writes, and relay raised events in the worker."""
    configure(db, settings)

    @registry.handler(RELAY_JOB)
    def sensors_event_relay(database: Database, payload: dict[str, Any]) -> None:
        relay(database, payload)
