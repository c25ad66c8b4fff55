"""On SQLite, entities are stored side by side with the others of their type (migration 0020), so
that a batch of one type rewrites neighbouring pages: new entities through every way of creating
one, and those stored before the migration, which it moves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from conftest import BASE, air, create
from parvis.migrations import alembic_config, upgrade

SPAN = 2 ** 32


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: PostgreSQL keeps rows in a heap, where this layout does not apply."""
    path = tmp_path / "parvis.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def _rows(db) -> list[tuple[int, str, str]]:
    """(rowid, id, short type) of every stored entity, in storage order."""
    with db.read() as session:
        rows = session.execute(text("SELECT rowid, id, type FROM sensors_entities ORDER BY rowid")).all()
    return [(rowid, entity_id, kind.rsplit("/", 1)[-1]) for rowid, entity_id, kind in rows]


def _slots(db) -> dict[str, int]:
    with db.read() as session:
        return {kind.rsplit("/", 1)[-1]: slot for kind, slot in
                session.execute(text("SELECT type, slot FROM sensors_entity_ranges")).all()}


def _bin(n: int) -> dict:
    return {"id": f"urn:ngsi-ld:WasteContainer:{n}", "type": "WasteContainer",
            "fillingLevel": {"type": "Property", "value": 0.5}}


def _assert_grouped(rows: list[tuple[int, str, str]], slots: dict[str, int]) -> None:
    for rowid, entity_id, kind in rows:
        assert slots[kind] * SPAN <= rowid < (slots[kind] + 1) * SPAN, (entity_id, kind, rowid)
    kinds = [kind for _rowid, _id, kind in rows]
    assert kinds == sorted(kinds, key=lambda kind: slots[kind])  # one run per type


def test_entities_created_in_any_order_are_stored_by_type(client, db, w, r):
    create(client, w, air(1))
    create(client, w, _bin(1))
    create(client, w, air(2))
    batch = [air(3), _bin(2), air(4), _bin(3)]
    assert client.post(f"{BASE}/entityOperations/create", json=batch, headers=w).status_code == 201
    upsert = [_bin(4), air(5), {"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot",
                                "status": {"type": "Property", "value": "free"}}]
    assert client.post(f"{BASE}/entityOperations/upsert", json=upsert, headers=w).status_code == 201

    rows = _rows(db)
    assert len(rows) == 10
    _assert_grouped(rows, _slots(db))
    # within a type, in the order they were created
    assert [i for _rowid, i, kind in rows if kind == "AirQualityObserved"] == [
        f"urn:ngsi-ld:AirQualityObserved:{n}" for n in range(1, 6)]
    assert [i for _rowid, i, kind in rows if kind == "WasteContainer"] == [
        f"urn:ngsi-ld:WasteContainer:{n}" for n in range(1, 5)]
    # and read as before
    listed = client.get(f"{BASE}/entities?type=WasteContainer", headers=r).json()
    assert sorted(e["id"] for e in listed) == [f"urn:ngsi-ld:WasteContainer:{n}" for n in range(1, 5)]
    near = client.get(f"{BASE}/entities?type=AirQualityObserved&georel=near;maxDistance==100"
                      "&geometry=Point&coordinates=[104.9,11.55]", headers=r).json()
    assert len(near) == 5


def test_a_deleted_and_created_again_entity_goes_back_to_its_type(client, db, w):
    create(client, w, air(1))
    create(client, w, _bin(1))
    assert client.delete(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=w).status_code == 204
    create(client, w, _bin(2))
    create(client, w, air(1))
    _assert_grouped(_rows(db), _slots(db))


def test_a_full_range_leaves_new_entities_where_sqlite_puts_them(client, db, w, r):
    create(client, w, air(1))
    slot = _slots(db)["AirQualityObserved"]
    with db.transaction() as session:  # as if 2^32 of them had been created over the years
        session.execute(text(f"UPDATE sensors_entities SET rowid = {(slot + 1) * SPAN - 1}"))
    create(client, w, _bin(1))
    create(client, w, air(2))
    rows = {entity_id: rowid for rowid, entity_id, _kind in _rows(db)}
    assert not slot * SPAN <= rows["urn:ngsi-ld:AirQualityObserved:2"] < (slot + 1) * SPAN
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2", headers=r).status_code == 200


@pytest.mark.parametrize("clause", ["OR ABORT", "OR FAIL", "OR REPLACE", "OR ROLLBACK", ""])
def test_any_conflict_clause_of_an_insert_keeps_the_ranges(client, db, w, clause):
    """SQLite gives an INSERT's conflict clause to its trigger's statements too."""
    create(client, w, air(1))
    before = _slots(db)
    with db.transaction() as session:
        session.execute(text(f"INSERT {clause} INTO sensors_entities (id, type, created_at, modified_at, attrs) "
                             "SELECT 'urn:ngsi-ld:AirQualityObserved:9', type, created_at, modified_at, attrs "
                             "FROM sensors_entities"))
    assert _slots(db) == before
    _assert_grouped(_rows(db), before)


def test_the_migration_moves_stored_entities_together_and_back(client, db, database_url, w, r):
    db.dispose()
    command.downgrade(alembic_config(database_url), "0019")
    try:
        for n in range(1, 4):  # interleaved, as devices are provisioned over the years
            create(client, w, air(n, lon=104.9 + n / 1000))
            create(client, w, _bin(n))
        assert client.post(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2/attrs", headers=w,
                           json={"pm25": {"type": "Property", "value": 12}}).status_code == 204
        before = _rows(db)
        assert [kind for _rowid, _id, kind in before] == ["AirQualityObserved", "WasteContainer"] * 3
        with db.read() as session:
            stored = session.execute(text("SELECT * FROM sensors_entities ORDER BY id")).all()
    finally:
        db.dispose()
        upgrade(database_url)

    after = _rows(db)
    _assert_grouped(after, _slots(db))
    assert [i for _rowid, i, _kind in after] == [f"urn:ngsi-ld:AirQualityObserved:{n}" for n in (1, 2, 3)] + [
        f"urn:ngsi-ld:WasteContainer:{n}" for n in (1, 2, 3)]
    with db.read() as session:
        assert session.execute(text("SELECT * FROM sensors_entities ORDER BY id")).all() == stored
        indexes = {name for (name,) in session.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sensors_entities'"))}
    assert {"ix_sensors_entities_type_id", "ix_sensors_entities_type_box", "ix_sensors_entities_box"} <= indexes
    # the id is still unique, the hub reads and queries what it stored
    duplicate = client.post(f"{BASE}/entities", json=air(1), headers=w)
    assert duplicate.status_code == 409
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2", headers=r).json()
    assert got["pm25"]["value"] == 12 and got["NO2"]["value"] == 40.0
    near = client.get(f"{BASE}/entities?type=AirQualityObserved&georel=near;maxDistance==50"
                      "&geometry=Point&coordinates=[104.902,11.55]", headers=r).json()
    assert [e["id"] for e in near] == ["urn:ngsi-ld:AirQualityObserved:2"]
    # and what comes next lands with its type
    create(client, w, _bin(4))
    create(client, w, air(4))
    _assert_grouped(_rows(db), _slots(db))

    db.dispose()
    command.downgrade(alembic_config(database_url), "0019")
    try:
        with db.read() as session:
            left = {name for (name,) in session.execute(text(
                "SELECT name FROM sqlite_master WHERE name IN ('sensors_entity_ranges', 'sensors_entities_by_type')"))}
        assert left == set()
        assert len(_rows(db)) == 8
    finally:
        db.dispose()
        upgrade(database_url)
