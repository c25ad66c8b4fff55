"""A signed-in citizen manages the places they are warned about; the API survives any JSON; a
person's places go with their data export and erasure."""

from __future__ import annotations

from alerts_factories import IN_EAST, IN_WEST, body, deliveries, sent_alert
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import func, select

import factories
from factories import PASSWORD
from parvis.kernel import privacy
from parvis.kernel.audit import AuditEntry
from parvis.modules.alerts import targeting
from parvis.modules.alerts.models import Subscription
from web_helpers import bearer

PROBLEM = "https://parvis.city/problems/"


def test_a_citizen_adds_lists_and_removes_their_places(client, db, settings, city):
    citizen = factories.citizen(db, settings, "+84912000001")
    other = factories.citizen(db, settings, "+84912000002")
    me = bearer(client, "+84912000001", PASSWORD)
    home = client.post("/api/v1/alerts/subscriptions", headers=me, json={
        "label": "Maison", "lon": IN_WEST[0], "lat": IN_WEST[1], "channels": ["sms"], "language": "vi"})
    assert home.status_code == 201, home.text
    work = client.post("/api/v1/alerts/subscriptions", headers=me, json={
        "label": "Travail", "district_id": city.east, "channels": ["sms"], "categories": ["Met", "Health"]})
    assert work.status_code == 201, work.text
    listed = client.get("/api/v1/alerts/subscriptions", headers=me).json()
    assert [(s["label"], s["channels"], s["categories"]) for s in listed] == [
        ("Maison", ["sms"], []), ("Travail", ["sms"], ["Met", "Health"])]
    # Someone else cannot see nor remove them.
    them = bearer(client, "+84912000002", PASSWORD)
    assert client.get("/api/v1/alerts/subscriptions", headers=them).json() == []
    assert client.delete(f"/api/v1/alerts/subscriptions/{home.json()['id']}", headers=them).status_code == 404
    assert client.delete(f"/api/v1/alerts/subscriptions/{home.json()['id']}", headers=me).status_code == 204
    assert [s["label"] for s in client.get("/api/v1/alerts/subscriptions", headers=me).json()] == ["Travail"]
    # The remaining place still brings their alerts, addressed to the phone of their account.
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.east]})
    targeting.fan_out(db, settings, alert_id)
    assert [(d.person, d.address) for d in deliveries(db, alert_id)] == [(f"user:{citizen}", "+84912000001")]
    assert other


def test_places_outside_the_city_or_unreachable_channels_are_refused(client, db, settings, city):
    factories.citizen(db, settings, "+84912000001")
    me = bearer(client, "+84912000001", PASSWORD)
    outside = client.post("/api/v1/alerts/subscriptions", headers=me,
                          json={"lon": 2.35, "lat": 48.85, "channels": ["sms"]})
    assert outside.status_code == 422 and outside.json()["type"] == PROBLEM + "alert-area-outside-city"
    both = client.post("/api/v1/alerts/subscriptions", headers=me,
                       json={"lon": IN_EAST[0], "lat": IN_EAST[1], "district_id": city.east, "channels": ["sms"]})
    assert both.status_code == 422
    no_email = client.post("/api/v1/alerts/subscriptions", headers=me,
                           json={"district_id": city.east, "channels": ["email"]})
    assert no_email.status_code == 422
    assert no_email.json()["type"] == PROBLEM + "subscription-missing-address"
    unknown = client.post("/api/v1/alerts/subscriptions", headers=me, json={"district_id": 999, "channels": ["sms"]})
    assert unknown.status_code == 422 and unknown.json()["type"] == PROBLEM + "unknown-district"
    assert client.post("/api/v1/alerts/subscriptions", json={"district_id": city.east,
                                                             "channels": ["sms"]}).status_code == 401


def test_a_persons_places_go_with_their_export_and_their_erasure(client, db, settings, city):
    citizen = factories.citizen(db, settings, "+84912000001")
    me = bearer(client, "+84912000001", PASSWORD)
    client.post("/api/v1/alerts/subscriptions", headers=me,
                json={"label": "Maison", "district_id": city.west, "channels": ["sms"]})
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    targeting.fan_out(db, settings, alert_id)
    with db.read() as session:
        exported = privacy.export_all(session, citizen)["alerts"]
    assert [s["label"] for s in exported["subscriptions"]] == ["Maison"]
    assert [d["alert_id"] for d in exported["deliveries"]] == [alert_id]
    with db.transaction() as session:
        privacy.erase_all(session, citizen)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Subscription)) == 0
    kept = deliveries(db, alert_id)
    assert len(kept) == 1 and kept[0].address == "" and kept[0].user_id is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = ["status", "event", "categories", "urgency", "severity", "certainty", "infos", "area", "expires",
          "polygon", "circle", "district_ids", "lon", "lat", "channels", "language", "radius_km"]


def test_random_json_never_breaks_the_alert_write_endpoints(client, db, settings, city):
    factories.citizen(db, settings, "+84912000001")
    staff = bearer(client, "admin@example.org", PASSWORD)
    citizen = bearer(client, "+84912000001", PASSWORD)
    valid = body(area={"district_ids": [city.west]})
    area_values = st.fixed_dictionaries({}, optional={
        "polygon": json_values, "circle": json_values | st.fixed_dictionaries(
            {"lon": json_values, "lat": json_values, "radius_km": json_values}),
        "district_ids": json_values})
    bodies = st.one_of(json_values, st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
                       area_values.map(lambda a: {**valid, "area": a}))

    def audited() -> int:
        with db.read() as session:
            return session.scalar(select(func.count()).select_from(AuditEntry))

    @examples(max_examples=30, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(payload=bodies, path=st.sampled_from(["/api/v1/alerts", "/api/v1/alerts/subscriptions",
                                                 "/api/v1/alerts/1/update", "/api/v1/alerts/1/cancel"]))
    def check(payload, path):
        before = audited()
        headers = citizen if path.endswith("subscriptions") else staff
        response = client.post(path, json=payload, headers=headers)
        assert response.status_code < 500, (payload, response.text[:300])
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].startswith(PROBLEM)
            assert audited() == before

    check()
