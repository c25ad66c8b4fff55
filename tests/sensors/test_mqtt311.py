"""The listener with a broker that only speaks MQTT 3.1.1 (``PARVIS_SENSORS_MQTT_PROTOCOL=3.1.1``,
through Mosquitto on localhost:1883): stored, a repeat stored once, acknowledged only once stored,
a persistent session; a broker refusing the protocol is named with the setting to change; and the
back-pressure of a database that cannot keep up: dropped, counted, and the listener goes on."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from parvis.modules import sensors
from parvis.modules.sensors import counts
from parvis.modules.sensors import ingest as ingestion
from parvis.modules.sensors.ingest_mqtt5 import MQTT5, MQTT311, Subscriber, connect_packet
from parvis.modules.sensors.models import Observation
from parvis.modules.sensors.mqtt import Listener, publish

BROKER = "mqtt://127.0.0.1:1883"


def _count(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Observation)) or 0


def _wait_for(predicate, seconds: float = 30.0, state=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out {state()}")


def _devices(db, key: str, n: int) -> list[str]:
    for i in range(n):
        sensors.provision_device(db, api_key=key, device_id=f"d{i}",
                                 entity_id=f"urn:ngsi-ld:TrafficFlowObserved:{key}-{i}",
                                 entity_type="TrafficFlowObserved", attributes={"f": "intensity"})
    return [f"d{i}" for i in range(n)]


def _readings(key: str, devices: list[str], minutes: int, first: int = 0) -> list[tuple[str, dict]]:
    """One measure per message, each at its own time."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    return [(f"/{key}/{d}/attrs", {"f": m, "t": (start + timedelta(minutes=m)).isoformat()})
            for m in range(first, first + minutes) for d in devices]


def _listener(db, settings, key: str, **update) -> Listener:
    settings = settings.model_copy(update={"sensors_mqtt_url": BROKER, "sensors_mqtt_protocol": "3.1.1",
                                           **update})
    return Listener(db, settings, client_id=f"parvis-test-{key}", topic=f"/{key}/+/attrs")


class _Gate:
    """A database that does not answer until opened: every store waits for it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open = threading.Event()
        real = ingestion.ingest

        def slow(*args, **kwargs):
            self.open.wait(30)
            return real(*args, **kwargs)

        monkeypatch.setattr(ingestion, "ingest", slow)


def test_connect_for_mqtt_311_has_no_properties_and_keeps_the_session():
    packet = connect_packet("hub", keepalive=30, session_expiry=99, receive_maximum=7, level=MQTT311)
    assert packet == b"\x10\x0f\x00\x04MQTT\x04\x00\x00\x1e\x00\x03hub"  # level 4, clean session off
    with_login = connect_packet("hub", keepalive=30, session_expiry=99, receive_maximum=7,
                                username="u", password="p", level=MQTT311)
    assert with_login[9] == 0xC0 and with_login.endswith(b"\x00\x01u\x00\x01p")


def test_a_311_broker_stores_what_devices_publish_and_counts_it(db, settings):
    key = f"v{uuid.uuid4().hex[:10]}"
    items = _readings(key, _devices(db, key, 20), minutes=15)  # 300 messages
    listener = _listener(db, settings, key)
    listener.start()
    try:
        assert listener.connected.wait(10), "no MQTT broker on 127.0.0.1:1883"
        assert publish(BROKER, items, client_id=f"pub-{key}") == len(items)
        _wait_for(lambda: _count(db) == len(items), state=lambda: str(listener.totals))
    finally:
        listener.stop()
    assert listener.totals["stored"] == len(items) and listener.totals["dropped"] == 0
    with db.read() as session:
        assert counts.totals(session)["mqtt"]["stored"] == len(items)


def test_a_311_message_is_acknowledged_only_once_stored_and_its_redelivery_is_stored_once(
        db, settings, monkeypatch):
    key = f"a{uuid.uuid4().hex[:10]}"
    items = _readings(key, _devices(db, key, 5), minutes=2)  # 10 messages: within the broker's window
    gate = _Gate(monkeypatch)
    listener = _listener(db, settings, key)
    acks: list[tuple[int, int, int]] = []  # (connection, messages, rows stored when acknowledged)
    real_ack = listener.subscriber.ack

    def ack(generation: int, mids: list[int]) -> None:
        acks.append((generation, len(mids), _count(db)))
        real_ack(generation, mids)

    monkeypatch.setattr(listener.subscriber, "ack", ack)
    listener.start()
    try:
        assert listener.connected.wait(10), "no MQTT broker on 127.0.0.1:1883"
        publish(BROKER, items, client_id=f"pub-{key}")
        _wait_for(lambda: listener.totals["received"] == len(items))
        time.sleep(0.5)
        assert acks == [] and _count(db) == 0  # received, not stored: not acknowledged
        # the connection breaks before anything is stored: the broker sends them all again
        socket.socket.shutdown(listener.subscriber._sock, socket.SHUT_RDWR)
        _wait_for(lambda: listener.totals["received"] == 2 * len(items))
        assert listener.subscriber.generation == 2
        gate.open.set()
        _wait_for(lambda: listener.totals["stored"] + listener.totals["repeated"] == 2 * len(items))
    finally:
        gate.open.set()
        listener.stop()
    assert _count(db) == len(items)
    assert listener.totals["stored"] == len(items) and listener.totals["repeated"] == len(items)
    assert acks and all(stored == len(items) for _g, _n, stored in acks)  # only after the commit
    assert sum(n for g, n, _s in acks if g == 2) == len(items)
    # acknowledged on the connection that counts: the session holds nothing more for us
    again = _listener(db, settings, key)
    again.start()
    try:
        assert again.connected.wait(10)
        time.sleep(1.0)
    finally:
        again.stop()
    assert again.totals["received"] == 0


def test_a_311_session_keeps_what_arrives_while_the_listener_is_stopped(db, settings):
    key = f"p{uuid.uuid4().hex[:10]}"
    items = _readings(key, _devices(db, key, 10), minutes=6)  # 60 messages: more than the 20 in flight
    first = _listener(db, settings, key)
    first.start()
    try:
        assert first.connected.wait(10), "no MQTT broker on 127.0.0.1:1883"
    finally:
        first.stop()
    publish(BROKER, items, client_id=f"pub-{key}")  # nobody listening: the broker keeps them
    second = _listener(db, settings, key)
    second.start()
    try:
        _wait_for(lambda: _count(db) == len(items), state=lambda: str(second.totals))
    finally:
        second.stop()
    assert second.totals["stored"] == len(items)


class _OldBroker:
    """A broker that answers every CONNECT with one CONNACK and hangs up."""

    def __init__(self, connack: bytes) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connack = connack
        self.connects: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with client:
                client.settimeout(5)
                self.connects.append(client.recv(1024))
                client.sendall(self.connack)


@pytest.mark.parametrize(("level", "connack", "advice"), [
    (MQTT5, b"\x20\x02\x00\x01", "PARVIS_SENSORS_MQTT_PROTOCOL=3.1.1"),  # a 3.1.1 broker's answer
    (MQTT311, b"\x20\x03\x00\x84\x00", "PARVIS_SENSORS_MQTT_PROTOCOL=5"),  # an MQTT 5 only broker's
])
def test_a_broker_refusing_the_protocol_version_says_which_setting_to_change(caplog, level, connack, advice):
    broker = _OldBroker(connack)
    subscriber = Subscriber("127.0.0.1", broker.port, "hub", "/+/+/attrs", lambda _g, _m: None, level=level)
    with caplog.at_level(logging.ERROR, logger="parvis.modules.sensors.ingest_mqtt5"):
        subscriber.start()
        try:
            _wait_for(lambda: subscriber.refused is not None, seconds=10)
        finally:
            subscriber.stop()
            broker.server.close()
    assert not subscriber.connected.is_set()
    assert broker.connects[0][8] == level  # the protocol level it asked for
    assert "unsupported protocol version" in subscriber.refused and advice in subscriber.refused
    assert any(advice in record.getMessage() for record in caplog.records if record.levelno == logging.ERROR)


def test_a_database_that_cannot_keep_up_makes_the_listener_drop_count_and_go_on(db, settings, monkeypatch):
    key = f"b{uuid.uuid4().hex[:10]}"
    devices = _devices(db, key, 10)
    burst = _readings(key, devices, minutes=20)  # 200 messages at QoS 0: no flow control by the broker
    gate = _Gate(monkeypatch)
    tight = settings.model_copy(update={"sensors_mqtt_url": BROKER, "sensors_queue_max": 10,
                                        "sensors_queue_wait_seconds": 0.2})
    listener = Listener(db, tight, client_id=f"parvis-test-{key}", topic=f"/{key}/+/attrs")
    listener.start()
    try:
        assert listener.connected.wait(10), "no MQTT broker on 127.0.0.1:1883"
        publish(BROKER, burst, qos=0, client_id=f"pub-{key}")
        _wait_for(lambda: listener.totals["received"] == len(burst))
        time.sleep(0.5)  # the last waits for room end
        gate.open.set()
        _wait_for(lambda: listener.totals["stored"] + listener.totals["dropped"] == len(burst),
                  state=lambda: str(listener.totals))
        dropped = listener.totals["dropped"]
        assert 0 < dropped < len(burst) - 10, listener.totals  # what the queue held was stored
        assert _count(db) == len(burst) - dropped
        with db.read() as session:
            counted = counts.totals(session)["mqtt"]
        assert counted["dropped"] == dropped and counted["stored"] == len(burst) - dropped
        # and it goes on: what comes next is stored, nothing more dropped
        after = _readings(key, devices, minutes=3, first=20)
        publish(BROKER, after, client_id=f"pub2-{key}")
        _wait_for(lambda: _count(db) == len(burst) - dropped + len(after), state=lambda: str(listener.totals))
    finally:
        gate.open.set()
        listener.stop()
    assert listener.totals["dropped"] == dropped
