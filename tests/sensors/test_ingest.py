"""Device measures into the hub: stored once, late ones at their time, bad ones set aside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from parvis.modules import sensors
from parvis.modules.sensors import counts, ingest
from parvis.modules.sensors.ingest import Message, Unusable, measures
from parvis.modules.sensors.models import DeadLetter, Entity, Observation

SDM = "https://smartdatamodels.org/dataModel."
NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
FLOW = {"f": "intensity", "mc": "motorcycleIntensity", "s": "averageVehicleSpeed"}
ENTITY = "urn:ngsi-ld:TrafficFlowObserved:le-loi-1"


@pytest.fixture
def detector(db):
    sensors.provision_device(db, api_key="k3y", device_id="det-1", entity_id=ENTITY,
                             entity_type="TrafficFlowObserved", attributes=FLOW, lon=107.58, lat=16.46)
    return ENTITY


def _msg(body: dict | bytes, at: datetime = NOW, device: str = "det-1", key: str = "k3y") -> Message:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Message(api_key=key, device_id=device, body=raw, received_at=at)


def _observations(db) -> list[tuple[str, datetime, float | None]]:
    with db.read() as session:
        return [(a.rsplit("/", 1)[-1], at, n) for a, at, n in session.execute(
            select(Observation.attribute, Observation.observed_at, Observation.number)
            .order_by(Observation.observed_at, Observation.attribute))]


def _current(db, entity_id: str = ENTITY) -> dict:
    with db.read() as session:
        row = session.get(Entity, entity_id)
        return {iri.rsplit("/", 1)[-1]: attr for iri, attr in row.attrs.items()}


def test_a_reading_is_stored_under_its_attributes_and_becomes_the_current_value(db, settings, detector):
    t = "2026-11-29T07:59:00+07:00"
    outcome = ingest.ingest(db, settings, [_msg({"f": 42, "mc": 35, "s": 28.5, "t": t})])
    assert (outcome.stored, outcome.repeated, outcome.dead) == (3, 0, 0)
    at = datetime.fromisoformat(t)
    assert _observations(db) == [("averageVehicleSpeed", at, 28.5), ("intensity", at, 42.0),
                                 ("motorcycleIntensity", at, 35.0)]
    with db.read() as session:
        iris = set(session.scalars(select(Observation.attribute)))
        row = session.get(Entity, ENTITY)
    assert f"{SDM}Transportation/intensity" in iris or any(i.endswith("/intensity") for i in iris)
    assert row.type.endswith("TrafficFlowObserved")
    current = _current(db)
    assert current["intensity"]["value"] == 42
    assert datetime.fromisoformat(current["intensity"]["observedAt"].replace("Z", "+00:00")) == at
    assert current["location"]["value"] == {"type": "Point", "coordinates": [107.58, 16.46]}


def test_a_qos1_repeat_stores_nothing_more(db, settings, detector):
    reading = {"f": 10, "t": "2026-11-29T08:00:00+07:00"}
    ingest.ingest(db, settings, [_msg(reading)])
    again = ingest.ingest(db, settings, [_msg(reading), _msg(reading)])
    assert (again.stored, again.repeated) == (0, 2)
    assert len(_observations(db)) == 1


def test_a_late_reading_is_kept_at_its_time_without_replacing_a_newer_value(db, settings, detector):
    ingest.ingest(db, settings, [_msg({"f": 50, "t": "2026-11-29T08:00:00+07:00"})])
    ingest.ingest(db, settings, [_msg({"f": 7, "t": "2026-11-29T07:00:00+07:00"})])
    assert [n for _a, _at, n in _observations(db)] == [7.0, 50.0]
    assert _current(db)["intensity"]["value"] == 50


def test_without_its_own_time_a_reading_takes_the_arrival_time(db, settings, detector):
    ingest.ingest(db, settings, [_msg({"f": 3})])
    assert _observations(db) == [("intensity", NOW, 3.0)]


@pytest.mark.parametrize(("body", "reason"), [
    (b"not json", "not_json"),
    (b"[1, 2]", "not_an_object"),
    ({"f": {"nested": 1}}, "bad_value"),
    ({"f": 1, "t": "yesterday"}, "bad_time"),
    ({"f": 1, "t": "2026-11-29T08:00:00"}, "bad_time"),  # no time zone: ambiguous
    ({"f": 1, "t": "2026-11-01T08:00:00+07:00"}, "too_old"),
    ({"f": 1, "t": "2026-11-29T12:00:00+07:00"}, "in_future"),
    ({"t": "2026-11-29T08:00:00+07:00"}, "no_measure"),
    ({"bad name!": 1}, "bad_name"),
    ({"f": None}, "bad_value"),  # NGSI-LD has no null value
    ({"f": "ok\u0000not"}, "bad_value"),  # control characters (PostgreSQL refuses NUL in text)
    (b'{"f": 1180591620717411303424}', "bad_value"),  # 2**70
    (b"\x00\xff not json", "not_json"),
    (b"{" + b'"f": 1,' * 5000 + b'"g": 2}', "too_large"),
])
def test_unusable_readings_become_dead_letters_and_the_rest_of_the_batch_goes_on(
        db, settings, detector, body, reason):
    outcome = ingest.ingest(db, settings, [_msg(body), _msg({"f": 9})])
    assert (outcome.stored, outcome.dead, outcome.reasons) == (1, 1, {reason: 1})
    with db.read() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert (letter.device_id, letter.reason, letter.channel) == ("det-1", reason, "mqtt")
        assert letter.detail
        assert ingest.dead_letters_by_device(session) == [("det-1", reason, 1)]


def test_a_message_from_an_unknown_device_or_key_is_a_dead_letter(db, settings, detector):
    outcome = ingest.ingest(db, settings, [_msg({"f": 1}, device="det-9"), _msg({"f": 1}, key="other")])
    assert outcome.dead == 2 and outcome.reasons == {"unknown_device": 2}
    assert _observations(db) == []


def test_counts_add_up_per_channel_and_hour(db, settings, detector):
    first = ingest.ingest(db, settings, [_msg({"f": 1, "s": 30}), _msg(b"x")])
    counts.record_counts(db, "mqtt", first, dropped=4)
    second = ingest.ingest(db, settings, [_msg({"f": 1, "s": 30})])
    counts.record_counts(db, "mqtt", second)
    with db.read() as session:
        seen = counts.totals(session)
    assert seen["mqtt"] == {"stored": 2, "repeated": 2, "dead": 1, "dropped": 4, "throttled": 0}


def test_topics_of_the_iot_agent_convention():
    assert ingest.parse_topic("/k3y/det-1/attrs") == ("k3y", "det-1")
    for other in ("/k3y/det-1/cmd", "k3y/det-1/attrs", "/k3y/a/b/attrs", "/k 3y/det/attrs", "/" + "k" * 65 + "/d/attrs"):
        assert ingest.parse_topic(other) is None


@hsettings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.dictionaries(st.text(max_size=12), st.one_of(
                     st.none(), st.booleans(), st.integers(-2**53, 2**53), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(max_size=300), st.lists(st.integers(0, 9), max_size=3)), max_size=5)
                 .map(orjson.dumps)))
def test_any_bytes_are_either_measures_or_a_clear_refusal(body):
    try:
        observed, values = measures(FLOW, body, NOW, max_past=timedelta(days=1), max_future=timedelta(minutes=5))
    except Unusable as refused:
        assert refused.reason and refused.detail
    else:
        assert values and NOW - timedelta(days=1) <= observed <= NOW + timedelta(minutes=5)


def test_a_message_the_database_refuses_is_set_aside_and_the_rest_of_the_batch_is_stored(
        db, settings, detector, monkeypatch):
    from sqlalchemy.exc import DataError

    from parvis.modules.sensors import mqtt

    real = ingest.ingest
    poisoned = b'{"f": 666}'

    def refusing(db_, settings_, batch, **options):
        if any(m.body == poisoned for m in batch):
            raise DataError("INSERT ...", {}, Exception("value the database refuses"))
        return real(db_, settings_, batch, **options)

    monkeypatch.setattr(mqtt.ingestion, "ingest", refusing)
    listener = mqtt.Listener(db, settings, client_id="test-no-broker")
    acked: list[int] = []
    monkeypatch.setattr(listener.subscriber, "ack", lambda generation, mids: acked.extend(mids))
    items = [mqtt._Item(_msg({"f": n, "t": f"2026-11-29T07:{n:02d}:00+07:00"}), n, 1) for n in range(3)]
    items.insert(1, mqtt._Item(_msg(poisoned), 99, 1))
    listener._store(items)
    assert sorted(acked) == [0, 1, 2, 99]  # every message answered: none comes back forever
    assert [n for _a, _at, n in _observations(db)] == [0.0, 1.0, 2.0]
    with db.read() as session:
        letter = session.scalars(select(DeadLetter)).one()
    assert (letter.reason, letter.payload) == ("unstorable", '{"f": 666}')
    assert listener.totals["stored"] == 3 and listener.totals["dead"] == 1
    with db.read() as session:  # counted once each, the stored and the set aside alike
        assert counts.totals(session)["mqtt"] == {"stored": 3, "repeated": 0, "dead": 1, "dropped": 0,
                                                  "throttled": 0}


def test_nothing_of_an_unknown_sender_is_kept_but_the_reason(db, settings, detector):
    ingest.ingest(db, settings, [_msg(b"x" * 1000, device="det-\x00", key="anyone")])
    with db.read() as session:
        letter = session.scalars(select(DeadLetter)).one()
    assert (letter.reason, letter.payload, letter.device_id) == ("unknown_device", "", "det-\ufffd")


def test_the_worker_forgets_dead_letters_after_the_citys_retention(db, settings, detector):
    from parvis.modules.sensors.actions import purge_dead_letters

    old = NOW - timedelta(days=31)
    ingest.ingest(db, settings, [_msg(b"old", at=old), _msg(b"recent", at=NOW - timedelta(days=2))])
    assert purge_dead_letters(db, days=30) == 1
    with db.read() as session:
        assert [d.payload for d in session.scalars(select(DeadLetter))] == ["recent"]
