"""Who an alert reaches: districts, polygons, circles, several places per person, categories,
languages, and a fan-out that never sends twice."""

from __future__ import annotations

from alerts_factories import (
    EAST_LON,
    IN_EAST,
    IN_WEST,
    SOUTH_LAT,
    deliveries,
    outbox,
    outbox_count,
    run_jobs,
    sent_alert,
    subscriber,
)
from sqlalchemy import select

import factories
from parvis.kernel.auth import Principal, Role
from parvis.kernel.notify.actions import save_subscription
from parvis.modules.alerts import reach, targeting
from parvis.modules.alerts.models import Alert

# A square straddling the border of the two districts, 0.01 degrees each side of it.
ACROSS_BORDER = [[EAST_LON - 0.005, SOUTH_LAT + 0.005], [EAST_LON + 0.005, SOUTH_LAT + 0.005],
                 [EAST_LON + 0.005, SOUTH_LAT + 0.015], [EAST_LON - 0.005, SOUTH_LAT + 0.015]]
NEAR_BORDER_WEST = (EAST_LON - 0.002, SOUTH_LAT + 0.01)
NEAR_BORDER_EAST = (EAST_LON + 0.002, SOUTH_LAT + 0.01)


def _reached(db, settings, alert_id: int) -> set[str]:
    targeting.fan_out(db, settings, alert_id)
    return {d.person for d in deliveries(db, alert_id)}


def test_a_district_alert_reaches_points_inside_it_and_its_subscribers(db, settings, city):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    subscriber(db, phone="+84900000002", district_id=city.west)
    subscriber(db, phone="+84900000003", point=IN_EAST)
    subscriber(db, phone="+84900000004", district_id=city.east)  # shares only a border with West
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    assert _reached(db, settings, alert_id) == {"phone:+84900000001", "phone:+84900000002"}


def test_a_polygon_alert_reaches_points_inside_and_districts_it_overlaps(db, settings, city):
    subscriber(db, phone="+84900000001", point=NEAR_BORDER_WEST)
    subscriber(db, phone="+84900000002", point=NEAR_BORDER_EAST)
    subscriber(db, phone="+84900000003", point=IN_WEST)  # in West, outside the polygon
    subscriber(db, phone="+84900000004", district_id=city.east)
    alert_id = sent_alert(db, settings, city, area={"polygon": ACROSS_BORDER})
    assert _reached(db, settings, alert_id) == {"phone:+84900000001", "phone:+84900000002",
                                                "phone:+84900000004"}


def test_a_circle_alert_reaches_points_within_its_radius(db, settings, city):
    centre = IN_WEST
    subscriber(db, phone="+84900000001", point=(centre[0] + 0.004, centre[1]))  # ~440 m east
    subscriber(db, phone="+84900000002", point=(centre[0], centre[1] + 0.008))  # ~885 m north
    alert_id = sent_alert(db, settings, city,
                          area={"circle": {"lon": centre[0], "lat": centre[1], "radius_km": 0.6}})
    assert _reached(db, settings, alert_id) == {"phone:+84900000001"}


def test_a_person_with_several_places_in_the_area_gets_one_message_per_channel(db, settings, city):
    citizen_id = factories.citizen(db, settings, "+84912000001")
    person = Principal(citizen_id, Role.CITIZEN)
    with db.transaction() as session:
        save_subscription(session, user_id=citizen_id, endpoint="https://push.example/1", p256dh="k", auth="a")
    subscriber(db, point=IN_WEST, channels=("sms",), actor=person)
    subscriber(db, district_id=city.west, channels=("sms", "push"), actor=person)
    subscriber(db, point=IN_EAST, channels=("sms",), actor=person)
    before = outbox_count(db)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west, city.east]})
    targeting.fan_out(db, settings, alert_id)
    assert [(d.person, d.channel, d.state) for d in deliveries(db, alert_id)] == [
        (f"user:{citizen_id}", "push", "queued"), (f"user:{citizen_id}", "sms", "queued")]
    messages = outbox(db, alert_id)
    assert len(messages) == outbox_count(db) - before == 2
    assert {m.recipient for m in messages} == {"+84912000001", "https://push.example/1"}


def test_running_the_fan_out_again_sends_nothing_twice(db, settings, city, registry):
    for n in range(7):
        subscriber(db, phone=f"+8490000010{n}", point=IN_WEST, channels=("sms",))
    subscriber(db, email="a@example.org", district_id=city.west, channels=("email",))
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    assert targeting.fan_out(db, settings, alert_id, batch=3) == 8
    count = outbox_count(db)
    assert targeting.fan_out(db, settings, alert_id, batch=3) == 0
    run_jobs(db, registry)  # the approval's own job finds everything done
    assert outbox_count(db) == count
    keys = [m.idempotency_key for m in outbox(db, alert_id)]
    assert len(keys) == len(set(keys)) == 8
    assert f"alert:{alert_id}:phone:+84900000100:sms" in keys


def test_a_fan_out_that_dies_midway_is_completed_by_the_next_run(db, settings, city, monkeypatch):
    import pytest

    for n in range(5):
        subscriber(db, phone=f"+8490000020{n}", point=IN_WEST)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    real = targeting._queue_one
    calls = {"n": 0}

    def dies_on_the_fourth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(targeting, "_queue_one", dies_on_the_fourth)
    with pytest.raises(RuntimeError):
        targeting.fan_out(db, settings, alert_id, batch=2)
    # The first batch (two people) committed; the second died whole, the outbox with it.
    assert len(deliveries(db, alert_id)) == len(outbox(db, alert_id)) == 2
    monkeypatch.setattr(targeting, "_queue_one", real)
    assert targeting.fan_out(db, settings, alert_id, batch=2) == 3
    assert len(deliveries(db, alert_id)) == len(outbox(db, alert_id)) == 5


def test_each_person_gets_their_language_or_the_city_default(db, settings, city):
    subscriber(db, phone="+84900000001", point=IN_WEST, language="vi")
    subscriber(db, phone="+84900000002", point=IN_WEST, language="km")  # no Khmer text: French
    subscriber(db, phone="+84900000003", point=IN_WEST)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    targeting.fan_out(db, settings, alert_id)
    by_person = {d.person: d.language for d in deliveries(db, alert_id)}
    assert by_person == {"phone:+84900000001": "vi", "phone:+84900000002": "fr", "phone:+84900000003": "fr"}
    bodies = {m.recipient: m.body for m in outbox(db, alert_id)}
    assert "Lũ tối nay" in bodies["+84900000001"]
    assert "Crue attendue ce soir" in bodies["+84900000002"]
    assert bodies["+84900000003"].endswith(f"/alerts/{alert_id}")


def test_subscribers_to_other_categories_are_not_reached(db, settings, city):
    subscriber(db, phone="+84900000001", point=IN_WEST, categories=("Health",))
    subscriber(db, phone="+84900000002", point=IN_WEST, categories=("Met", "Fire"))
    subscriber(db, phone="+84900000003", point=IN_WEST)  # every category
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})  # Met, Safety
    assert _reached(db, settings, alert_id) == {"phone:+84900000002", "phone:+84900000003"}


def test_preview_counts_people_and_subscriptions_per_channel(db, settings, city):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    subscriber(db, phone="+84900000001", district_id=city.west)  # same person, second place
    subscriber(db, email="b@example.org", point=IN_WEST, channels=("email",))
    subscriber(db, phone="+84900000003", point=IN_EAST)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    with db.read() as session:
        counts = reach.count(session, session.scalar(select(Alert).where(Alert.id == alert_id)))
    assert counts["people"] == 2 and counts["follow_up"] is None
    assert counts["channels"] == {"sms": {"people": 1, "subscriptions": 2},
                                  "email": {"people": 1, "subscriptions": 1},
                                  "push": {"people": 0, "subscriptions": 0}}


def test_a_phone_subscribed_by_keyword_and_through_an_account_gets_one_sms(db, settings, city):
    citizen_id = factories.citizen(db, settings, "+84912000001")
    subscriber(db, phone="+84912000001", district_id=city.west)  # "ALERTE OUEST" sent from the same phone
    subscriber(db, point=IN_WEST, channels=("sms",), actor=Principal(citizen_id, Role.CITIZEN))
    subscriber(db, phone="+84900000009", point=IN_WEST)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    with db.read() as session:
        counts = reach.count(session, session.get(Alert, alert_id))
    assert counts["people"] == 2
    assert counts["channels"]["sms"] == {"people": 2, "subscriptions": 3}
    targeting.fan_out(db, settings, alert_id)
    assert [(d.person, d.channel) for d in deliveries(db, alert_id)] == [
        ("phone:+84900000009", "sms"), (f"user:{citizen_id}", "sms")]
    assert sorted(m.recipient for m in outbox(db, alert_id)) == ["+84900000009", "+84912000001"]


def test_an_email_address_subscribed_with_and_without_an_account_gets_one_email(db, settings, city):
    citizen_id = factories.citizen(db, settings, "lan@example.org")
    subscriber(db, email="lan@example.org", point=IN_WEST, channels=("email",), language="vi")
    subscriber(db, point=IN_WEST, channels=("email",), actor=Principal(citizen_id, Role.CITIZEN))
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    targeting.fan_out(db, settings, alert_id)
    assert [(d.person, d.channel) for d in deliveries(db, alert_id)] == [(f"user:{citizen_id}", "email")]
    assert [m.recipient for m in outbox(db, alert_id)] == ["lan@example.org"]
