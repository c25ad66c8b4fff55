"""Reports by SMS through the gateway's inbound webhook: located, to be located, or helped."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from parvis.kernel.jobs import Worker
from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.reports.models import Report
from web_helpers import bearer


def _inbound(client, settings, sender: str, text: str, ref: str):
    response = client.get("/api/v1/notify/sms/inbound", params={
        "token": settings.sms_inbound_token, "from": sender, "to": "1022", "text": text, "id": ref})
    assert response.status_code == 200, response.text


def _replies(db, sender):
    with db.read() as session:
        return [m.body for m in session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == sender)
                                                .order_by(OutboxMessage.id))]


@pytest.mark.parametrize("text, located", [
    ("NID S Trou énorme devant l'école", True),
    ("nid district s trou", True),  # the district named by its name, any case
    ("nid quelque part trou", False),  # no district named: to be located
    ("EAU N fuite sous le trottoir", True),
])
def test_sms_with_the_short_syntax_creates_a_report(client, db, settings, city, app, text, located):
    _inbound(client, settings, "+84912347001", text, ref="sms-1")
    Worker(db, app.state.registry).run_once()
    with db.read() as session:
        report = session.scalars(select(Report)).one()
    assert report.source == "sms" and report.reporter_phone == "+84912347001"
    assert report.needs_location is (not located)
    if located:
        assert report.district_id in (city.north, city.south) and report.lon is not None
    assert any(f"/reports/{report.id}" in body for body in _replies(db, "+84912347001"))


def test_vietnamese_district_name_without_accents_is_understood(client, db, settings, app):
    import factories
    from parvis.modules.reports import configuration
    from parvis.modules.reports.schemas import CategoryCreate

    roads = factories.department(db)
    from parvis.modules.city import actions as city_actions
    from parvis.modules.city.schemas import DistrictCreate

    city_actions.create_district(db, None, DistrictCreate(code="TC", name="Thành Cổ",
                                                          geometry=factories.square(107, 16)))
    configuration.create_category(db, None, CategoryCreate(code="LAMP", name="Lampadaire", department_id=roads))
    _inbound(client, settings, "+84912347002", "lamp thanh co den tat ca tuan", ref="sms-2")
    Worker(db, app.state.registry).run_once()
    with db.read() as session:
        report = session.scalars(select(Report)).one()
    assert report.needs_location is False and report.description == "den tat ca tuan"


def test_unknown_code_goes_to_the_fallback_queue_and_garbage_gets_help(client, db, settings, city, app):
    _inbound(client, settings, "+84912347003", "Cây đổ chắn đường trước nhà văn hóa", ref="sms-3")
    _inbound(client, settings, "+84912347004", "?", ref="sms-4")
    Worker(db, app.state.registry).run_once()
    with db.read() as session:
        reports = list(session.scalars(select(Report)))
    assert len(reports) == 1 and reports[0].needs_location and reports[0].category_id
    help_text = _replies(db, "+84912347004")
    assert len(help_text) == 1 and "NID" in help_text[0]
    queue = client.get("/api/v1/reports/queue", params={"needs_location": True},
                       headers=bearer(client, "roads.agent@example.org")).json()
    assert [r["id"] for r in queue["items"]] == [reports[0].id]


def test_the_same_sms_delivered_twice_makes_one_report(client, db, settings, city, app):
    _inbound(client, settings, "+84912347005", "NID S trou", ref="dup-1")
    _inbound(client, settings, "+84912347005", "NID S trou", ref="dup-1")
    Worker(db, app.state.registry).run_once()
    with db.read() as session:
        assert len(list(session.scalars(select(Report)))) == 1


def test_status_changes_reach_the_sms_reporter(client, db, settings, city, app):
    _inbound(client, settings, "+84912347006", "NID S trou", ref="sms-6")
    Worker(db, app.state.registry).run_once()
    with db.read() as session:
        report_id = session.scalars(select(Report.id)).one()
    client.post(f"/api/v1/reports/{report_id}/status", json={"status": "acknowledged", "comment": "OK"},
                headers=bearer(client, "roads.agent@example.org"))
    assert len(_replies(db, "+84912347006")) == 2
