"""Citizen reports: categories, routing table, reports, their timeline, photos and supporters."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from parvis.kernel.db import Base, UTCDateTime, utcnow


class Status(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"


OPEN_STATUSES = frozenset({Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS})

# Which status a report may move to, by hand, from each status.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED, Status.REJECTED}),
    Status.ACKNOWLEDGED: frozenset({Status.IN_PROGRESS, Status.RESOLVED, Status.REJECTED}),
    Status.IN_PROGRESS: frozenset({Status.ACKNOWLEDGED, Status.RESOLVED, Status.REJECTED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.IN_PROGRESS}),
    Status.REJECTED: frozenset({Status.ACKNOWLEDGED}),
    Status.CLOSED: frozenset(),
}


class RejectReason(StrEnum):
    DUPLICATE = "duplicate"
    NOT_CITY = "not_city"
    CANNOT_FIX = "cannot_fix"
    INVALID = "invalid"


class Source(StrEnum):
    WEB = "web"
    API = "api"
    OPEN311 = "open311"
    SMS = "sms"
    HOTLINE = "hotline"


class Category(Base):
    __tablename__ = "reports_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # also the SMS keyword
    name: Mapped[str] = mapped_column(String(200))
    name_local: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(String(100), default="")
    # Referenced by id only: departments belong to the city module.
    department_id: Mapped[int] = mapped_column(ForeignKey("city_departments.id"))
    sla_ack_hours: Mapped[int] = mapped_column(default=48)
    sla_resolve_hours: Mapped[int] = mapped_column(default=24 * 14)
    nearby_radius_m: Mapped[int] = mapped_column(default=100)
    private: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    # Extra questions: [{"code", "datatype", "required", "description", "order", "values": [...]}]
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Route(Base):
    """Routing table: a category in a district goes to a department (district None: anywhere)."""

    __tablename__ = "reports_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("reports_categories.id", ondelete="CASCADE"))
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("city_districts.id", ondelete="CASCADE"), nullable=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("city_departments.id"))

    __table_args__ = (UniqueConstraint("category_id", "district_id"),)


class Report(Base):
    __tablename__ = "reports_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("reports_categories.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("city_departments.id"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("city_districts.id", ondelete="SET NULL"),
                                                    nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=Status.NEW)
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    public_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    public_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(20), default=Source.WEB)
    # The reporter: a Parvis account, or contact details given with the report (never public).
    reporter_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    reporter_name: Mapped[str] = mapped_column(String(200), default="")
    reporter_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reporter_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    # The language a reporter without an account is answered in (with an account: the account's).
    reporter_language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    contact_channel: Mapped[str] = mapped_column(String(10), default="none")
    show_name: Mapped[bool] = mapped_column(default=False)
    assigned_to: Mapped[int | None] = mapped_column(nullable=True)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("reports_reports.id"), nullable=True)
    interest_count: Mapped[int] = mapped_column(default=1)
    reject_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    referred_to: Mapped[str] = mapped_column(String(200), default="")
    rating: Mapped[int | None] = mapped_column(nullable=True)
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    reopened_count: Mapped[int] = mapped_column(default=0)
    needs_location: Mapped[bool] = mapped_column(default=False)
    # Keyed hash of the sender's address, kept to throttle anonymous bursts (not the address).
    origin: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    due_ack_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    due_resolve_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    photos: Mapped[list[Photo]] = relationship(back_populates="report", lazy="selectin",
                                               order_by="Photo.id")

    __table_args__ = (
        Index("ix_reports_reports_department_status", "department_id", "status", "created_at"),
        Index("ix_reports_reports_map", "public_lat", "public_lon"),
        Index("ix_reports_reports_category_created", "category_id", "created_at"),
        Index("ix_reports_reports_created", "created_at"),
        Index("ix_reports_reports_updated", "updated_at"),
        Index("ix_reports_reports_origin", "origin", "created_at"),
    )


class Update(Base):
    """One line of a report's timeline. ``public`` False lines are internal notes."""

    __tablename__ = "reports_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports_reports.id", ondelete="CASCADE"),
                                           index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # created status comment note transfer assign ...
    public: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(nullable=True)
    author_label: Mapped[str] = mapped_column(String(200), default="")
    department_from: Mapped[int | None] = mapped_column(nullable=True)
    department_to: Mapped[int | None] = mapped_column(nullable=True)


class Photo(Base):
    __tablename__ = "reports_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports_reports.id", ondelete="CASCADE"),
                                           index=True)
    key: Mapped[str] = mapped_column(String(300))
    thumb_key: Mapped[str] = mapped_column(String(300))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    hidden: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    report: Mapped[Report] = relationship(back_populates="photos")


class Supporter(Base):
    """A "me too" on a report: one per person (account or contact)."""

    __tablename__ = "reports_supporters"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports_reports.id", ondelete="CASCADE"))
    person: Mapped[str] = mapped_column(String(300))  # "user:12" or "phone:+84..." or "email:..."
    user_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("report_id", "person"),)


class ApiKey(Base):
    """Open311 API keys issued by admins to client applications."""

    __tablename__ = "reports_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PendingReport(Base):
    """A report from a visitor without an account, set aside until they enter the code sent to
    their phone or e-mail address (then it is filed as a ``Report`` and this row is deleted) or
    until it expires. Never shown anywhere: no list, map, queue or API reads this table."""

    __tablename__ = "reports_pending"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the token in the confirmation page's address (the token itself is not kept).
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(255))  # argon2 hash of the 6-digit code
    # What ``ReportCreate`` needs, without the contact (kept in ``phone`` / ``email``).
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Photos already in the file store: [{"sha256", "width", "height", "content_type"}].
    photos: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    language: Mapped[str] = mapped_column(String(10), default="")
    # Keyed hash of the sender's address, to limit bursts (as ``Report.origin``).
    origin: Mapped[str] = mapped_column(String(64), default="")
    attempts: Mapped[int] = mapped_column(default=0)  # wrong codes entered
    sends: Mapped[int] = mapped_column(default=1)  # codes sent
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set while the report is being filed, so that a double click files it once.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_reports_pending_origin", "origin", "created_at"),
        Index("ix_reports_pending_phone", "phone", "created_at"),
        Index("ix_reports_pending_email", "email", "created_at"),
        Index("ix_reports_pending_expires", "expires_at"),
    )
