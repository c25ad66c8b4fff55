"""Roof solar potential pages and API: a citizen finds a building by part of its address (with or
without accents), sees its figures, the monthly chart and the coloured roof, prints or downloads
the summary; "being computed (N %)" before results; the energy department's statistics per
district add up and their CSV parses; the API answers GeoJSON in a box."""

from __future__ import annotations

import csv
import html
import io
import re

import numpy as np
import pytest
from sqlalchemy import select
from tests import factories
from tests.web_helpers import sign_in

from parvis.demo import district_grid
from parvis.kernel.db import Database
from parvis.kernel.i18n import Translator
from parvis.modules.city import actions as city
from parvis.modules.twin import actions, demo_twin
from parvis.modules.twin.jobs import request_solar_run
from parvis.modules.twin.models import Building
from parvis.modules.twin.solar_run import building_solar, run_solar

SIZE = (240.0, 160.0)
BUILDINGS = 20


@pytest.fixture
def city_twin(db: Database, settings) -> Database:
    city.import_districts(db, None, {"type": "FeatureCollection", "features": district_grid()})
    demo_twin.provision(db, settings, size=SIZE, buildings=BUILDINGS)
    return db


@pytest.fixture
def computed(city_twin: Database, settings) -> Database:
    run_solar(city_twin, settings, xp=np)
    return city_twin


def _building(db: Database, address: str) -> dict:
    with db.read() as session:
        building_id = session.scalar(select(Building.id).where(Building.address == address))
        return building_solar(session, building_id)


def _en(client) -> None:
    client.headers["Accept-Language"] = "en"  # the msgids: tests do not depend on the catalogs


def test_a_citizen_finds_a_building_by_part_of_its_address_and_sees_its_figures(client, computed) -> None:
    _en(client)
    for query in ("43 Lê Lợi", "43 le loi", "LE LOI", "lợi"):
        page = client.get("/twin/solar", params={"q": query})
        assert page.status_code == 200
        assert "43 Lê Lợi" in page.text, query
    link = re.search(r'<a href="(/twin/solar/buildings/\d+)">43 Lê Lợi</a>', client.get(
        "/twin/solar", params={"q": "43 le loi"}).text)
    assert link is not None
    nothing = client.get("/twin/solar", params={"q": "rue qui n'existe pas"})
    assert "No building has this address" in nothing.text
    api = client.get("/api/v1/twin/solar/search", params={"q": "le loi"}).json()
    assert api["results"] and all("Lê Lợi" in r["address"] for r in api["results"])

    # The building's page: figures, the roof drawn and coloured, the monthly chart, the method.
    building = _building(computed, "43 Lê Lợi")
    assert link.group(1) == f"/twin/solar/buildings/{building['id']}"
    page = client.get(link.group(1))
    assert page.status_code == 200
    text = page.text
    en = Translator("en")
    totals = building["totals"]
    assert totals["kwp"] > 0 and totals["yearly_kwh"] > 1000
    assert f'data-figure="yearly">{en.format_number(round(totals["yearly_kwh"]))} kWh' in text
    assert f'data-figure="kwp">{en.format_number(round(totals["kwp"], 1))} kWp' in text
    assert en.format_currency(round(totals["saving"], -2), "VND") in text
    # The roof drawn from above: one coloured path per face; the chart: 12 bars.
    assert text.count('class="roof-face"') == len(building["faces"]) >= 1
    assert text.count('class="solar-bar"') == 12
    december = en.format_number(round(totals["monthly_kwh"][11]))
    assert f'<th scope="row">December</th><td>{december}</td>' in text  # the chart's values as a table
    assert "clear sky" in text  # the method, with its limits
    # Per face: its irradiation in the table.
    for face in building["faces"]:
        assert f"<td>{en.format_number(round(face['annual_kwh_m2']))}</td>" in text

    # In French (the default) numbers are grouped the French way.
    del client.headers["Accept-Language"]
    text = client.get(f"/twin/solar/buildings/{building['id']}").text
    fr = Translator("fr").format_number(round(building["totals"]["yearly_kwh"]))
    assert f'data-figure="yearly">{fr} kWh' in text
    assert "\u202f" in fr or "\xa0" in fr  # French groups thousands with a (narrow) space


def test_the_printable_summary_and_its_download(client, computed) -> None:
    _en(client)
    building = _building(computed, "43 Lê Lợi")
    page = client.get(f"/twin/solar/buildings/{building['id']}/summary")
    assert page.status_code == 200
    assert "@page { size: A4" in page.text and "@media print" in page.text
    assert page.text.count('class="roof-face"') == len(building["faces"])
    assert "Content-Disposition" not in page.headers
    download = client.get(f"/twin/solar/buildings/{building['id']}/summary", params={"download": "1"})
    assert download.headers["Content-Disposition"] == f'attachment; filename="solar-{building["ref"]}.html"'
    assert 'href="/static/' not in download.text  # self-contained: it works once saved
    assert "solar-bar" in download.text
    missing = client.get("/twin/solar/buildings/999999")
    assert missing.status_code == 404
    assert "not in the city's digital twin" in html.unescape(missing.text)
    api = client.get("/api/v1/twin/solar/buildings/999999")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


def test_being_computed_is_said_instead_of_empty_figures(client, city_twin) -> None:
    _en(client)
    building = _building(city_twin, "43 Lê Lợi")
    run_id = request_solar_run(city_twin)
    actions.progress_run(city_twin, run_id, 0.42, message="shadows")
    page = client.get(f"/twin/solar/buildings/{building['id']}")
    assert "is being computed (42 %)" in page.text
    assert 'data-figure="yearly"' not in page.text
    assert "being computed (42 %)" in client.get("/twin/solar").text
    assert client.get("/api/v1/twin/solar/status").json()["percent"] == 42


def test_the_geojson_api_gives_the_buildings_in_a_box_with_their_potential(client, computed) -> None:
    everything = client.get("/api/v1/twin/solar/buildings.geojson", params={"bbox": "107,16,108,17"})
    assert everything.status_code == 200
    features = everything.json()["features"]
    assert len(features) == BUILDINGS
    assert all(f["properties"]["annual_kwh_m2"] > 1000 for f in features)
    assert "population" not in features[0]["properties"]
    one = features[0]
    lons = [p[0] for p in one["geometry"]["coordinates"][0]]
    lats = [p[1] for p in one["geometry"]["coordinates"][0]]
    small = f"{min(lons) - 1e-6},{min(lats) - 1e-6},{max(lons) + 1e-6},{max(lats) + 1e-6}"
    some = client.get("/api/v1/twin/solar/buildings.geojson", params={"bbox": small}).json()["features"]
    assert one["id"] in [f["id"] for f in some] and len(some) < BUILDINGS
    bad = client.get("/api/v1/twin/solar/buildings.geojson", params={"bbox": "108,16,107,17"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    detail = client.get(f"/api/v1/twin/solar/buildings/{one['id']}").json()
    assert detail["totals"]["kwp"] == pytest.approx(one["properties"]["kwp"], abs=0.01)
    assert "heating_system" not in detail


def test_the_energy_department_sees_statistics_per_district_that_add_up(client, computed, db, settings) -> None:
    assert client.get("/twin/solar/city", follow_redirects=False).status_code in (302, 303, 401)
    factories.staff(db, settings, "energy.agent@example.org", role="agent")
    sign_in(client, "energy.agent@example.org", factories.PASSWORD)
    _en(client)
    page = client.get("/twin/solar/city")
    assert page.status_code == 200 and "By district" in page.text
    response = client.get("/twin/solar/districts.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    total = rows[-1]
    districts = rows[:-1]
    assert total["district"] == "total" and int(total["buildings"]) == BUILDINGS
    assert districts and all(r["district"] for r in districts)
    assert sum(int(r["buildings"]) for r in districts) == int(total["buildings"])
    assert sum(float(r["yearly_mwh"]) for r in districts) == pytest.approx(float(total["yearly_mwh"]), abs=0.05)
    assert sum(float(r["kwp"]) for r in districts) == pytest.approx(float(total["kwp"]), abs=0.5)
    for row in rows:
        share = 100 * int(row["suitable_buildings"]) / int(row["buildings"])
        assert float(row["share_suitable_pct"]) == pytest.approx(share, abs=0.06)
    # Rows are the city's districts, by name.
    assert {r["district"] for r in districts} <= {f["properties"]["name"] for f in district_grid()}
