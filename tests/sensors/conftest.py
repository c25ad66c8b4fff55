"""Fixtures of the NGSI-LD tests: API keys and helpers to write entities."""

from __future__ import annotations

from typing import Any

import pytest

from parvis.modules import sensors

CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SDM = "https://smartdatamodels.org/context.jsonld"
BASE = "/ngsi-ld/v1"


def link(url: str) -> str:
    return f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


@pytest.fixture
def settings(settings):
    """The hub's tests run their notification receivers on loopback: the city allows it here; they
    count entities' attributes afresh at each request (they write between two requests)."""
    return settings.model_copy(update={"sensors_notify_allowed_networks": ["127.0.0.1"],
                                       "ngsi_census_seconds": 0})


@pytest.fixture
def keys(db) -> dict[str, str]:
    return {"write": sensors.issue_api_key(db, "writer", "w-key", read=True, write=True),
            "read": sensors.issue_api_key(db, "reader", "r-key", read=True, write=False)}


@pytest.fixture
def w(keys) -> dict[str, str]:
    """Headers of a writing client using the Smart Data Models context."""
    return {"X-Api-Key": keys["write"], "Link": link(SDM)}


@pytest.fixture
def r(keys) -> dict[str, str]:
    return {"X-Api-Key": keys["read"], "Link": link(SDM)}


def air(n: int, lon: float = 104.9, lat: float = 11.55, no2: float = 40.0, **extra: Any) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:AirQualityObserved:{n}", "type": "AirQualityObserved",
            "NO2": {"type": "Property", "value": no2, "unitCode": "GQ",
                    "observedAt": "2026-11-29T08:00:00Z"},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
            **extra}


def create(client, headers: dict[str, str], entity: dict[str, Any]) -> None:
    response = client.post(f"{BASE}/entities", json=entity, headers=headers)
    assert response.status_code == 201, response.text
