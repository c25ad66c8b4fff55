"""Fixtures of the notify kernel tests."""

from __future__ import annotations

import pytest

from parvis.kernel.db import Database
from parvis.kernel.events import Event


@pytest.fixture
def events(db: Database) -> list[Event]:
    seen: list[Event] = []
    db.bus.subscribe("*", seen.append)
    return seen
