"""Admins manage agents from the back office: create, place in departments, search, deactivate."""

from __future__ import annotations

import factories
from factories import PASSWORD
from web_helpers import csrf_of, sign_in


def test_admin_creates_an_agent_who_can_then_sign_in(client, db, settings, app):
    roads = factories.department(db, "roads", "Voirie")
    factories.staff(db, settings, "admin@example.org", "admin")
    sign_in(client, "admin@example.org", PASSWORD)
    token = csrf_of(client, "/admin/agents/new")
    created = client.post("/admin/agents/new", data={
        "display_name": "Trần Văn Hùng", "email": "hung@example.org", "phone": "",
        "password": "agent-password", "role": "agent", "department_ids": [str(roads)],
        "csrf_token": token}, follow_redirects=False)
    assert created.status_code == 303
    listing = client.get("/admin/agents").text
    assert "Trần Văn Hùng" in listing and "Voirie" in listing
    from fastapi.testclient import TestClient

    with TestClient(app) as agent:
        sign_in(agent, "hung@example.org", "agent-password")
        assert "Voirie" in agent.get("/admin").text


def test_agent_form_errors_are_shown_next_to_the_form(client, db, settings):
    factories.staff(db, settings, "admin@example.org", "admin")
    sign_in(client, "admin@example.org", PASSWORD)
    token = csrf_of(client, "/admin/agents/new")
    response = client.post("/admin/agents/new", data={
        "display_name": "X", "email": "not-an-email", "password": "agent-password",
        "role": "agent", "csrf_token": token}, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert "This e-mail address is not valid." in response.text
    duplicate = client.post("/admin/agents/new", data={
        "display_name": "X", "email": "admin@example.org", "password": "agent-password",
        "role": "agent", "csrf_token": token}, headers={"Accept-Language": "en"})
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.text


def test_search_finds_agents_by_name_and_htmx_swaps_the_table(client, db, settings):
    factories.staff(db, settings, "admin@example.org", "admin")
    factories.staff(db, settings, "mai.water@example.org", "agent")
    factories.staff(db, settings, "son.roads@example.org", "agent")
    sign_in(client, "admin@example.org", PASSWORD)
    page = client.get("/admin/agents", params={"q": "MAI"}, headers={"HX-Request": "true"})
    assert "mai.water@example.org" in page.text and "son.roads@example.org" not in page.text
    assert 'id="agents"' in page.text


def test_deactivated_agent_is_signed_out_and_cannot_sign_in(client, db, settings, app):
    factories.staff(db, settings, "admin@example.org", "admin")
    agent_id = factories.staff(db, settings, "agent@example.org", "agent")
    from fastapi.testclient import TestClient

    with TestClient(app) as agent:
        sign_in(agent, "agent@example.org", PASSWORD)
        sign_in(client, "admin@example.org", PASSWORD)
        token = csrf_of(client, f"/admin/agents/{agent_id}")
        client.post(f"/admin/agents/{agent_id}", data={"display_name": "agent", "role": "agent",
                                                        "csrf_token": token})
        assert agent.get("/admin", follow_redirects=False).status_code == 303
        refused = agent.post("/api/v1/auth/token", data={"username": "agent@example.org",
                                                         "password": PASSWORD})
        assert refused.status_code == 401


def test_admin_cannot_remove_their_own_admin_role(client, db, settings):
    admin = factories.staff(db, settings, "admin@example.org", "admin")
    sign_in(client, "admin@example.org", PASSWORD)
    token = csrf_of(client, f"/admin/agents/{admin}")
    response = client.post(f"/admin/agents/{admin}", data={
        "display_name": "admin", "role": "agent", "is_active": "1", "csrf_token": token},
        headers={"Accept-Language": "en"})
    assert response.status_code == 409
    assert "You cannot remove your own administrator access." in response.text
