"""The public CAP edge: every document served is valid CAP 1.2 (the OASIS XSD), the Atom feed
lists only active approved alerts; bad input to the compose API is a 422 problem with a stable
type and writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alert_samples import xsd_valid
from alerts_factories import IN_WEST, body, compose, sent_alert
from lxml import etree
from sqlalchemy import func, select, update

from factories import PASSWORD
from parvis.kernel.audit import AuditEntry
from parvis.kernel.db import utcnow
from parvis.modules.alerts import actions
from parvis.modules.alerts.models import Alert
from parvis.modules.alerts.schemas import AlertCreate
from parvis.modules.alerts.standards import cap
from web_helpers import bearer

PROBLEM = "https://parvis.city/problems/"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"


def _identifier(db, alert_id: int) -> str:
    with db.read() as session:
        return session.scalar(select(Alert.identifier).where(Alert.id == alert_id))


def _cap(client, db, alert_id: int):
    response = client.get(f"/cap/alerts/{_identifier(db, alert_id)}.xml")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/cap+xml"
    assert xsd_valid(response.content), response.text
    return response


def test_every_shape_of_alert_is_served_as_valid_cap(client, db, settings, city):
    shapes = [
        {"district_ids": [city.west, city.east]},
        {"polygon": [[106.705, 10.775], [106.715, 10.775], [106.715, 10.785], [106.705, 10.785]]},
        {"circle": {"lon": IN_WEST[0], "lat": IN_WEST[1], "radius_km": 0.5}, "description": "Pont"},
        {"district_ids": [city.west], "circle": {"lon": 106.73, "lat": 10.78, "radius_km": 1.0}},
    ]
    for status in ("Actual", "Exercise", "Test"):
        for area in shapes:
            alert_id = sent_alert(db, settings, city, status=status, area=area)
            document = etree.fromstring(_cap(client, db, alert_id).content)
            assert document.findtext(f"{CAP}status") == status
            assert document.findtext(f"{CAP}sent").endswith("+07:00")  # the city's time zone
            assert [i.findtext(f"{CAP}language") for i in document.iter(f"{CAP}info")] == ["fr", "vi"]


def test_cap_of_a_district_alert_carries_its_outline_in_lat_lon_order_and_its_code(client, db, settings, city):
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    parsed = cap.parse(_cap(client, db, alert_id).content)
    where = parsed.infos[0].areas[0]
    assert where.geocodes == [("parvis:district", "W")]
    assert (106.70, 10.77) in where.polygons[0]  # read back in (lon, lat) order
    assert parsed.infos[0].headline == "Crue attendue ce soir"
    assert "10.77,106.7 " in _cap(client, db, alert_id).text  # CAP writes lat,lon


def test_updates_and_cancels_reference_the_original(client, db, settings, city):
    original = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    update_id = actions.update_alert(db, settings, city.agent, original, AlertCreate.model_validate(
        body(area={"district_ids": [city.east]}))).id
    actions.approve(db, settings, city.admin, update_id)
    cancel_id = actions.cancel(db, settings, city.supervisor, update_id, "Fin de l'alerte").id
    update_doc = cap.parse(_cap(client, db, update_id).content)
    assert update_doc.msg_type == "Update"
    assert [r.identifier for r in update_doc.references] == [_identifier(db, original)]
    cancel_doc = cap.parse(_cap(client, db, cancel_id).content)
    assert cancel_doc.msg_type == "Cancel" and cancel_doc.note == "Fin de l'alerte"
    assert [r.identifier for r in cancel_doc.references] == [_identifier(db, update_id)]
    # The messages replaced or cancelled stay readable: receivers follow references.
    _cap(client, db, original)


def test_a_draft_has_no_public_cap_document(client, db, settings, city):
    alert_id = compose(db, settings, city.agent, area={"district_ids": [city.west]})
    response = client.get(f"/cap/alerts/{_identifier(db, alert_id)}.xml")
    assert response.status_code == 404
    assert client.get("/cap/alerts/urn:uuid:nothing.xml").status_code == 404


def test_the_atom_feed_lists_only_active_approved_public_alerts(client, db, settings, city):
    active = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    exercise = sent_alert(db, settings, city, status="Exercise", area={"district_ids": [city.west]})
    sent_alert(db, settings, city, status="Test", area={"district_ids": [city.west]})
    compose(db, settings, city.agent, area={"district_ids": [city.west]})  # a draft
    cancelled = sent_alert(db, settings, city, area={"district_ids": [city.east]})
    actions.cancel(db, settings, city.supervisor, cancelled)
    expired = sent_alert(db, settings, city, area={"district_ids": [city.east]})
    with db.transaction() as session:
        session.execute(update(Alert).where(Alert.id == expired).values(expires=utcnow() - timedelta(seconds=1)))
    replaced = sent_alert(db, settings, city, area={"district_ids": [city.east]})
    newer = actions.update_alert(db, settings, city.agent, replaced, AlertCreate.model_validate(
        body(area={"district_ids": [city.east]}))).id
    actions.approve(db, settings, city.admin, newer)
    response = client.get("/cap/alerts.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml"
    feed = etree.fromstring(response.content)
    links = [e.find(f"{ATOM}link").get("href") for e in feed.iter(f"{ATOM}entry")]
    expected = {f"{settings.base_url}/cap/alerts/{_identifier(db, i)}.xml" for i in (active, exercise, newer)}
    assert set(links) == expected and len(links) == 3
    assert {e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")} == {"Crue attendue ce soir"}
    for link in links:  # every document the feed points to is served and valid
        assert xsd_valid(client.get(link.removeprefix(settings.base_url)).content)


BAD_AREAS = [
    ({"polygon": [[106.705, 10.775], [106.715, 10.785], [106.715, 10.775], [106.705, 10.785]]},
     "self-intersecting-polygon"),
    ({"polygon": [[2.30, 48.85], [2.31, 48.85], [2.31, 48.86], [2.30, 48.86]]}, "alert-area-outside-city"),
    ({"polygon": [[10.775, 106.705], [10.775, 106.715], [10.785, 106.715], [10.785, 106.705]]},
     "swapped-lat-lon"),
    ({"circle": {"lon": 10.78, "lat": 106.71, "radius_km": 1}}, "swapped-lat-lon"),
    ({"circle": {"lon": 106.71, "lat": 10.78, "radius_km": -1}}, "invalid-radius"),
    ({"circle": {"lon": 106.71, "lat": 10.78, "radius_km": 0}}, "invalid-radius"),
    ({"polygon": [[106.705, 10.775], [106.715, 10.775]]}, "invalid-alert-area"),
    ({"district_ids": [999]}, "unknown-district"),
    ({"description": "nowhere"}, "invalid-alert-area"),
]


@pytest.mark.parametrize("area, problem", BAD_AREAS, ids=[p for _a, p in BAD_AREAS])
def test_a_bad_area_is_refused_with_its_own_problem_type(client, db, city, area, problem):
    agent = bearer(client, "agent@example.org", PASSWORD)
    with db.read() as session:
        audited = session.scalar(select(func.count()).select_from(AuditEntry))
    response = client.post("/api/v1/alerts", json=body(area=area), headers=agent)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM + problem
    assert response.json()["title"]  # translated, for the person who drew it
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audited


def test_expired_or_backwards_times_are_refused(client, db, city):
    agent = bearer(client, "agent@example.org", PASSWORD)
    area = {"district_ids": [city.west]}
    expired = client.post("/api/v1/alerts", json=body(area=area, expires_in=-timedelta(minutes=5)), headers=agent)
    assert expired.status_code == 422 and expired.json()["type"] == PROBLEM + "alert-expired"
    backwards = body(area=area, expires_in=timedelta(hours=1),
                     effective=(utcnow() + timedelta(hours=2)).isoformat())
    response = client.post("/api/v1/alerts", json=backwards, headers=agent)
    assert response.status_code == 422 and response.json()["type"] == PROBLEM + "alert-ends-before-start"
    naive = body(area=area, expires_in=None, expires="2030-01-01T10:00:00")
    assert client.post("/api/v1/alerts", json=naive, headers=agent).status_code == 422
