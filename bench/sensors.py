"""Sensor hub at scale: MQTT ingestion through Mosquitto on loopback, from publish to queryable.

Starts its own Mosquitto on a free loopback port (the system's default `max_queued_messages`
of 1,000 would drop what a busy listener has not taken yet: a production hub raises it too, see
docs/sensors.md), provisions N devices (default 1,000), starts a real `parvis sensors listen`,
publishes messages of
4 measures each (QoS 1) from separate processes as fast as the broker takes them for S seconds,
then waits until every measure is stored and prints:

1. the publishers' rate (messages/s);
2. the ingestion rate from the first publish to the last measure stored (messages/s);
3. measures lost or doubled, counted in the database.

Run: `.venv/bin/python bench/sensors.py [--seconds 60] [--devices 1000] [--database-url URL]`
(default: a SQLite file in a temporary folder; PostgreSQL: the URL of a database, which it
upgrades; a run uses its own API key, so a database can be reused).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from parvis.kernel.db import Database
from parvis.migrations import upgrade
from parvis.modules.sensors import actions
from parvis.modules.sensors.models import IngestCount, Observation
from serving import free_port

MAPPING = {"f": "intensity", "s": "averageVehicleSpeed", "o": "occupancy", "mc": "motorcycleIntensity"}
PUBLISHERS = 2


def start_broker(folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 0\nmax_inflight_messages 0\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return broker, port
        time.sleep(0.1)
    raise SystemExit("mosquitto did not start")


def publisher(key: str, devices: list[str], seconds: float, start: str, offset: int, port: int) -> int:
    """Publish back to back for ``seconds``; message n of a device is stamped ``start`` + n s."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{key}-{offset}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    base = datetime.fromisoformat(start)
    sent, n = 0, 0
    stop = time.monotonic() + seconds
    pending = []
    while time.monotonic() < stop:
        at = (base + timedelta(seconds=n)).isoformat()
        for device in devices:
            body = orjson.dumps({"f": 20 + n % 7, "s": 31.5, "o": 0.12, "mc": 16, "t": at})
            pending.append(client.publish(f"/{key}/{device}/attrs", body, qos=1))
            sent += 1
        n += 1
        if len(pending) > 2000:
            for info in pending:
                info.wait_for_publish(timeout=60)
            pending.clear()
    for info in pending:
        info.wait_for_publish(timeout=60)
    client.disconnect()
    client.loop_stop()
    return sent


def stored(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.coalesce(func.sum(IngestCount.count), 0))
                                  .where(IngestCount.outcome == "stored")) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="parvis-bench-sensors-")
    url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    key = f"b{uuid.uuid4().hex[:10]}"
    devices = [f"det-{key}-{n}" for n in range(args.devices)]
    print(f"Database: {db.dialect}; provisioning {len(devices):,} devices")
    for n, device in enumerate(devices):
        actions.provision_device(db, api_key=key, device_id=device,
                                 entity_id=f"urn:ngsi-ld:TrafficFlowObserved:{device}",
                                 entity_type="TrafficFlowObserved", attributes=MAPPING,
                                 lon=107.5 + (n % 100) * 0.001, lat=16.4 + (n // 100) * 0.001)
    before = stored(db)
    broker, port = start_broker(Path(tmp))
    env = {**os.environ, "PARVIS_DATABASE_URL": url, "PARVIS_DATA_DIR": tmp,
           "PARVIS_SENSORS_MQTT_URL": f"mqtt://127.0.0.1:{port}",
           "PARVIS_SENSORS_MQTT_TOPIC": f"/{key}/+/attrs", "PARVIS_SENSORS_MQTT_CLIENT_ID": f"bench-{key}"}
    listener = subprocess.Popen([sys.executable, "-m", "parvis.cli", "sensors", "listen"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert listener.stdout is not None
        line = listener.stdout.readline().decode()
        if not line.startswith("listening"):
            raise SystemExit(f"the listener did not start: {line}")
        # readings of the last hours, inside the hub's window of accepted times
        start = (datetime.now(UTC) - timedelta(hours=24)).replace(microsecond=0).isoformat()
        shares = [devices[i::PUBLISHERS] for i in range(PUBLISHERS)]
        t0 = time.monotonic()
        with multiprocessing.get_context("spawn").Pool(PUBLISHERS) as pool:
            sent = sum(pool.starmap(publisher, [(key, share, args.seconds, start, i, port)
                                                for i, share in enumerate(shares)]))
        published_in = time.monotonic() - t0
        print(f"1. published {sent:,} messages of 4 measures in {published_in:.1f} s: "
              f"{sent / published_in:,.0f} messages/s")
        expected = before + 4 * sent
        last, last_change = stored(db), time.monotonic()
        while last < expected and time.monotonic() - last_change < 30:
            time.sleep(0.2)
            now = stored(db)
            if now != last:
                last, last_change = now, time.monotonic()
        done_in = last_change - t0
        print(f"2. ingestion, first publish to last measure stored: {(last - before) / 4 / done_in:,.0f} "
              f"messages/s ({(last - before) / 4:,.0f} messages in {done_in:.1f} s)")
        with db.read() as session:
            rows = session.scalar(select(func.count(Observation.id)).where(
                Observation.entity_id.like(f"urn:ngsi-ld:TrafficFlowObserved:det-{key}-%")))
        print(f"3. measures published {4 * sent:,}, stored {rows:,}: "
              f"{4 * sent - rows:,} lost (counted in the database)")
    finally:
        listener.terminate()
        out = listener.communicate(timeout=60)[0].decode().strip().splitlines()
        (Path(tmp) / "listener.log").write_text("\n".join(out))
        print("   listener: " + (out[-1] if out else "(no output)") + f" (log: {tmp}/listener.log)")
        broker.terminate()
        db.dispose()


if __name__ == "__main__":
    main()
