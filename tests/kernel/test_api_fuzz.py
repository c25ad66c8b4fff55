"""Property-based: whatever JSON a client sends to a write endpoint, the answer is a 4xx
problem (or a success), never a 500, and a refused request writes nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import factories
from factories import PASSWORD
from parvis.kernel.audit import AuditEntry

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children,
                                                                      max_size=4),
    max_leaves=12,
)
FIELDS = ["code", "name", "kind", "geometry", "email", "phone", "role", "password", "display_name",
          "department_ids", "all_departments", "identifier", "language", "coordinates", "type"]
bodies = st.one_of(json_values, st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6))

ENDPOINTS = [
    ("POST", "/api/v1/departments"),
    ("POST", "/api/v1/districts"),
    ("PATCH", "/api/v1/districts/1"),
    ("POST", "/api/v1/users"),
    ("PATCH", "/api/v1/me"),
    ("POST", "/api/v1/auth/signup"),
    ("POST", "/api/v1/auth/confirm"),
    ("POST", "/api/v1/notify/push/subscriptions"),
]


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_random_json_never_breaks_a_write_endpoint(client, db, settings_fixture, method, path):
    factories.district(db, "D1")
    factories.staff(db, settings_fixture, "admin@example.org", "admin")
    token = client.post("/api/v1/auth/token", data={"username": "admin@example.org",
                                                     "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def audited() -> int:
        with db.read() as session:
            return session.scalar(select(func.count()).select_from(AuditEntry))

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(body=bodies)
    def check(body):
        before = audited()
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code < 500, (body, response.text[:300])
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].startswith("https://parvis.city/problems/")
            assert audited() == before  # a refused write leaves no trace

    check()


@pytest.fixture
def settings_fixture(settings):
    return settings
