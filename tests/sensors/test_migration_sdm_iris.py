"""Migration 0019: what was stored under the old Smart Data Models IRIs is renamed, both ways.

The rows are written by the hub itself at the head revision, the database is taken down to 0018
(the old IRIs must then be what is stored) and up again (the hub must read everything back)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from conftest import BASE, create
from parvis.migrations import alembic_config, upgrade
from parvis.modules.sensors import actions
from parvis.modules.sensors.aggregate_models import HourlyAggregate

OLD_SPOT = "https://smartdatamodels.org/dataModel.Transportation/ParkingSpot"
OLD_STATUS = "https://smartdatamodels.org/dataModel.Transportation/status"
OLD_NO2 = "https://uri.etsi.org/ngsi-ld/default-context/no2"
OLD_ADDRESS = "https://schema.org/address"
NEW_SPOT = "https://smartdatamodels.org/dataModel.Parking/ParkingSpot"
NEW_STATUS = "https://uri.etsi.org/ngsi-ld/status"
NEW_NO2 = "https://smartdatamodels.org/dataModel.Environment/no2"
SPOT = "urn:ngsi-ld:ParkingSpot:m1"
STATION = "urn:ngsi-ld:AirQualityObserved:m1"


def _stored(db) -> dict[str, object]:
    with db.read() as session:
        def one(sql: str):
            return session.execute(text(sql)).scalar()
        return {"type": one(f"SELECT type FROM sensors_entities WHERE id = '{SPOT}'"),
                "attrs": str(one(f"SELECT attrs FROM sensors_entities WHERE id = '{SPOT}'")),
                "station": str(one(f"SELECT attrs FROM sensors_entities WHERE id = '{STATION}'")),
                "observed": one(f"SELECT attribute FROM sensors_observations WHERE entity_id = '{STATION}'"),
                "hourly": one(f"SELECT attribute FROM sensors_aggregates_hourly WHERE entity_id = '{STATION}'"),
                "device": one("SELECT entity_type FROM sensors_devices WHERE device_id = 'spot-m1'"),
                "subscription": str(one("SELECT entities FROM sensors_subscriptions")),
                "watched": str(one("SELECT watched FROM sensors_subscriptions")),
                "q_terms": str(one("SELECT q_terms FROM sensors_subscriptions"))}


def test_old_iris_are_renamed_and_back(client, db, database_url, w, r):
    actions.provision_device(db, api_key="k", device_id="spot-m1", entity_id=SPOT, entity_type="ParkingSpot",
                             attributes={"s": "status"}, lon=107.58, lat=16.46)
    spot = {"status": {"type": "Property", "value": "free",
                       "reliability": {"type": "Property", "value": 0.9}},
            "address": {"type": "Property", "value": {"streetAddress": "1 Lê Lợi"}}}
    assert client.post(f"{BASE}/entities/{SPOT}/attrs", json=spot, headers=w).status_code == 204
    create(client, w, {"id": STATION, "type": "AirQualityObserved",
                       "no2": {"type": "Property", "value": 41, "observedAt": "2026-11-29T08:00:00Z"}})
    with db.transaction() as session:
        session.add(HourlyAggregate(entity_id=STATION, attribute=NEW_NO2, hour=datetime(2026, 11, 29, 8, tzinfo=UTC),
                                    count=1, total=41, minimum=41, maximum=41))
    subscription = {"type": "Subscription", "entities": [{"type": "ParkingSpot"}], "watchedAttributes": ["status"],
                    "q": 'status=="free"', "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}}}
    assert client.post(f"{BASE}/subscriptions", json=subscription, headers=w).status_code == 201
    db.dispose()

    command.downgrade(alembic_config(database_url), "0018")
    try:
        old = _stored(db)
        assert old["type"] == OLD_SPOT and old["device"] == OLD_SPOT
        assert OLD_STATUS in old["attrs"] and OLD_ADDRESS in old["attrs"] and NEW_STATUS not in old["attrs"]
        assert old["observed"] == OLD_NO2 and old["hourly"] == OLD_NO2 and OLD_NO2 in old["station"]
        assert OLD_SPOT in old["subscription"] and OLD_STATUS in old["watched"] and OLD_STATUS in old["q_terms"]
    finally:
        db.dispose()
        upgrade(database_url)

    new = _stored(db)
    assert new["type"] == NEW_SPOT and new["device"] == NEW_SPOT and new["observed"] == NEW_NO2
    assert OLD_STATUS not in new["attrs"] and OLD_NO2 not in new["station"] and OLD_SPOT not in new["subscription"]
    # the hub reads all of it back as it wrote it
    got = client.get(f"{BASE}/entities/{SPOT}", headers=r).json()
    assert got["type"] == "ParkingSpot" and got["status"]["value"] == "free"
    assert got["status"]["reliability"]["value"] == 0.9 and got["address"]["value"]["streetAddress"] == "1 Lê Lợi"
    found = client.get(f"{BASE}/entities?type=ParkingSpot&q=status==%22free%22", headers=r).json()
    assert [e["id"] for e in found] == [SPOT]
    history = client.get(f"{BASE}/temporal/entities/{STATION}", headers=r).json()
    assert [i["value"] for i in history["no2"]] == [41]
    (listed,) = client.get(f"{BASE}/subscriptions", headers=w).json()
    assert listed["entities"] == [{"type": "ParkingSpot"}] and listed["watchedAttributes"] == ["status"]
