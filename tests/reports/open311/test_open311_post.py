"""POST requests: a keyed client files a report the way Open311 clients do (form-encoded)."""

from __future__ import annotations

import pytest
from open311_support import (  # noqa: F401 (fixtures)
    API_KEY,
    EMAIL,
    LAT,
    LON,
    PHONE,
    app_fixture,
    children,
    open311_city_fixture,
    parse_xml,
    post_fixture,
    validate_fixture,
)

import factories
from parvis.kernel.auth import Principal, Role
from parvis.modules.reports import configuration, queries


def stored(db, report_id: int):
    with db.read() as session:
        return queries.report(session, report_id)


def test_a_keyed_client_files_a_routed_report_with_its_answers(client, db, open311_city, post, validate):
    response = post(**{"attribute[lane]": "left", "attribute[hazards]": ["water", "night"],
                       "email": EMAIL, "first_name": "Lan", "last_name": "Tran",
                       "address_string": "12 Lê Lợi", "device_id": "dev-1", "account_id": "acc-1"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    [created] = response.json()
    assert list(created) == ["service_request_id", "token", "service_notice", "account_id"]
    assert created["account_id"] is None and created["token"]
    report_id = int(created["service_request_id"])
    report = stored(db, report_id)
    assert report.source == "open311"
    assert report.department_id == open311_city["works"]  # the routing table, not the category's default
    assert report.attributes == {"depth": 12.0, "lane": "left", "hazards": ["water", "night"]}
    assert (report.lon, report.lat) == (LON, LAT)  # lat= and long= land in Parvis' lon/lat order
    assert report.address == "12 Lê Lợi"
    assert (report.reporter_phone, report.reporter_email, report.reporter_name) == (PHONE, EMAIL, "Lan Tran")
    public = client.get(f"/api/v1/reports/{report_id}").json()
    assert public["department"] == "Travaux D1" and public["category"] == "POT"
    # The same request, read back through Open311, is valid against the official schema.
    [item] = client.get(f"/open311/v2/requests/{report_id}.json").json()
    validate([item], "requests.json")
    assert (item["lat"], item["long"]) == (LAT, LON)


def test_post_answer_in_xml(client, open311_city, post):
    root = parse_xml(post(fmt="xml"))
    assert root.tag == "service_requests"
    assert children(root) == ["request"]
    assert children(root[0]) == ["service_request_id", "token", "service_notice", "account_id"]
    assert root.findtext("request/service_request_id").isdigit()


def test_multivaluelist_with_the_bracket_spelling_and_undeclared_attributes_ignored(db, open311_city, post):
    response = post(**{"attribute[hazards][]": ["school", "water"], "attribute[fixmystreet_id]": "99"})
    assert response.status_code == 200, response.text
    report = stored(db, int(response.json()[0]["service_request_id"]))
    assert report.attributes == {"depth": 12.0, "hazards": ["school", "water"]}


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    [error] = response.json()
    assert error["code"] == status
    return error["description"]


def test_required_attribute_missing_or_invalid_is_a_400(open311_city, post):
    assert "attribute[depth]" in error_of(post(**{"attribute[depth]": None}), 400)
    assert "attribute[lane]" in error_of(post(**{"attribute[lane]": "middle"}), 400)
    assert "takes one value" in error_of(post(**{"attribute[lane]": ["left", "right"]}), 400)


def test_unknown_or_missing_service_code(open311_city, post):
    assert error_of(post(service_code="NOPE"), 404) == "Unknown service_code: NOPE."
    assert error_of(post(service_code=None), 400) == "service_code is required."


def test_api_key_missing_invalid_or_revoked_is_a_403(db, settings, open311_city, post):
    assert "api_key" in error_of(post(api_key=None), 403)
    assert "api_key" in error_of(post(api_key="not-a-key"), 403)
    admin = factories.staff(db, settings, "admin@example.org", "admin")
    with db.read() as session:
        key_id = queries.api_keys(session)[0].id
    configuration.revoke_api_key(db, Principal(user_id=admin, role=Role.ADMIN, all_departments=True), key_id)
    assert "api_key" in error_of(post(api_key=API_KEY), 403)


def test_outside_the_city_is_a_translated_400(open311_city, post):
    assert error_of(post(lat="10.5", long="106.5"), 400) == "Place the problem inside the city's districts."


def test_description_over_4000_characters_is_a_400(open311_city, post):
    assert "4000" in error_of(post(description="x" * 4001), 400)
    assert post(description="x" * 4000).status_code == 200


def test_swapped_coordinates_are_refused_not_guessed(db, open311_city, post):
    description = error_of(post(lat=str(LON), long=str(LAT)), 400)  # 107 is not a latitude
    assert description.startswith("lat must be between -90 and 90")
    assert "decimal number" in error_of(post(lat="abc"), 400)
    assert "both lat and long" in error_of(post(long=None), 400)


def test_a_location_and_a_contact_are_required(db, open311_city, post):
    assert "location" in error_of(post(lat=None, long=None), 400)
    response = post(lat=None, long=None, address_string="Near the market")
    assert response.status_code == 200
    report = stored(db, int(response.json()[0]["service_request_id"]))
    assert report.needs_location and report.lat is None
    assert "phone number or an e-mail" in error_of(post(phone=None), 400)


def test_media_url_is_kept_without_being_fetched(client, db, open311_city, post):
    assert "media_url" in error_of(post(media_url="file:///etc/passwd"), 400)
    response = post(media_url="https://img.example.org/pothole.jpg")
    report_id = response.json()[0]["service_request_id"]
    assert "https://img.example.org/pothole.jpg" in stored(db, int(report_id)).description  # agents see it
    [item] = client.get(f"/open311/v2/requests/{report_id}.json").json()
    assert item["media_url"] == "https://img.example.org/pothole.jpg"
    assert item["description"] == "Deep hole"


def test_parvis_errors_keep_their_status_in_the_spec_format(app, settings, open311_city, post):
    app.state.settings = settings.model_copy(update={"reports_client_per_hour": 1})
    assert post().status_code == 200
    response = post()
    assert "Too many reports from this application" in error_of(response, 429)
    assert response.headers["retry-after"] == "3600"


def test_a_key_is_throttled_as_one_client_not_by_its_address(app, db, settings, client, open311_city, post):
    """An aggregator relays many citizens from one address: its key has its own hourly limit,
    and a second key from the same address is counted apart."""
    app.state.settings = settings.model_copy(update={"reports_anonymous_per_hour": 1,
                                                     "reports_client_per_hour": 3})
    assert [post().status_code for _ in range(3)] == [200, 200, 200]  # past the per-address limit
    assert "Too many reports from this application" in error_of(post(), 429)
    configuration.issue_api_key(db, None, "Second client", key="second-client-key")
    assert post(api_key="second-client-key").status_code == 200
    # A person without a key, from that same address, still has the per-address limit.
    first = client.post("/api/v1/reports", json={"category": "POT", "description": "Hole", "lon": LON,
                                                 "lat": LAT, "phone": PHONE, "attributes": {"depth": 3}})
    assert first.status_code == 201, first.text
    second = client.post("/api/v1/reports", json={"category": "POT", "description": "Hole", "lon": LON,
                                                  "lat": LAT, "phone": PHONE, "attributes": {"depth": 3}})
    assert second.status_code == 429


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_errors_never_come_as_problem_json(client, open311_city, fmt):
    response = client.post(f"/open311/v2/requests.{fmt}", content=b"\xff\xfe garbage",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code in (400, 403)
    assert "problem" not in response.headers["content-type"]


def test_over_long_contact_fields_are_named_in_the_400(open311_city, post):
    assert error_of(post(email="a" * 250 + "@example.org"), 400) == "These fields are not valid: email."
    assert "phone" in error_of(post(phone="+84" + "1" * 40), 400)
