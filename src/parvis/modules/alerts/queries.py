"""Reads of the alerts module: lists and views for the API, the CAP document of an alert, the
active alerts of the feed, delivery counts, and a person's subscriptions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from parvis.kernel import jobs
from parvis.kernel.db import utcnow
from parvis.modules.alerts import rules
from parvis.modules.alerts.area import Circle
from parvis.modules.alerts.models import (
    Alert,
    AlertInfo,
    Delivery,
    State,
    Subscription,
    category_names,
)
from parvis.modules.alerts.standards import cap
from parvis.modules.alerts.targeting import CityMap
from parvis.settings import Settings

DISTRICT_GEOCODE = "parvis:district"


def alert(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def by_identifier(session: Session, identifier: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.identifier == identifier))


def infos(session: Session, alert_ids: list[int]) -> dict[int, list[AlertInfo]]:
    out: dict[int, list[AlertInfo]] = {i: [] for i in alert_ids}
    for info in session.scalars(select(AlertInfo).where(AlertInfo.alert_id.in_(alert_ids))
                                .order_by(AlertInfo.id)):
        out[info.alert_id].append(info)
    return out


def search(session: Session, *, state: str | None = None, limit: int = 50,
           offset: int = 0) -> tuple[list[Alert], int]:
    query = select(Alert)
    if state:
        query = query.where(Alert.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Alert.id.desc()).limit(limit).offset(offset)))
    return rows, total


def is_active(row: Alert, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (row.state == State.APPROVED and row.replaced_by_id is None and row.msg_type != "Cancel"
            and (row.expires is None or row.expires > now))


def active(session: Session, *, statuses: tuple[str, ...] = ("Actual", "Exercise"),
           limit: int = 200) -> list[Alert]:
    """Sent public alerts still current: not replaced, not cancelled, not expired."""
    now = utcnow()
    return list(session.scalars(select(Alert).where(
        Alert.state == State.APPROVED, Alert.replaced_by_id.is_(None), Alert.msg_type != "Cancel",
        Alert.scope == "Public", Alert.status.in_(statuses),
        or_(Alert.expires.is_(None), Alert.expires > now)).order_by(Alert.sent.desc()).limit(limit)))


def delivery_counts(session: Session, alert_id: int) -> dict[str, dict[str, int]]:
    """Deliveries of an alert per channel and state."""
    out: dict[str, dict[str, int]] = {}
    for channel, state, count in session.execute(
            select(Delivery.channel, Delivery.state, func.count()).where(Delivery.alert_id == alert_id)
            .group_by(Delivery.channel, Delivery.state)):
        out.setdefault(channel, {})[state] = count
    return out


def view(row: Alert, texts: list[AlertInfo], *, languages: tuple[str, ...] = ()) -> dict[str, Any]:
    """An alert for the API; ``languages`` lists the city's languages, to say which are missing."""
    present = [i.language for i in texts]
    circle = (None if row.circle_lon is None else
              {"lon": row.circle_lon, "lat": row.circle_lat, "radius_km": row.circle_radius_km})
    return {
        "id": row.id, "identifier": row.identifier, "sender": row.sender, "status": row.status,
        "msg_type": row.msg_type, "references_id": row.references_id, "replaced_by_id": row.replaced_by_id,
        "scope": row.scope, "state": row.state, "active": is_active(row),
        "author_id": row.author_id, "approver_id": row.approver_id, "approved_at": row.approved_at,
        "sent": row.sent, "cancelled_at": row.cancelled_at, "effective": row.effective, "onset": row.onset,
        "expires": row.expires, "event": row.event, "categories": row.categories,
        "response_types": row.response_types, "urgency": row.urgency, "severity": row.severity,
        "certainty": row.certainty, "web": row.web, "contact": row.contact, "note": row.note,
        "infos": [{"language": i.language, "headline": i.headline, "description": i.description,
                   "instruction": i.instruction} for i in texts],
        "missing_languages": [lang for lang in languages if lang not in present],
        "area": {"description": row.area_desc, "district_ids": row.district_ids, "polygon": row.polygon,
                 "circle": circle, "geometry": json.loads(row.area),
                 "bbox": [row.min_lon, row.min_lat, row.max_lon, row.max_lat]},
        "created_at": row.created_at, "updated_at": row.updated_at,
        "cap_url": f"/cap/alerts/{row.identifier}.xml" if row.state != State.DRAFT else None,
    }


# ------------------------------------------------------------------------------- CAP

def _rings(geometry: Any) -> list[list[tuple[float, float]]]:
    polygons = getattr(geometry, "geoms", [geometry])
    return [[(x, y) for x, y in p.exterior.coords] for p in polygons]


def to_cap(session: Session, row: Alert, texts: list[AlertInfo], cmap: CityMap,
           settings: Settings) -> cap.Alert:
    """The alert as a CAP 1.2 message: one info block per language, the area as drawn (district
    outlines as polygons, with their codes as geocodes)."""
    polygons = [[(lon, lat) for lon, lat in row.polygon]] if row.polygon else []
    for district_id in row.district_ids:
        if district_id in cmap.districts:
            polygons += _rings(cmap.districts[district_id])
    circles = ([Circle(row.circle_lon, row.circle_lat, row.circle_radius_km)]
               if row.circle_lon is not None else [])
    geocodes = [(DISTRICT_GEOCODE, cmap.codes[d]) for d in row.district_ids if d in cmap.codes]
    description = row.area_desc or ", ".join(cmap.names[d] for d in row.district_ids if d in cmap.names)
    where = cap.Area(description=description or settings.city_name, polygons=polygons, circles=circles,
                     geocodes=geocodes)
    references = []
    if row.references_id is not None:
        original = session.get(Alert, row.references_id)
        if original is not None and original.sent is not None:
            references.append(cap.Reference(original.sender, original.identifier, original.sent))
    return cap.Alert(
        identifier=row.identifier, sender=row.sender, sent=row.sent or row.created_at, status=row.status,
        msg_type=row.msg_type, scope=row.scope, note=row.note or None, references=references,
        infos=[cap.Info(language=i.language, categories=list(row.categories), event=row.event,
                        response_types=list(row.response_types), urgency=row.urgency,
                        severity=row.severity, certainty=row.certainty, effective=row.effective,
                        onset=row.onset, expires=row.expires, sender_name=settings.city_name,
                        headline=i.headline, description=i.description or None,
                        instruction=i.instruction or None, web=row.web or None,
                        contact=row.contact or None, areas=[where]) for i in texts])


# ------------------------------------------------------------------------------- subscriptions

def subscription_view(row: Subscription) -> dict[str, Any]:
    return {"id": row.id, "label": row.label, "lon": row.lon, "lat": row.lat,
            "district_id": row.district_id, "categories": category_names(row.categories),
            "channels": row.channels, "language": row.language, "tester": row.tester,
            "created_at": row.created_at}


def subscriptions_of(session: Session, user_id: int) -> list[Subscription]:
    return list(session.scalars(select(Subscription).where(Subscription.user_id == user_id)
                                .order_by(Subscription.id)))


def export_person(session: Session, user_id: int) -> dict[str, Any]:
    """What the alerts module holds about a person: their places and what they were sent."""
    deliveries = session.execute(select(Delivery.alert_id, Delivery.channel, Delivery.state,
                                        Delivery.created_at).where(Delivery.user_id == user_id)
                                 .order_by(Delivery.id))
    return {"subscriptions": [{**subscription_view(s), "created_at": s.created_at.isoformat()}
                              for s in subscriptions_of(session, user_id)],
            "deliveries": [{"alert_id": d.alert_id, "channel": d.channel, "state": d.state,
                            "created_at": d.created_at.isoformat()} for d in deliveries]}


def erase_person(session: Session, user_id: int) -> None:
    """Forget a person's places; delivery records stay (the city's after-action review) without
    their address."""
    session.execute(delete(Subscription).where(Subscription.user_id == user_id))
    session.execute(update(Delivery).where(Delivery.user_id == user_id).values(
        user_id=None, address="", person=f"erased:{user_id}"))


# ------------------------------------------------------------------------------- pages

# Groups of the back office's list, in the order the page shows them.
STAFF_GROUPS = ("draft", "ready", "active", "expired", "replaced", "cancelled")


def staff_overview(session: Session, *, default_language: str, limit: int = 50,
                   now: datetime | None = None) -> dict[str, tuple[list[Alert], int]]:
    """The city's messages for the back office, by group: drafts still to complete (no text in
    the city's default language, or already expired), drafts ready for approval, active, expired,
    replaced by an update, cancelled. ``Cancel`` messages are shown on their original's page."""
    now = now or utcnow()
    sent = (Alert.state == State.APPROVED, Alert.msg_type != "Cancel")
    current = (*sent, Alert.replaced_by_id.is_(None))
    conditions = {
        "active": (*current, or_(Alert.expires.is_(None), Alert.expires > now)),
        "expired": (*current, Alert.expires.is_not(None), Alert.expires <= now),
        "replaced": (*sent, Alert.replaced_by_id.is_not(None)),
        "cancelled": (Alert.state == State.CANCELLED,),
    }
    out: dict[str, tuple[list[Alert], int]] = {}
    drafts = list(session.scalars(select(Alert).where(Alert.state == State.DRAFT)
                                  .order_by(Alert.id.desc()).limit(500)))
    languages = infos(session, [d.id for d in drafts])
    ready = [d for d in drafts if any(i.language == default_language for i in languages[d.id])
             and (d.expires is None or d.expires > now)]
    ready_ids = {d.id for d in ready}
    todo = [d for d in drafts if d.id not in ready_ids]
    out["draft"], out["ready"] = (todo[:limit], len(todo)), (ready[:limit], len(ready))
    for group, where in conditions.items():
        total = session.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
        order = Alert.sent.desc() if group != "cancelled" else Alert.cancelled_at.desc()
        out[group] = (list(session.scalars(select(Alert).where(*where).order_by(order, Alert.id.desc())
                                           .limit(limit))), total)
    return {group: out[group] for group in STAFF_GROUPS}


def history(session: Session, row: Alert, *, sent_only: bool = True) -> list[Alert]:
    """Every message of an alert's story, oldest first: the first Alert, its Updates and its
    Cancel (drafts of updates too when ``sent_only`` is false)."""
    root = row
    seen = {row.id}
    while root.references_id is not None and root.references_id not in seen:
        earlier = session.get(Alert, root.references_id)
        if earlier is None:
            break
        seen.add(earlier.id)
        root = earlier
    story = [root]
    frontier = [root.id]
    while frontier:
        query = select(Alert).where(Alert.references_id.in_(frontier)).order_by(Alert.id)
        if sent_only:
            query = query.where(Alert.state != State.DRAFT)
        found = [a for a in session.scalars(query) if a.id not in {s.id for s in story}]
        story += found
        frontier = [a.id for a in found]
    return sorted(story, key=lambda a: (a.sent or a.created_at, a.id))


def failure_reasons(session: Session, alert_id: int) -> list[tuple[str, str, str, int]]:
    """Why deliveries of an alert failed or were withdrawn: (state, channel, reason, count),
    the most frequent first."""
    from parvis.modules.alerts.models import DeliveryState

    count = func.count().label("n")
    rows = session.execute(
        select(Delivery.state, Delivery.channel, Delivery.reason, count).where(
            Delivery.alert_id == alert_id,
            Delivery.state.in_([DeliveryState.FAILED, DeliveryState.CANCELLED]))
        .group_by(Delivery.state, Delivery.channel, Delivery.reason)
        .order_by(count.desc(), Delivery.channel, Delivery.reason))
    return [(state, channel, reason, n) for state, channel, reason, n in rows]


def delivery_records(session: Session, alert_id: int, *, after_id: int = 0,
                     limit: int = 5000) -> list[Delivery]:
    """One page of an alert's delivery records in id order (for the after-action CSV), read
    page by page so that an alert sent to a million people is never held in memory at once."""
    return list(session.scalars(select(Delivery).where(Delivery.alert_id == alert_id, Delivery.id > after_id)
                                .order_by(Delivery.id).limit(limit)))


def fan_out_state(session: Session, alert_id: int) -> str | None:
    """The state of an alert's fan-out job (queued, running, done, failed), None if it has none."""
    key = rules.fan_out_key(alert_id)
    return jobs.statuses(session, [key]).get(key)
