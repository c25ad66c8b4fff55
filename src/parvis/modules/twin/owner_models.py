"""The twin's owner links: which account owns (or lives in) which building of the twin.

A link lets a signed-in person see their own house's roof heat-loss level (thermography), which
the city's policy ``twin_thermography_visibility`` hides from others by default. The city's admins
make and remove links (``/twin/owners``); each change is audit-logged. The account is referenced by
id only (the accounts module owns people; no foreign key across modules); the building by a foreign
key, so a link goes with its building when the twin is re-imported.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parvis.kernel.db import Base, UTCDateTime, utcnow


class BuildingOwner(Base):
    """One account linked to one building: who linked it and when."""

    __tablename__ = "twin_building_owners"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("twin_buildings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    linked_by: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the demo or a script
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("building_id", "user_id", name="uq_twin_building_owners_pair"),)
