"""Sensor hub at scale: MQTT ingestion through Mosquitto on loopback, from publish to queryable.

Starts its own Mosquitto on a free loopback port (the system's default `max_queued_messages`
of 1,000 would drop what a busy listener has not taken yet: a production hub raises it too, see
docs/sensors.md), provisions N devices (default 1,000), starts real `parvis sensors listen`
processes (`--listeners N`: more than one share the subscription, `$share/...`), publishes
messages of 4 measures each (QoS 1) from two processes for S seconds (as fast as the broker takes
them, or `--rate` messages/s in all), then waits until every measure is stored and prints:

1. the publishers' rate (messages/s);
2. the ingestion rate from the first publish to the last measure stored (messages/s), and how
   long after the last publish the last measure was stored;
3. measures lost or doubled, counted in the database;
4. CPU per message of the listener(s), PostgreSQL's server processes (a local server), the broker
   and the publishers (from /proc and rusage), with the machine's load.

The publishers write MQTT on the socket (QoS 1, acknowledged by the broker): paho's publishing
costs more CPU per message than the whole hub, on the same cores (`--paho` to use it anyway).

Run: `.venv/bin/python bench/sensors.py [--seconds 60] [--devices 1000] [--listeners 1] [--rate 0]
[--paho] [--database-url URL]` (default: a SQLite file in a temporary folder; PostgreSQL: the URL
of a database, which it upgrades; a run uses its own API key, so a database can be reused).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import socket
import struct
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
from serving import database_pids, free_port, process_cpu

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


def _mqtt_text(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _mqtt_packet(first: int, body: bytes) -> bytes:
    size, length = bytearray(), len(body)
    while True:
        length, digit = divmod(length, 128)
        size.append(digit | (0x80 if length else 0))
        if not length:
            return bytes([first]) + bytes(size) + body


def publisher(key: str, devices: list[str], seconds: float, start: str, offset: int, port: int,
              rate: float = 0.0) -> tuple[int, float]:
    """Publish back to back for ``seconds`` at QoS 1 (about 1,000 unacknowledged at most); message n of a
    device is stamped ``start`` + n s; how many the broker acknowledged. MQTT 3.1.1 written on the
    socket: the devices are not what is measured, and paho's publishing costs more CPU per message
    than the whole listener on the cores they share. ``rate``: messages/s (0: as fast as it can)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(_mqtt_packet(0x10, _mqtt_text("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 0)
                              + _mqtt_text(f"bench-pub-{key}-{offset}")))
    if sock.recv(4) != b"\x20\x02\x00\x00":
        raise SystemExit("the broker refused the publisher")
    base = datetime.fromisoformat(start)
    topics = [_mqtt_text(f"/{key}/{device}/attrs") for device in devices]
    window, inflight, acked, mid, n, pending = 1000, 0, 0, 0, 0, b""
    began = time.monotonic()
    stop = began + seconds
    while time.monotonic() < stop or inflight:
        if rate and time.monotonic() < stop and inflight < window:
            time.sleep(max(0.0, began + n * len(devices) / rate - time.monotonic()))
        if time.monotonic() < stop and inflight < window:
            at = (base + timedelta(seconds=n)).isoformat()
            n += 1
            chunk = []
            for topic in topics:
                mid = mid % 65535 + 1
                body = orjson.dumps({"f": 20 + n % 7, "s": 31.5, "o": 0.12, "mc": 16, "t": at})
                chunk.append(_mqtt_packet(0x32, topic + struct.pack("!H", mid) + body))
            sock.sendall(b"".join(chunk))
            inflight += len(chunk)
            if inflight < window:
                continue
        pending += sock.recv(1 << 16)  # PUBACKs: 4 bytes each
        done = len(pending) // 4
        pending = pending[4 * done:]
        inflight -= done
        acked += done
    sock.sendall(b"\xe0\x00")
    sock.close()
    return acked, began


def paho_publisher(key: str, devices: list[str], seconds: float, start: str, offset: int,
                   port: int) -> tuple[int, float]:
    """``publisher`` with paho-mqtt (``--paho``): as a device would, at a higher cost here."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{key}-{offset}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    base = datetime.fromisoformat(start)
    sent, n = 0, 0
    began = time.monotonic()
    stop = began + seconds
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
    return sent, began


def stored(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.coalesce(func.sum(IngestCount.count), 0))
                                  .where(IngestCount.outcome == "stored")) or 0)


def start_listeners(n: int, env: dict[str, str], key: str) -> list[subprocess.Popen]:
    """``n`` listener processes; more than one share the subscription (MQTT 5 ``$share``), each
    with its own client id and persistent session."""
    topic = f"/{key}/+/attrs" if n == 1 else f"$share/parvis-{key}//{key}/+/attrs"
    listeners = [subprocess.Popen([sys.executable, "-m", "parvis.cli", "sensors", "listen"],
                                  env={**env, "PARVIS_SENSORS_MQTT_TOPIC": topic,
                                       "PARVIS_SENSORS_MQTT_CLIENT_ID": f"bench-{key}-{i}"},
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for i in range(n)]
    for listener in listeners:
        assert listener.stdout is not None
        line = listener.stdout.readline().decode()
        if not line.startswith("listening"):
            raise SystemExit(f"a listener did not start: {line}")
    return listeners


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--listeners", type=int, default=1,
                        help="listener processes sharing the subscription ($share)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="messages/s published in all (0: as fast as the broker takes them)")
    parser.add_argument("--paho", action="store_true", help="publish with paho-mqtt (more CPU per message)")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="parvis-bench-sensors-")
    url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    key = f"b{uuid.uuid4().hex[:10]}"
    devices = [f"det-{key}-{n}" for n in range(args.devices)]
    print(f"Database: {db.dialect}; provisioning {len(devices):,} devices; {args.listeners} listener(s)")
    actions.provision_devices(db, [actions.DeviceSpec(
        api_key=key, device_id=device, entity_id=f"urn:ngsi-ld:TrafficFlowObserved:{device}",
        entity_type="TrafficFlowObserved", attributes=MAPPING,
        lon=107.5 + (n % 100) * 0.001, lat=16.4 + (n // 100) * 0.001) for n, device in enumerate(devices)])
    before = stored(db)
    broker, port = start_broker(Path(tmp))
    env = {**os.environ, "PARVIS_DATABASE_URL": url, "PARVIS_DATA_DIR": tmp,
           "PARVIS_SENSORS_MQTT_URL": f"mqtt://127.0.0.1:{port}"}
    listeners: list[subprocess.Popen] = []
    try:
        listeners = start_listeners(args.listeners, env, key)
        # readings of the last hours, inside the hub's window of accepted times
        start = (datetime.now(UTC) - timedelta(hours=24)).replace(microsecond=0).isoformat()
        shares = [devices[i::PUBLISHERS] for i in range(PUBLISHERS)]
        cpu0 = [process_cpu(p.pid) for p in (*listeners, broker)]
        with multiprocessing.get_context("spawn").Pool(PUBLISHERS) as pool:
            done = list(pool.starmap(paho_publisher if args.paho else publisher,
                                    [(key, share, args.seconds, start, i, port)
                                     + ((args.rate / PUBLISHERS,) if args.rate and not args.paho else ())
                                     for i, share in enumerate(shares)]))
        # from the first publish (time.monotonic is one clock for every process on Linux)
        sent, t0 = sum(n for n, _t in done), min(t for _n, t in done)
        published_in = time.monotonic() - t0
        publishers_cpu = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
        print(f"1. published {sent:,} messages of 4 measures in {published_in:.1f} s: "
              f"{sent / published_in:,.0f} messages/s")
        expected = before + 4 * sent
        last, last_change = stored(db), time.monotonic()
        while last < expected and time.monotonic() - last_change < 30:
            time.sleep(0.2)
            now = stored(db)
            if now != last:
                last, last_change = now, time.monotonic()
        cpu = [b - a for a, b in zip(cpu0, [process_cpu(p.pid) for p in (*listeners, broker)], strict=True)]
        # the listeners' server processes start with their first batch: their CPU since then
        servers = database_pids(db)
        server_cpu = sum(process_cpu(pid) for pid in servers)
        done_in = last_change - t0
        print(f"2. ingestion, first publish to last measure stored: {(last - before) / 4 / done_in:,.0f} "
              f"messages/s ({(last - before) / 4:,.0f} messages in {done_in:.1f} s; the last one stored "
              f"{done_in - published_in:.1f} s after the last publish)")
        with db.read() as session:
            rows = session.scalar(select(func.count(Observation.id)).where(
                Observation.entity_id.like(f"urn:ngsi-ld:TrafficFlowObserved:det-{key}-%")))
        print(f"3. measures published {4 * sent:,}, stored {rows:,}: "
              f"{4 * sent - rows:,} lost (counted in the database)")
        per = 1e6 / max(sent, 1)
        server = f", PostgreSQL {server_cpu * per:.0f} us" if servers else ""
        print(f"4. CPU per message: listener(s) {sum(cpu[:-1]) * per:.0f} us{server}, "
              f"broker {cpu[-1] * per:.0f} us, publishers {publishers_cpu * per:.0f} us "
              f"(load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores)")
    finally:
        for n, listener in enumerate(listeners):
            listener.terminate()
            out = listener.communicate(timeout=60)[0].decode().strip().splitlines()
            (Path(tmp) / f"listener-{n}.log").write_text("\n".join(out))
            last_line = out[-1] if out else "(no output)"
            print(f"   listener {n}: {last_line} (log: {tmp}/listener-{n}.log)")
        broker.terminate()
        db.dispose()


if __name__ == "__main__":
    main()
