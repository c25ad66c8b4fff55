"""Planners' flood and buildable pages and their JSON API through HTTP, on SQLite and PostgreSQL:
a planner's flow, the errors, and who gets in. (What the numbers are is checked in
``test_twin_planning_service.py``.)"""

from __future__ import annotations

import csv
import io
import json

import factories
from factories import PASSWORD
from parvis.kernel.i18n import Translator
from parvis.modules.twin import provision_demo
from parvis.modules.twin.flood import ILLUSTRATIVE_NOTICE
from web_helpers import sign_in

API = "/api/v1/twin/planning"
PAGES = ["/twin/planning/flood", "/twin/planning/buildable", "/twin/planning/buildable.csv",
         "/twin/planning/buildable.geojson"]
APIS = [f"{API}/flood", f"{API}/flood.png", f"{API}/hand.png", f"{API}/terrain", f"{API}/hazard.geojson",
        f"{API}/buildable", f"{API}/buildable.geojson"]


def test_a_planner_reads_the_flood_what_if_and_the_buildable_zones(client, db, settings):
    factories.district(db, "W", lon=107.575, lat=16.455, size=0.01)
    factories.district(db, "E", lon=107.585, lat=16.455, size=0.01)
    factories.staff(db, settings, "planner@example.org", "agent")
    sign_in(client, "planner@example.org", PASSWORD)
    # Before the twin has a terrain: a clear message, and a problem for the API.
    page = client.get("/twin/planning/flood")
    assert page.status_code == 200 and 'role="alert"' in page.text and "parvis twin import" in page.text
    assert client.get(f"{API}/flood").json()["type"].endswith("/twin-no-terrain")

    provision_demo(db, settings, size=(300, 200), buildings=60)
    page = client.get("/twin/planning/flood", params={"level": "4"})
    assert page.status_code == 200
    french = Translator("fr")
    assert french.gettext(ILLUSTRATIVE_NOTICE) in page.text  # the what-if is labelled illustrative
    assert french.gettext("Legal reference.") in page.text  # the official map is the reference
    assert 'type="range"' in page.text and 'name="level"' in page.text and 'value="4.0"' in page.text
    flood = client.get(f"{API}/flood", params={"level": 4.0}).json()
    assert flood["illustrative"] is True and flood["area_m2"] > 0
    assert f'data-value="{flood["exposure"]["buildings"]}"' in page.text
    higher = client.get(f"{API}/flood", params={"level": 5.0}).json()
    assert higher["area_m2"] > flood["area_m2"] and higher["exposure"]["buildings"] >= flood["exposure"]["buildings"]
    png = client.get(flood["png"])
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"{API}/hand.png").headers["content-type"] == "image/png"
    hazard = client.get(f"{API}/hazard.geojson").json()
    assert {"high", "medium"} <= {f["properties"]["hazard_level"] for f in hazard["features"]}

    for bad in ("nan", "abc", "-50", "1000"):
        problem = client.get(f"{API}/flood", params={"level": bad})
        assert problem.status_code == 422, bad
        assert problem.headers["content-type"].startswith("application/problem+json")
        assert problem.json()["type"].endswith("/twin-flood-level") and "9" in problem.json()["detail"]
        assert client.get(f"{API}/flood.png", params={"level": bad}).status_code == 422
    page = client.get("/twin/planning/flood", params={"level": "nan"})
    assert page.status_code == 422 and 'role="alert"' in page.text and "Traceback" not in page.text

    settings.twin_buildable_excluded_hazard = []  # the small twin lies inside the hazard bands
    stats = client.get(f"{API}/buildable").json()
    assert stats["total_ha"] > 0
    assert abs(sum(r["buildable_ha"] for r in stats["per_district"]) - stats["total_ha"]) < 0.001
    page = client.get("/twin/planning/buildable")
    assert page.status_code == 200 and "District W" in page.text and "/twin/planning/buildable.csv" in page.text
    exported = client.get("/twin/planning/buildable.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["district"] for r in rows] == [r["district"] for r in stats["per_district"]]
    geojson = json.loads(client.get("/twin/planning/buildable.geojson").text)
    assert geojson["type"] == "FeatureCollection" and geojson["features"]


def test_only_the_citys_staff_get_in(client, db, settings):
    provision_demo(db, settings, size=(300, 200), buildings=0)
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin"), path
    for path in APIS:
        assert client.get(path).status_code == 401, path
    factories.citizen(db, settings, "+84912300009")
    sign_in(client, "+84912300009", PASSWORD)
    for path in PAGES + APIS:
        assert client.get(path).status_code == 403, path
    factories.staff(db, settings, "agent@example.org", "agent")
    with type(client)(client.app) as agent:
        sign_in(agent, "agent@example.org", PASSWORD)
        for path in PAGES + APIS:
            assert agent.get(path).status_code == 200, path
