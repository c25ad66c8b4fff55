"""The twin's background jobs (being written)."""

from __future__ import annotations

from typing import Any


def register(registry: Any, bus: Any, db: Any, settings: Any) -> None:
    """Jobs of the twin: none yet."""
