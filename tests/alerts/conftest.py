"""Fixtures of the alerts tests: a small city with staff (see ``alerts_factories``)."""

from __future__ import annotations

import pytest
from alerts_factories import AlertCity, alert_city


@pytest.fixture
def city(db, settings) -> AlertCity:
    return alert_city(db, settings)


@pytest.fixture
def registry(app):
    return app.state.registry
