"""Devices publishing over a real MQTT broker (Mosquitto on localhost:1883, as in CI), stored by
the listener; a listener killed with SIGKILL mid-stream and restarted loses nothing and doubles
nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from parvis.modules import sensors
from parvis.modules.sensors import counts, simulate
from parvis.modules.sensors.models import DeadLetter, Observation
from parvis.modules.sensors.mqtt import Listener, publish

BROKER = "mqtt://127.0.0.1:1883"
ANCHORS = [("Centre", 107.585, 16.463), ("Vỹ Dạ", 107.60, 16.47)]


def _count(db, model) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _wait_for(predicate, seconds: float = 30.0, state=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out {state()}")


def _provision(db, key: str) -> list[simulate.Device]:
    devices = simulate.demo_devices(ANCHORS)
    for d in devices:
        sensors.provision_device(db, api_key=key, device_id=d.device_id, entity_id=d.entity_id,
                                 entity_type=d.entity_type, attributes=simulate.ATTRIBUTES[d.kind],
                                 lon=d.lon, lat=d.lat)
    return devices


def _stream(devices, key: str, minutes: int):
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes)
    sim = simulate.Simulator(devices, seed=2)
    return list(simulate.messages(sim, key, simulate.timeline(start, start + timedelta(minutes=minutes),
                                                              timedelta(minutes=1))))


def test_what_devices_publish_is_stored_and_bad_messages_are_set_aside(db, settings):
    key = f"t{uuid.uuid4().hex[:12]}"
    devices = _provision(db, key)
    settings = settings.model_copy(update={"sensors_mqtt_url": BROKER})
    listener = Listener(db, settings, client_id=f"parvis-test-{key}", topic=f"/{key}/+/attrs")
    listener.start()
    try:
        assert listener.connected.wait(10), "no MQTT broker on 127.0.0.1:1883"
        items = _stream(devices, key, minutes=5)
        items += [(f"/{key}/traffic-centre-1/attrs", {"f": "many", "t": "soon"}),  # a broken device
                  (f"/{key}/ghost-7/attrs", {"f": 1})]  # never provisioned
        assert publish(BROKER, items, client_id=f"pub-{key}") == len(items)
        expected = sum(len(m) - 1 for _t, m in items[:-2])  # every measure but the time
        _wait_for(lambda: _count(db, Observation) == expected and _count(db, DeadLetter) == 2,
                  state=lambda: f"{listener.totals}, {expected} expected")
    finally:
        listener.stop()
    assert listener.totals["stored"] == expected and listener.totals["dropped"] == 0
    with db.read() as session:
        reasons = sorted(session.scalars(select(DeadLetter.reason)))
    assert reasons == ["bad_time", "unknown_device"]


def test_a_listener_killed_mid_stream_and_restarted_loses_nothing_and_doubles_nothing(db, settings, tmp_path):
    key = f"k{uuid.uuid4().hex[:12]}"
    devices = _provision(db, key)
    items = _stream(devices, key, minutes=50)  # 14 devices x 50 minutes = 700 messages
    expected = sum(len(m) - 1 for _t, m in items)
    env = {**os.environ, "PARVIS_DATABASE_URL": settings.database_url, "PARVIS_SENSORS_MQTT_URL": BROKER,
           "PARVIS_SENSORS_MQTT_TOPIC": f"/{key}/+/attrs", "PARVIS_SENSORS_MQTT_CLIENT_ID": f"parvis-{key}",
           "PARVIS_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "parvis.cli", "sensors", "listen"]

    def start() -> subprocess.Popen:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert line.startswith("listening"), line
        return process

    first = start()
    try:
        # the devices keep publishing while the listener dies and comes back
        publisher = threading.Thread(target=publish, args=(BROKER, items),
                                     kwargs={"client_id": f"pub-{key}", "pace": 0.004})
        publisher.start()
        _wait_for(lambda: _count(db, Observation) >= expected // 4)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        stored_at_kill = _count(db, Observation)
        assert stored_at_kill < expected, "the listener had stored everything before it was killed"
        time.sleep(0.5)  # messages keep coming while no listener runs: the broker keeps them
        second = start()
        publisher.join(60)
        try:
            _wait_for(lambda: _count(db, Observation) == expected, seconds=60)
            time.sleep(1.0)  # anything redelivered late is a repeat, not a new row
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    # exactly what the devices sent: every measure once, at its own time, with its own value
    by_id = {d.device_id: d for d in devices}
    sent = {}
    for topic, measures in items:
        device = by_id[topic.split("/")[2]]
        at = datetime.fromisoformat(measures["t"])
        for object_id, value in measures.items():
            if object_id != "t":
                sent[(device.entity_id, simulate.ATTRIBUTES[device.kind][object_id], at)] = value
    with db.read() as session:
        kept = {(e, a.rsplit("/", 1)[-1], at): v for e, a, at, v in session.execute(
            select(Observation.entity_id, Observation.attribute, Observation.observed_at, Observation.value))}
    assert kept == sent
    with db.read() as session:  # the counters too: each batch counted in the transaction that stored it
        assert counts.totals(session)["mqtt"]["stored"] == expected


@pytest.mark.parametrize("broker", ["mqtt://127.0.0.1:1", "127.0.0.1:1"])
def test_publishing_to_no_broker_says_so(broker):
    with pytest.raises(OSError):
        publish(broker, [("/k/d/attrs", {"f": 1})])


@pytest.mark.parametrize("url", ["ws://broker.example/mqtt", "wss://broker.example/mqtt"])
def test_a_broker_url_parvis_cannot_speak_is_refused_plainly(db, settings, url):
    settings.sensors_mqtt_url = url
    with pytest.raises(ValueError, match="does not speak"):
        Listener(db, settings)
