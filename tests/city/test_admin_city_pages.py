"""Admins manage departments and import districts from the back office pages."""

from __future__ import annotations

import json

import factories
from factories import PASSWORD, square
from web_helpers import csrf_of, sign_in


def test_admin_creates_and_edits_a_department(client, db, settings):
    factories.staff(db, settings, "admin@example.org", "admin")
    sign_in(client, "admin@example.org", PASSWORD)
    token = csrf_of(client, "/admin/departments/new")
    created = client.post("/admin/departments/new", data={
        "code": "parks", "kind": "environment", "name": "Parcs et jardins",
        "name_local": "Công viên", "email": "parcs@example.org", "phone": "", "csrf_token": token},
        follow_redirects=False)
    assert created.status_code == 303
    url = created.headers["location"]
    assert "Parcs et jardins" in client.get(url).text
    client.post(url + "/edit", data={"name": "Parcs", "name_local": "", "email": "", "phone": "",
                                     "csrf_token": token})
    assert "<h1>Parcs</h1>" in client.get(url).text
    again = client.post("/admin/departments/new", data={
        "code": "parks", "kind": "other", "name": "Doublon", "csrf_token": token},
        headers={"Accept-Language": "en"})
    assert again.status_code == 409 and "already exists" in again.text


def test_admin_uploads_a_geojson_file_of_districts(client, db, settings):
    factories.staff(db, settings, "admin@example.org", "admin")
    sign_in(client, "admin@example.org", PASSWORD)
    token = csrf_of(client, "/admin/districts/new")
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "P1", "name": "Phường 1"}, "geometry": square(105, 21)},
        {"type": "Feature", "properties": {"code": "P2", "name": "Phường 2"}, "geometry": square(105.01, 21)},
    ]}
    response = client.post("/admin/districts/new", data={"csrf_token": token},
                           files={"file": ("city.geojson", json.dumps(collection), "application/geo+json")},
                           follow_redirects=False)
    assert response.status_code == 303
    page = client.get("/admin/districts").text
    assert "Phường 1" in page and "Phường 2" in page
    located = client.get("/api/v1/districts/locate", params={"lon": 105.015, "lat": 21.005})
    assert located.json()["properties"]["code"] == "P2"


def test_invalid_upload_shows_the_reason_and_keeps_the_text(client, db, settings):
    factories.staff(db, settings, "admin@example.org", "admin")
    sign_in(client, "admin@example.org", PASSWORD)
    token = csrf_of(client, "/admin/districts/new")
    response = client.post("/admin/districts/new", data={"csrf_token": token, "geojson": "{nope"},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert "The geometry is not valid JSON." in response.text and "{nope" in response.text
