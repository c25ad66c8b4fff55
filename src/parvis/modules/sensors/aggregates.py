"""Hourly and daily aggregates of observations (kept after the raw observations expire), the
retention of raw observations, and the typical profile of an attribute by weekday and hour.

**Rollup, incremental by id.** Observations are only ever inserted (a repeat is skipped) and
deleted by the retention below, so the rollup folds each observation in exactly once: it keeps
the highest observation id already folded (``sensors_aggregate_state``) and, in one transaction,
merges the new ones, grouped in SQL by (entity, attribute, UTC hour) and by (entity,
attribute, local day), into the aggregates (count and sum add up, min and max widen), then
moves the mark. A late reading is a new id: it is merged into its own (old) hour and day, even
when that hour's raw data has already expired. A second run finds nothing new and changes
nothing; ``rebuild`` recomputes a time range from the raw observations (the same rows).

On PostgreSQL ids come from a sequence and a transaction may commit a lower id after a higher
one is visible: before reading the highest id the rollup takes a ``SHARE`` lock on the table
for an instant, which waits for the writers in flight (milliseconds), so that no lower id can
appear later. On SQLite writers are serialised: the highest committed id is safe.

**Retention.** Raw observations older than their type's retention
(``PARVIS_SENSORS_RETENTION_DAYS``, default ``PARVIS_SENSORS_RETENTION_DEFAULT_DAYS``) are
deleted in batches, only below the rollup's mark (already aggregated). The row holding the mark
is kept, so that SQLite never hands out an id below it again. The scan goes up the primary key
and stops at the highest id folded into an hour before the cutoff (``sensors_aggregate_hours``):
the observations inserted since are not read again each hour, and each batch goes on from the
last id the one before deleted. Hourly aggregates are kept
``PARVIS_SENSORS_HOURLY_KEEP_DAYS``, daily ones ``PARVIS_SENSORS_DAILY_KEEP_DAYS`` (0: forever);
the highest id of each hour is kept as long as the longest raw retention needs it.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, literal, select, text, union_all
from sqlalchemy.orm import Session

from parvis.kernel.db import Database, utcnow
from parvis.kernel.events import EventBus
from parvis.kernel.jobs import JobRegistry, Tick
from parvis.modules.sensors.actions import type_iri
from parvis.modules.sensors.aggregate_models import (
    AggregateHour,
    AggregateState,
    DailyAggregate,
    HourlyAggregate,
)
from parvis.modules.sensors.models import Entity, Observation
from parvis.settings import Settings

log = logging.getLogger(__name__)

STATE = "observations"
ROLLUP_BATCH = 50_000  # observation ids per transaction (SQLite: the writer lock is held meanwhile)
DELETE_BATCH = 10_000  # raw observations deleted per transaction
RETENTION_EVERY_SECONDS = 3600
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite

_MERGE = {
    "postgresql": ("count = a.count + excluded.count, total = a.total + excluded.total, "
                   "minimum = LEAST(a.minimum, excluded.minimum), "
                   "maximum = GREATEST(a.maximum, excluded.maximum)"),
    "sqlite": ("count = a.count + excluded.count, total = a.total + excluded.total, "
               "minimum = min(a.minimum, excluded.minimum), maximum = max(a.maximum, excluded.maximum)"),
}
_COUNTS = "count(*), sum(number), min(number), max(number)"


# ------------------------------------------------------------------------------------ rollup

def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _state(session: Session, *, lock: bool) -> AggregateState:
    stmt = select(AggregateState).where(AggregateState.name == STATE)
    if lock and _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        row = AggregateState(name=STATE, last_id=0, timezone="", updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def mark(session: Session) -> int:
    """The highest observation id folded into the aggregates (0: none yet)."""
    return session.scalar(select(AggregateState.last_id).where(AggregateState.name == STATE)) or 0


def _settled_top(db: Database) -> int:
    """The highest observation id below which no writer in flight can still add one."""
    with db.transaction() as session:
        if _dialect(session) == "postgresql":
            session.execute(text("SET LOCAL lock_timeout = '5s'"))
            session.execute(text("LOCK TABLE sensors_observations IN SHARE MODE"))
        return session.scalar(select(func.max(Observation.id))) or 0


def _hour_sql(dialect: str) -> str:
    if dialect == "postgresql":
        return "date_trunc('hour', observed_at, 'UTC')"
    return "strftime('%Y-%m-%d %H:00:00.000000', observed_at)"


def _offset(zone: ZoneInfo, when: datetime) -> int:
    offset = when.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offset_segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offsets (seconds) over [start, end]: ``[(until, offset), ..., (None, offset)]``,
    each offset holding before its ``until`` (the first instant of the next one)."""
    segments: list[tuple[datetime | None, int]] = []
    current, at = _offset(zone, start), start
    while at < end:
        step = min(at + timedelta(hours=6), end)
        if _offset(zone, step) != current:
            low, high = at, step
            while high - low > timedelta(microseconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if _offset(zone, middle) == current else (low, middle)
            segments.append((high, current))
            current = _offset(zone, step)
        at = step
    segments.append((None, current))
    return segments


def _day_sql(session: Session, timezone: str, where: str, params: dict[str, Any]) -> str:
    """SQL of the local date of ``observed_at``; binds what it needs into ``params``."""
    if _dialect(session) == "postgresql":
        params["tz"] = timezone
        return "CAST(timezone(:tz, observed_at) AS date)"
    low, high = session.execute(text(
        f"SELECT min(observed_at), max(observed_at) FROM sensors_observations WHERE {where}"), params).one()
    if low is None:
        return "date(observed_at)"
    parse = datetime.fromisoformat
    segments = offset_segments(ZoneInfo(timezone), parse(low).replace(tzinfo=UTC),
                               parse(high).replace(tzinfo=UTC))
    cases = []
    for n, (until, offset) in enumerate(segments):
        params[f"m{n}"] = f"{offset:+d} seconds"
        if until is None:
            cases.append(f"ELSE date(observed_at, :m{n})")
        else:
            params[f"u{n}"] = until.astimezone(UTC).strftime(_SQLITE_TIME)
            cases.append(f"WHEN observed_at < :u{n} THEN date(observed_at, :m{n})")
    return cases[0][5:] if len(cases) == 1 else "CASE " + " ".join(cases) + " END"


def _merge(session: Session, table: str, key: str, key_sql: str, where: str,
           params: dict[str, Any]) -> int:
    """Fold the observations matching ``where`` into ``table``, grouped by ``key``; rows touched."""
    dialect = _dialect(session)
    sql = (f"INSERT INTO {table} AS a (entity_id, attribute, {key}, count, total, minimum, maximum) "
           f"SELECT entity_id, attribute, {key_sql}, {_COUNTS} FROM sensors_observations "
           f"WHERE {where} AND number IS NOT NULL GROUP BY 1, 2, 3 "
           f"ON CONFLICT (entity_id, attribute, {key}) DO UPDATE SET {_MERGE[dialect]}")
    return session.execute(text(sql), params).rowcount or 0


def _fold(session: Session, timezone: str, where: str, params: dict[str, Any]) -> int:
    dialect = _dialect(session)
    touched = _merge(session, "sensors_aggregates_hourly", "hour", _hour_sql(dialect), where, params)
    highest = ("GREATEST(a.max_id, excluded.max_id)" if dialect == "postgresql"
               else "max(a.max_id, excluded.max_id)")
    session.execute(text(
        f"INSERT INTO sensors_aggregate_hours AS a (hour, max_id) SELECT {_hour_sql(dialect)}, max(id) "
        f"FROM sensors_observations WHERE {where} GROUP BY 1 "
        f"ON CONFLICT (hour) DO UPDATE SET max_id = {highest}"), params)
    day_params = dict(params)
    day_sql = _day_sql(session, timezone, where, day_params)
    _merge(session, "sensors_aggregates_daily", "day", day_sql, where, day_params)
    return touched


def rollup(db: Database, timezone: str, *, batch: int = ROLLUP_BATCH, max_batches: int = 50) -> int:
    """Fold the observations not yet aggregated into the hourly and daily aggregates, ``batch``
    ids per transaction; returns how many hourly rows were written (0: nothing new)."""
    top = _settled_top(db) if not db.is_sqlite else None
    written = 0
    for _ in range(max_batches):
        with db.transaction() as session:
            state = _state(session, lock=True)
            highest = top if top is not None else (session.scalar(select(func.max(Observation.id))) or 0)
            low = state.last_id
            if highest < low:
                if top is not None:  # PostgreSQL: another worker rolled up further meanwhile
                    return written
                # SQLite, under the writer lock: the table was emptied and ids started again
                log.warning("sensors observations ids went back from %s to %s", low, highest)
                low = 0
            high = min(highest, low + batch)
            if high <= low:
                return written
            written += _fold(session, timezone, "id > :low AND id <= :high", {"low": low, "high": high})
            state.last_id, state.timezone, state.updated_at = high, timezone, utcnow()
        if high >= highest:
            break
    return written


def rebuild(db: Database, timezone: str, start: datetime, end: datetime) -> int:
    """Recompute the aggregates of the UTC hours touching [start, end) (and the local days they
    touch: whole days) from the raw observations already folded in: a repair
    after raw data was changed by hand. Aggregates of hours whose raw data expired are lost."""
    zone = ZoneInfo(timezone)
    start = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hour_end = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = hour_end if hour_end == end else hour_end + timedelta(hours=1)  # whole hours
    first_day, last_day = start.astimezone(zone).date(), end.astimezone(zone).date()
    day_start = datetime.combine(first_day, datetime.min.time(), zone).astimezone(UTC)
    day_end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    with db.transaction() as session:
        high = _state(session, lock=True).last_id
        session.execute(delete(HourlyAggregate).where(HourlyAggregate.hour >= start,
                                                      HourlyAggregate.hour < end))
        session.execute(delete(DailyAggregate).where(DailyAggregate.day >= first_day,
                                                     DailyAggregate.day <= last_day))
        where = "id <= :high AND observed_at >= :start AND observed_at < :end"
        written = _merge(session, "sensors_aggregates_hourly", "hour", _hour_sql(_dialect(session)), where,
                         _times(session, {"high": high, "start": start, "end": end}))
        params = _times(session, {"high": high, "start": day_start, "end": day_end})
        day_sql = _day_sql(session, timezone, where, params)
        _merge(session, "sensors_aggregates_daily", "day", day_sql, where, params)
    return written


def _times(session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """Bind datetimes of a text() statement as each database stores them."""
    if _dialect(session) != "sqlite":
        return params
    return {k: v.astimezone(UTC).strftime(_SQLITE_TIME) if isinstance(v, datetime) else v
            for k, v in params.items()}


# --------------------------------------------------------------------------------- retention

def expire(db: Database, settings: Settings, *, now: datetime | None = None,
           batch: int = DELETE_BATCH, max_batches: int = 100) -> int:
    """Delete raw observations past their type's retention, only those already aggregated, in
    batches of ``batch``; then aggregates past theirs. Returns raw observations deleted."""
    now = now or utcnow()
    with db.read() as session:
        high = mark(session)
    kept = {type_iri(name): days for name, days in settings.sensors_retention_days.items()}
    rules: list[tuple[Any, datetime]] = []
    for iri, days in sorted(kept.items()):
        rules.append((Observation.entity_id.in_(select(Entity.id).where(Entity.type == iri)),
                      now - timedelta(days=days)))
    others = (Observation.entity_id.not_in(select(Entity.id).where(Entity.type.in_(sorted(kept))))
              if kept else Observation.id.is_not(None))
    rules.append((others, now - timedelta(days=settings.sensors_retention_default_days)))
    deleted = 0
    for which, cutoff in rules:
        with db.read() as session:  # every observation before the cutoff has an id at or below this
            bound = session.scalar(select(func.max(AggregateHour.max_id)).where(AggregateHour.hour < cutoff))
        if bound is None:
            continue
        top, after = min(high - 1, bound), 0
        for _ in range(max_batches):
            with db.transaction() as session:  # each batch goes on from the last: the rows kept below
                # it (other types, kept longer) are not scanned again
                expired = (Observation.id > after, Observation.id <= top,
                           Observation.observed_at < cutoff, which)
                ids = select(Observation.id).where(*expired).order_by(Observation.id).limit(batch).subquery()
                last = session.scalar(select(func.max(ids.c.id)))
                gone = 0 if last is None else session.execute(delete(Observation).where(
                    *expired, Observation.id <= last)).rowcount or 0
            deleted += gone
            if last is None or gone < batch:
                break
            after = last
    with db.transaction() as session:
        oldest_hour = now - timedelta(days=settings.sensors_hourly_keep_days)
        session.execute(delete(HourlyAggregate).where(HourlyAggregate.hour < oldest_hour))
        # the retention's bounds outlive the hourly aggregates when raw data is kept longer
        longest = max([settings.sensors_retention_default_days, *kept.values()])
        session.execute(delete(AggregateHour).where(
            AggregateHour.hour < min(oldest_hour, now - timedelta(days=longest + 1))))
        if settings.sensors_daily_keep_days:
            oldest = (now - timedelta(days=settings.sensors_daily_keep_days)).date()
            session.execute(delete(DailyAggregate).where(DailyAggregate.day < oldest))
    return deleted


# ----------------------------------------------------------------------------------- reads

def _zone(session: Session, timezone: str | None) -> ZoneInfo:
    if timezone:
        return ZoneInfo(timezone)
    stored = session.scalar(select(AggregateState.timezone).where(AggregateState.name == STATE))
    if stored:
        return ZoneInfo(stored)
    from parvis.settings import get_settings

    return ZoneInfo(get_settings().timezone)


Counts = tuple[int, float, float, float]  # count, sum, min, max


def hourly_many(session: Session, entity_ids: Sequence[str], attributes: Sequence[str], start: datetime,
                end: datetime | None = None) -> dict[tuple[str, str], dict[datetime, Counts]]:
    """(count, sum, min, max) by UTC hour in [start, end), by (entity, attribute IRI): the hourly
    aggregates, completed with the raw observations not yet folded in. One statement, so that
    both halves see the same moment (PostgreSQL reads each statement at its own moment: a rollup
    committing between two would leave its readings out of both, or count them twice)."""
    out: dict[tuple[str, str], dict[datetime, Counts]] = {}
    if not entity_ids or not attributes:
        return out
    entities, names = sorted(set(entity_ids)), sorted(set(attributes))
    folded = select(HourlyAggregate.entity_id, HourlyAggregate.attribute, HourlyAggregate.hour,
                    HourlyAggregate.count, HourlyAggregate.total, HourlyAggregate.minimum,
                    HourlyAggregate.maximum, literal(1).label("folded")).where(
        HourlyAggregate.entity_id.in_(entities), HourlyAggregate.attribute.in_(names),
        HourlyAggregate.hour >= start)
    mark_now = func.coalesce(select(AggregateState.last_id).where(AggregateState.name == STATE)
                             .scalar_subquery(), 0)
    raw = select(Observation.entity_id, Observation.attribute, Observation.observed_at, literal(1),
                 Observation.number, Observation.number, Observation.number, literal(0)).where(
        Observation.entity_id.in_(entities), Observation.attribute.in_(names),
        Observation.observed_at >= start, Observation.id > mark_now, Observation.number.is_not(None))
    if end is not None:
        folded = folded.where(HourlyAggregate.hour < end)
        raw = raw.where(Observation.observed_at < end)
    minutes = []
    for entity_id, attribute, at, count, total, low, high, from_rollup in session.execute(
            union_all(folded, raw)):
        if from_rollup:
            out.setdefault((entity_id, attribute), {})[at] = (count, total, low, high)
        else:
            minutes.append((entity_id, attribute, at, total))
    for entity_id, attribute, at, number in minutes:  # the minutes since the last rollup
        hours = out.setdefault((entity_id, attribute), {})
        hour = at.replace(minute=0, second=0, microsecond=0)
        count, total, low, high = hours.get(hour, (0, 0.0, number, number))
        hours[hour] = (count + 1, total + number, min(low, number), max(high, number))
    return out


def hourly(session: Session, entity_id: str, attribute: str, start: datetime,
           end: datetime | None = None) -> dict[datetime, Counts]:
    """(count, sum, min, max) by UTC hour in [start, end) for one attribute of one entity."""
    return hourly_many(session, [entity_id], [attribute], start, end).get((entity_id, attribute), {})


def profile(session: Session, entity_id: str, attribute: str, *, weeks: int = 8,
            timezone: str | None = None, now: datetime | None = None) -> dict[tuple[int, int], float]:
    """The typical value of a numeric attribute by (weekday 0=Monday..6, local hour 0..23) over
    the last ``weeks`` weeks: what a chart draws as "a typical weekday" beside today.

    Each hour's average is taken from the hourly aggregates (and the raw observations not yet
    aggregated); the typical value of a (weekday, hour) is the median of its weeks' averages, so
    that one unusual day (a holiday, a festival) does not pull it. Local hours are those of the
    city's time zone (``timezone``, else the one of the last rollup, else the setting). Slots
    without data are left out."""
    zone = _zone(session, timezone)
    now = now or utcnow()
    slots: dict[tuple[int, int], list[float]] = {}
    for hour, (count, total, _low, _high) in hourly(session, entity_id, attribute,
                                                    now - timedelta(weeks=weeks), now).items():
        if count:
            local = hour.astimezone(zone)
            slots.setdefault((local.weekday(), local.hour), []).append(total / count)
    return {slot: statistics.median(values) for slot, values in sorted(slots.items())}


def daily(session: Session, entity_id: str, attribute: str, first: date, last: date
          ) -> dict[date, tuple[int, float, float, float]]:
    """(count, sum, min, max) by local day in [first, last] (the daily aggregates only)."""
    rows = session.execute(select(DailyAggregate.day, DailyAggregate.count, DailyAggregate.total,
                                  DailyAggregate.minimum, DailyAggregate.maximum).where(
        DailyAggregate.entity_id == entity_id, DailyAggregate.attribute == attribute,
        DailyAggregate.day >= first, DailyAggregate.day <= last).order_by(DailyAggregate.day))
    return {day: (count, total, low, high) for day, count, total, low, high in rows}


# ------------------------------------------------------------------------------------ worker

def rollup_tick(settings: Settings) -> Tick:
    last = {"rollup": -float("inf"), "expire": -float("inf")}

    def sensors_aggregates(db: Database) -> int:
        clock = time.monotonic()
        if clock - last["rollup"] >= settings.sensors_rollup_seconds:
            last["rollup"] = clock
            rollup(db, settings.timezone)
        if clock - last["expire"] >= RETENTION_EVERY_SECONDS:
            last["expire"] = clock
            expire(db, settings)
        return 0  # housekeeping, not work: the worker keeps its idle pace

    return sensors_aggregates


def register(registry: JobRegistry, bus: EventBus, db: Database, settings: Settings) -> None:
    """Add the worker's rollups and retention."""
    registry.add_tick(rollup_tick(settings))
