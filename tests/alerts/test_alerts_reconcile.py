"""Delivery records catch up with the outbox when its events were lost (a worker killed between
its commit and the handlers): the dashboard and the after-action CSV end up telling the truth."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alerts_factories import IN_EAST, IN_WEST, deliveries, outbox, run_jobs, sent_alert, subscriber

from parvis.kernel.notify import Channel, FakeAdapter, PermanentError, dispatch_due, mark_delivery
from parvis.modules.alerts import reconcile
from parvis.modules.alerts.models import Delivery


@pytest.fixture
def lost_events(db, monkeypatch):
    """The outbox's events never reach the alerts module (as if the worker died after commit)."""
    publish = db.bus.publish
    monkeypatch.setattr(db.bus, "publish", lambda evt: None if evt.name.startswith("notify.") else publish(evt))


def _age(db, alert_id: int, seconds: int = 120) -> None:
    """Records last touched ``seconds`` ago (a record updated within the grace is left to its event)."""
    with db.transaction() as session:
        rows = session.query(Delivery).filter(Delivery.alert_id == alert_id).all()
        for row in rows:
            row.updated_at = row.updated_at - timedelta(seconds=seconds)


def _states(db, alert_id: int) -> dict[str, str]:
    return {d.address: d.state for d in deliveries(db, alert_id)}


def test_sent_delivered_and_failed_reach_the_records_without_their_events(db, settings, city, registry,
                                                                           lost_events):
    for n in range(4):
        subscriber(db, phone=f"+8490000000{n}", point=IN_WEST)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    run_jobs(db, registry)

    class Refusing(FakeAdapter):
        def send(self, message):
            if message.recipient.endswith("3"):
                raise PermanentError("unknown subscriber")
            return super().send(message)

    assert dispatch_due(db, {Channel.SMS: Refusing(Channel.SMS)}, settings) == 4
    messages = {m.recipient: m for m in outbox(db, alert_id)}
    mark_delivery(db, None, True, message_id=messages["+84900000000"].id)
    assert set(_states(db, alert_id).values()) == {"queued"}  # the events were lost

    assert reconcile.catch_up(db) == 0  # just updated: left to their events for a minute
    _age(db, alert_id)
    assert reconcile.catch_up(db) == 4
    states = _states(db, alert_id)
    assert states == {"+84900000000": "delivered", "+84900000001": "sent", "+84900000002": "sent",
                      "+84900000003": "failed"}
    assert next(d for d in deliveries(db, alert_id) if d.state == "failed").reason.endswith("unknown subscriber")
    _age(db, alert_id)
    assert reconcile.catch_up(db) == 0  # nothing new: nothing written

    mark_delivery(db, None, True, message_id=messages["+84900000001"].id)  # a late report, also lost
    _age(db, alert_id)
    assert reconcile.catch_up(db) == 1
    assert _states(db, alert_id)["+84900000001"] == "delivered"


def test_the_tick_walks_a_page_at_a_time_and_starts_again_from_the_oldest(db, settings, city, registry,
                                                                          lost_events, monkeypatch):
    monkeypatch.setattr(reconcile, "PAGE", 2)
    for n in range(5):
        subscriber(db, phone=f"+8490000000{n}", point=IN_WEST)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    run_jobs(db, registry)
    assert dispatch_due(db, {Channel.SMS: FakeAdapter(Channel.SMS)}, settings) == 5
    _age(db, alert_id)
    cursor = reconcile.Cursor()
    assert reconcile.catch_up(db, cursor, pages=1) == 2
    assert cursor.next == (alert_id, "queued")
    assert reconcile.catch_up(db, cursor, pages=1) == 2
    assert reconcile.catch_up(db, cursor, pages=1) == 1  # the last one
    assert cursor.next == (alert_id, "sent") and (alert_id, "queued") not in cursor.after
    assert set(_states(db, alert_id).values()) == {"sent"}


def test_one_big_alert_does_not_keep_the_others_waiting(db, settings, city, registry, lost_events,
                                                        monkeypatch):
    monkeypatch.setattr(reconcile, "PAGE", 2)
    for n in range(5):
        subscriber(db, phone=f"+8490000000{n}", point=IN_WEST)
    subscriber(db, phone="+84900000009", point=IN_EAST)
    big = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    small = sent_alert(db, settings, city, area={"district_ids": [city.east]})
    run_jobs(db, registry)
    claimed = dispatch_due(db, {Channel.SMS: FakeAdapter(Channel.SMS)}, settings)
    assert claimed == 6
    _age(db, big)
    _age(db, small)
    cursor = reconcile.Cursor()
    for _ in range(3):  # a page each: the big alert's three pages...
        reconcile.catch_up(db, cursor, pages=1)
    assert set(_states(db, big).values()) == {"sent"} and _states(db, small) == {"+84900000009": "queued"}
    for _ in range(2):  # ...its sent records (just moved: left alone), then the small alert's turn
        reconcile.catch_up(db, cursor, pages=1)
    assert _states(db, small) == {"+84900000009": "sent"}


def test_records_of_alerts_older_than_the_window_are_left_alone(db, settings, city, registry, lost_events):
    from parvis.modules.alerts.models import Alert

    subscriber(db, phone="+84900000001", point=IN_WEST)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    run_jobs(db, registry)
    assert dispatch_due(db, {Channel.SMS: FakeAdapter(Channel.SMS)}, settings) == 1
    _age(db, alert_id)
    with db.transaction() as session:
        alert = session.get(Alert, alert_id)
        alert.approved_at = alert.approved_at - reconcile.WINDOW - timedelta(hours=1)
    assert reconcile.catch_up(db) == 0
    assert _states(db, alert_id) == {"+84900000001": "queued"}
