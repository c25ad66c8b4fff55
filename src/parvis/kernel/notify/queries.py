"""Reads of the outbox, shaped for the admin "sent messages" page and for a person's data."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parvis.kernel.notify.models import Channel, OutboxMessage


def recent(
    session: Session,
    *,
    channel: Channel | str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[OutboxMessage], int]:
    """Newest messages first, with the total count for pagination."""
    query = select(OutboxMessage)
    count = select(func.count()).select_from(OutboxMessage)
    if channel is not None:
        value = Channel(channel).value
        query = query.where(OutboxMessage.channel == value)
        count = count.where(OutboxMessage.channel == value)
    limit = max(1, min(int(limit), 500))
    offset = max(0, int(offset))
    rows = session.scalars(
        query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit).offset(offset)
    )
    return list(rows), session.scalar(count) or 0


def messages_for_user(session: Session, user_id: int) -> list[OutboxMessage]:
    """Every message addressed to one person, oldest first."""
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.user_id == user_id)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )
