"""Writes of NGSI-LD subscriptions: create, update, delete; one transaction each.

A subscription belongs to the API key that created it (its digest): only that key reads,
changes or deletes it. Every write tells this process's matcher at once (other processes see it
within ``PARVIS_SENSORS_SUBSCRIPTIONS_REFRESH_SECONDS``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import Conflict, Forbidden, NotFound
from parvis.modules.sensors import subscriptions
from parvis.modules.sensors.standards.subscription_ld import SubscriptionIn, check_selects
from parvis.modules.sensors.subscription_models import PendingNotification, Subscription


class SubscriptionNotFound(NotFound):
    pass


class SubscriptionExists(Conflict):
    pass


def new_id() -> str:
    return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"


def _apply(row: Subscription, sub: SubscriptionIn, *, everything: bool) -> None:
    given = sub.given
    simple = {"subscriptionName": "name", "description": "description", "entities": "entities",
              "watchedAttributes": "watched", "notificationTrigger": "triggers", "q": "q",
              "geoQ": "geo_q", "throttling": "throttling", "expiresAt": "expires_at",
              "isActive": "is_active"}
    for member, attr in simple.items():
        if everything or member in given:
            setattr(row, attr, getattr(sub, attr))
    if everything or "q" in given:
        row.q_terms = sub.q_terms
    if everything or "notification" in given:
        notification = sub.notification
        if everything or "attributes" in notification:
            row.attributes = notification.get("attributes")
        if everything or "format" in notification:
            row.format = notification.get("format", "normalized")
        if everything or "sysAttrs" in notification:
            row.sys_attrs = notification.get("sysAttrs", False)
        if "endpoint" in notification:
            if row.endpoint != notification["endpoint"]:
                row.attempts, row.next_at = 0, None  # a new endpoint starts afresh
            row.endpoint, row.accept = notification["endpoint"], notification["accept"]
            row.receiver_info = notification["receiver_info"]


def create_subscription(db: Database, sub: SubscriptionIn, context: Any, owner: str | None, *,
                        limit: int | None = None) -> str:
    """Store a new subscription; its id (given, or generated). ``limit``: the most subscriptions
    one owner (API key) may hold (each one is matched against every write)."""
    sub_id = sub.id or new_id()
    try:
        with db.transaction() as session:
            if session.get(Subscription, sub_id) is not None:
                raise SubscriptionExists(f"A subscription with the id {sub_id} already exists.")
            if limit is not None:
                held = session.scalar(select(func.count()).select_from(Subscription)
                                      .where(Subscription.owner_digest == owner)) or 0
                if held >= limit:
                    raise Forbidden(f"This API key holds {held} subscriptions, the most the city allows "
                                    "(PARVIS_NGSI_MAX_SUBSCRIPTIONS_PER_KEY): delete one first.")
            now = utcnow()
            row = Subscription(id=sub_id, owner_digest=owner, context=context, created_at=now,
                               modified_at=now, times_sent=0, attempts=0)
            _apply(row, sub, everything=True)
            session.add(row)
            session.flush()
    except IntegrityError:
        raise SubscriptionExists(f"A subscription with the id {sub_id} already exists.") from None
    subscriptions.invalidate()
    return sub_id


def _owned(session: Session, sub_id: str, owner: str | None) -> Subscription:
    row = session.get(Subscription, sub_id, with_for_update=True)
    if row is None or (owner is not None and row.owner_digest != owner):
        raise SubscriptionNotFound(f"No subscription has the id {sub_id}.")
    return row


def update_subscription(db: Database, sub_id: str, patch: SubscriptionIn, owner: str | None, *,
                        context: Any = None, new_context: bool = False) -> None:
    """Change the members a PATCH gives (``new_context``: it came with its own @context, which
    then compacts the notifications)."""
    with db.transaction() as session:
        row = _owned(session, sub_id, owner)
        _apply(row, patch, everything=False)
        check_selects(row.entities, row.watched)
        if new_context:
            row.context = context
        row.modified_at = utcnow()
    subscriptions.invalidate()


def delete_subscription(db: Database, sub_id: str, owner: str | None) -> None:
    """Delete a subscription and whatever it had not sent yet."""
    with db.transaction() as session:
        row = _owned(session, sub_id, owner)
        session.delete(row)
        session.execute(delete(PendingNotification).where(PendingNotification.subscription_id == sub_id))
    subscriptions.invalidate()
