"""GET requests, one request, tokens and FixMyStreet's servicerequestupdates: public data only."""

from __future__ import annotations

from datetime import timedelta

from open311_support import (  # noqa: F401 (fixtures)
    EMAIL,
    LAT,
    LON,
    PHONE,
    W3C,
    children,
    open311_city_fixture,
    parse_xml,
    post_fixture,
    validate_fixture,
)
from sqlalchemy import update

import factories
from parvis.kernel.auth import Principal, Role
from parvis.kernel.db import utcnow
from parvis.modules.reports import actions, rules
from parvis.modules.reports.models import Report
from parvis.modules.reports.open311_api import REQUESTS_DAYS
from parvis.modules.reports.schemas import StatusChange


def file(post, **fields) -> str:
    response = post(**fields)
    assert response.status_code == 200, response.text
    return response.json()[0]["service_request_id"]


def admin(db, settings) -> Principal:
    user_id = factories.staff(db, settings, "admin@example.org", "admin")
    return Principal(user_id=user_id, role=Role.ADMIN, all_departments=True, display_name="admin")


def ids_of(client, query: str = "") -> list[str]:
    response = client.get(f"/open311/v2/requests.json{query}")
    assert response.status_code == 200, response.text
    return [item["service_request_id"] for item in response.json()]


def test_requests_json_is_valid_newest_first_and_xml_has_the_spec_elements(client, open311_city, post, validate):
    first = file(post)
    second = file(post, service_code="LIGHT", **{"attribute[depth]": None})
    items = client.get("/open311/v2/requests.json").json()
    validate(items, "requests.json")
    assert [i["service_request_id"] for i in items] == [second, first]
    assert items[1]["status"] == "open" and items[1]["agency_responsible"] == "Travaux D1"
    assert W3C.match(items[1]["expected_datetime"]) and items[1]["requested_datetime"].endswith("+07:00")
    root = parse_xml(client.get("/open311/v2/requests.xml"))
    assert root.tag == "service_requests"
    assert children(root[0]) == [
        "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
        "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
        "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]


def test_filters_by_service_code_status_and_ids(client, db, settings, open311_city, post):
    pot = file(post)
    light = file(post, service_code="LIGHT", **{"attribute[depth]": None})
    abuse = file(post, service_code="ABUSE", **{"attribute[depth]": None})
    actions.change_status(db, settings, admin(db, settings), int(light),
                          StatusChange(status="resolved", comment="Bulb replaced"))
    assert ids_of(client, "?service_code=LIGHT") == [light]
    assert set(ids_of(client, "?service_code=pot,ABUSE")) == {pot, abuse}
    assert set(ids_of(client, "?status=open")) == {pot, abuse}
    assert ids_of(client, "?status=closed") == [light]
    assert set(ids_of(client, "?status=open,closed")) == {pot, light, abuse}
    assert client.get("/open311/v2/requests.json?status=pending").status_code == 400
    # service_request_id wins over every other filter
    assert set(ids_of(client, f"?service_request_id={pot},{light}&status=closed&service_code=ABUSE")) \
        == {pot, light}
    assert ids_of(client, "?service_request_id=999,abc") == []
    [item] = client.get(f"/open311/v2/requests/{light}.json").json()
    assert (item["status"], item["status_notes"]) == ("closed", "Bulb replaced")


def test_default_window_is_the_last_90_days(client, db, open311_city, post):
    old, recent = file(post), file(post)
    with db.transaction() as session:
        session.execute(update(Report).where(Report.id == int(old)).values(
            created_at=utcnow() - timedelta(days=REQUESTS_DAYS + 10)))
    assert ids_of(client) == [recent]
    since = (utcnow() - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids_of(client, f"?start_date={since}") == [recent, old]
    until = (utcnow() - timedelta(days=95)).strftime("%Y-%m-%dT%H:%M:%S+00:00").replace("+", "%2B")
    assert ids_of(client, f"?start_date={since}&end_date={until}") == [old]
    assert ids_of(client, f"?service_request_id={old}") == [old]
    response = client.get("/open311/v2/requests.json?start_date=yesterday")
    assert response.status_code == 400 and "start_date" in response.json()[0]["description"]


def test_private_categories_show_the_fuzzed_position(client, db, open311_city, post):
    report_id = file(post, service_code="ABUSE", **{"attribute[depth]": None})
    [item] = client.get(f"/open311/v2/requests/{report_id}.json").json()
    fuzz_lon, fuzz_lat = rules.fuzz(LON, LAT)
    assert (item["lat"], item["long"]) == (fuzz_lat, fuzz_lon)
    assert (item["lat"], item["long"]) != (LAT, LON)
    root = parse_xml(client.get(f"/open311/v2/requests/{report_id}.xml"))
    assert float(root.findtext("request/lat")) == fuzz_lat


def test_no_contact_detail_ever_leaves_through_open311(client, db, settings, open311_city, post):
    report_id = file(post, email=EMAIL, first_name="Secretname", last_name="Hidden")
    actor = admin(db, settings)
    actions.add_comment(db, settings, actor, int(report_id), "Team on its way", public=True)
    actions.add_comment(db, settings, actor, int(report_id), "Internal: call back at home", public=False)
    token = post().json()[0]["token"]
    paths = ["requests.json", "requests.xml", f"requests/{report_id}.json", f"requests/{report_id}.xml",
             "servicerequestupdates.json", "servicerequestupdates.xml", f"tokens/{token}.json"]
    for path in paths:
        body = client.get(f"/open311/v2/{path}").text
        for secret in (PHONE, PHONE[3:], EMAIL, "Secretname", "Hidden", "call back at home"):
            assert secret not in body, (path, secret)


def test_one_request_and_tokens(client, open311_city, post):
    response = post()
    created = response.json()[0]
    [item] = client.get(f"/open311/v2/tokens/{created['token']}.json").json()
    assert item == {"service_request_id": created["service_request_id"], "token": created["token"]}
    root = parse_xml(client.get(f"/open311/v2/tokens/{created['token']}.xml"))
    assert root.tag == "service_requests" and children(root[0]) == ["service_request_id", "token"]
    assert client.get("/open311/v2/tokens/unknown.json").status_code == 404
    for missing in ("999", "abc"):
        response = client.get(f"/open311/v2/requests/{missing}.xml")
        assert response.status_code == 404 and parse_xml(response).findtext("error/code") == "404"


def test_rejected_requests_explain_themselves(client, db, settings, open311_city, post):
    report_id = file(post)
    actions.change_status(db, settings, admin(db, settings), int(report_id), StatusChange(
        status="rejected", reject_reason="not_city", referred_to="Provincial roads office"))
    [item] = client.get(f"/open311/v2/requests/{report_id}.json", headers={"Accept-Language": "en"}).json()
    assert item["status"] == "closed"
    assert item["status_notes"] == "Not the city's responsibility: referred to Provincial roads office."


def test_service_request_updates_after_a_status_change(client, db, settings, open311_city, post):
    report_id = file(post)
    actor = admin(db, settings)
    actions.change_status(db, settings, actor, int(report_id), StatusChange(
        status="in_progress", comment="Crew scheduled"))
    actions.add_comment(db, settings, actor, int(report_id), "Internal note", public=False)
    actions.change_status(db, settings, actor, int(report_id), StatusChange(
        status="resolved", comment="Filled"))
    actions.add_comment(db, settings, actor, int(report_id), "Thanks for reporting", public=True)
    updates = client.get("/open311/v2/servicerequestupdates.json").json()
    assert [(u["service_request_id"], u["status"], u["description"]) for u in updates] == [
        (report_id, "open", "Crew scheduled"), (report_id, "closed", "Filled"),
        (report_id, "closed", "Thanks for reporting")]
    for update_item in updates:
        assert list(update_item) == ["update_id", "service_request_id", "status", "updated_datetime",
                                     "description", "media_url"]
        assert W3C.match(update_item["updated_datetime"])
    later = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert client.get(f"/open311/v2/servicerequestupdates.json?start_date={later}").json() == []
    root = parse_xml(client.get("/open311/v2/servicerequestupdates.xml"))
    assert root.tag == "service_request_updates"
    assert children(root) == ["request_update"] * 3
    assert children(root[0]) == ["update_id", "service_request_id", "status", "updated_datetime",
                                 "description", "media_url"]
