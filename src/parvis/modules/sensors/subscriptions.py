"""NGSI-LD subscriptions: matching entity changes against subscriptions (inside the writing
transaction, see ``changes.py``) and queueing the notifications to send."""

from __future__ import annotations

from sqlalchemy.orm import Session

from parvis.modules.sensors.changes import Change


def on_changes(session: Session, changes: list[Change]) -> None:
    """Queue a notification for every subscription an entity change matches."""
