"""The listener's own MQTT 5 client: packets read whatever the chunks, acknowledgements on the
right connection, a cut connection reopened without loss, a subscription shared by listeners."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from parvis.modules import sensors
from parvis.modules.sensors.ingest_mqtt5 import Received, Subscriber, parse
from parvis.modules.sensors.models import Observation
from parvis.modules.sensors.mqtt import Listener, publish

BROKER = ("127.0.0.1", 1883)


def _publish_packet(topic: str, payload: bytes, mid: int, qos: int, properties: bytes = b"") -> bytes:
    raw = topic.encode()
    body = struct.pack("!H", len(raw)) + raw + (struct.pack("!H", mid) if qos else b"")
    body += bytes([len(properties)]) + properties + payload
    size, length = bytearray(), len(body)
    while True:
        length, digit = divmod(length, 128)
        size.append(digit | (0x80 if length else 0))
        if not length:
            break
    return bytes([0x30 | qos << 1]) + bytes(size) + body


STREAM = [Received("/k/d-1/attrs", b'{"f": 1}', 7, 1),
          Received("/k/d-2/attrs", b"x" * 300, 8, 1),  # a remaining length of two bytes
          Received("/k/d-3/attrs", b"{}", 0, 0),
          Received("/k/d-\u00e9/attrs", b'{"s": 2}', 65535, 1)]
RAW = b"".join(_publish_packet(r.topic, r.payload, r.mid, r.qos, b"\x01\x01" if r.mid == 8 else b"")
               for r in STREAM) + b"\xd0\x00"  # and a PINGRESP


@given(st.lists(st.integers(min_value=0, max_value=len(RAW)), max_size=8))
def test_messages_are_read_whole_wherever_the_network_cuts_the_stream(cuts):
    got, other = [], []
    buf = bytearray()
    points = [*sorted(set(cuts)), len(RAW)]
    start = 0
    for point in points:
        buf += RAW[start:point]
        start = point
        del buf[:parse(buf, got.append, lambda first, body: other.append(first))]
    assert got == STREAM and other == [0xD0] and not buf


def test_acknowledgements_go_out_together_and_only_on_the_connection_the_messages_came_on():
    sub = Subscriber("127.0.0.1", 1, "c", "/+/+/attrs", lambda _g, _m: None)
    ours, broker = socket.socketpair()
    sub._sock, sub.generation = ours, 2
    sub.ack(1, [5, 6])  # received before a reconnection: the broker sends them again
    sub.ack(2, [7, 65535])
    broker.settimeout(2)
    assert broker.recv(100) == b"\x40\x02\x00\x07\x40\x02\xff\xff"
    ours.close()
    broker.close()


def _count(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Observation)) or 0


def _wait_for(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _devices(db, key: str, n: int) -> list[str]:
    for i in range(n):
        sensors.provision_device(db, api_key=key, device_id=f"d{i}",
                                 entity_id=f"urn:ngsi-ld:TrafficFlowObserved:{key}-{i}",
                                 entity_type="TrafficFlowObserved", attributes={"f": "intensity"})
    return [f"d{i}" for i in range(n)]


def _readings(key: str, devices: list[str], minutes: int) -> list[tuple[str, dict]]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return [(f"/{key}/{d}/attrs", {"f": m, "t": (start + timedelta(minutes=m)).isoformat()})
            for m in range(minutes) for d in devices]


class _Cutter:
    """A TCP relay to the broker whose connections can be cut, as a network would."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(BROKER)
            self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        for client, upstream in self.pairs:
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
        self.pairs.clear()

    def close(self) -> None:
        self.cut()
        self.server.close()


def test_a_connection_cut_mid_stream_is_reopened_and_nothing_is_lost_or_doubled(db, settings):
    key = f"c{uuid.uuid4().hex[:10]}"
    items = _readings(key, _devices(db, key, 10), minutes=60)  # 600 messages
    cutter = _Cutter()
    relayed = settings.model_copy(update={"sensors_mqtt_url": f"mqtt://127.0.0.1:{cutter.port}"})
    listener = Listener(db, relayed, client_id=f"parvis-test-{key}", topic=f"/{key}/+/attrs")
    listener.start()
    try:
        assert listener.connected.wait(10), "no MQTT broker on 127.0.0.1:1883"
        publisher = threading.Thread(target=publish, args=("mqtt://127.0.0.1:1883", items),
                                     kwargs={"client_id": f"pub-{key}", "pace": 0.002})
        publisher.start()
        _wait_for(lambda: _count(db) >= 100)
        cutter.cut()
        publisher.join(60)
        _wait_for(lambda: _count(db) == len(items))
        time.sleep(0.5)  # what the broker sends again is a repeat, not a new row
    finally:
        listener.stop()
        cutter.close()
    assert _count(db) == len(items)
    assert listener.subscriber.generation >= 2  # it did connect again
    assert listener.totals["received"] >= len(items)


def test_listeners_sharing_a_subscription_store_every_message_once_between_them(db, settings):
    key = f"s{uuid.uuid4().hex[:10]}"
    items = _readings(key, _devices(db, key, 20), minutes=20)  # 400 messages
    settings = settings.model_copy(update={"sensors_mqtt_url": "mqtt://127.0.0.1:1883"})
    topic = f"$share/hub-{key}//{key}/+/attrs"
    listeners = [Listener(db, settings, client_id=f"parvis-test-{key}-{n}", topic=topic) for n in range(2)]
    for listener in listeners:
        listener.start()
    try:
        assert all(listener.connected.wait(10) for listener in listeners)
        publish("mqtt://127.0.0.1:1883", items, client_id=f"pub-{key}")
        _wait_for(lambda: _count(db) == len(items))
    finally:
        for listener in listeners:
            listener.stop()
    shares = [listener.totals["stored"] for listener in listeners]
    assert sum(shares) == len(items) and all(shares), shares
