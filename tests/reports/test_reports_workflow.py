"""The city's workflow and the citizen's follow-up, through the JSON API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

import factories
from parvis.kernel.db import utcnow
from parvis.kernel.jobs import Worker
from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.reports import actions
from parvis.modules.reports.models import Report
from web_helpers import bearer

POTHOLE = {"category": "NID", "description": "Trou", "lon": 107.005, "lat": 16.005,
           "attributes": {"size": "small"}}


@pytest.fixture
def filed(client, db, settings, city):
    factories.citizen(db, settings, "+84912346001")
    citizen = bearer(client, "+84912346001")
    report = client.post("/api/v1/reports", json=POTHOLE, headers=citizen).json()
    return report["id"], citizen


def _sms_to(db, number):
    with db.read() as session:
        return [m.body for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == number, OutboxMessage.purpose == "reports.update")
            .order_by(OutboxMessage.id))]


def test_agent_moves_a_report_to_resolution_and_the_citizen_is_told_each_time(client, db, filed):
    report_id, _citizen = filed
    agent = bearer(client, "roads.agent@example.org")
    for status, comment in (("acknowledged", "Vu"), ("in_progress", "Équipe en route"),
                            ("resolved", "Rebouché")):
        response = client.post(f"/api/v1/reports/{report_id}/status", json={"status": status,
                                                                           "comment": comment}, headers=agent)
        assert response.status_code == 200, response.text
    messages = _sms_to(db, "+84912346001")
    assert len(messages) == 4  # received + three public updates
    assert "Rebouché" in messages[-1]
    public = client.get(f"/api/v1/reports/{report_id}").json()
    assert [u["status"] for u in public["timeline"]] == ["new", "acknowledged", "in_progress", "resolved"]


def test_impossible_transition_and_rejection_without_reason_are_refused(client, filed):
    report_id, _citizen = filed
    agent = {**bearer(client, "roads.agent@example.org"), "Accept-Language": "en"}
    closed = client.post(f"/api/v1/reports/{report_id}/status", json={"status": "closed"}, headers=agent)
    assert closed.status_code == 409 and "cannot become" in closed.json()["detail"]
    rejected = client.post(f"/api/v1/reports/{report_id}/status", json={"status": "rejected"}, headers=agent)
    assert rejected.status_code == 422
    referred = client.post(f"/api/v1/reports/{report_id}/status", headers=agent, json={
        "status": "rejected", "reject_reason": "not_city", "referred_to": "Province"})
    assert referred.status_code == 200


def test_an_agent_of_another_department_cannot_act_until_transferred(client, filed):
    report_id, _citizen = filed
    water = bearer(client, "water.agent@example.org")
    roads = bearer(client, "roads.agent@example.org")
    assert client.post(f"/api/v1/reports/{report_id}/status", json={"status": "acknowledged"},
                       headers=water).status_code == 403
    assert "reporter_phone" not in client.get(f"/api/v1/reports/{report_id}", headers=water).json()
    water_id = client.get("/api/v1/departments").json()
    water_id = next(d["id"] for d in water_id if d["code"] == "water")
    moved = client.post(f"/api/v1/reports/{report_id}/transfer", headers=roads,
                        json={"department_id": water_id, "reason": "Conduite cassée sous la route"})
    assert moved.status_code == 200
    assert client.post(f"/api/v1/reports/{report_id}/status", json={"status": "acknowledged"},
                       headers=water).status_code == 200
    assert client.post(f"/api/v1/reports/{report_id}/status", json={"status": "in_progress"},
                       headers=roads).status_code == 403
    kinds = [u["kind"] for u in client.get(f"/api/v1/reports/{report_id}").json()["timeline"]]
    assert "transfer" in kinds


def test_internal_notes_are_never_public(client, filed):
    report_id, citizen = filed
    agent = bearer(client, "roads.agent@example.org")
    client.post(f"/api/v1/reports/{report_id}/comments", json={"text": "Secret interne", "public": False},
                headers=agent)
    client.post(f"/api/v1/reports/{report_id}/comments", json={"text": "Merci, nous passons.", "public": True},
                headers=agent)
    for headers in ({}, citizen):
        text = client.get(f"/api/v1/reports/{report_id}", headers=headers).text
        assert "Secret interne" not in text and "Merci, nous passons." in text
    assert "Secret interne" not in client.get(f"/reports/{report_id}").text
    assert "Secret interne" in client.get(f"/api/v1/reports/{report_id}", headers=agent).text


def test_citizen_reopens_within_the_allowed_days_then_rates(client, db, settings, filed):
    report_id, citizen = filed
    agent = bearer(client, "roads.agent@example.org")
    client.post(f"/api/v1/reports/{report_id}/status", json={"status": "resolved"}, headers=agent)
    reopened = client.post(f"/api/v1/reports/{report_id}/reopen", json={"reason": "Toujours là"},
                           headers=citizen)
    assert reopened.json()["status"] == "in_progress"
    client.post(f"/api/v1/reports/{report_id}/status", json={"status": "resolved"}, headers=agent)
    with db.transaction() as session:
        session.get(Report, report_id).resolved_at = utcnow() - timedelta(days=settings.reports_reopen_days + 1)
    late = client.post(f"/api/v1/reports/{report_id}/reopen", json={"reason": "Encore"}, headers=citizen)
    assert late.status_code == 409
    rated = client.post(f"/api/v1/reports/{report_id}/rating", json={"rating": 4}, headers=citizen)
    assert rated.json() == {"id": report_id, "status": "closed", "rating": 4}
    other = factories.citizen(db, settings, "+84912346002")
    assert other
    stranger = bearer(client, "+84912346002")
    assert client.post(f"/api/v1/reports/{report_id}/rating", json={"rating": 1},
                       headers=stranger).status_code == 403


def test_merging_a_duplicate_moves_its_supporters(client, db, settings, filed):
    report_id, _citizen = filed
    factories.citizen(db, settings, "+84912346003")
    dup = client.post("/api/v1/reports", json=POTHOLE, headers=bearer(client, "+84912346003")).json()
    agent = bearer(client, "roads.agent@example.org")
    response = client.post(f"/api/v1/reports/{dup['id']}/status", headers=agent, json={
        "status": "rejected", "reject_reason": "duplicate", "duplicate_of": report_id})
    assert response.status_code == 200
    assert client.get(f"/api/v1/reports/{report_id}").json()["interest_count"] == 2


def test_overdue_reports_are_escalated_to_the_supervisor_once(client, db, settings, filed, app):
    report_id, _citizen = filed
    with db.transaction() as session:
        session.get(Report, report_id).due_ack_at = utcnow() - timedelta(hours=1)
    assert actions.escalate_overdue(db, settings) == 1
    assert actions.escalate_overdue(db, settings) == 0
    with db.read() as session:
        mails = list(session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "reports.escalation")))
    assert [m.recipient for m in mails] == ["roads.supervisor@example.org"]
    queue = client.get("/api/v1/reports/queue", params={"overdue": True},
                       headers=bearer(client, "roads.agent@example.org")).json()
    assert [r["id"] for r in queue["items"]] == [report_id] and queue["items"][0]["overdue"] is True


def test_stats_and_csv_export_for_the_department(client, db, settings, filed):
    report_id, _citizen = filed
    agent = bearer(client, "roads.agent@example.org")
    client.post(f"/api/v1/reports/{report_id}/status", json={"status": "acknowledged"}, headers=agent)
    with db.transaction() as session:
        report = session.get(Report, report_id)
        report.acknowledged_at = report.created_at + timedelta(hours=3)
    stats = client.get("/api/v1/reports/stats", headers=agent).json()
    assert stats == [{"department": "Voirie", "category": "Nid-de-poule", "total": 1, "open": 1,
                      "resolved": 0, "median_hours_to_acknowledge": 3.0, "median_hours_to_resolve": None,
                      "overdue_share": 0.0, "satisfaction": None, "ratings": 0}]
    csv_text = client.get("/api/v1/reports/export.csv", headers=agent).text
    assert csv_text.splitlines()[0].startswith("id,created_at,category,status")
    assert f"{report_id}," in csv_text and "+84912346001" not in csv_text
    water = bearer(client, "water.agent@example.org")
    assert client.get("/api/v1/reports/stats", headers=water).json() == []


def test_the_worker_runs_the_escalation_tick(db, settings, app, filed):
    report_id, _citizen = filed
    with db.transaction() as session:
        session.get(Report, report_id).due_ack_at = utcnow() - timedelta(hours=1)
    Worker(db, app.state.registry).run_once()
    with db.read() as session:
        assert session.get(Report, report_id).escalated_at is not None


def test_a_reporter_without_an_account_is_answered_in_their_language(client, db, city):
    """Someone without an account reports in Vietnamese: the SMS with the number and each later
    update come in Vietnamese, not in the city's default French; a hotline agent can name the
    caller's language."""
    anonymous = client.post("/api/v1/reports", json={**POTHOLE, "phone": "+84912346077"},
                            headers={"Accept-Language": "vi"})
    assert anonymous.status_code == 201, anonymous.text
    agent = bearer(client, "roads.agent@example.org")
    response = client.post(f"/api/v1/reports/{anonymous.json()['id']}/status",
                           json={"status": "acknowledged"}, headers=agent)
    assert response.status_code == 200, response.text
    received, acknowledged = _sms_to(db, "+84912346077")
    assert "phản ánh" in received and "Follow" not in received and "Suivez" not in received
    assert "phản ánh" in acknowledged
    caller = client.post("/api/v1/reports", headers=agent,
                         json={**POTHOLE, "phone": "+84912346078", "language": "en"})
    assert caller.status_code == 201, caller.text
    [sms] = _sms_to(db, "+84912346078")
    assert "your report" in sms
