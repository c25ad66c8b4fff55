"""Every role against every protected route, read from the routes themselves.

Each route that declares a permission with ``require(...)`` is called by an anonymous
visitor, a citizen, an agent, a supervisor and an admin. Those the access table allows must
get through (any answer but 401/403/redirect to sign-in); the others must be stopped.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import factories
from factories import PASSWORD
from parvis.app import routers
from parvis.kernel.auth import ACCESS, Role
from web_helpers import csrf_of, sign_in

ROLES = [Role.ANONYMOUS, Role.CITIZEN, Role.AGENT, Role.SUPERVISOR, Role.ADMIN]

# The access policy in words, checked against the table the code uses.
EXPECTED = {
    "account.self": {Role.CITIZEN, Role.AGENT, Role.SUPERVISOR, Role.ADMIN},
    "backoffice.view": {Role.AGENT, Role.SUPERVISOR, Role.ADMIN},
    "department.view": {Role.AGENT, Role.SUPERVISOR, Role.ADMIN},
    "reports.handle": {Role.AGENT, Role.SUPERVISOR, Role.ADMIN},
    "reports.configure": {Role.ADMIN},
    "alerts.compose": {Role.AGENT, Role.SUPERVISOR, Role.ADMIN},
    "alerts.approve": {Role.SUPERVISOR, Role.ADMIN},
    "twin.plan": {Role.AGENT, Role.SUPERVISOR, Role.ADMIN},
    "city.manage": {Role.ADMIN},
    "users.manage": {Role.ADMIN},
    "audit.view": {Role.ADMIN},
    "outbox.view": {Role.ADMIN},
}


# Which permission guards each route: adding a protected route means adding it here.
ROUTE_PERMISSIONS = {
    ("GET", "/api/v1/me"): "account.self",
    ("PATCH", "/api/v1/me"): "account.self",
    ("GET", "/api/v1/me/export"): "account.self",
    ("POST", "/api/v1/me/erase"): "account.self",
    ("GET", "/api/v1/users"): "users.manage",
    ("POST", "/api/v1/users"): "users.manage",
    ("PATCH", "/api/v1/users/{user_id}"): "users.manage",
    ("GET", "/api/v1/audit"): "audit.view",
    ("POST", "/api/v1/districts"): "city.manage",
    ("PATCH", "/api/v1/districts/{district_id}"): "city.manage",
    ("DELETE", "/api/v1/districts/{district_id}"): "city.manage",
    ("POST", "/api/v1/departments"): "city.manage",
    ("PATCH", "/api/v1/departments/{department_id}"): "city.manage",
    ("GET", "/api/v1/reports/mine"): "account.self",
    ("GET", "/api/v1/reports/queue"): "reports.handle",
    ("GET", "/api/v1/reports/stats"): "reports.handle",
    ("GET", "/api/v1/reports/export.csv"): "reports.handle",
    ("PUT", "/api/v1/reports/routes"): "reports.configure",
    ("POST", "/api/v1/reports/{report_id}/support"): "account.self",
    ("POST", "/api/v1/reports/{report_id}/status"): "reports.handle",
    ("POST", "/api/v1/reports/{report_id}/comments"): "reports.handle",
    ("POST", "/api/v1/reports/{report_id}/transfer"): "reports.handle",
    ("POST", "/api/v1/reports/{report_id}/assign"): "reports.handle",
    ("POST", "/api/v1/reports/{report_id}/reopen"): "account.self",
    ("POST", "/api/v1/reports/{report_id}/rating"): "account.self",
    ("GET", "/api/v1/alerts"): "alerts.compose",
    ("POST", "/api/v1/alerts"): "alerts.compose",
    ("GET", "/api/v1/alerts/{alert_id}"): "alerts.compose",
    ("PUT", "/api/v1/alerts/{alert_id}"): "alerts.compose",
    ("GET", "/api/v1/alerts/{alert_id}/preview"): "alerts.compose",
    ("POST", "/api/v1/alerts/{alert_id}/update"): "alerts.compose",
    ("POST", "/api/v1/alerts/{alert_id}/approve"): "alerts.approve",
    ("POST", "/api/v1/alerts/{alert_id}/cancel"): "alerts.approve",
    ("GET", "/api/v1/alerts/imports"): "alerts.compose",
    ("POST", "/api/v1/alerts/imports"): "alerts.compose",
    ("GET", "/api/v1/alerts/imports/feeds"): "alerts.compose",
    ("GET", "/api/v1/alerts/imports/{import_id}"): "alerts.compose",
    ("GET", "/api/v1/alerts/imports/{import_id}/document"): "alerts.compose",
    ("POST", "/api/v1/alerts/imports/{import_id}/republish"): "alerts.compose",
    ("POST", "/api/v1/alerts/imports/{import_id}/dismiss"): "alerts.compose",
    ("GET", "/api/v1/alerts/subscriptions"): "account.self",
    ("POST", "/api/v1/alerts/subscriptions"): "account.self",
    ("DELETE", "/api/v1/alerts/subscriptions/{subscription_id}"): "account.self",
    ("GET", "/api/v1/sensors/keys"): "city.manage",
    ("POST", "/api/v1/sensors/keys"): "city.manage",
    ("POST", "/api/v1/sensors/keys/{key_id}/revoke"): "city.manage",
    ("POST", "/api/v1/notify/push/subscriptions"): "account.self",
    ("DELETE", "/api/v1/notify/push/subscriptions"): "account.self",
    ("GET", "/account"): "account.self",
    ("POST", "/account"): "account.self",
    ("GET", "/account/export"): "account.self",
    ("POST", "/account/erase"): "account.self",
    ("GET", "/admin/agents"): "users.manage",
    ("GET", "/admin/agents/new"): "users.manage",
    ("POST", "/admin/agents/new"): "users.manage",
    ("GET", "/admin/agents/{user_id:int}"): "users.manage",
    ("POST", "/admin/agents/{user_id:int}"): "users.manage",
    ("GET", "/admin/audit"): "audit.view",
    ("GET", "/admin"): "backoffice.view",
    ("GET", "/admin/departments/{department_id:int}"): "department.view",
    ("GET", "/admin/departments"): "department.view",
    ("GET", "/admin/departments/new"): "city.manage",
    ("POST", "/admin/departments/new"): "city.manage",
    ("GET", "/admin/departments/{department_id:int}/edit"): "city.manage",
    ("POST", "/admin/departments/{department_id:int}/edit"): "city.manage",
    ("GET", "/admin/districts"): "city.manage",
    ("GET", "/admin/districts/new"): "city.manage",
    ("POST", "/admin/districts/new"): "city.manage",
    ("GET", "/admin/messages"): "outbox.view",
    ("GET", "/reports/mine"): "account.self",
    ("POST", "/reports/{report_id:int}/support"): "account.self",
    ("POST", "/reports/{report_id:int}/reopen"): "account.self",
    ("POST", "/reports/{report_id:int}/rate"): "account.self",
    ("GET", "/admin/reports"): "reports.handle",
    ("GET", "/admin/reports/map.geojson"): "reports.handle",
    ("POST", "/admin/reports/bulk"): "reports.handle",
    ("GET", "/admin/reports/{report_id:int}"): "reports.handle",
    ("POST", "/admin/reports/{report_id:int}/status"): "reports.handle",
    ("POST", "/admin/reports/{report_id:int}/comment"): "reports.handle",
    ("POST", "/admin/reports/{report_id:int}/transfer"): "reports.handle",
    ("POST", "/admin/reports/{report_id:int}/assign"): "reports.handle",
    ("POST", "/admin/reports/{report_id:int}/redact"): "reports.handle",
    ("POST", "/admin/reports/{report_id:int}/locate"): "reports.handle",
    ("GET", "/admin/reports/stats"): "reports.handle",
    ("GET", "/admin/reports/routing"): "reports.configure",
    ("POST", "/admin/reports/routing"): "reports.configure",
    ("GET", "/admin/reports/open311-keys"): "reports.configure",
    ("POST", "/admin/reports/open311-keys"): "reports.configure",
    ("POST", "/admin/reports/open311-keys/{key_id:int}/revoke"): "reports.configure",
    ("GET", "/alerts/subscriptions"): "account.self",
    ("POST", "/alerts/subscriptions"): "account.self",
    ("POST", "/alerts/subscriptions/{subscription_id:int}/delete"): "account.self",
    ("GET", "/admin/alerts"): "alerts.compose",
    ("GET", "/admin/alerts/new"): "alerts.compose",
    ("POST", "/admin/alerts/new"): "alerts.compose",
    ("GET", "/admin/alerts/{alert_id:int}"): "alerts.compose",
    ("GET", "/admin/alerts/{alert_id:int}/reach"): "alerts.compose",
    ("GET", "/admin/alerts/{alert_id:int}/edit"): "alerts.compose",
    ("POST", "/admin/alerts/{alert_id:int}/edit"): "alerts.compose",
    ("GET", "/admin/alerts/{alert_id:int}/update"): "alerts.compose",
    ("POST", "/admin/alerts/{alert_id:int}/update"): "alerts.compose",
    ("POST", "/admin/alerts/{alert_id:int}/approve"): "alerts.approve",
    ("POST", "/admin/alerts/{alert_id:int}/cancel"): "alerts.approve",
    ("GET", "/admin/alerts/{alert_id:int}/deliveries"): "alerts.compose",
    ("GET", "/admin/alerts/{alert_id:int}/deliveries.csv"): "alerts.compose",
    ("GET", "/admin/alerts/{alert_id:int}/cap.xml"): "alerts.compose",
    ("GET", "/api/v1/sensors/waste/to-collect"): "backoffice.view",
    ("GET", "/sensors/waste"): "backoffice.view",
    ("GET", "/sensors/waste/print"): "backoffice.view",
    ("GET", "/sensors/waste/to-collect.csv"): "backoffice.view",
    ("GET", "/sensors/operations"): "department.view",
    ("GET", "/sensors/operations/snapshot.geojson"): "department.view",
    ("GET", "/sensors/operations/stream"): "department.view",
    ("GET", "/api/v1/sensors/events"): "department.view",
    ("GET", "/sensors/traffic"): "department.view",
    ("GET", "/sensors/traffic/segments.geojson"): "department.view",
    ("GET", "/sensors/traffic/{segment}"): "department.view",
    ("GET", "/twin/solar/city"): "twin.plan",
    ("GET", "/twin/solar/districts.csv"): "twin.plan",
    ("GET", "/twin/planning/flood"): "twin.plan",
    ("GET", "/twin/planning/buildable"): "twin.plan",
    ("GET", "/twin/planning/buildable.csv"): "twin.plan",
    ("GET", "/twin/planning/buildable.geojson"): "twin.plan",
    ("GET", "/api/v1/twin/planning/flood"): "twin.plan",
    ("GET", "/api/v1/twin/planning/flood.png"): "twin.plan",
    ("GET", "/api/v1/twin/planning/hand.png"): "twin.plan",
    ("GET", "/api/v1/twin/planning/terrain"): "twin.plan",
    ("GET", "/api/v1/twin/planning/hazard.geojson"): "twin.plan",
    ("GET", "/api/v1/twin/planning/buildable"): "twin.plan",
    ("GET", "/api/v1/twin/planning/buildable.geojson"): "twin.plan",
    ("GET", "/twin/home/mine"): "account.self",
    ("GET", "/twin/owners"): "city.manage",
    ("POST", "/twin/owners"): "city.manage",
    ("POST", "/twin/owners/{link_id:int}/remove"): "city.manage",
}


def test_access_table_says_what_the_policy_says():
    assert {k: set(v) for k, v in ACCESS.items()} == EXPECTED


def _permission_of(route: APIRoute) -> str | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        permission = getattr(dep.call, "permission", None)
        if permission:
            return permission
        stack.extend(dep.dependencies)
    return None


def protected_routes(_app=None) -> list[tuple[str, str, str]]:
    out = []
    for route in (r for router in routers() for r in router.routes):
        if isinstance(route, APIRoute):
            permission = _permission_of(route)
            if permission:
                for method in sorted(route.methods - {"HEAD"}):
                    out.append((method, route.path, permission))
    return out


def test_every_protected_route_declares_the_expected_permission():
    assert {(m, p): perm for m, p, perm in protected_routes()} == ROUTE_PERMISSIONS


@pytest.fixture
def people(db, settings):
    dep = factories.department(db, "roads")
    # also in a waste department: the waste pages let only that department's staff through
    waste = factories.department(db, "waste", "Propreté", kind="waste")
    factories.staff(db, settings, "agent@example.org", "agent", [dep, waste])
    factories.staff(db, settings, "supervisor@example.org", "supervisor", [dep, waste])
    factories.staff(db, settings, "admin@example.org", "admin")
    factories.citizen(db, settings, "+84912300001")
    factories.district(db, "D1")
    settings.sensors_operations_stream_seconds = 0.2  # the live stream ends at once here
    return {Role.CITIZEN: "+84912300001", Role.AGENT: "agent@example.org",
            Role.SUPERVISOR: "supervisor@example.org", Role.ADMIN: "admin@example.org",
            "department_id": dep}


def _concrete(path: str, ids: dict[str, int]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(ids.get(m.group(1), 1)), path)


@pytest.mark.parametrize("role", ROLES, ids=[str(r) for r in ROLES])
def test_each_role_against_each_protected_route(app, people, role):
    routes = protected_routes(app)
    ids = {"department_id": people["department_id"], "user_id": 2, "district_id": 1}
    with TestClient(app, raise_server_exceptions=False) as client:
        if role != Role.ANONYMOUS:
            sign_in(client, people[role], PASSWORD)
        token = csrf_of(client, "/")
        failures = []
        for method, path, permission in routes:
            if path in ("/account/erase", "/api/v1/me/erase", "/signout"):
                continue  # would end the session of the next calls; covered in test_privacy
            url = _concrete(path, ids)
            kwargs: dict = {"headers": {"X-CSRF-Token": token}, "follow_redirects": False}
            if method in ("POST", "PATCH", "PUT"):
                kwargs["data" if not path.startswith("/api/") else "json"] = (
                    {"csrf_token": token} if not path.startswith("/api/") else {})
            response = client.request(method, url, **kwargs)
            allowed = role in ACCESS[permission]
            stopped = response.status_code in (401, 403) or (
                response.status_code == 303 and response.headers["location"].startswith("/signin"))
            if allowed and stopped:
                failures.append(f"{role} was refused {method} {url} ({response.status_code})")
            if not allowed and not stopped:
                failures.append(f"{role} got through {method} {url} ({response.status_code})")
            if not allowed and role == Role.ANONYMOUS and path.startswith("/api/"):
                assert response.status_code == 401, (method, url)
            assert response.status_code < 500, (method, url, response.text[:300])
        assert not failures, "\n".join(failures)


def test_an_agent_sees_only_their_own_department(client, db, settings):
    roads = factories.department(db, "roads", "Voirie")
    water = factories.department(db, "water", "Eau")
    factories.staff(db, settings, "agent@example.org", "agent", [roads])
    sign_in(client, "agent@example.org", PASSWORD)
    assert client.get(f"/admin/departments/{roads}").status_code == 200
    assert client.get(f"/admin/departments/{water}").status_code == 403
    listing = client.get("/admin/departments").text
    assert "Voirie" in listing and "Eau" not in listing


def test_an_agent_granted_all_departments_sees_them_all(client, db, settings):
    roads = factories.department(db, "roads", "Voirie")
    water = factories.department(db, "water", "Eau")
    admin = factories.staff(db, settings, "admin@example.org", "admin")
    agent = factories.staff(db, settings, "agent@example.org", "agent", [roads])
    assert admin
    sign_in(client, "admin@example.org", PASSWORD)
    bearer = client.post("/api/v1/auth/token", data={"username": "admin@example.org",
                                                     "password": PASSWORD}).json()["access_token"]
    granted = client.patch(f"/api/v1/users/{agent}", json={"all_departments": True},
                           headers={"Authorization": f"Bearer {bearer}"})
    assert granted.status_code == 200 and granted.json()["all_departments"] is True
    with TestClient(client.app) as other:
        sign_in(other, "agent@example.org", PASSWORD)
        assert other.get(f"/admin/departments/{water}").status_code == 200


def test_cookie_alone_does_not_authorise_an_api_write(client, db, settings):
    factories.staff(db, settings, "admin@example.org", "admin")
    sign_in(client, "admin@example.org", PASSWORD)
    body = {"code": "x", "name": "X", "kind": "other"}
    assert client.post("/api/v1/departments", json=body).status_code == 401
    token = csrf_of(client, "/")
    assert client.post("/api/v1/departments", json=body,
                       headers={"X-CSRF-Token": token}).status_code == 201
