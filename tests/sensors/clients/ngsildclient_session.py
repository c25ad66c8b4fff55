"""A session of ngsildclient (the FIWARE community's Python NGSI-LD client, written against
Orion-LD, Scorpio and Stellio), used unchanged against Parvis.

Run with the client's own environment (it pins httpx < 0.24, so it cannot share Parvis's):
``python ngsildclient_session.py BASE_URL API_KEY NOTIFY_PORT OUT_FILE``. Writes one JSON object
to OUT_FILE (the client prints its own progress on stdout): what each step gave back, for the test
to check. A step that raises is recorded as ``{"error": ...}``.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ngsildclient import Client, Entity, SubscriptionBuilder
from ngsildclient.api.constants import AggrMethod
from ngsildclient.api.helper.temporal import TemporalQuery
from requests.auth import AuthBase

base_url, api_key, notify_port, out_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]


class ApiKey(AuthBase):
    """Parvis's write scope: the client's ``custom_auth`` hook, as for any secured broker."""

    def __call__(self, request: Any) -> Any:
        request.headers["X-Api-Key"] = api_key
        return request


notifications: list[dict[str, Any]] = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        notifications.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


receiver = http.server.ThreadingHTTPServer(("127.0.0.1", notify_port), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()

out: dict[str, Any] = {}


def step(name: str, action: Any) -> Any:
    try:
        result = action()
    except Exception as exc:  # recorded for the test, which names the step that failed
        out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        return None
    out[name] = result
    return result


where = urlsplit(base_url)
client = Client(hostname=where.hostname, port=where.port, custom_auth=ApiKey(), verbose=False)
start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def station(no2: float, at: datetime) -> Entity:
    entity = Entity("AirQualityObserved", "Client:Station1")
    entity.prop("NO2", no2, unitcode="GQ", observedat=at)
    entity.prop("name", "Station du marché")
    entity.loc(11.5564, 104.9282)  # lat, lon
    return entity


main = station(22.5, start)
step("create", lambda: client.create(main))
step("exists", lambda: client.exists(main))
step("get", lambda: client.get(main).to_dict())
step("query_q", lambda: [e.id for e in client.query(type="AirQualityObserved", q="NO2>20")])
step("query_q_none", lambda: [e.id for e in client.query(type="AirQualityObserved", q="NO2>100")])
step("count", lambda: client.count(type="AirQualityObserved"))

batch = []
for i in range(30):
    entity = Entity("AirQualityObserved", f"Client:Batch{i}")
    entity.prop("NO2", float(i), unitcode="GQ", observedat=start)
    batch.append(entity)
step("batch_create", lambda: repr(client.batch.create(batch)))
for entity in batch:
    entity["NO2"].value = entity["NO2"].value + 100
step("batch_upsert", lambda: repr(client.batch.upsert(batch)))
step("query_all", lambda: len(list(client.query_generator(type="AirQualityObserved"))))

# a reading every ten minutes for an hour: the client's update is delete then create
for minute in range(10, 70, 10):
    step("update", lambda minute=minute: client.update(station(20.0 + minute, start + timedelta(minutes=minute))))
step("temporal_get", lambda: client.temporal.get(main.id, attrs=["NO2"]))
step("temporal_lastn", lambda: client.temporal.query(
    eid=main.id, attrs=["NO2"], lastn=2, tq=TemporalQuery().after(start - timedelta(minutes=1))))
step("temporal_between", lambda: client.temporal.query(
    eid=main.id, attrs=["NO2"],
    tq=TemporalQuery().between(start + timedelta(minutes=25), start + timedelta(minutes=45))))
step("temporal_aggregate", lambda: client.temporal.aggregate(
    type="AirQualityObserved", attrs=["NO2"], methods=[AggrMethod.AVERAGE, AggrMethod.MAXIMUM],
    period=timedelta(hours=2), q='name=="Station du marché"',
    tq=TemporalQuery().between(start - timedelta(minutes=1), start + timedelta(hours=1))).result)

subscription = (SubscriptionBuilder(f"http://127.0.0.1:{notify_port}/notify")
                .description("pollution above 100").select_type("AirQualityObserved")
                .watch(["NO2"]).query("NO2>100").build())
step("subscribe", lambda: client.subscriptions.create(subscription))
step("subscriptions", lambda: [s["description"] for s in client.subscriptions.list()])
step("update_high", lambda: client.update(station(150.0, start + timedelta(minutes=90))))
deadline = time.monotonic() + 20
while not notifications and time.monotonic() < deadline:
    time.sleep(0.05)
out["notifications"] = notifications
step("unsubscribe", lambda: client.subscriptions.delete("pollution above 100"))
step("subscriptions_after", lambda: client.subscriptions.list())

step("batch_delete", lambda: repr(client.batch.delete(batch)))
step("delete", lambda: client.delete(main))
step("exists_after", lambda: client.exists(main))
receiver.shutdown()
with open(out_file, "w", encoding="utf-8") as written:
    json.dump(out, written, default=str)
