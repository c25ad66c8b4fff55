"""Writes of the notify kernel other than the outbox itself: inbound SMS, push subscriptions.

Each function works inside the caller's transaction and never commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parvis.kernel.events import emit
from parvis.kernel.notify.models import Channel, InboundSms, OutboxMessage, PushSubscription
from parvis.kernel.notify.outbox import enqueue


def receive_sms(
    session: Session, *, sender: str, receiver: str, text: str, gateway_ref: str | None
) -> tuple[InboundSms, bool]:
    """Store an inbound SMS once; returns (row, created). Emits ``sms.received`` once."""
    gateway_ref = gateway_ref or None
    if gateway_ref is not None:
        existing = session.scalar(select(InboundSms).where(InboundSms.gateway_ref == gateway_ref))
        if existing is not None:
            return existing, False
    row = InboundSms(sender=sender, receiver=receiver, text=text, gateway_ref=gateway_ref)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = session.scalar(select(InboundSms).where(InboundSms.gateway_ref == gateway_ref))
        if existing is None:
            raise
        return existing, False
    emit(session, "sms.received", id=row.id, sender=sender, receiver=receiver, text=text,
         gateway_ref=gateway_ref)
    return row, True


def save_subscription(
    session: Session, *, user_id: int | None, endpoint: str, p256dh: str, auth: str
) -> PushSubscription:
    """Add or refresh a browser's push subscription (an endpoint belongs to one person)."""
    row = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if row is None:
        row = PushSubscription(user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth)
        try:
            with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:
            row = session.scalar(
                select(PushSubscription).where(PushSubscription.endpoint == endpoint)
            )
            if row is None:
                raise
    row.user_id = user_id
    row.p256dh = p256dh
    row.auth = auth
    session.flush()
    return row


def delete_subscription(session: Session, *, user_id: int | None, endpoint: str) -> bool:
    """Remove one of this person's subscriptions; True when something was removed."""
    result = session.execute(
        delete(PushSubscription).where(
            PushSubscription.endpoint == endpoint, PushSubscription.user_id == user_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def enqueue_push(
    session: Session,
    *,
    user_id: int,
    title: str,
    body: str,
    key: str | None = None,
    purpose: str = "",
    data: dict[str, Any] | None = None,
) -> list[OutboxMessage]:
    """One push message per subscription of the person (one per browser or phone).

    With ``key``, each subscription's message gets ``<key>:<subscription id>`` so that a
    repeated call sends nothing twice.
    """
    subscriptions = session.scalars(
        select(PushSubscription).where(PushSubscription.user_id == user_id)
        .order_by(PushSubscription.id)
    )
    return [
        enqueue(session, channel=Channel.PUSH, to=sub.endpoint, body=body, subject=title,
                user_id=user_id, key=f"{key}:{sub.id}" if key else None, purpose=purpose,
                data=data)
        for sub in subscriptions
    ]
