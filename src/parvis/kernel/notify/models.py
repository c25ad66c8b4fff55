"""Tables of the notification outbox, inbound SMS and web push subscriptions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parvis.kernel.db import Base, UTCDateTime, utcnow


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    PUSH = "push"


class MessageStatus(StrEnum):
    QUEUED = "queued"  # waiting for a worker (or for its next retry)
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"  # accepted by the gateway / server
    DELIVERED = "delivered"  # confirmed by a delivery report
    FAILED = "failed"  # final: gave up, or the gateway said it cannot be delivered


class OutboxMessage(Base):
    __tablename__ = "kernel_notify_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    # No foreign key to the accounts module: the kernel knows people only by id.
    user_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    recipient: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    purpose: Mapped[str] = mapped_column(String(50), default="")
    status: Mapped[str] = mapped_column(String(12), default=MessageStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    provider: Mapped[str] = mapped_column(String(30), default="")
    provider_ref: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        # Claims walk one channel's due messages in order (id breaks ties of a bulk enqueue).
        Index("ix_kernel_notify_outbox_claim", "status", "channel", "next_attempt_at", "id"),
        Index("ix_kernel_notify_outbox_rate", "channel", "sent_at"),
    )


class InboundSms(Base):
    """An SMS received from the gateway; modules react to the ``sms.received`` event."""

    __tablename__ = "kernel_notify_inbound_sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(40))
    receiver: Mapped[str] = mapped_column(String(40), default="")
    text: Mapped[str] = mapped_column(Text)
    gateway_ref: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PushSubscription(Base):
    __tablename__ = "kernel_notify_push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    endpoint: Mapped[str] = mapped_column(String(2000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KernelSetting(Base):
    """Values the platform generates once and keeps (such as the VAPID key pair)."""

    __tablename__ = "kernel_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
