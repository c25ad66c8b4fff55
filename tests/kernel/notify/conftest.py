"""Fixtures of the notify kernel tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from notify_helpers import LiveServer, build_app, make_settings

from parvis.kernel.db import Database
from parvis.kernel.events import Event


@pytest.fixture
def events(db: Database) -> list[Event]:
    seen: list[Event] = []
    db.bus.subscribe("*", seen.append)
    return seen


@pytest.fixture
def live_app() -> Iterator[LiveServer]:
    app = build_app(None, make_settings())
    with LiveServer(app) as server:
        yield server
