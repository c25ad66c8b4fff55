"""Reads of the temporal store: the instances of an entity's attributes over time, and their
aggregation in time buckets (NGSI-LD's temporal evolution of entities, ETSI GS CIM 009 v1.6+).

Instances are selected per entity with the unique index (entity_id, attribute, observed_at):
one range scan per entity (``IN`` on the attributes), or one per attribute for ``lastN`` and for
pages after the first (``Page``).
Aggregation is done in Python on the rows fetched: a day of minute data is 1,440 rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Integer, Select, cast, func, literal, select
from sqlalchemy.orm import Session

from parvis.modules.sensors.models import Observation
from parvis.modules.sensors.standards.ngsi_ld import ngsi_time

MAX_INSTANCES = 10_000  # per attribute and response, without aggregation: the default page size
MAX_AGGREGATED = 500_000  # per attribute: instances read to aggregate
MAX_OFFSET_N = 1_000_000_000
TIMERELS = ("before", "after", "between")
AGGR_METHODS = ("totalCount", "distinctCount", "sum", "sumsq", "min", "max", "avg", "stddev")
SQL_METHODS = frozenset(("totalCount", "sum", "sumsq", "min", "max", "avg"))
_DURATION_RE = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$")


class TemporalError(ValueError):
    """A temporal parameter that cannot be used (the API answers BadRequestData)."""


@dataclass(frozen=True)
class Window:
    """The instances asked for: ``timerel`` with ``timeAt``/``endTimeAt``, or every instance.

    before: observed_at < timeAt; after: observed_at >= timeAt; between: timeAt <= observed_at <
    endTimeAt."""

    timerel: str | None = None
    start: datetime | None = None  # timeAt
    end: datetime | None = None  # endTimeAt

    def lower(self) -> datetime | None:
        return self.start if self.timerel in ("after", "between") else None

    def upper(self) -> datetime | None:
        if self.timerel == "before":
            return self.start
        return self.end if self.timerel == "between" else None


@dataclass(frozen=True)
class Page:
    """Which instances of each attribute an answer holds (TS 104-176 6.4.7.3): ``size`` of them,
    counted from the first in the window (``firstN``, ascending) or from the last (``lastN``,
    descending), after ``offset`` of them (``offsetN``). Attributes are paged independently."""

    size: int = MAX_INSTANCES
    offset: int = 0
    descending: bool = False


class Instance(NamedTuple):
    at: datetime
    number: float | None
    value: Any


def parse_time(value: str | None, name: str) -> datetime:
    if not value:
        raise TemporalError(f"{name} is required with this timerel (an ISO 8601 date and time).")
    if len(value) > 40:
        raise TemporalError(f"{name} must be an ISO 8601 date and time.")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        try:  # a '+' of the zone left unencoded in the URL arrives as a space
            when = datetime.fromisoformat(value[:-6] + value[-6:].replace(" ", "+"))
        except ValueError:
            raise TemporalError(f"{name} is not an ISO 8601 date and time: {value!r}.") from None
    if when.tzinfo is None:
        raise TemporalError(f"{name} must give its time zone (such as Z for UTC): {value!r}.")
    return when.astimezone(UTC)


def window(timerel: str | None, time_at: str | None, end_time_at: str | None) -> Window:
    if not timerel:
        if time_at or end_time_at:
            raise TemporalError("timeAt and endTimeAt need a timerel (before, after or between).")
        return Window()
    if timerel not in TIMERELS:
        raise TemporalError(f"timerel must be before, after or between, not {timerel[:40]!r}.")
    start = parse_time(time_at, "timeAt")
    if timerel != "between":
        if end_time_at:
            raise TemporalError("endTimeAt is only used with timerel=between.")
        return Window(timerel, start)
    end = parse_time(end_time_at, "endTimeAt")
    if end <= start:
        raise TemporalError("endTimeAt must be later than timeAt.")
    return Window(timerel, start, end)


def duration(value: str | None) -> timedelta | None:
    """An ISO 8601 duration in weeks, days, hours, minutes and seconds (``PT1H``, ``P1D``)."""
    if not value:
        return None
    match = _DURATION_RE.match(value) if len(value) <= 40 else None
    if match is None or value in ("P", "PT") or value.endswith("T"):
        raise TemporalError(f"aggrPeriodDuration must be an ISO 8601 duration in weeks, days, hours, "
                            f"minutes or seconds (such as PT1H or P1D), not {value[:40]!r}; years and "
                            "months have no fixed length and are not supported.")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    try:
        span = timedelta(**parts)
    except OverflowError:
        raise TemporalError("aggrPeriodDuration is too long.") from None
    if not span:  # PT0S, the spec's default: one period, the whole window
        return None
    if span < timedelta(seconds=1):
        raise TemporalError("aggrPeriodDuration is at least one second (or PT0S: the whole window).")
    return span


def aggr_methods(value: str | None) -> list[str]:
    methods = [m.strip() for m in (value or "").split(",") if m.strip()]
    if not methods:
        raise TemporalError("Aggregated values need aggrMethods (such as avg,min,max).")
    unknown = [m for m in methods if m not in AGGR_METHODS]
    if unknown:
        raise TemporalError(f"Unknown aggrMethods {', '.join(repr(m[:40]) for m in unknown)}: use "
                            f"{', '.join(AGGR_METHODS)}.")
    return list(dict.fromkeys(methods))


# ------------------------------------------------------------------------------------ reads

def _ranged(stmt: Select[Any], win: Window) -> Select[Any]:
    lower, upper = win.lower(), win.upper()
    if lower is not None:
        stmt = stmt.where(Observation.observed_at >= lower)
    if upper is not None:
        stmt = stmt.where(Observation.observed_at < upper)
    return stmt


def instances(session: Session, entity_id: str, attributes: Sequence[str], win: Window, *,
              last_n: int | None = None, limit: int = MAX_INSTANCES, with_values: bool = True,
              ) -> dict[str, list[Instance]]:
    """The instances of these attributes of one entity in the window, in time order, by attribute
    IRI (attributes without instances are left out). Raises ``TemporalError`` when an attribute
    has more than ``limit`` instances."""
    if not attributes:
        return {}
    columns = [Observation.attribute, Observation.observed_at, Observation.number]
    if with_values:
        columns.append(Observation.value)
    out: dict[str, list[Instance]] = {}
    if last_n is not None:
        for iri in attributes:
            stmt = _ranged(select(*columns).where(Observation.entity_id == entity_id,
                                                  Observation.attribute == iri), win)
            rows = session.execute(stmt.order_by(Observation.observed_at.desc()).limit(last_n)).all()
            if rows:
                out[iri] = [_instance(row, with_values) for row in reversed(rows)]
        return out
    stmt = _ranged(select(*columns).where(Observation.entity_id == entity_id,
                                          Observation.attribute.in_(sorted(attributes))), win)
    stmt = stmt.order_by(Observation.attribute, Observation.observed_at)
    for row in session.execute(stmt.limit(len(attributes) * limit + 1)):
        found = out.setdefault(row[0], [])
        if len(found) >= limit:
            raise TemporalError(f"More than {limit} instances of an attribute match: ask for lastN or "
                                "a shorter interval, or aggregate.")
        found.append(_instance(row, with_values))
    return out


class PageRead(NamedTuple):
    """A page of instances by attribute IRI, in time order, and whether some attribute has
    instances beyond the page (further on in the page's direction)."""

    found: dict[str, list[Instance]]
    more: bool


def instance_page(session: Session, entity_id: str, attributes: Sequence[str], win: Window,
                  page: Page, *, with_values: bool = True) -> PageRead:
    """A page of the instances of these attributes of one entity in the window (attributes without
    instances in the page are left out). The first page in time order is one range scan for all
    the attributes when none has more than a page; otherwise one scan per attribute."""
    if not attributes:
        return PageRead({}, False)
    columns = [Observation.attribute, Observation.observed_at, Observation.number]
    if with_values:
        columns.append(Observation.value)
    out: dict[str, list[Instance]] = {}
    more = False
    if not page.descending and page.offset == 0:
        stmt = _ranged(select(*columns).where(Observation.entity_id == entity_id,
                                              Observation.attribute.in_(sorted(attributes))), win)
        result = session.execute(stmt.order_by(Observation.attribute, Observation.observed_at)
                                 .limit(len(attributes) * page.size + 1))
        complete = True
        for row in result:
            found = out.setdefault(row[0], [])
            if len(found) == page.size:  # an attribute has more than a page: one scan each
                complete = False
                break
            found.append(_instance(row, with_values))
        result.close()
        if complete:
            return PageRead(out, False)
        out = {}
    order = Observation.observed_at.desc() if page.descending else Observation.observed_at
    for iri in attributes:
        stmt = _ranged(select(*columns).where(Observation.entity_id == entity_id,
                                              Observation.attribute == iri), win)
        rows = session.execute(stmt.order_by(order).offset(page.offset).limit(page.size + 1)).all()
        if len(rows) > page.size:
            more, rows = True, rows[: page.size]
        if rows:
            out[iri] = [_instance(row, with_values) for row in (reversed(rows) if page.descending else rows)]
    return PageRead(out, more)


def _instance(row: Any, with_values: bool) -> Instance:
    return Instance(row[1], row[2], row[3] if with_values else None)


# ------------------------------------------------------------------------------- aggregation

def _bounds(win: Window, found: Sequence[Instance]) -> tuple[datetime, datetime]:
    """The interval aggregated: the window's, closed by the first or last instance if open."""
    start = win.lower() or found[0].at
    end = win.upper() or found[-1].at
    return start, end


def aggregate(found: Sequence[Instance], methods: Sequence[str], win: Window,
              period: timedelta | None) -> dict[str, list[list[Any]]]:
    """``{method: [[value, start, end], ...]}``: one entry per bucket holding instances, buckets
    of ``period`` aligned on timeAt (the first instance without one), else one bucket."""
    result: dict[str, list[list[Any]]] = {m: [] for m in methods}
    if not found:
        return result
    start, end = _bounds(win, found)
    buckets: dict[int, list[Instance]] = {}
    if period is None:
        buckets[0] = list(found)
    else:
        for item in found:
            buckets.setdefault((item.at - start) // period, []).append(item)
    for index in sorted(buckets):
        items = buckets[index]
        span = _span(win, start, end, index, period)
        for method in methods:
            result[method].append([_compute(method, items), *span])
    return result


def _span(win: Window, start: datetime, end: datetime, index: int,
          period: timedelta | None) -> list[str]:
    """[start, end] of bucket ``index``; the last bucket of a closed interval ends with it."""
    if period is None:
        return [ngsi_time(start), ngsi_time(end)]
    high = start + (index + 1) * period
    if win.upper() is not None:
        high = min(high, end)
    return [ngsi_time(start + index * period), ngsi_time(high)]


def sql_aggregable(methods: Iterable[str], win: Window, period: timedelta | None,
                   last_n: int | None) -> bool:
    """Whether the database can aggregate: plain methods, buckets in whole seconds from timeAt."""
    lower = win.lower()
    return (last_n is None and set(methods) <= SQL_METHODS and lower is not None
            and lower.microsecond == 0 and (period is None or period.microseconds == 0))


def aggregate_in_sql(session: Session, entity_id: str, attributes: Sequence[str], win: Window,
                     methods: Sequence[str], period: timedelta | None,
                     ) -> dict[str, dict[str, list[list[Any]]]]:
    """What ``aggregate`` gives, computed by the database (see ``sql_aggregable``): one GROUP BY
    on the index range, by attribute IRI (attributes without instances are left out)."""
    start = win.lower()
    if not attributes or start is None:
        return {}
    number = Observation.number
    columns: list[Any] = [Observation.attribute, func.count(), func.count(number), func.sum(number),
                          func.sum(number * number), func.min(number), func.max(number),
                          func.max(Observation.observed_at)]
    stmt = _ranged(select(*columns).where(Observation.entity_id == entity_id,
                                          Observation.attribute.in_(sorted(attributes))), win)
    if period is None:
        stmt = stmt.add_columns(literal(0)).group_by(Observation.attribute)
    else:
        secs, origin = int(period.total_seconds()), int(start.timestamp())
        if session.get_bind().dialect.name == "postgresql":
            bucket: Any = func.floor((func.extract("epoch", Observation.observed_at) - origin) / secs)
        else:  # whole seconds, at or after the origin: integer division is the floor
            bucket = (cast(func.strftime("%s", Observation.observed_at), Integer) - origin) // secs
        bucket = bucket.label("bucket")
        stmt = stmt.add_columns(bucket).group_by(Observation.attribute, bucket)
    out: dict[str, dict[str, list[list[Any]]]] = {}
    rows = sorted(session.execute(stmt).all(), key=lambda row: (row[0], int(row[8])))
    for iri, total, count, total_sum, sumsq, low, high, last, index in rows:
        result = out.setdefault(iri, {m: [] for m in methods})
        span = _span(win, start, win.upper() or last, int(index), period)
        values = {"totalCount": total, "sum": total_sum, "sumsq": sumsq, "min": low, "max": high,
                  "avg": total_sum / count if count else None}
        for method in methods:
            result[method].append([values[method], *span])
    return out


def _compute(method: str, items: Sequence[Instance]) -> Any:
    if method == "totalCount":
        return len(items)
    if method == "distinctCount":
        return len({orjson.dumps(i.value, option=orjson.OPT_SORT_KEYS) for i in items})
    numbers = [i.number for i in items if i.number is not None]
    if not numbers:
        return None
    if method == "sum":
        return math.fsum(numbers)
    if method == "sumsq":
        return math.fsum(n * n for n in numbers)
    if method == "min":
        return min(numbers)
    if method == "max":
        return max(numbers)
    mean = math.fsum(numbers) / len(numbers)
    if method == "avg":
        return mean
    return math.sqrt(math.fsum((n - mean) ** 2 for n in numbers) / len(numbers))  # stddev


def needs_values(methods: Iterable[str]) -> bool:
    return "distinctCount" in methods


__all__ = ["AGGR_METHODS", "MAX_INSTANCES", "Instance", "Page", "PageRead", "TemporalError", "Window",
           "aggr_methods", "aggregate", "aggregate_in_sql", "duration", "instance_page", "instances",
           "needs_values", "parse_time", "sql_aggregable", "window"]
