"""Who an alert reaches, and the fan-out that queues one message per (alert, person, channel).

Resolution is set-based: SQL prefilters subscriptions by the area's bounding box (points) or by
the districts the area overlaps, then one vectorised shapely call tests the candidate points of
each chunk. Places of one person are merged, so a person with a home and a workplace in the area
gets one message per channel. The fan-out writes in batches, each batch one transaction holding
its deliveries and their outbox messages, keyed ``alert:{id}:{person}:{channel}``: a batch that
dies is redone whole, and a batch already done is skipped, so a re-run never sends twice.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Row, and_, false, func, or_, select
from sqlalchemy.orm import Session

from parvis.kernel import geo, notify
from parvis.kernel.bulk import insert_rows, stored
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, ValidationFailed
from parvis.kernel.i18n import Translator
from parvis.modules import city
from parvis.modules.alerts import area as area_rules
from parvis.modules.alerts.models import (
    CHANNELS,
    Alert,
    AlertInfo,
    Delivery,
    DeliveryState,
    State,
    Subscription,
    category_bits,
)
from parvis.modules.alerts.schemas import AreaIn
from parvis.settings import Settings

CHUNK = 20_000  # subscriptions read and tested at once
PURPOSE = "alerts"
SMS_MAX = 480  # three concatenated SMS

PREFIXES = {
    "Exercise": N_("EXERCISE"),
    "Test": N_("TEST"),
    "Update": N_("UPDATE"),
    "Cancel": N_("CANCELLED"),
}


class UnknownDistrict(ValidationFailed):
    type_slug = "unknown-district"
    title = N_("This district does not exist.")


# ------------------------------------------------------------------------------- the city's map

@dataclass
class CityMap:
    """The city's districts as shapes (read once per compose or fan-out; a city has few)."""

    districts: dict[int, BaseGeometry]
    codes: dict[int, str]
    names: dict[int, str]

    @property
    def shape(self) -> BaseGeometry | None:
        return shapely.union_all(list(self.districts.values())) if self.districts else None

    def overlapping(self, where: BaseGeometry) -> set[int]:
        """Districts sharing some surface with ``where`` (a shared border is not enough)."""
        return {i for i, d in self.districts.items()
                if d.intersects(where) and not d.touches(where)}


def city_map(session: Session) -> CityMap:
    features = city.districts_geojson(session)["features"]
    return CityMap(districts={f["id"]: shape(f["geometry"]) for f in features},
                   codes={f["id"]: f["properties"]["code"] for f in features},
                   names={f["id"]: f["properties"]["name"] for f in features})


@dataclass
class DrawnArea:
    """An area checked against the city: its parts as drawn and their union."""

    district_ids: list[int]
    polygon: list[list[float]] | None
    circle: area_rules.Circle | None
    shape: BaseGeometry


def check_area(data: AreaIn, cmap: CityMap) -> DrawnArea:
    """Refuse an area people's phones could not use: see ``area`` for the geometry rules."""
    bounds = cmap.shape
    parts: list[BaseGeometry] = []
    ring = None
    circle = None
    if data.polygon is not None:
        parts.append(area_rules.check_polygon(data.polygon, bounds))
        ring = [list(p) for p in area_rules.close_ring(data.polygon)]
    if data.circle is not None:
        circle = area_rules.Circle(data.circle.lon, data.circle.lat, data.circle.radius_km)
        parts.append(area_rules.check_circle(circle, bounds))
    ids = sorted(set(data.district_ids))
    for district_id in ids:
        if district_id not in cmap.districts:
            raise UnknownDistrict(errors=[{"field": "area.district_ids", "code": "unknown_district"}])
        parts.append(cmap.districts[district_id])
    if not parts:
        raise area_rules.InvalidAlertArea(N_("Choose districts, draw a polygon or a circle."),
                                          errors=[{"field": "area", "code": "missing"}])
    return DrawnArea(ids, ring, circle, shapely.union_all(parts))


# ------------------------------------------------------------------------------- resolution

@dataclass(slots=True)
class Recipient:
    """One person the alert reaches, their places merged."""

    person: str
    user_id: int | None = None
    phone: str | None = None
    email: str | None = None
    language: str | None = None
    channels: set[str] = field(default_factory=set)
    subscriptions: dict[str, int] = field(default_factory=dict)  # per channel

    def addresses(self) -> tuple[tuple[str, str | None], tuple[str, str | None]]:
        """The channels that go to an address, with it: SMS to the phone, e-mail to the address."""
        return ("sms", self.phone), ("email", self.email)


FAR = 1e9  # where a district subscription's missing point is put: no area covers it
_SUB = Subscription.__table__.c
# Core columns (no ORM loading: a quarter of a million rows are read at once), in this order.
_COLUMNS = (_SUB.id, _SUB.person, _SUB.user_id, _SUB.phone, _SUB.email,
            func.coalesce(_SUB.lon, FAR).label("lon"), func.coalesce(_SUB.lat, FAR).label("lat"),
            _SUB.district_id, _SUB.by_sms, _SUB.by_email, _SUB.by_push, _SUB.language)
# The channels of a subscription, by its (by_sms, by_email, by_push) flags.
_CHANNEL_SETS = {flags: tuple(c for c, on in zip(CHANNELS, flags, strict=True) if on)
                 for flags in itertools.product((False, True), repeat=3)}


def matching_subscriptions(session: Session, alert: Alert, cmap: CityMap) -> Iterator[Row[Any]]:
    """Subscriptions whose place lies in the alert's area (a point inside it, or a district it
    overlaps), of a category the alert has, and of testers only for Test and Exercise; rows of
    ``_COLUMNS``. Each chunk's points are tested in one vectorised call."""
    where = geo.loads(alert.area)
    shapely.prepare(where)
    districts = cmap.overlapping(where)
    in_box = and_(_SUB.lat.between(alert.min_lat, alert.max_lat),
                  _SUB.lon.between(alert.min_lon, alert.max_lon))
    query = select(*_COLUMNS).where(
        or_(in_box, _SUB.district_id.in_(sorted(districts)) if districts else false()),
        or_(_SUB.categories == 0, _SUB.categories.op("&")(category_bits(alert.categories)) != 0),
    )
    if alert.status != "Actual":
        query = query.where(_SUB.tester.is_(True))
    result = session.execute(query.order_by(_SUB.id).execution_options(yield_per=CHUNK))
    for rows in result.partitions(CHUNK):
        n = len(rows)
        hit = shapely.intersects_xy(where, np.fromiter((r[5] for r in rows), float, n),
                                    np.fromiter((r[6] for r in rows), float, n))
        if districts:
            hit |= np.fromiter((r[7] in districts for r in rows), bool, n)
        for i in np.flatnonzero(hit).tolist():
            yield rows[i]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A city-scale alert makes and keeps hundreds of thousands of small objects: the cyclic
    garbage collector would scan them again and again (a third of the resolution's time, and
    more as they grow). Reference counting still frees everything meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def resolve(session: Session, alert: Alert, cmap: CityMap | None = None) -> dict[str, Recipient]:
    """The people an alert reaches, by person key, with their channels and language."""
    with _gc_paused():
        return _resolve(session, alert, cmap or city_map(session))


def _resolve(session: Session, alert: Alert, cmap: CityMap) -> dict[str, Recipient]:
    people: dict[str, Recipient] = {}
    rows = matching_subscriptions(session, alert, cmap)
    for _id, person, user_id, phone, email, _lon, _lat, _d, sms, mail, push, language in rows:
        channels = _CHANNEL_SETS[sms, mail, push]
        rec = people.get(person)
        if rec is None:
            people[person] = Recipient(person, user_id, phone, email, language, set(channels),
                                       dict.fromkeys(channels, 1))
            continue
        rec.language = rec.language or language
        rec.phone = rec.phone or phone
        rec.email = rec.email or email
        for channel in channels:
            rec.channels.add(channel)
            rec.subscriptions[channel] = rec.subscriptions.get(channel, 0) + 1
    return _one_message_per_address(people)


def _keeps(a: Recipient, b: Recipient) -> bool:
    """Of two people sharing an address, whether ``a`` keeps the message: an account before a bare
    phone or e-mail subscription (``phone:...`` by SMS keyword), then the smaller key."""
    return (a.user_id is None, a.person) < (b.user_id is None, b.person)


def _one_message_per_address(people: dict[str, Recipient]) -> dict[str, Recipient]:
    """One SMS per phone number and one e-mail per address. Someone subscribed by SMS keyword
    and, with the same number, through their account (or a family sharing one phone) is one
    handset: it gets the alert once. The account keeps the channel (and counts the other's
    subscriptions); a person left with no channel is not reached at all. The choice depends only
    on who is subscribed, so a re-run of a fan-out makes the same one."""
    holders: dict[tuple[str, str], Recipient] = {}
    shared = False
    for rec in people.values():
        for channel, address in rec.addresses():
            if address and channel in rec.channels:
                holder = holders.setdefault((channel, address), rec)
                if holder is not rec:
                    shared = True
                    if _keeps(rec, holder):
                        holders[channel, address] = rec
    if not shared:
        return people
    for rec in list(people.values()):
        for channel, address in rec.addresses():
            holder = holders.get((channel, address or ""))
            if holder is None or holder is rec or channel not in rec.channels:
                continue
            rec.channels.discard(channel)
            moved = rec.subscriptions.pop(channel, 0)
            holder.subscriptions[channel] = holder.subscriptions.get(channel, 0) + moved
            holder.language = holder.language or rec.language
        if not rec.channels:
            del people[rec.person]
    return people


def chain(session: Session, alert: Alert) -> list[int]:
    """Ids of the messages this one replaces, nearest first (an Update's original, ...)."""
    ids = []
    current = alert.references_id
    while current is not None and current not in ids:
        ids.append(current)
        current = session.scalar(select(Alert.references_id).where(Alert.id == current))
    return ids


def reached_before(session: Session, alert: Alert) -> dict[str, Recipient]:
    """The people the messages this one replaces reached (or are reaching), with the channels and
    addresses used (what a Cancel tells, what an Update's follow-up starts from). Each person counts
    as the latest message that reached them left them: someone an Update's follow-up told the alert
    no longer concerned their place is not counted (unless a later Update reached them again)."""
    people: dict[str, Recipient] = {}
    earlier = chain(session, alert)  # nearest first
    if not earlier:
        return people
    position = {alert_id: i for i, alert_id in enumerate(earlier)}
    rows = session.execute(select(Delivery.alert_id, Delivery.followup, Delivery.person, Delivery.channel,
                                  Delivery.user_id, Delivery.address, Delivery.language).where(
        Delivery.alert_id.in_(earlier),
        Delivery.state.not_in([DeliveryState.CANCELLED, DeliveryState.FAILED])).order_by(Delivery.id)).all()
    latest: dict[str, int] = {}
    for row in rows:
        latest[row.person] = min(latest.get(row.person, len(earlier)), position[row.alert_id])
    told_out = {row.person for row in rows if row.followup and position[row.alert_id] == latest[row.person]}
    for row in rows:
        if position[row.alert_id] != latest[row.person] or row.person in told_out:
            continue
        rec = people.setdefault(row.person, Recipient(row.person, row.user_id))
        rec.language = rec.language or row.language or None
        rec.channels.add(row.channel)
        rec.subscriptions[row.channel] = 1
        if row.channel == "sms":
            rec.phone = row.address
        elif row.channel == "email":
            rec.email = row.address
    return people


# ------------------------------------------------------------------------------- fan-out

def outbox_key(alert_id: int, person: str, channel: str) -> str:
    """The idempotency key of one message; long person keys (e-mails) are hashed to fit."""
    key = f"alert:{alert_id}:{person}:{channel}"
    if len(key) > 180:
        key = f"alert:{alert_id}:h{hashlib.sha256(person.encode()).hexdigest()[:40]}:{channel}"
    return key


def choose_info(infos: dict[str, AlertInfo], language: str | None, default: str) -> AlertInfo:
    """The text in the person's language, else the city's default language, else the first."""
    return infos.get(language or "") or infos.get(default) or next(iter(infos.values()))


@dataclass
class Message:
    subject: str
    body: str
    link: str
    # What an SMS or e-mail, and a push, carry besides the words: one object for every message.
    data: dict[str, Any] = field(init=False)
    push_data: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.data = {"url": self.link}
        self.push_data = {"url": self.link, "urgency": "high"}


def message_for(alert: Alert, info: AlertInfo, settings: Settings) -> Message:
    """The words sent for an alert in one language, marked for exercises, tests, updates, cancels."""
    tr = Translator(info.language)
    marks = [tr.gettext(PREFIXES[v]) for v in (alert.status, alert.msg_type) if v in PREFIXES]
    prefix = "".join(f"[{m}] " for m in marks)
    link = f"{settings.base_url}/alerts/{alert.id}"
    subject = f"{prefix}{info.headline}"
    body = " ".join(p for p in (f"{prefix}{settings.city_name}: {info.headline}.", info.instruction) if p)
    if len(body) + len(link) + 1 > SMS_MAX:
        body = body[:SMS_MAX - len(link) - 2].rstrip() + "…"
    return Message(subject, f"{body} {link}", link)


Endpoints = dict[int, list[tuple[int, str]]]
QUEUED, FAILED = str(DeliveryState.QUEUED), str(DeliveryState.FAILED)  # plain text for bulk inserts


def _queue_one(key: str, message: Message, rec: Recipient, channel: str, out: list[notify.NewMessage],
               push: Endpoints) -> tuple[str, str, str, str | None]:
    """One (person, channel), keyed ``key``: its message(s) appended to ``out``; returns the
    delivery record's state, reason and address, and the key of the message it follows
    (``None``: nothing is sent)."""
    if channel == "push":
        endpoints = push.get(rec.user_id or 0, [])
        if not endpoints:
            return FAILED, "no push subscription", "", None
        out.extend(notify.NewMessage("push", endpoint, message.body, f"{key}:{sub_id}", message.subject,
                                     rec.user_id, PURPOSE, message.push_data)
                   for sub_id, endpoint in endpoints)
        return QUEUED, "", "", f"{key}:{endpoints[0][0]}"
    address = rec.phone if channel == "sms" else rec.email
    if not address:
        return FAILED, f"no {channel} address", "", None
    out.append(notify.NewMessage(channel, address, message.body, key,
                                 message.subject if channel == "email" else "", rec.user_id, PURPOSE,
                                 message.data))
    return QUEUED, "", address, key


_DELIVERY_COLUMNS = ("person", "channel", "user_id", "address", "language", "state", "reason", "outbox_key",
                     "outbox_id")


Record = tuple[str, str, int | None, str, str, str, str, str]


@dataclass
class Batch:
    """One batch of people, prepared: their outbox messages, and per delivery record its (person,
    channel, user id, address, language, state, reason, key) and the key of its message."""

    messages: list[notify.NewMessage]
    deliveries: list[tuple[Record, str | None]]


def _prepare(alert_id: int, chunk: list[Recipient], messages: dict[str, Message],
             chosen: dict[str | None, str], done: set[tuple[str, str]], push: Endpoints) -> Batch:
    batch = Batch([], [])
    for rec in chunk:
        language = chosen[rec.language]
        person = rec.person
        for channel in sorted(rec.channels) if len(rec.channels) > 1 else rec.channels:
            if (person, channel) not in done:
                key = outbox_key(alert_id, person, channel)
                state, reason, address, sent = _queue_one(key, messages[language], rec, channel,
                                                          batch.messages, push)
                batch.deliveries.append(((person, channel, rec.user_id, address, language, state, reason,
                                          key), sent))
    return batch


def _write(db: Database, alert_id: int, batch: Batch) -> int | None:
    """One transaction: the batch's messages (``notify.enqueue_many``) and delivery records (one
    that another run of this fan-out wrote meanwhile is kept). ``None`` when the alert is no
    longer approved (it was cancelled): nothing is written."""
    with db.transaction() as session:
        lock = select(Alert.state).where(Alert.id == alert_id)
        if not db.is_sqlite:
            lock = lock.with_for_update()  # a cancel waits for this batch, or this batch for it
        if session.scalar(lock) != State.APPROVED:
            return None
        ids = notify.enqueue_many(session, batch.messages)
        table = Delivery.__table__
        now = stored(session, table.c.created_at, utcnow())
        rows = [(*record, ids[key] if key else None) for record, key in batch.deliveries]
        insert_rows(session, table, _DELIVERY_COLUMNS, rows,
                    constants={"alert_id": alert_id, "created_at": now, "updated_at": now},
                    skip_conflicts_on=["alert_id", "person", "channel"])
        return len(rows)


def fan_out(db: Database, settings: Settings, alert_id: int, *, batch: int | None = None) -> int:
    """Queue the alert for everyone it reaches; returns how many deliveries this run added.

    Each batch of ``alerts_fanout_batch`` people is one transaction holding their delivery
    records and their outbox messages; while one batch is written (the database's work), the
    next one is prepared (Python's), on two threads. Stops at the first batch that finds the
    alert no longer approved (it was cancelled); a run after one that died half-way skips the
    people already queued."""
    with _gc_paused():
        return _fan_out(db, settings, alert_id, batch or settings.alerts_fanout_batch)


def _fan_out(db: Database, settings: Settings, alert_id: int, size: int) -> int:
    with db.read() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.state != State.APPROVED:
            return 0
        infos = {i.language: i for i in session.scalars(
            select(AlertInfo).where(AlertInfo.alert_id == alert_id).order_by(AlertInfo.id))}
        if not infos:
            return 0
        people = reached_before(session, alert) if alert.msg_type == "Cancel" else resolve(session, alert)
        done = {(person, channel) for person, channel in session.execute(
            select(Delivery.person, Delivery.channel).where(Delivery.alert_id == alert_id))}
        push = notify.push_endpoints(session, [r.user_id for r in people.values()
                                               if r.user_id and "push" in r.channels])
    messages = {lang: message_for(alert, info, settings) for lang, info in infos.items()}
    chosen = {lang: choose_info(infos, lang, settings.default_language).language
              for lang in {*infos, *(r.language for r in people.values())}}
    ordered = sorted(people.values(), key=lambda r: r.person)
    added = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parvis-fan-out") as writer:
        pending: Future[int | None] | None = None
        try:
            for start in range(0, len(ordered), size):
                prepared = _prepare(alert_id, ordered[start:start + size], messages, chosen, done, push)
                if pending is not None:
                    written, pending = pending.result(), None
                    if written is None:
                        return added
                    added += written
                if prepared.deliveries:
                    pending = writer.submit(_write, db, alert_id, prepared)
            if pending is not None:
                added += pending.result() or 0
        finally:
            if pending is not None:  # a batch failed to prepare: the one being written still commits
                wait([pending])
    return added
