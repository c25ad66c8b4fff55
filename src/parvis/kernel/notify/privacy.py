"""What the notify kernel holds about a person: export it, or erase it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from parvis.kernel import privacy
from parvis.kernel.db import utcnow
from parvis.kernel.notify.models import MessageStatus, OutboxMessage, PushSubscription
from parvis.kernel.notify.queries import messages_for_user

ERASED = "[erased]"
HOOK_NAME = "notifications"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_person(session: Session, user_id: int) -> dict[str, Any]:
    """The person's own messages and push subscriptions; nothing about anyone else."""
    messages = [
        {
            "channel": m.channel,
            "recipient": m.recipient,
            "subject": m.subject,
            "body": m.body,
            "purpose": m.purpose,
            "status": m.status,
            "created_at": _iso(m.created_at),
            "sent_at": _iso(m.sent_at),
            "delivered_at": _iso(m.delivered_at),
        }
        for m in messages_for_user(session, user_id)
    ]
    subscriptions = [
        {"endpoint": s.endpoint, "created_at": _iso(s.created_at)}
        for s in session.scalars(
            select(PushSubscription).where(PushSubscription.user_id == user_id)
            .order_by(PushSubscription.id)
        )
    ]
    return {"messages": messages, "push_subscriptions": subscriptions}


def erase_person(session: Session, user_id: int) -> None:
    """Delete push subscriptions; blank recipient and content; cancel what is unsent."""
    session.execute(delete(PushSubscription).where(PushSubscription.user_id == user_id))
    now = utcnow()
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.user_id == user_id,
            OutboxMessage.status.in_([MessageStatus.QUEUED, MessageStatus.SENDING]),
        )
        .values(status=MessageStatus.FAILED, failed_at=now, locked_until=None,
                last_error="recipient erased")
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.user_id == user_id)
        .values(recipient=ERASED, body=ERASED, subject=ERASED, data={})
    )


def register_privacy() -> None:
    """Plug the notify kernel into personal data export and erasure (call once at startup)."""
    privacy.register(HOOK_NAME, export_person, erase_person)
