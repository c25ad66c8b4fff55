"""Crisis alerts: the alerts the city composes and sends, their text per language, the places
people subscribe to, and one delivery record per (alert, person, channel).

The tables speak Parvis, not CAP: ``standards.cap`` translates an alert to CAP 1.2 at the edge.
Coordinates are (lon, lat) in WGS84, like everywhere in Parvis.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from parvis.kernel.db import Base, UTCDateTime, utcnow
from parvis.modules.alerts.standards.cap import CATEGORIES


class State(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"  # sent: the fan-out job delivers it
    CANCELLED = "cancelled"  # a Cancel message replaced it


class DeliveryState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Statuses the city may give its own alerts (CAP's System and Draft are not sent to people).
ALERT_STATUSES = ("Actual", "Exercise", "Test")
CHANNELS = ("sms", "email", "push")


def category_bits(categories: list[str] | tuple[str, ...]) -> int:
    """CAP categories as a bit mask (one bit per category in CAP's order); 0 means "every one"."""
    bits = 0
    for name in categories:
        bits |= 1 << CATEGORIES.index(name)
    return bits


def category_names(bits: int) -> list[str]:
    return [name for i, name in enumerate(CATEGORIES) if bits & (1 << i)]


class Alert(Base):
    """One CAP message of the city: an Alert, or an Update or Cancel of an earlier one."""

    __tablename__ = "alerts_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(200), unique=True)
    sender: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="Actual")  # Actual Exercise Test
    msg_type: Mapped[str] = mapped_column(String(10), default="Alert")  # Alert Update Cancel
    # The message this Update or Cancel replaces.
    references_id: Mapped[int | None] = mapped_column(ForeignKey("alerts_alerts.id"), nullable=True,
                                                      index=True)
    # Set on an approved message once an approved Update replaces it.
    replaced_by_id: Mapped[int | None] = mapped_column(nullable=True)
    scope: Mapped[str] = mapped_column(String(12), default="Public")
    state: Mapped[str] = mapped_column(String(12), default=State.DRAFT)
    author_id: Mapped[int | None] = mapped_column(nullable=True)
    approver_id: Mapped[int | None] = mapped_column(nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    effective: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    onset: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    event: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)  # CAP categories
    response_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    urgency: Mapped[str] = mapped_column(String(12))
    severity: Mapped[str] = mapped_column(String(12))
    certainty: Mapped[str] = mapped_column(String(12))
    web: Mapped[str] = mapped_column(String(500), default="")
    contact: Mapped[str] = mapped_column(String(300), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    # The area as drawn: districts, one polygon [[lon, lat], ...], one circle (centre, km).
    area_desc: Mapped[str] = mapped_column(String(500), default="")
    district_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    polygon: Mapped[list[list[float]] | None] = mapped_column(JSON, nullable=True)
    circle_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    circle_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    circle_radius_km: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The whole area as one GeoJSON geometry (union of the parts) and its bounding box.
    area: Mapped[str] = mapped_column(Text)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_alerts_alerts_state_expires", "state", "expires"),
        Index("ix_alerts_alerts_created", "created_at"),
    )


class AlertInfo(Base):
    """The alert's words in one language (CAP ``info``)."""

    __tablename__ = "alerts_infos"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts_alerts.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(10))
    headline: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    instruction: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (UniqueConstraint("alert_id", "language"),)


class Subscription(Base):
    """A place a person wants to be warned about: a point or a district.

    The person is a Parvis account (``user:12``) or, for people without one, a phone number or
    an e-mail address (``phone:+84...``, ``email:...``). Their address is copied here when they
    subscribe, so that warning a million people reads one table."""

    __tablename__ = "alerts_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    person: Mapped[str] = mapped_column(String(300), index=True)
    user_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("city_districts.id", ondelete="CASCADE"), nullable=True, index=True)
    categories: Mapped[int] = mapped_column(default=0)  # bit mask of CAP categories, 0: all
    by_sms: Mapped[bool] = mapped_column(default=False)
    by_email: Mapped[bool] = mapped_column(default=False)
    by_push: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    tester: Mapped[bool] = mapped_column(default=False)  # receives Test and Exercise alerts
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_alerts_subscriptions_place", "lat", "lon"),)

    @property
    def channels(self) -> list[str]:
        return [c for c in CHANNELS if getattr(self, f"by_{c}")]


class Delivery(Base):
    """What was sent to one person on one channel for one alert (the after-action record)."""

    __tablename__ = "alerts_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts_alerts.id", ondelete="CASCADE"))
    person: Mapped[str] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    address: Mapped[str] = mapped_column(String(300), default="")  # phone or e-mail; "" for push
    language: Mapped[str] = mapped_column(String(10), default="")
    state: Mapped[str] = mapped_column(String(12), default=DeliveryState.QUEUED)
    reason: Mapped[str] = mapped_column(String(300), default="")
    outbox_key: Mapped[str] = mapped_column(String(200))
    outbox_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    # An Update's word to someone the original reached whose place it no longer covers.
    followup: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("alert_id", "person", "channel"),
        # The dashboard's counts per state, and the records of one state walked in id order when
        # they catch up with the outbox (``reconcile``).
        Index("ix_alerts_deliveries_alert_state_id", "alert_id", "state", "id"),
    )


# ------------------------------------------------------------------------------- imports

class ImportState(StrEnum):
    TO_REVIEW = "to_review"
    REPUBLISHED = "republished"  # a draft of the city's own alert was made from it
    DISMISSED = "dismissed"
    SUPERSEDED = "superseded"  # the source updated or cancelled it before anyone reviewed it


class ImportedAlert(Base):
    """A CAP message of an external authority, received by upload or from a feed, waiting for an
    agent to relay it to the city's people (as a draft of the city's own alert) or dismiss it.

    Only documents that passed every check are stored: the XSD, the spec's rules, the area's
    geometry against the city, not expired. ``proposal`` is the draft the city would send (the
    body the alerts API takes); ``document`` the bytes as received."""

    __tablename__ = "alerts_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(200))
    identifier: Mapped[str] = mapped_column(String(200))
    sent: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))
    msg_type: Mapped[str] = mapped_column(String(10))
    # CAP references as [sender, identifier, sent (ISO 8601)] triples.
    cap_references: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    # The import this Update or Cancel replaces, when it was imported too.
    references_import_id: Mapped[int | None] = mapped_column(ForeignKey("alerts_imports.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(10))  # upload | feed
    source_url: Mapped[str] = mapped_column(String(1000), default="")
    state: Mapped[str] = mapped_column(String(12), default=ImportState.TO_REVIEW)
    # Set on an Update or Cancel of an alert the city already relayed: the agent must act on it.
    flag: Mapped[str] = mapped_column(String(40), default="")
    flag_alert_id: Mapped[int | None] = mapped_column(nullable=True)
    event: Mapped[str] = mapped_column(String(200), default="")
    headline: Mapped[str] = mapped_column(String(200), default="")
    urgency: Mapped[str] = mapped_column(String(12), default="")
    severity: Mapped[str] = mapped_column(String(12), default="")
    certainty: Mapped[str] = mapped_column(String(12), default="")
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    proposal: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    area: Mapped[str | None] = mapped_column(Text, nullable=True)  # GeoJSON of the source's area
    document: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the document
    imported_by: Mapped[int | None] = mapped_column(nullable=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts_alerts.id"), nullable=True, index=True)
    reviewer_id: Mapped[int | None] = mapped_column(nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    review_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("sender", "identifier"),
        Index("ix_alerts_imports_state_created", "state", "created_at"),
    )


class ImportFeed(Base):
    """What the poller remembers of one feed: its validators for a conditional GET, the CAP
    links of its last listing already handled, and how the last poll went."""

    __tablename__ = "alerts_import_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    etag: Mapped[str] = mapped_column(String(300), default="")
    last_modified: Mapped[str] = mapped_column(String(100), default="")
    seen: Mapped[list[str]] = mapped_column(JSON, default=list)
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    imported: Mapped[int] = mapped_column(default=0)


class SmsCommand(Base):
    """The last alerts command each phone sent by SMS, to recognise a gateway's retry. Neither
    the number nor the text is kept: only keyed hashes of them."""

    __tablename__ = "alerts_sms_commands"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_key: Mapped[str] = mapped_column(String(64), unique=True)
    text_key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
