"""Reading what the hub stores of an entity, as the city's views need it: when a value was
observed, and the name a person sees."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from parvis.modules.sensors.actions import attribute_iri
from parvis.modules.sensors.models import Entity


def observed_at(attr: Any) -> datetime | None:
    """When an attribute's value was observed (``observedAt``), None without a valid one."""
    stamp = attr.get("observedAt") if isinstance(attr, dict) else None
    try:
        return datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None


def display_name(row: Entity) -> str:
    """The entity's ``name``, or the last part of its id when it has none."""
    attr = (row.attrs or {}).get(attribute_iri("name"))
    value = attr.get("value") if isinstance(attr, dict) else None
    return value if isinstance(value, str) and value.strip() else row.id.rsplit(":", 1)[-1]
