"""Who an alert reaches, and the fan-out that queues one message per (alert, person, channel).

Resolution is set-based: SQL prefilters subscriptions by the area's bounding box (points) or by
the districts the area overlaps, then one vectorised shapely call tests the candidate points of
each chunk. Places of one person are merged, so a person with a home and a workplace in the area
gets one message per channel. The fan-out writes in batches, each batch one transaction holding
its deliveries and their outbox messages, keyed ``alert:{id}:{person}:{channel}``: a batch that
dies is redone whole, and a batch already done is skipped, so a re-run never sends twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Row, and_, false, insert, or_, select
from sqlalchemy.orm import Session

from parvis.kernel import geo, notify
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
BATCH = 500  # people queued per transaction
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

@dataclass
class Recipient:
    """One person the alert reaches, their places merged."""

    person: str
    user_id: int | None = None
    phone: str | None = None
    email: str | None = None
    language: str | None = None
    channels: set[str] = field(default_factory=set)
    subscriptions: dict[str, int] = field(default_factory=dict)  # per channel


_COLUMNS = (Subscription.id, Subscription.person, Subscription.user_id, Subscription.phone,
            Subscription.email, Subscription.lon, Subscription.lat, Subscription.district_id,
            Subscription.by_sms, Subscription.by_email, Subscription.by_push, Subscription.language)


def matching_subscriptions(session: Session, alert: Alert, cmap: CityMap) -> Iterator[Row[Any]]:
    """Subscriptions whose place lies in the alert's area (a point inside it, or a district it
    overlaps), of a category the alert has, and of testers only for Test and Exercise."""
    where = geo.loads(alert.area)
    shapely.prepare(where)
    districts = cmap.overlapping(where)
    S = Subscription
    in_box = and_(S.lat.between(alert.min_lat, alert.max_lat), S.lon.between(alert.min_lon, alert.max_lon))
    query = select(*_COLUMNS).where(
        or_(in_box, S.district_id.in_(sorted(districts)) if districts else false()),
        or_(S.categories == 0, S.categories.op("&")(category_bits(alert.categories)) != 0),
    )
    if alert.status != "Actual":
        query = query.where(S.tester.is_(True))
    result = session.execute(query.order_by(S.id).execution_options(yield_per=CHUNK))
    for rows in result.partitions(CHUNK):
        lons = np.array([np.nan if r.lon is None else r.lon for r in rows], dtype=float)
        lats = np.array([np.nan if r.lat is None else r.lat for r in rows], dtype=float)
        inside = shapely.intersects_xy(where, lons, lats)
        for row, hit in zip(rows, inside, strict=True):
            if hit or row.district_id in districts:
                yield row


def resolve(session: Session, alert: Alert, cmap: CityMap | None = None) -> dict[str, Recipient]:
    """The people an alert reaches, by person key, with their channels and language."""
    people: dict[str, Recipient] = {}
    for row in matching_subscriptions(session, alert, cmap or city_map(session)):
        rec = people.get(row.person)
        if rec is None:
            rec = people[row.person] = Recipient(row.person, row.user_id)
        rec.language = rec.language or row.language
        for channel in CHANNELS:
            if getattr(row, f"by_{channel}"):
                rec.channels.add(channel)
                rec.subscriptions[channel] = rec.subscriptions.get(channel, 0) + 1
        rec.phone = rec.phone or row.phone
        rec.email = rec.email or row.email
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
    """For a Cancel: the people the cancelled messages reached (or were reaching)."""
    people: dict[str, Recipient] = {}
    rows = session.execute(select(Delivery.person, Delivery.channel, Delivery.user_id, Delivery.address,
                                  Delivery.language).where(
        Delivery.alert_id.in_(chain(session, alert)),
        Delivery.state.not_in([DeliveryState.CANCELLED, DeliveryState.FAILED])).order_by(Delivery.id))
    for row in rows:
        rec = people.setdefault(row.person, Recipient(row.person, row.user_id))
        rec.language = rec.language or row.language or None
        rec.channels.add(row.channel)
        rec.subscriptions[row.channel] = 1
        if row.channel == "sms":
            rec.phone = row.address
        elif row.channel == "email":
            rec.email = row.address
    return people


def preview(session: Session, alert: Alert) -> dict[str, Any]:
    """How many people and subscriptions the alert would reach, in all and per channel."""
    people = reached_before(session, alert) if alert.msg_type == "Cancel" else resolve(session, alert)
    channels = {c: {"people": sum(c in p.channels for p in people.values()),
                    "subscriptions": sum(p.subscriptions.get(c, 0) for p in people.values())}
                for c in CHANNELS}
    return {"people": len(people), "channels": channels}


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


def _queue_one(session: Session, alert: Alert, message: Message, rec: Recipient, channel: str,
               language: str, now: Any) -> dict[str, Any]:
    key = outbox_key(alert.id, rec.person, channel)
    row: dict[str, Any] = {"alert_id": alert.id, "person": rec.person, "channel": channel,
                           "user_id": rec.user_id, "address": "", "language": language,
                           "state": DeliveryState.QUEUED, "reason": "", "outbox_key": key,
                           "outbox_id": None, "created_at": now, "updated_at": now}
    address = rec.phone if channel == "sms" else rec.email if channel == "email" else None
    if channel == "push":
        sent = (notify.enqueue_push(session, user_id=rec.user_id, title=message.subject, body=message.body,
                                    key=key, purpose=PURPOSE, data={"url": message.link, "urgency": "high"})
                if rec.user_id else [])
        if sent:
            row["outbox_id"] = sent[0].id
        else:
            row.update(state=DeliveryState.FAILED, reason="no push subscription")
        return row
    if not address:
        row.update(state=DeliveryState.FAILED, reason=f"no {channel} address")
        return row
    row["address"] = address
    sent_one = notify.enqueue(session, channel=channel, to=address, body=message.body,
                              subject=message.subject if channel == "email" else "", user_id=rec.user_id,
                              key=key, purpose=PURPOSE, data={"url": message.link})
    row["outbox_id"] = sent_one.id
    return row


def fan_out(db: Database, settings: Settings, alert_id: int, *, batch: int = BATCH) -> int:
    """Queue the alert for everyone it reaches; returns how many deliveries this run added.

    Stops at the first batch that finds the alert no longer approved (it was cancelled)."""
    with db.read() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.state != State.APPROVED:
            return 0
        infos = {i.language: i for i in session.scalars(
            select(AlertInfo).where(AlertInfo.alert_id == alert_id).order_by(AlertInfo.id))}
        if not infos:
            return 0
        people = reached_before(session, alert) if alert.msg_type == "Cancel" else resolve(session, alert)
    messages = {lang: message_for(alert, info, settings) for lang, info in infos.items()}
    ordered = sorted(people.values(), key=lambda r: r.person)
    added = 0
    for start in range(0, len(ordered), batch):
        chunk = ordered[start:start + batch]
        with db.transaction() as session:
            lock = select(Alert.state).where(Alert.id == alert_id)
            if not db.is_sqlite:
                lock = lock.with_for_update()  # a cancel waits for this batch, or this batch for it
            if session.scalar(lock) != State.APPROVED:
                break
            done = {(person, channel) for person, channel in session.execute(
                select(Delivery.person, Delivery.channel).where(
                    Delivery.alert_id == alert_id, Delivery.person.in_([r.person for r in chunk])))}
            now = utcnow()
            rows = []
            for rec in chunk:
                info = choose_info(infos, rec.language, settings.default_language)
                for channel in sorted(rec.channels):
                    if (rec.person, channel) not in done:
                        rows.append(_queue_one(session, alert, messages[info.language], rec, channel,
                                               info.language, now))
            if rows:
                session.execute(insert(Delivery), rows)
            added += len(rows)
    return added
