"""NGSI-LD notifications: latency from an entity update to its notification's arrival (target:
p95 <= 200 ms).

For SQLite (a fresh file) and PostgreSQL (a fresh database on 127.0.0.1:5432, dropped after),
and for the two ways Parvis runs its worker:

- ``thread``: the worker in the web process, as ``parvis serve --with-worker``;
- ``process``: a separate ``parvis worker`` process (other processes' commits wake it through
  LISTEN/NOTIFY on PostgreSQL, its poll every ``PARVIS_SENSORS_NOTIFY_POLL_SECONDS`` on SQLite);

a local receiver, one subscription, then ``--updates`` PATCHes of an entity through the ASGI app
(TestClient), one every ``--pace`` seconds. Latency: from the PATCH being sent to the
notification being received (both clocks are this process's); an update coalesced into a later
one's notification counts as received with it.

Mode ``matching`` measures what subscriptions cost the writers: microseconds of
``subscriptions.on_changes`` per entity change, with no subscription and with 100 (each with a
``q``, a tenth of them matching), in batches of 100 changes as the MQTT listener writes them.

Run: `.venv/bin/python bench/subscriptions.py [--updates 100] [--pace 0.05] [--engines sqlite,postgres]
[--modes thread,process,matching]`
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "sensors"))
from subscription_receiver import Receiver

from parvis.app import build_registry, create_app
from parvis.kernel.db import Database
from parvis.kernel.jobs import Worker
from parvis.migrations import upgrade
from parvis.modules import sensors
from parvis.modules.sensors import actions, subscription_actions, subscriptions
from parvis.modules.sensors.changes import Change
from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards import subscription_ld as subld
from parvis.settings import Settings

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
LINK = ('<https://smartdatamodels.org/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; '
        'type="application/ld+json"')
ENTITY = "urn:ngsi-ld:AirQualityObserved:bench"


def run(url: str, mode: str, updates: int, pace: float, folder: Path) -> tuple[float, float, float]:
    settings = Settings(_env_file=None, database_url=url, secret_key="bench-secret",  # type: ignore[call-arg]
                        data_dir=folder, sensors_notify_allowed_networks=["127.0.0.1"])
    db = Database(url)
    key = sensors.issue_api_key(db, "bench", f"bench-{uuid.uuid4().hex[:8]}", read=True, write=True)
    headers = {"X-Api-Key": key, "Link": LINK}
    worker: Worker | None = None
    process: subprocess.Popen[bytes] | None = None
    if mode == "thread":
        worker = Worker(db, build_registry(settings, db), poll_seconds=settings.worker_poll_seconds)
        threading.Thread(target=worker.run_forever, daemon=True).start()
    else:
        process = subprocess.Popen([sys.executable, "-m", "parvis.cli", "worker", "--database-url", url],
                                   env={**os.environ, "PARVIS_SECRET_KEY": "bench-secret",
                                        # the receiver is on loopback, which notifications may not
                                        # reach unless allowed (the worker checks as it sends)
                                        "PARVIS_SENSORS_NOTIFY_ALLOWED_NETWORKS": '["127.0.0.1"]'},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with Receiver() as receiver, TestClient(create_app(settings, database=db)) as client:
            client.post("/ngsi-ld/v1/entities", headers=headers, json={
                "id": ENTITY, "type": "AirQualityObserved", "NO2": {"type": "Property", "value": 0}})
            response = client.post("/ngsi-ld/v1/subscriptions", headers=headers, json={
                "type": "Subscription", "entities": [{"type": "AirQualityObserved"}],
                "watchedAttributes": ["NO2"], "notification": {"endpoint": {"uri": receiver.url}}})
            assert response.status_code == 201, response.text
            deadline = time.monotonic() + 60  # the worker has started and its sending thread runs
            while not receiver.received and time.monotonic() < deadline:
                client.patch(f"/ngsi-ld/v1/entities/{ENTITY}/attrs", headers=headers,
                             json={"NO2": {"type": "Property", "value": 0}})
                receiver.wait(1, timeout=1.0)
            time.sleep(1.0)
            receiver.received.clear()
            sent: dict[int, float] = {}
            for n in range(1, updates + 1):
                sent[n] = time.monotonic()
                response = client.patch(f"/ngsi-ld/v1/entities/{ENTITY}/attrs", headers=headers,
                                        json={"NO2": {"type": "Property", "value": n}})
                assert response.status_code == 204, response.text
                time.sleep(pace)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                    e["NO2"]["value"] == updates for r in receiver.wait(1) for e in r["body"]["data"]):
                time.sleep(0.05)
            got = list(receiver.received)
        latencies, coalesced = [], 0
        for item in got:  # an update coalesced into a later one's notification counts as received with it
            for entity in item["body"]["data"]:
                done = [k for k in sent if k <= entity["NO2"]["value"]]
                coalesced += max(0, len(done) - 1)
                latencies += [(item["at"] - sent.pop(k)) * 1000 for k in done]
        if sent:
            print(f"  {len(sent)} update(s) not received", file=sys.stderr)
        print(f"  {len(got)} notifications for {updates} updates ({coalesced} coalesced into a later one)",
              file=sys.stderr)
        latencies.sort()
        return statistics.median(latencies), latencies[int(len(latencies) * 0.95) - 1], latencies[-1]
    finally:
        if worker is not None:
            worker.stop()
        if process is not None:
            process.terminate()
            process.wait(10)
        db.dispose()


def matching(url: str, subscriptions_count: int, changes: int = 5000) -> float:
    """Microseconds of ``on_changes`` per entity change (matching, queueing the matches), in
    batches of 100 changes as the MQTT listener writes them; a tenth of the subscriptions match."""
    db = Database(url)
    flow = actions.type_iri("TrafficFlowObserved")
    intensity = actions.attribute_iri("intensity")
    for n in range(subscriptions_count):
        sub = subld.parse_subscription({
            "type": "Subscription", "entities": [{"type": "TrafficFlowObserved"}],
            "watchedAttributes": ["intensity"], "q": f"intensity>{n % 10 * 100 + 50}",
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/x"}}},
            ldctx.shipped(ldctx.SDM_CONTEXT_URL))
        subscription_actions.create_subscription(db, sub, ldctx.SDM_CONTEXT_URL, None)
    elapsed = 0.0
    for start in range(0, changes, 100):
        batch = [Change(f"urn:ngsi-ld:TrafficFlowObserved:m{k}", flow,
                        {intensity: {"type": "Property", "value": 100 + k % 50}}, {intensity})
                 for k in range(start, start + 100)]
        with db.transaction() as session:
            began = time.perf_counter()
            subscriptions.on_changes(session, batch)
            elapsed += time.perf_counter() - began
    db.dispose()
    return elapsed / changes * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--pace", type=float, default=0.05, help="seconds between updates")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--modes", default="thread,process,matching")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        for mode in args.modes.split(","):
            folder = Path(tempfile.mkdtemp(prefix="parvis-bench-subscriptions-"))
            name = f"parvis_bench_subs_{uuid.uuid4().hex[:8]}"
            if engine == "sqlite":
                url = f"sqlite:///{folder / 'parvis.db'}"
            else:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            try:
                upgrade(url)
                if mode == "matching":
                    for count in (0, 100):
                        cost = matching(url, count)
                        print(f"{engine}, matching: {cost:.1f} us per entity change, {count} subscriptions")
                    continue
                p50, p95, worst = run(url, mode, args.updates, args.pace, folder)
                print(f"{engine}, worker {mode}: update -> notification p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
                      f"max {worst:.1f} ms ({args.updates} updates, one every {args.pace * 1000:.0f} ms)")
            finally:
                if engine != "sqlite":
                    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
