"""Bad input gets a clear, translated 4xx problem; never a 500, never a stack trace."""

from __future__ import annotations

import factories
from factories import PASSWORD

PROBLEM = "application/problem+json"


def _admin_bearer(client, db, settings):
    factories.staff(db, settings, "admin@example.org", role="admin")
    token = client.post("/api/v1/auth/token", data={"username": "admin@example.org",
                                                     "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_malformed_json_is_a_400_problem(client, db, settings):
    headers = {**_admin_bearer(client, db, settings), "Content-Type": "application/json",
               "Accept-Language": "en"}
    response = client.post("/api/v1/departments", content=b'{"code": "x", ', headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://parvis.city/problems/malformed-body"
    assert response.json()["detail"] == "The request body is not valid JSON."


def test_wrong_types_name_the_field(client, db, settings):
    headers = {**_admin_bearer(client, db, settings), "Accept-Language": "en"}
    response = client.post("/api/v1/departments", json={"code": "x", "name": 12}, headers=headers)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "https://parvis.city/problems/validation-error"
    assert problem["title"] == "Some fields are not valid."
    assert problem["errors"] == [{"field": "name", "code": "string_type", "message": "Text was expected."}]


def test_problem_titles_are_translated(client):
    fr = client.get("/api/v1/me", headers={"Accept-Language": "fr"}).json()
    en = client.get("/api/v1/me", headers={"Accept-Language": "en"}).json()
    ar = client.get("/api/v1/me", headers={"Accept-Language": "ar"})
    assert en["title"] == "You need to sign in."
    assert fr["title"] != en["title"] and fr["type"] == en["type"]
    assert ar.headers["content-language"] == "ar"
    assert ar.json()["title"] != en["title"]


def test_oversized_body_is_refused_before_it_is_read(client, settings):
    body = b"x" * (settings.max_body_bytes + 1)
    response = client.post("/api/v1/auth/signup", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["type"] == "https://parvis.city/problems/body-too-large"


def test_unknown_api_route_is_a_404_problem_and_unknown_page_a_translated_page(client):
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.headers["content-type"] == PROBLEM
    page = client.get("/nothing-here", headers={"Accept-Language": "en", "Accept": "text/html"})
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "This page or resource does not exist." in page.text


def test_a_crash_shows_a_kind_message_and_no_stack_trace(app, client):
    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    response = client.get("/api/v1/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert response.json()["type"] == "https://parvis.city/problems/internal-error"
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_unknown_fields_are_refused_for_privileged_writes(client, db, settings):
    headers = _admin_bearer(client, db, settings)
    dep = client.post("/api/v1/departments", json={"code": "w", "name": "W", "id": 99}, headers=headers)
    assert dep.status_code == 422 and dep.json()["errors"][0]["field"] == "id"
