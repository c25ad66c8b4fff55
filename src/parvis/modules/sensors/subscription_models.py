"""The sensor hub's NGSI-LD subscriptions and the notifications waiting to be sent.

A subscription keeps what it selects already expanded (types, attribute names as full IRIs),
the ``q`` text with the expansions of its terms (so that matching never needs a context, nor
the network), and the ``@context`` it was written with (to compact its notifications).
The outbox holds one row per matching change, with the entity's state after the change; the
notifier sends the latest row of each entity of a subscription in one notification, then
deletes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parvis.kernel.db import Base, UTCDateTime, utcnow


class Subscription(Base):
    __tablename__ = "sensors_subscriptions"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    owner_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the creating key's
    name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # {type, id?, idPattern?}
    watched: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # attribute IRIs
    triggers: Mapped[list[str]] = mapped_column(JSON, default=list)
    q: Mapped[str | None] = mapped_column(Text, nullable=True)
    q_terms: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # {terms, vocab}
    geo_q: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attributes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # notified, IRIs
    format: Mapped[str] = mapped_column(String(16), default="normalized")
    sys_attrs: Mapped[bool] = mapped_column(Boolean, default=False)
    endpoint: Mapped[str] = mapped_column(String(2000))
    accept: Mapped[str] = mapped_column(String(64), default="application/json")
    receiver_info: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    context: Mapped[Any] = mapped_column(JSON, nullable=True)  # the @context as given; None: core
    throttling: Mapped[float] = mapped_column(Float, default=0.0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Delivery state (read-only in the API)
    times_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_notification: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_success: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivery_status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # ok | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed attempts in a row
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # may send from
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # being sent


class PendingNotification(Base):
    """An entity change a subscription matched, not yet notified."""

    __tablename__ = "sensors_subscription_outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(256))
    entity_id: Mapped[str] = mapped_column(String(256))
    entity_type: Mapped[str] = mapped_column(String(256))
    # a deleted entity: {"@deleted": its stamps, the attributes deleted with it} (None before that)
    attrs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_sensors_subscription_outbox_subscription", "subscription_id", "id"),)
