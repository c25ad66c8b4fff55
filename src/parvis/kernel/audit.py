"""Append-only audit trail: who changed what, when, from where.

Actions call ``record`` inside their transaction, so the entry commits with the change or
not at all. Nothing in Parvis updates or deletes an entry; on PostgreSQL a trigger also
refuses it (see the initial migration), on SQLite a trigger does the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from parvis.kernel.auth import Principal
from parvis.kernel.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "kernel_audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # No foreign key: the trail outlives the accounts it names (erasure keeps the entry).
    actor_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    actor_role: Mapped[str] = mapped_column(String(20), default="")
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50), default="")
    object_id: Mapped[str] = mapped_column(String(50), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_kernel_audit_log_object", "object_type", "object_id"),)


def _label(actor: Principal | None) -> str:
    if actor is None or not actor.is_authenticated:
        return "system" if actor is None else "anonymous"
    if actor.is_staff:
        return actor.display_name
    return f"citizen #{actor.user_id}"


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    *,
    object_type: str = "",
    object_id: object = "",
    ip: str = "",
    changes: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor_id=actor.user_id if actor else None,
            # Staff are named; citizens are only a number, so erasure leaves nothing personal.
            actor_label=_label(actor),
            actor_role=str(actor.role) if actor else "system",
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            ip=ip,
            changes=changes or {},
        )
    )


def entries(
    session: Session, *, limit: int = 50, offset: int = 0, action: str | None = None
) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
        count = count.where(AuditEntry.action == action)
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return list(rows), session.scalar(count) or 0
