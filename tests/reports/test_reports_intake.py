"""Filing a report: located, routed, clocked, confirmed to the reporter; bad input refused whole."""

from __future__ import annotations

from sqlalchemy import func, select

import factories
from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.reports import configuration
from parvis.modules.reports.models import Report
from web_helpers import bearer

POTHOLE = {"category": "NID", "description": "Trou profond", "lon": 107.005, "lat": 16.005,
           "attributes": {"size": "large"}}


def _count(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Report))


def test_citizen_reports_a_pothole_and_gets_its_number_by_sms(client, db, settings, city):
    factories.citizen(db, settings, "+84912345001")
    headers = bearer(client, "+84912345001")
    response = client.post("/api/v1/reports", json=POTHOLE, headers=headers)
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["status"] == "new" and report["district"] == "District S"
    assert report["department"] == "Voirie" and report["category"] == "NID"
    with db.read() as session:
        sms = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "reports.update")).one()
        stored = session.get(Report, report["id"])
    assert sms.recipient == "+84912345001" and f"/reports/{report['id']}" in sms.body
    assert stored.due_ack_at > stored.created_at and stored.attributes == {"size": "large"}
    mine = client.get("/api/v1/reports/mine", headers=headers).json()
    assert [r["id"] for r in mine] == [report["id"]]


def test_routing_table_overrides_the_category_default(client, db, settings, city):
    configuration.set_route(db, None, _category_id(db, "NID"), city.north, city.water)
    factories.citizen(db, settings, "+84912345002")
    headers = bearer(client, "+84912345002")
    north = client.post("/api/v1/reports", json={**POTHOLE, "lat": 16.015}, headers=headers).json()
    south = client.post("/api/v1/reports", json=POTHOLE, headers=headers).json()
    assert north["department"] == "Eau" and south["department"] == "Voirie"


def _category_id(db, code):
    from parvis.modules.reports import queries

    with db.read() as session:
        return queries.category_by_code(session, code).id


def test_bad_reports_are_refused_with_a_clear_message_and_nothing_written(client, db, settings, city):
    factories.citizen(db, settings, "+84912345003")
    headers = {**bearer(client, "+84912345003"), "Accept-Language": "en"}
    cases = [
        ({**POTHOLE, "lon": 100.0, "lat": 10.0}, 422, "outside-city", "inside the city"),
        ({**POTHOLE, "category": "ZZZ"}, 422, "unknown-category", None),
        ({**POTHOLE, "attributes": {}}, 422, "validation-error", "questions"),
        ({**POTHOLE, "attributes": {"size": "huge"}}, 422, "validation-error", None),
        ({**POTHOLE, "description": "x" * 4001}, 422, "validation-error", None),
        ({"category": "NID", "attributes": {"size": "small"}}, 422, "validation-error", "map"),
        ({**POTHOLE, "status": "closed"}, 422, "validation-error", None),
    ]
    for body, status, slug, words in cases:
        response = client.post("/api/v1/reports", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        problem = response.json()
        assert problem["type"].endswith("/" + slug), problem
        if words:
            assert words in problem.get("detail", ""), problem
    assert _count(db) == 0


def test_private_category_fuzzes_the_public_position(client, db, settings, city):
    factories.citizen(db, settings, "+84912345004")
    headers = bearer(client, "+84912345004")
    body = {"category": "BRUIT", "lon": 107.00123, "lat": 16.00456}
    report = client.post("/api/v1/reports", json=body, headers=headers).json()
    public = client.get(f"/api/v1/reports/{report['id']}").json()
    assert (public["lon"], public["lat"]) != (107.00123, 16.00456)
    assert abs(public["lon"] - 107.00123) < 0.003 and abs(public["lat"] - 16.00456) < 0.003
    markers = client.get("/api/v1/reports/map").json()["features"]
    assert markers[0]["geometry"]["coordinates"] == [public["lon"], public["lat"]]


def test_contact_details_are_never_public(client, db, settings, city):
    factories.citizen(db, settings, "+84912345005")
    headers = bearer(client, "+84912345005")
    report = client.post("/api/v1/reports", json=POTHOLE, headers=headers).json()
    for url in (f"/api/v1/reports/{report['id']}", "/api/v1/reports", "/api/v1/reports/map",
                f"/reports/{report['id']}", "/reports"):
        assert "+84912345005" not in client.get(url).text, url
    factories.citizen(db, settings, "+84912345006")
    other = bearer(client, "+84912345006")
    assert "+84912345005" not in client.get(f"/api/v1/reports/{report['id']}", headers=other).text
    staff = bearer(client, "roads.agent@example.org")
    assert client.get(f"/api/v1/reports/{report['id']}", headers=staff).json()["reporter_phone"] == \
        "+84912345005"


def test_anonymous_reports_need_a_contact_and_are_throttled_per_address(client, db, settings, city):
    refused = client.post("/api/v1/reports", json=POTHOLE, headers={"Accept-Language": "en"})
    assert refused.status_code == 422 and "phone number or an e-mail" in refused.json()["detail"]
    body = {**POTHOLE, "phone": "+84912345007", "contact_channel": "sms"}
    for _ in range(settings.reports_anonymous_per_hour):
        assert client.post("/api/v1/reports", json=body).status_code == 201
    burst = client.post("/api/v1/reports", json=body)
    assert burst.status_code == 429 and burst.headers["retry-after"] == "3600"
    assert _count(db) == settings.reports_anonymous_per_hour


def test_me_too_counts_each_person_once_and_nearby_lists_open_reports(client, db, settings, city):
    factories.citizen(db, settings, "+84912345008")
    factories.citizen(db, settings, "+84912345009")
    report = client.post("/api/v1/reports", json=POTHOLE, headers=bearer(client, "+84912345008")).json()
    nearby = client.get("/api/v1/reports/nearby", params={"category": "NID", "lon": 107.0051,
                                                            "lat": 16.0051}).json()
    assert [r["id"] for r in nearby] == [report["id"]] and nearby[0]["distance_m"] < 20
    far = client.get("/api/v1/reports/nearby", params={"category": "NID", "lon": 107.009, "lat": 16.009})
    assert far.json() == []
    other = bearer(client, "+84912345009")
    assert client.post(f"/api/v1/reports/{report['id']}/support", headers=other).json() == {"interest_count": 2}
    assert client.post(f"/api/v1/reports/{report['id']}/support", headers=other).json() == {"interest_count": 2}


def test_hotline_agent_files_for_a_caller_who_then_gets_the_sms(client, db, settings, city):
    agent = bearer(client, "roads.agent@example.org")
    response = client.post("/api/v1/reports", headers=agent, json={
        **POTHOLE, "name": "Bà Hoa", "phone": "+84912345010", "contact_channel": "sms"})
    assert response.status_code == 201, response.text
    with db.read() as session:
        report = session.get(Report, response.json()["id"])
        sms = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "+84912345010")).one()
    assert (report.source, report.reporter_id, report.reporter_name) == ("hotline", None, "Bà Hoa")
    assert f"/reports/{report.id}" in sms.body
    no_contact = client.post("/api/v1/reports", headers=agent, json=POTHOLE)
    assert no_contact.status_code == 422
