"""Reads of NGSI-LD subscriptions: one, or a page of those an API key created."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parvis.modules.sensors.subscription_models import Subscription


def subscription(session: Session, sub_id: str, owner: str | None) -> Subscription | None:
    row = session.get(Subscription, sub_id)
    if row is None or (owner is not None and row.owner_digest != owner):
        return None
    return row


def subscriptions(session: Session, owner: str | None, *, limit: int, offset: int,
                  count: bool = False) -> tuple[list[Subscription], int | None]:
    query = select(Subscription)
    if owner is not None:
        query = query.where(Subscription.owner_digest == owner)
    rows = list(session.scalars(query.order_by(Subscription.created_at, Subscription.id)
                                .limit(limit).offset(offset)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) if count else None
    return rows, total

