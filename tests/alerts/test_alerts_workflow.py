"""The city's alert workflow through the API: compose, approve (two people for an Actual alert),
edit, update, cancel; every write audited."""

from __future__ import annotations

from datetime import timedelta

from alerts_factories import (
    IN_EAST,
    IN_WEST,
    body,
    deliveries,
    outbox,
    run_jobs,
    sent_alert,
    subscriber,
)
from sqlalchemy import select

from factories import PASSWORD
from parvis.kernel.audit import AuditEntry
from parvis.kernel.notify import Channel, FakeAdapter, dispatch_due
from web_helpers import bearer

PROBLEM = "https://parvis.city/problems/"


def _audit_actions(db) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_an_agent_composes_and_a_supervisor_approves(client, db, city, registry):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    agent = bearer(client, "agent@example.org", PASSWORD)
    supervisor = bearer(client, "supervisor@example.org", PASSWORD)
    draft = client.post("/api/v1/alerts", json=body(area={"district_ids": [city.west]}), headers=agent)
    assert draft.status_code == 201, draft.text
    alert = draft.json()
    assert alert["state"] == "draft" and alert["msg_type"] == "Alert" and alert["sent"] is None
    assert alert["missing_languages"] == ["en", "km", "ar"]
    assert alert["cap_url"] is None
    # The agent holds no approver role; the supervisor does.
    refused = client.post(f"/api/v1/alerts/{alert['id']}/approve", headers=agent)
    assert refused.status_code == 403
    approved = client.post(f"/api/v1/alerts/{alert['id']}/approve", headers=supervisor)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved" and approved.json()["sent"]
    assert approved.json()["approver_id"] == city.supervisor.user_id
    assert run_jobs(db, registry) == 1
    assert [d.person for d in deliveries(db, alert["id"])] == ["phone:+84900000001"]
    assert client.get(f"/api/v1/alerts/{alert['id']}", headers=agent).json()["deliveries"] == {
        "sms": {"queued": 1}}
    assert _audit_actions(db)[-2:] == ["alerts.compose", "alerts.approve"]


def test_an_actual_alert_needs_an_approver_who_is_not_its_author(client, db, city):
    supervisor = bearer(client, "supervisor@example.org", PASSWORD)
    admin = bearer(client, "admin@example.org", PASSWORD)
    alert_id = client.post("/api/v1/alerts", json=body(area={"district_ids": [city.west]}),
                           headers=supervisor).json()["id"]
    own = client.post(f"/api/v1/alerts/{alert_id}/approve", headers=supervisor)
    assert own.status_code == 403
    assert own.headers["content-type"] == "application/problem+json"
    assert own.json()["type"] == PROBLEM + "alert-approver-is-author"
    assert client.get(f"/api/v1/alerts/{alert_id}", headers=supervisor).json()["state"] == "draft"
    assert client.post(f"/api/v1/alerts/{alert_id}/approve", headers=admin).status_code == 200
    again = client.post(f"/api/v1/alerts/{alert_id}/approve", headers=admin)
    assert again.status_code == 409 and again.json()["type"] == PROBLEM + "alert-not-draft"


def test_an_exercise_may_be_approved_by_its_author_and_reaches_testers_only(client, db, city, registry):
    subscriber(db, phone="+84900000001", point=IN_WEST, tester=True)
    subscriber(db, phone="+84900000002", point=IN_WEST)
    supervisor = bearer(client, "supervisor@example.org", PASSWORD)
    for status in ("Exercise", "Test"):
        alert_id = client.post("/api/v1/alerts", json=body(status=status, area={"district_ids": [city.west]}),
                               headers=supervisor).json()["id"]
        assert client.get(f"/api/v1/alerts/{alert_id}/preview", headers=supervisor).json()["people"] == 1
        assert client.post(f"/api/v1/alerts/{alert_id}/approve", headers=supervisor).status_code == 200
        run_jobs(db, registry)
        assert [d.person for d in deliveries(db, alert_id)] == ["phone:+84900000001"]
        marked = {"Exercise": "[EXERCICE] ", "Test": "[TEST] "}[status]  # in French, the city's language
        assert outbox(db, alert_id)[0].body.startswith(marked)


def test_an_alert_without_the_default_language_cannot_be_approved(client, db, city):
    agent = bearer(client, "agent@example.org", PASSWORD)
    admin = bearer(client, "admin@example.org", PASSWORD)
    only_vi = body(area={"district_ids": [city.west]}, infos=[{"language": "vi", "headline": "Lũ"}])
    alert_id = client.post("/api/v1/alerts", json=only_vi, headers=agent).json()["id"]
    refused = client.post(f"/api/v1/alerts/{alert_id}/approve", headers=admin)
    assert refused.status_code == 422 and refused.json()["type"] == PROBLEM + "alert-missing-language"


def test_a_draft_can_be_edited_until_it_is_approved(client, db, city):
    agent = bearer(client, "agent@example.org", PASSWORD)
    admin = bearer(client, "admin@example.org", PASSWORD)
    alert_id = client.post("/api/v1/alerts", json=body(area={"district_ids": [city.west]}),
                           headers=agent).json()["id"]
    edited = client.put(f"/api/v1/alerts/{alert_id}", headers=agent,
                        json=body(event="Typhon", area={"district_ids": [city.east]}))
    assert edited.status_code == 200, edited.text
    assert edited.json()["event"] == "Typhon" and edited.json()["area"]["district_ids"] == [city.east]
    assert edited.json()["area"]["bbox"][0] == 106.72
    client.post(f"/api/v1/alerts/{alert_id}/approve", headers=admin)
    late = client.put(f"/api/v1/alerts/{alert_id}", headers=agent, json=body(area={"district_ids": [city.west]}))
    assert late.status_code == 409 and late.json()["type"] == PROBLEM + "alert-not-draft"


def test_an_update_is_a_new_message_that_replaces_the_original_once_approved(client, db, city, registry):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    subscriber(db, phone="+84900000002", point=IN_EAST)
    agent = bearer(client, "agent@example.org", PASSWORD)
    admin = bearer(client, "admin@example.org", PASSWORD)
    original = sent_alert(client.app.state.db, client.app.state.settings, city,
                          area={"district_ids": [city.west]})
    run_jobs(db, registry)
    update = client.post(f"/api/v1/alerts/{original}/update", headers=agent,
                         json=body(area={"district_ids": [city.west, city.east]}, severity="Extreme"))
    assert update.status_code == 201, update.text
    new = update.json()
    assert new["msg_type"] == "Update" and new["references_id"] == original and new["state"] == "draft"
    assert new["identifier"] != client.get(f"/api/v1/alerts/{original}", headers=agent).json()["identifier"]
    assert client.get(f"/api/v1/alerts/{original}", headers=agent).json()["active"] is True
    assert client.post(f"/api/v1/alerts/{new['id']}/approve", headers=admin).status_code == 200
    old = client.get(f"/api/v1/alerts/{original}", headers=agent).json()
    assert old["replaced_by_id"] == new["id"] and old["active"] is False
    run_jobs(db, registry)
    assert {d.person for d in deliveries(db, new["id"])} == {"phone:+84900000001", "phone:+84900000002"}
    assert all(m.body.startswith("[MISE À JOUR] ") for m in outbox(db, new["id"]))
    # The replaced message can no longer be updated; the current one can.
    stale = client.post(f"/api/v1/alerts/{original}/update", headers=agent, json=body(
        area={"district_ids": [city.west]}))
    assert stale.status_code == 409 and stale.json()["type"] == PROBLEM + "alert-not-active"


def test_cancel_withdraws_queued_messages_and_tells_those_already_reached(client, db, settings, city, registry):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    subscriber(db, email="late@example.org", point=IN_WEST, channels=("email",))
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    run_jobs(db, registry)
    # The SMS went out before the cancel; the e-mail is still waiting in the outbox.
    sms = FakeAdapter(Channel.SMS)
    assert dispatch_due(db, {Channel.SMS: sms}, settings) == 1
    agent = bearer(client, "agent@example.org", PASSWORD)
    supervisor = bearer(client, "supervisor@example.org", PASSWORD)
    assert client.post(f"/api/v1/alerts/{alert_id}/cancel", headers=agent).status_code == 403
    cancelled = client.post(f"/api/v1/alerts/{alert_id}/cancel", headers=supervisor,
                            json={"note": "Fausse alerte"})
    assert cancelled.status_code == 200, cancelled.text
    message = cancelled.json()
    assert message["msg_type"] == "Cancel" and message["references_id"] == alert_id
    assert client.get(f"/api/v1/alerts/{alert_id}", headers=agent).json()["state"] == "cancelled"
    states = {d.channel: d.state for d in deliveries(db, alert_id)}
    assert states == {"sms": "sent", "email": "cancelled"}  # the gateway took the SMS
    email = next(m for m in outbox(db, alert_id) if m.channel == "email")
    assert email.status == "failed" and "cancelled" in email.last_error
    email_box = FakeAdapter(Channel.EMAIL)
    assert dispatch_due(db, {Channel.EMAIL: email_box}, settings) == 0  # nothing left to send
    run_jobs(db, registry)
    told = deliveries(db, message["id"])
    assert [(d.person, d.channel) for d in told] == [("phone:+84900000001", "sms")]
    assert outbox(db, message["id"])[0].body.startswith("[ANNULÉE] ")
    again = client.post(f"/api/v1/alerts/{alert_id}/cancel", headers=supervisor)
    assert again.status_code == 409
    assert "alerts.cancel" in _audit_actions(db)


def test_a_cancel_before_the_fan_out_sends_nothing(client, db, settings, city, registry):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    supervisor = bearer(client, "supervisor@example.org", PASSWORD)
    assert client.post(f"/api/v1/alerts/{alert_id}/cancel", headers=supervisor).status_code == 200
    run_jobs(db, registry)
    assert deliveries(db, alert_id) == [] and outbox(db, alert_id) == []


def test_an_alert_that_expired_meanwhile_cannot_be_approved(client, db, settings, city):
    from sqlalchemy import update

    from parvis.kernel.db import utcnow
    from parvis.modules.alerts.models import Alert

    agent = bearer(client, "agent@example.org", PASSWORD)
    admin = bearer(client, "admin@example.org", PASSWORD)
    alert_id = client.post("/api/v1/alerts", json=body(area={"district_ids": [city.west]}),
                           headers=agent).json()["id"]
    with db.transaction() as session:
        session.execute(update(Alert).where(Alert.id == alert_id).values(expires=utcnow() - timedelta(minutes=1)))
    refused = client.post(f"/api/v1/alerts/{alert_id}/approve", headers=admin)
    assert refused.status_code == 422 and refused.json()["type"] == PROBLEM + "alert-expired"
