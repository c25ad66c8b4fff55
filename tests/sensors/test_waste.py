"""The waste department's "to collect today" list: threshold, prediction from the fill rate,
fullest first, grouped by district; who may see it (waste staff and admins only); page, print
view and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from tests import factories
from tests.sensors.conftest import create
from tests.web_helpers import bearer, sign_in

from parvis.kernel.db import utcnow
from parvis.modules.city import actions as city_actions
from parvis.modules.city.schemas import DepartmentCreate
from parvis.modules.sensors import observations, waste
from parvis.modules.sensors.actions import attribute_iri

FILL = attribute_iri("fillingLevel")


def _bin(n: str, lon: float, lat: float, fill: float) -> dict:
    when = utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {"id": f"urn:ngsi-ld:WasteContainer:{n}", "type": "WasteContainer",
            "name": {"type": "Property", "value": f"Bin {n}"},
            "fillingLevel": {"type": "Property", "value": fill, "observedAt": when},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}}


@pytest.fixture
def bins(client, db, settings, w) -> dict[str, int]:
    waste_dept = city_actions.create_department(db, None, DepartmentCreate(
        code="waste", name="Waste collection", kind="waste")).id
    roads = factories.department(db, "roads", "Roads")
    factories.district(db, "D1", 107.0, 16.0)
    factories.district(db, "D2", 107.02, 16.0)
    create(client, w, _bin("c1", 107.005, 16.005, 0.9))
    create(client, w, _bin("c2", 107.006, 16.005, 0.8))
    create(client, w, _bin("c3", 107.025, 16.005, 0.95))
    create(client, w, _bin("c4", 107.026, 16.005, 0.3))  # not full, not filling
    create(client, w, _bin("c5", 107.027, 16.005, 0.6))  # filling 10 points an hour
    create(client, w, _bin("c6", 106.5, 16.5, 0.99))  # outside every district
    now = utcnow()
    with db.transaction() as session:
        observations.store(session, [
            {"entity_id": "urn:ngsi-ld:WasteContainer:c5", "attribute": FILL,
             "observed_at": now - timedelta(hours=h), "number": 0.6 - 0.1 * h, "value": 0.6 - 0.1 * h}
            for h in range(1, 5)] + [
            {"entity_id": "urn:ngsi-ld:WasteContainer:c4", "attribute": FILL,
             "observed_at": now - timedelta(hours=h), "number": 0.3, "value": 0.3} for h in range(1, 4)])
    factories.staff(db, settings, "bins@city.example", "agent", [waste_dept])
    factories.staff(db, settings, "roads@city.example", "agent", [roads])
    factories.staff(db, settings, "boss@city.example", "admin")
    return {"waste": waste_dept, "roads": roads}


def _names(body: dict) -> list[tuple[str | None, list[str]]]:
    return [(d["district"], [c["name"] for c in d["containers"]]) for d in body["districts"]]


def test_to_collect_by_district_fullest_first(client, bins) -> None:
    response = client.get("/api/v1/sensors/waste/to-collect", headers=bearer(client, "bins@city.example"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert _names(body) == [("District D1", ["Bin c1", "Bin c2"]), ("District D2", ["Bin c3", "Bin c5"]),
                            (None, ["Bin c6"])]
    c5 = body["districts"][1]["containers"][1]
    assert c5["reason"] == "predicted" and c5["fillRatePerHour"] == pytest.approx(0.1, abs=1e-6)
    assert c5["predictedAtNextRound"] > 0.75
    assert body["districts"][0]["containers"][0]["reason"] == "full"
    assert body["threshold"] == 0.75


def test_the_threshold_is_a_setting(client, bins, settings) -> None:
    settings.waste_collect_threshold = 0.92
    body = client.get("/api/v1/sensors/waste/to-collect", headers=bearer(client, "boss@city.example")).json()
    names = _names(body)
    assert ("District D2", ["Bin c3", "Bin c5"]) in names  # c5 is still predicted to reach 92 %
    assert ("District D1", ["Bin c1", "Bin c2"]) not in names and all(d != "District D1" for d, _ in names)


def test_only_waste_staff_and_admins(client, db, settings, bins) -> None:
    url = "/api/v1/sensors/waste/to-collect"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(client, "roads@city.example")).status_code == 403
    assert client.get(url, headers=bearer(client, "boss@city.example")).status_code == 200
    factories.citizen(db, settings)
    assert client.get(url, headers=bearer(client, "+84912345678")).status_code == 403
    page = client.get("/sensors/waste", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/signin")
    sign_in(client, "roads@city.example", factories.PASSWORD)
    assert client.get("/sensors/waste").status_code == 403
    assert client.get("/sensors/waste/to-collect.csv").status_code == 403


def test_page_print_view_and_csv(client, bins) -> None:
    sign_in(client, "bins@city.example", factories.PASSWORD)
    page = client.get("/sensors/waste", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    listing = page.text.split('id="to-collect"')[1]
    assert listing.index("District D1") < listing.index("Bin c1") < listing.index("Bin c2") \
        < listing.index("District D2") < listing.index("Bin c3") < listing.index("Bin c5")
    assert "Bin c4" not in listing and "90 %" in listing
    printable = client.get("/sensors/waste/print")
    assert printable.status_code == 200 and "Bin c6" in printable.text
    sheet = client.get("/sensors/waste/to-collect.csv")
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(sheet.text)))
    assert rows[0][:4] == ["district", "container_id", "name", "filling_level_percent"]
    assert [(r[0], r[2], r[3], r[4]) for r in rows[1:]] == [
        ("District D1", "Bin c1", "90", "full"), ("District D1", "Bin c2", "80", "full"),
        ("District D2", "Bin c3", "95", "full"), ("District D2", "Bin c5", "60", "predicted"),
        ("", "Bin c6", "99", "full")]


def test_fill_rate_starts_after_the_last_emptying() -> None:
    h = datetime(2026, 11, 30, tzinfo=UTC)
    hours = {h + timedelta(hours=n): (2, 2 * v, v, v) for n, v in enumerate((0.8, 0.9, 0.05, 0.15, 0.25))}
    assert waste.fill_rate(hours) == pytest.approx(0.1)
    assert waste.fill_rate({h: (1, 0.5, 0.5, 0.5)}) is None
    assert waste.fill_rate({h: (1, 40.0, 40.0, 40.0), h + timedelta(hours=2): (1, 50.0, 50.0, 50.0)}) \
        == pytest.approx(0.05)  # percents


def test_next_round_is_tomorrow_morning_local_time() -> None:
    at = datetime(2026, 11, 30, 20, tzinfo=UTC)  # 03:00 on 1 December in Hanoi
    assert waste.next_round(at, "Asia/Ho_Chi_Minh", 6) == datetime(2026, 12, 1, 23, tzinfo=UTC)


def test_the_list_reads_the_districts_once_not_once_per_container(client, db, bins, w) -> None:
    """A city of thousands of bins: the statements of the list do not grow with them."""
    from sqlalchemy import event

    def statements() -> int:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            with db.read() as session:
                found = waste.containers(session, threshold=0.75, timezone="Asia/Ho_Chi_Minh", round_hour=6)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert {c.id.rsplit(":", 1)[-1]: c.district for c in found}["c1"] == "District D1"
        return len(seen)

    few = statements()
    for n in range(20):
        create(client, w, _bin(f"x{n}", 107.001 + n * 0.001, 16.001, 0.5))
    assert statements() == few
