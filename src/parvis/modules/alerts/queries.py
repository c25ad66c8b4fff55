"""Reads of the alerts module: lists and views for the API, the CAP document of an alert, the
active alerts of the feed, delivery counts, and a person's subscriptions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from parvis.kernel.db import utcnow
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
