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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from parvis.kernel.db import Database
from parvis.modules.sensors import actions, observations
from parvis.modules.sensors.models import DeadLetter, Device
from parvis.settings import Settings

MAX_BODY = 16_384  # bytes: a device's reading is a few hundred
MAX_MEASURES = 64
MAX_TEXT = 256
MAX_NUMBER = 2**63 - 1
TIME_KEYS = ("t", "TimeInstant")
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
API_KEY_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"
DEVICE_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
_API_KEY_RE, _DEVICE_ID_RE = re.compile(API_KEY_PATTERN), re.compile(DEVICE_ID_PATTERN)
TOPIC_RE = re.compile(rf"^/({API_KEY_PATTERN[1:-1]})/({DEVICE_ID_PATTERN[1:-1]})/attrs$")


@dataclass(frozen=True)
class Message:
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


def measures(mapping: dict[str, str], body: bytes, received_at: datetime, *,
             max_past: timedelta, max_future: timedelta) -> tuple[datetime, dict[str, Any]]:
    """The reading's time and its values by attribute name (``mapping``: object id -> name)."""
    if len(body) > MAX_BODY:
        raise Unusable("too_large", f"A reading is at most {MAX_BODY} bytes.")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Unusable("not_json", "The message is not JSON.") from None
    if not isinstance(payload, dict) or not payload:
        raise Unusable("not_an_object", "A reading is a JSON object of measures.")
    stamp = next((payload[k] for k in TIME_KEYS if k in payload), None)
    observed = received_at if stamp is None else _time(stamp)
    if observed < received_at - max_past:
        raise Unusable("too_old", f"The reading of {observed.isoformat()} is too old to be stored.")
    if observed > received_at + max_future:
        raise Unusable("in_future", f"The reading of {observed.isoformat()} is in the future: "
                                    "the device's clock is wrong.")
    values: dict[str, Any] = {}
    for key, value in payload.items():
        if key in TIME_KEYS:
            continue
        name = mapping.get(key, key)
        if not NAME_RE.match(name):
            raise Unusable("bad_name", f"Not a measure name: {key[:64]!r}.")
        values[name] = _value(name, value)
    if not values:
        raise Unusable("no_measure", "The reading has a time but no measure.")
    if len(values) > MAX_MEASURES:
        raise Unusable("too_many", f"A reading has at most {MAX_MEASURES} measures.")
    return observed, values


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


def ingest(db: Database, settings: Settings, batch: Sequence[Message]) -> Outcome:
    """Store a batch of messages in one transaction: observations, the entities' current values,
    dead letters."""
    outcome = Outcome()
    if not batch:
        return outcome
    max_past = timedelta(hours=settings.sensors_max_past_hours)
    max_future = timedelta(seconds=settings.sensors_max_future_seconds)
    with db.transaction() as session:
        # only names a device can have are looked up (PostgreSQL refuses NUL in a parameter)
        keys = {(m.api_key, m.device_id) for m in batch
                if _API_KEY_RE.match(m.api_key) and _DEVICE_ID_RE.match(m.device_id)}
        devices = {(d.api_key, d.device_id): d for d in session.scalars(
            select(Device).where(tuple_(Device.api_key, Device.device_id).in_(list(keys))))}
        rows: list[dict[str, Any]] = []
        for message in batch:
            device = devices.get((message.api_key, message.device_id))
            try:
                if device is None:
                    raise Unusable("unknown_device", "No device is provisioned with this API key and id.")
                observed, values = measures(device.attributes, message.body, message.received_at,
                                            max_past=max_past, max_future=max_future)
            except Unusable as refused:
                _dead(session, message, refused.reason, refused.detail)
                outcome.dead += 1
                outcome.reasons[refused.reason] = outcome.reasons.get(refused.reason, 0) + 1
                continue
            for name, value in values.items():
                rows.append({"entity_id": device.entity_id, "entity_type": device.entity_type,
                             "attribute": actions.attribute_iri(name), "observed_at": observed,
                             "number": float(value) if isinstance(value, int | float)
                             and not isinstance(value, bool) else None,
                             "value": value})
        if rows:
            unique = {(r["entity_id"], r["attribute"], r["observed_at"]): r for r in rows}
            # a repeat is skipped by the unique index, and counted
            outcome.stored = observations.store(session, list(unique.values()))
            outcome.repeated = len(rows) - outcome.stored
            # the newest reading of each attribute in the batch; ``apply_observations`` keeps an
            # entity's value when it is as new or newer (a repeat changes nothing there either)
            current: dict[tuple[str, str], dict[str, tuple[datetime, Any]]] = {}
            for r in unique.values():
                latest = current.setdefault((r["entity_id"], r["entity_type"]), {})
                seen = latest.get(r["attribute"])
                if seen is None or seen[0] < r["observed_at"]:
                    latest[r["attribute"]] = (r["observed_at"], r["value"])
            places = {d.entity_id: (d.lon, d.lat) for d in devices.values()
                      if d.lon is not None and d.lat is not None}
            actions.apply_observations(session, current, places)
    return outcome


def dead_letters_by_device(session: Session) -> list[tuple[str, str, int]]:
    """(device id, reason, count) of the dead letters kept, most first."""
    count = func.count(DeadLetter.id)
    return [(d, r, n) for d, r, n in session.execute(
        select(DeadLetter.device_id, DeadLetter.reason, count)
        .group_by(DeadLetter.device_id, DeadLetter.reason).order_by(count.desc()))]
