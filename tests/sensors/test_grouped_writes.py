"""Attribute writes arriving together share a transaction (group commit), and each request is
still answered as if it had been alone."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import orjson

from conftest import BASE, SDM, air, create, link
from parvis.modules.sensors import actions
from parvis.modules.sensors.changes import Change

NO2, O3, CO = (actions.attribute_iri(n) for n in ("NO2", "O3", "CO"))


def prop(value: float) -> dict:
    return {"type": "Property", "value": value}


def test_a_group_of_writes_is_answered_write_by_write_in_order(client, db, w, r, monkeypatch):
    create(client, w, air(1))
    create(client, w, air(2))
    seen: list[list[Change]] = []
    from parvis.modules.sensors import rules
    real = rules.on_changes
    monkeypatch.setattr(rules, "on_changes", lambda session, changes: (seen.append(changes),
                                                                       real(session, changes))[1])
    e1, e2 = air(1)["id"], air(2)["id"]
    results = actions.write_attributes(db, [
        actions.AttributeWrite(e1, {NO2: prop(11)}, existing_only=True),
        actions.AttributeWrite("urn:ngsi-ld:AirQualityObserved:404", {NO2: prop(1)}),
        actions.AttributeWrite(e1, {O3: prop(60)}),  # appended after the first write of e1
        actions.AttributeWrite(e1, {CO: prop(3), NO2: prop(12)}, existing_only=True),
        actions.AttributeWrite(e2, {NO2: prop(70)}, overwrite=False),
    ])
    assert results[0] == [] and results[2] == []
    assert isinstance(results[1], actions.EntityNotFound)
    assert results[3] == [CO]  # e1 has no CO: not written; NO2 was
    assert results[4] == [NO2]  # noOverwrite
    one = client.get(f"{BASE}/entities/{e1}", headers=r).json()
    assert one["NO2"]["value"] == 12 and one["O3"]["value"] == 60 and "CO" not in one
    assert client.get(f"{BASE}/entities/{e2}", headers=r).json()["NO2"]["value"] == 40
    # one transaction: the reactions saw e1 once, with everything written to it
    assert len(seen) == 1 and [c.entity_id for c in seen[0]] == [e1]
    assert seen[0][0].changed == {NO2, O3}


def test_concurrent_updates_share_transactions_and_all_land(client, w, r, monkeypatch):
    for n in range(1, 9):
        create(client, w, air(n))
    sizes: list[int] = []
    real = actions.write_attributes

    def slow_first(db, writes):  # the first transaction takes long enough for the others to queue
        sizes.append(len(writes))
        if len(sizes) == 1:
            time.sleep(0.3)
        return real(db, writes)

    monkeypatch.setattr(actions, "write_attributes", slow_first)

    def update(n: int) -> int:
        entity = f"urn:ngsi-ld:AirQualityObserved:{n % 8 + 1}"
        body = {"NO2": prop(100 + n)} if n != 5 else {"CO": prop(1)}
        return client.patch(f"{BASE}/entities/{entity}/attrs", json=body, headers=w).status_code

    with ThreadPoolExecutor(16) as pool:
        first = pool.submit(update, 0)
        time.sleep(0.1)
        statuses = [first.result(), *pool.map(update, range(8, 16)), update(5)]
    assert statuses[:-1] == [204] * 9 and statuses[-1] == 207  # CO: not an attribute of entity 6
    assert len(sizes) < 10 and max(sizes) > 1  # grouped
    values = {n: client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:{n}", headers=r).json()["NO2"]["value"]
              for n in range(1, 9)}
    assert values == {n: 100 + 8 + n - 1 for n in range(1, 9)}


def test_a_missing_entity_in_a_group_fails_alone_over_http(client, w, r):
    create(client, w, air(1))

    def update(entity: str) -> int:
        return client.patch(f"{BASE}/entities/{entity}/attrs", json={"NO2": prop(5)}, headers=w).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(update, [air(1)["id"], "urn:ngsi-ld:AirQualityObserved:404"] * 4))
    assert statuses == [204, 404] * 4
    assert client.get(f"{BASE}/entities/{air(1)['id']}", headers=r).json()["NO2"]["value"] == 5


def test_partial_attribute_updates_in_a_group_keep_their_own_errors(client, db, w, r):
    create(client, w, air(1))
    e1 = air(1)["id"]
    location = actions.attribute_iri("location")
    results = actions.write_attributes(db, [
        actions.AttributeWrite(e1, {NO2: {"value": 21}}, partial=True),
        actions.AttributeWrite(e1, {CO: {"value": 1}}, partial=True),  # no such attribute
        actions.AttributeWrite(e1, {location: {"value": {"type": "Point", "coordinates": [500, 0]}}},
                               partial=True),  # not a position on Earth
        actions.AttributeWrite(e1, {location: {"value": {"type": "Point", "coordinates": [105.0, 11.6]}}},
                               partial=True),
    ])
    assert results[0] == [] and results[3] == []
    assert isinstance(results[1], actions.AttributeNotFound)
    assert getattr(results[2], "status", None) == 400
    one = client.get(f"{BASE}/entities/{e1}", headers=r).json()
    assert one["NO2"]["value"] == 21 and one["NO2"]["unitCode"] == "GQ"  # the other fields kept
    assert one["location"]["value"]["coordinates"] == [105.0, 11.6]
    near = client.get(f"{BASE}/entities?georel=near;maxDistance==10&geometry=Point&coordinates=[105.0,11.6]",
                      headers=r)
    assert [e["id"] for e in near.json()] == [e1]  # the location columns moved with it


def test_batches_of_one_process_all_land_and_on_sqlite_take_turns(client, db, w, r, monkeypatch):
    """Concurrent batch upserts all land; on SQLite (one writer) a web process writes one at a time,
    so that parsing the next one does not slow the writer (``batch_api._turn``)."""
    running: list[int] = []
    most = [0]
    real = actions.run_batch

    def tracked(*args, **kwargs):
        running.append(1)
        most[0] = max(most[0], len(running))
        time.sleep(0.05)  # long enough for the other batches to arrive meanwhile
        try:
            return real(*args, **kwargs)
        finally:
            running.pop()

    monkeypatch.setattr(actions, "run_batch", tracked)

    def upsert(n: int) -> int:
        batch = [air(k, no2=float(100 * n + k)) for k in range(1, 21)]
        return client.post(f"{BASE}/entityOperations/upsert", json=batch, headers=w).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(upsert, range(6)))
    assert sorted(statuses) == [201] + [204] * 5
    assert (most[0] == 1) if db.is_sqlite else (most[0] > 1)  # PostgreSQL's writers run side by side
    values = [client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:{k}", headers=r).json()["NO2"]["value"]
              for k in range(1, 21)]
    assert [v % 100 for v in values] == list(range(1, 21))
    assert len({v // 100 for v in values}) == 1  # the last batch written holds every entity, whole


def test_a_slow_upload_holds_up_no_other_batch(app, w):
    """A batch's body is read before its process's turn: a client that stalls mid-upload delays
    only itself."""
    body = orjson.dumps([air(1)])

    async def call(stall: asyncio.Event | None) -> list[int]:
        status: list[int] = []
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": f"{BASE}/entityOperations/upsert",
                 "raw_path": f"{BASE}/entityOperations/upsert".encode(), "query_string": b"", "root_path": "",
                 "server": ("testserver", 80), "client": ("127.0.0.1", 1),
                 "headers": [(b"content-type", b"application/json"), (b"x-api-key", w["X-Api-Key"].encode()),
                             (b"link", link(SDM).encode()), (b"content-length", str(len(body)).encode())]}

        async def receive() -> dict:
            if stall is not None:
                await stall.wait()
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status

    async def both() -> tuple[list[int], list[int]]:
        stalled = asyncio.Event()
        slow = asyncio.create_task(call(stalled))
        await asyncio.sleep(0.2)
        fast = await asyncio.wait_for(call(None), 10)  # not behind the stalled upload
        stalled.set()
        return fast, await slow

    fast, slow = asyncio.run(both())
    assert fast == [201] and slow == [204]
