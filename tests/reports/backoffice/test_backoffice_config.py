"""Statistics, the routing table, Open311 keys, and the CSRF token on every back office form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.routing import APIRoute

from parvis.modules.reports import queries
from parvis.modules.reports.models import Report
from parvis.modules.reports.pages.backoffice import router
from web_helpers import csrf_of


def _row(html: str, category: str) -> list[str]:
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        if len(cells) > 1 and cells[1] == category:
            return cells
    raise AssertionError(f"no row for {category}")


def test_statistics_match_a_known_small_data_set(city):
    quick, slow, old = city.report(), city.report(), city.report()
    with city.db.transaction() as session:
        a, b, c = (session.get(Report, i) for i in (quick, slow, old))
        a.acknowledged_at = a.created_at + timedelta(hours=1)
        a.resolved_at = a.created_at + timedelta(hours=5)
        a.status, a.rating = "closed", 4
        b.acknowledged_at = b.created_at + timedelta(hours=3)
        b.status, b.escalated_at = "acknowledged", b.created_at + timedelta(hours=30)
        c.created_at = c.created_at - timedelta(days=60)  # outside "last 30 days"
    roads = city.client("roads@example.org")
    page = roads.get("/admin/reports/stats?period=30")
    assert page.status_code == 200
    assert _row(page.text, "Pothole") == ["Voirie", "Pothole", "2", "1", "1", "2", "5", "50 %", "4", "1"]
    every = _row(roads.get("/admin/reports/stats?period=all").text, "Pothole")
    assert every[2:5] == ["3", "2", "1"] and every[7] == "33.3 %"
    assert 'href="/api/v1/reports/export.csv?since=' in page.text
    csv = roads.get(re.search(r'href="(/api/v1/reports/export\.csv[^"]*)"', page.text).group(1).replace(
        "&amp;", "&"))
    assert csv.status_code == 200 and len(csv.text.strip().splitlines()) == 3  # header + 2 reports
    # the water agent sees no roads figures
    assert "Pothole" not in city.client("water@example.org").get("/admin/reports/stats?period=all").text


def test_a_routing_line_sends_the_next_report_to_the_new_department(city):
    before = city.report()
    assert roads_of(city, before) == city.roads
    admin = city.client("admin@example.org")
    token = csrf_of(admin, "/admin/reports/routing")
    with city.db.read() as session:
        pothole = queries.category_by_code(session, "POTHOLE").id
    assert city.client("roads@example.org").get("/admin/reports/routing").status_code == 403
    bad = admin.post("/admin/reports/routing", data={"csrf_token": token, "category_id": str(pothole),
                                                     "district_id": "999", "department_id": str(city.water)})
    assert bad.status_code == 422 and "Unknown district." in bad.text
    answer = admin.post("/admin/reports/routing", data={
        "csrf_token": token, "category_id": str(pothole), "district_id": str(city.district),
        "department_id": str(city.water)}, follow_redirects=False)
    assert answer.status_code == 303
    table = admin.get(answer.headers["location"]).text
    assert "The routing table has been changed." in table and "District D1: Eau" in table
    assert "acknowledge within 24 h, resolve within 72 h" in table
    assert roads_of(city, city.report()) == city.water


def roads_of(city, report_id: int) -> int:
    with city.db.read() as session:
        return session.get(Report, report_id).department_id


def test_open311_keys_are_shown_once_and_can_be_revoked(city):
    admin = city.client("admin@example.org")
    assert city.client("roads@example.org").get("/admin/reports/open311-keys").status_code == 403
    token = csrf_of(admin, "/admin/reports/open311-keys")
    nameless = admin.post("/admin/reports/open311-keys", data={"csrf_token": token, "name": ""})
    assert nameless.status_code == 422
    issued = admin.post("/admin/reports/open311-keys", data={"csrf_token": token, "name": "FixMyCity app"})
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    key = re.search(r'id="k-new" type="text" readonly dir="ltr" value="([^"]+)"', issued.text).group(1)
    with city.db.read() as session:
        assert queries.valid_api_key(session, key)
        key_id = queries.api_keys(session)[0].id
    listing = admin.get("/admin/reports/open311-keys").text
    assert "FixMyCity app" in listing and key not in listing
    revoked = admin.post(f"/admin/reports/open311-keys/{key_id}/revoke", data={"csrf_token": token},
                         follow_redirects=False)
    assert revoked.status_code == 303
    assert "Revoked" in admin.get(revoked.headers["location"]).text
    with city.db.read() as session:
        assert not queries.valid_api_key(session, key)
    assert admin.post("/admin/reports/open311-keys/999/revoke", data={"csrf_token": token}).status_code == 404


POSTS = sorted(r.path for r in router.routes if isinstance(r, APIRoute) and "POST" in r.methods)


@pytest.mark.parametrize("path", POSTS)
def test_every_form_needs_its_csrf_token(city, path):
    report_id = city.report()
    admin = city.client("admin@example.org")
    csrf_of(admin, "/admin/reports")  # the browser has its CSRF cookie, but the form has no token
    url = re.sub(r"\{\w+(:\w+)?\}", str(report_id), path)
    answer = admin.post(url, data={"status": "acknowledged", "ids": [str(report_id)], "action": "acknowledge",
                                   "name": "x", "text": "x", "visibility": "internal"})
    assert answer.status_code == 403 and "This form has expired" in answer.text
    assert roads_of(city, report_id) == city.roads
    with city.db.read() as session:
        assert session.get(Report, report_id).status == "new" and not queries.api_keys(session)
