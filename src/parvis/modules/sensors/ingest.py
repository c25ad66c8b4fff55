"""Device measures into the hub: the IoT-agent JSON convention, over MQTT or HTTP.

A device publishes a JSON object of measures keyed by short *object ids* on
``/<apikey>/<device_id>/attrs`` (MQTT) or posts it to ``/iot/json?k=<apikey>&i=<device_id>``
(HTTP). Its provisioning (``Device``) names the entity it feeds and maps object ids to attribute
names; an object id without a mapping keeps its own name, as IoT agents do. The reading's time is
its ``t`` (or ``TimeInstant``) member, else the time it arrived.

- QoS 1 delivers some messages twice: observations are unique on (entity, attribute, time), a
  repeat stores nothing and is counted as such.
- A late message is stored at its own time and never overwrites a newer current value; one too
  far in the past (``PARVIS_SENSORS_MAX_PAST_HOURS``) or in the future
  (``PARVIS_SENSORS_MAX_FUTURE_SECONDS``) is refused.
- Anything unusable (not JSON, unknown device, bad value...) becomes a dead letter with its reason,
  counted per device; the loop that calls ``ingest`` never dies on bad input.
"""

from __future__ import annotations

import math
import re
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from parvis.kernel.db import Database
from parvis.modules.sensors import actions, counts, ingest_write
from parvis.modules.sensors.models import DeadLetter, Device
from parvis.settings import Settings

MAX_BODY = 16_384  # bytes: a device's reading is a few hundred
MAX_MEASURES = 64
MAX_TEXT = 256
MAX_NUMBER = 2**63 - 1
TIME_KEYS = frozenset(("t", "TimeInstant"))
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
API_KEY_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"
DEVICE_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
_API_KEY_RE, _DEVICE_ID_RE = re.compile(API_KEY_PATTERN), re.compile(DEVICE_ID_PATTERN)
TOPIC_RE = re.compile(rf"^/({API_KEY_PATTERN[1:-1]})/({DEVICE_ID_PATTERN[1:-1]})/attrs$")


class Message(NamedTuple):
    """A device's message as it arrived."""
    api_key: str
    device_id: str
    body: bytes
    received_at: datetime
    channel: str = "mqtt"


@dataclass
class Outcome:
    stored: int = 0  # observations written
    repeated: int = 0  # observations already stored (a QoS 1 repeat, a device's retry)
    dead: int = 0  # messages set aside as dead letters
    reasons: dict[str, int] = field(default_factory=dict)


class Unusable(Exception):
    """Why a message cannot be stored: ``reason`` is a stable code, ``detail`` says more."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def parse_topic(topic: str) -> tuple[str, str] | None:
    """(apikey, device id) of an IoT-agent measures topic, None for any other topic."""
    match = TOPIC_RE.match(topic)
    return (match.group(1), match.group(2)) if match else None


def _time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise Unusable("bad_time", "The reading's time must be an ISO 8601 date and time.")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unusable("bad_time", f"Not an ISO 8601 date and time: {value!r}.") from None
    if at.tzinfo is None:
        raise Unusable("bad_time", f"The reading's time has no time zone: {value!r}.")
    return at


def _value(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value is None:  # NGSI-LD has no null property value
        raise Unusable("bad_value", f"{name}: null is not a measure.")
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise Unusable("bad_value", f"{name}: not a finite number of a usable size.")
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise Unusable("bad_value", f"{name}: text over {MAX_TEXT} characters.")
        if any(ord(ch) < 32 for ch in value):
            raise Unusable("bad_value", f"{name}: control characters in a text.")
        return value
    raise Unusable("bad_value", f"{name}: a measure is a number, a text or true/false.")


def _decode(body: bytes, received_at: datetime, max_past: timedelta,
            max_future: timedelta) -> tuple[datetime, dict[str, Any]]:
    """The reading's time and its JSON object, checked."""
    if len(body) > MAX_BODY:
        raise Unusable("too_large", f"A reading is at most {MAX_BODY} bytes.")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Unusable("not_json", "The message is not JSON.") from None
    if not isinstance(payload, dict) or not payload:
        raise Unusable("not_an_object", "A reading is a JSON object of measures.")
    stamp = payload.get("t", _NONE)
    if stamp is _NONE:
        stamp = payload.get("TimeInstant", _NONE)
    observed = received_at if stamp is _NONE else _time(stamp)
    if observed < received_at - max_past:
        raise Unusable("too_old", f"The reading of {observed.isoformat()} is too old to be stored.")
    if observed > received_at + max_future:
        raise Unusable("in_future", f"The reading of {observed.isoformat()} is in the future: "
                                    "the device's clock is wrong.")
    return observed, payload


def _checked(values: dict[str, Any]) -> None:
    if not values:
        raise Unusable("no_measure", "The reading has a time but no measure.")
    if len(values) > MAX_MEASURES:
        raise Unusable("too_many", f"A reading has at most {MAX_MEASURES} measures.")


def measures(mapping: dict[str, str], body: bytes, received_at: datetime, *,
             max_past: timedelta, max_future: timedelta) -> tuple[datetime, dict[str, Any]]:
    """The reading's time and its values by attribute name (``mapping``: object id -> name)."""
    observed, payload = _decode(body, received_at, max_past, max_future)
    values: dict[str, Any] = {}
    for key, value in payload.items():
        if key in TIME_KEYS:
            continue
        name = mapping.get(key, key)
        if not NAME_RE.match(name):
            raise Unusable("bad_name", f"Not a measure name: {key[:64]!r}.")
        values[name] = _value(name, value)
    _checked(values)
    return observed, values


def _values(route: Route, body: bytes, received_at: datetime, max_past: timedelta,
            max_future: timedelta) -> tuple[datetime, dict[str, Any]]:
    """``measures`` for a provisioned device, by attribute IRI, with the least work per measure."""
    observed, payload = _decode(body, received_at, max_past, max_future)
    values: dict[str, Any] = {}
    iris = route.iris
    for key, value in payload.items():
        if key in TIME_KEYS:
            continue
        iri = iris.get(key, _NONE)
        if iri is _NONE:
            iri = _unmapped_iri(key)
        if iri is None:
            raise Unusable("bad_name", f"Not a measure name: {key[:64]!r}.")
        kind = type(value)
        if kind is float or kind is int:  # most measures: checked here, without a call
            if not (-MAX_NUMBER <= value <= MAX_NUMBER) or value != value:
                raise Unusable("bad_value", f"{route.name_of(key)}: not a finite number of a usable size.")
            values[iri] = value
        else:
            values[iri] = _value(route.name_of(key), value)
    _checked(values)
    return observed, values


_NONE: Any = object()


@dataclass(frozen=True, slots=True)
class Route:
    """Where a provisioned device's measures go: its entity, and the attribute IRI of each object id
    (``None`` where the provisioned name is not a usable measure name)."""
    entity_id: str
    entity_type: str  # full IRI
    names: dict[str, str]  # object id -> attribute name, as provisioned
    iris: dict[str, str | None]
    place: tuple[float, float] | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.entity_id, self.entity_type)

    def name_of(self, object_id: str) -> str:
        return self.names.get(object_id, object_id)


_IRIS: dict[str, str | None] = {}  # names sent without a mapping -> IRI (None: not a name)


def _iri_of(name: str) -> str | None:
    return actions.attribute_iri(name) if NAME_RE.match(name) else None


def _unmapped_iri(name: str) -> str | None:
    iri = _IRIS.get(name, _NONE)
    if iri is _NONE:
        iri = _iri_of(name)
        if len(_IRIS) < 10_000:  # names come from devices: bounded
            _IRIS[name] = iri
    return iri


def _route(device: Any) -> Route:
    mapping = dict(device.attributes or {})
    place = (device.lon, device.lat) if device.lon is not None and device.lat is not None else None
    return Route(device.entity_id, device.entity_type, mapping,
                 {key: _iri_of(name) for key, name in mapping.items()}, place)


class _Routes:
    """The devices a process has looked up, kept ``ttl`` seconds: a device provisioned again
    (another entity, another mapping) or removed is seen by a running listener at most that
    late; a new device at once (an unknown one is looked up again in every batch)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.since = time.monotonic()


_cache: weakref.WeakKeyDictionary[Database, _Routes] = weakref.WeakKeyDictionary()


def forget_devices(db: Database) -> None:
    """Drop this process's cache of devices (after provisioning through this process)."""
    _cache.pop(db, None)


def _routes(db: Database, session: Session, keys: set[tuple[str, str]], ttl: float
            ) -> dict[tuple[str, str], Route]:
    cached = _cache.get(db)
    if cached is None or time.monotonic() - cached.since > ttl:
        cached = _cache[db] = _Routes()
    routes = cached.routes
    # only names a device can have are looked up (PostgreSQL refuses NUL in a parameter)
    missing = [k for k in keys if k not in routes and _API_KEY_RE.match(k[0]) and _DEVICE_ID_RE.match(k[1])]
    if missing:
        found = {(d.api_key, d.device_id): _route(d) for d in session.execute(
            select(Device.api_key, Device.device_id, Device.entity_id, Device.entity_type, Device.attributes,
                   Device.lon, Device.lat).where(tuple_(Device.api_key, Device.device_id).in_(missing)))}
        if ttl > 0:
            routes.update(found)
        else:
            return {**routes, **found}
    return routes


def _text(value: str, limit: int) -> str:
    """Text as every database takes it (PostgreSQL refuses NUL in text)."""
    return value[:limit].replace("\x00", "\ufffd")


def _dead(session: Session, message: Message, reason: str, detail: str) -> None:
    # What an unknown sender sent is not kept (anyone may post to /iot/json): its reason is.
    payload = "" if reason == "unknown_device" else message.body[:2000].decode("utf-8", "replace")
    session.add(DeadLetter(received_at=message.received_at, channel=message.channel,
                           api_key=_text(message.api_key, 64), device_id=_text(message.device_id, 128),
                           reason=reason, detail=_text(detail, 500), payload=_text(payload, 2000)))


def set_aside(db: Database, message: Message, reason: str, detail: str) -> None:
    """Keep a message the store refused as a dead letter, in its own transaction."""
    with db.transaction() as session:
        _dead(session, message, reason, detail)


def ingest(db: Database, settings: Settings, batch: Sequence[Message], *,
           count_as: str | None = None) -> Outcome:
    """Store a batch of messages in one transaction: observations, the entities' current values,
    dead letters, and (``count_as``: the channel) the counters, which so never miss a batch that
    committed nor count one that did not."""
    outcome = Outcome()
    if not batch:
        return outcome
    max_past = timedelta(hours=settings.sensors_max_past_hours)
    max_future = timedelta(seconds=settings.sensors_max_future_seconds)
    ttl = settings.sensors_device_cache_seconds
    with db.transaction() as session:
        routes = _routes(db, session, {(m.api_key, m.device_id) for m in batch}, ttl)
        # one row per (entity, attribute, time): a repeat inside the batch is counted as such
        rows: dict[tuple[str, str, datetime], ingest_write.Row] = {}
        measured = 0
        latest: ingest_write.Latest = {}
        places: dict[str, tuple[float, float]] = {}
        for message in batch:
            route = routes.get((message.api_key, message.device_id))
            try:
                if route is None:
                    raise Unusable("unknown_device", "No device is provisioned with this API key and id.")
                observed, values = _values(route, message.body, message.received_at, max_past, max_future)
            except Unusable as refused:
                _dead(session, message, refused.reason, refused.detail)
                outcome.dead += 1
                outcome.reasons[refused.reason] = outcome.reasons.get(refused.reason, 0) + 1
                continue
            entity_id = route.entity_id
            newest = latest.get(route.key)
            if newest is None:
                newest = latest[route.key] = {}
                if route.place is not None:
                    places[entity_id] = route.place
            measured += len(values)
            for iri, value in values.items():
                kind = type(value)
                rows[(entity_id, iri, observed)] = (entity_id, iri, observed, float(value) if (
                    kind is float or kind is int) else None, value)
                seen = newest.get(iri)
                if seen is None or seen[0] <= observed:  # the same time again: the last one read
                    newest[iri] = (observed, value)
        if rows:
            outcome.stored = ingest_write.store(session, list(rows.values()))
            outcome.repeated = measured - outcome.stored
            # an entity keeps its value when it is as new or newer (a repeat changes nothing there)
            ingest_write.apply_latest(session, latest, places)
        if count_as is not None:  # last: listeners sharing a subscription hold this row briefly
            counts.add(session, count_as, {"stored": outcome.stored, "repeated": outcome.repeated,
                                           "dead": outcome.dead})
    return outcome


def dead_letters_by_device(session: Session) -> list[tuple[str, str, int]]:
    """(device id, reason, count) of the dead letters kept, most first."""
    count = func.count(DeadLetter.id)
    return [(d, r, n) for d, r, n in session.execute(
        select(DeadLetter.device_id, DeadLetter.reason, count)
        .group_by(DeadLetter.device_id, DeadLetter.reason).order_by(count.desc()))]
