""""My home" estimate page and API: the figures are the insulation engine's for the city's settings,
the form is pre-filled from a building of the twin, wrong answers come back translated (422), and
the "what if" table lists each improvement with its saving and an honest payback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from babel.numbers import format_decimal
from fastapi.testclient import TestClient
from sqlalchemy import select

from parvis.kernel.db import Database
from parvis.kernel.i18n import Translator
from parvis.modules.twin import home_service, provision_demo
from parvis.modules.twin.insulation import NO_PAYBACK_LABELS, HomeInputs, estimate, improvements
from parvis.modules.twin.models import Building
from parvis.settings import Settings
from web_helpers import csrf_of

ANSWERS = {"period": "1946_1970", "floor_area_m2": "120", "storeys": "2", "attached_sides": "1",
           "roof_type": "pitched_uninsulated", "wall_type": "brick_uninsulated", "window_type": "single_glazing",
           "heating_system": "gas_boiler"}
INPUTS = HomeInputs(floor_area_m2=120.0, storeys=2, period="1946_1970", attached_sides=1,
                    roof_type="pitched_uninsulated", wall_type="brick_uninsulated", window_type="single_glazing",
                    heating_system="gas_boiler")
FR = Translator("fr")  # the city's default language: new strings follow the catalog once translated
# A Namur-like climate makes the classes and paybacks meaningful (the default is central Vietnam's).
NAMUR = {"twin_heating_degree_days": 2800.0,
         "twin_energy_prices": {"gas": 0.10, "oil": 0.11, "electricity": 0.35, "wood": 0.08},
         "twin_improvement_costs": {"roof_per_m2": 70.0, "wall_per_m2": 160.0, "window_per_m2": 650.0,
                                    "heat_pump_per_kw": 1200.0, "heat_pump_fixed": 4000.0},
         "currency": "EUR"}


@contextmanager
def _city(db: Database, settings: Settings, **changes: object) -> Iterator[tuple[TestClient, Settings]]:
    """A client of the app run with these settings changed (the currency included)."""
    from parvis.app import create_app

    changed = settings.model_copy(update=changes)
    with TestClient(create_app(changed, database=db), raise_server_exceptions=False) as client:
        yield client, changed


def _post(client, data: dict[str, str], **headers: str):
    return client.post("/twin/home", data={**data, "csrf_token": csrf_of(client, "/twin/home")}, headers=headers)


def _fr(value: float) -> str:
    return format_decimal(value, locale="fr")


def test_the_page_shows_the_engine_figures_class_and_cost(db: Database, settings: Settings) -> None:
    with _city(db, settings, **NAMUR) as (client, city):
        expected = estimate(INPUTS, 2800.0, home_service.prices_of(city), home_service.typology_of(city))
        response = _post(client, ANSWERS)
    assert response.status_code == 200, response.text[:400]
    html = response.text
    assert f'data-class="{expected.energy_class}"' in html
    assert expected.energy_class == "E"  # an unrenovated 1950s semi-detached house in Namur
    assert 'aria-current="true">E' in html  # the coloured scale points at E
    need = re.search(r'data-figure="heating_need_kwh">([^<]+)<', html).group(1)
    assert need == f"{_fr(round(expected.heating_need_kwh))} kWh"
    per_m2 = re.search(r'data-figure="heating_need_kwh_m2">([^<]+)<', html).group(1)
    assert per_m2 == f"{_fr(round(expected.heating_need_kwh_m2, 1))} kWh/m²"
    cost = re.search(r'data-figure="cost_per_year">([^<]+)<', html).group(1)
    assert str(round(expected.cost_per_year)) in cost.replace("\u202f", "").replace("\xa0", "")
    assert "€" in cost
    assert FR.gettext("Nothing you type here is stored.") in html
    assert 'data-figure="cooling_need_kwh"' not in html  # the city sets no cooling degree-days


def test_the_what_if_table_gives_savings_costs_and_honest_paybacks(client, db: Database,
                                                                   settings: Settings) -> None:
    with _city(db, settings, **NAMUR) as (namur, city):
        options = improvements(INPUTS, 2800.0, home_service.prices_of(city), home_service.costs_of(city),
                               home_service.typology_of(city))
        html = _post(namur, ANSWERS).text
    rows = re.findall(r'<tr data-key="([a-z_]+)">(.*?)</tr>', html, re.S)
    assert [key for key, _row in rows] == ["roof_insulation", "wall_insulation", "glazing", "heat_pump"]
    by_key = dict(rows)
    roof = next(o for o in options if o.key == "roof_insulation")
    assert f"{_fr(round(roof.saving_kwh))} kWh" in by_key["roof_insulation"]
    assert roof.payback_years is not None and roof.payback_years < 10  # a bare roof in Namur pays back fast
    assert _fr(round(roof.payback_years, 1)) in by_key["roof_insulation"]

    # Central Vietnam (the default settings: 150 degree-days): new windows never pay back, and the
    # page says why instead of printing a number of years.
    options = improvements(INPUTS, 150.0, home_service.prices_of(settings), home_service.costs_of(settings),
                           home_service.typology_of(settings))
    glazing = next(o for o in options if o.key == "glazing")
    assert glazing.payback_years is None and glazing.no_payback == "beyond_horizon"
    html = _post(client, ANSWERS).text
    glazing_row = dict(re.findall(r'<tr data-key="([a-z_]+)">(.*?)</tr>', html, re.S))["glazing"]
    assert FR.gettext("No payback") in glazing_row
    assert FR.gettext(NO_PAYBACK_LABELS["beyond_horizon"], years=40) in glazing_row
    # A home with no heating saves nothing by insulating: said plainly, and no heat pump is offered.
    html = _post(client, {**ANSWERS, "heating_system": "none"}).text
    rows = dict(re.findall(r'<tr data-key="([a-z_]+)">(.*?)</tr>', html, re.S))
    assert list(rows) == ["roof_insulation", "wall_insulation", "glazing"]
    assert all(FR.gettext(NO_PAYBACK_LABELS["no_saving"]) in row for row in rows.values())


def test_the_api_gives_the_same_figures_and_cooling_when_the_city_sets_it(db: Database,
                                                                          settings: Settings) -> None:
    with _city(db, settings, twin_cooling_degree_days=900.0) as (client, city):
        _check_api_and_cooling(client, city)


def _check_api_and_cooling(client: TestClient, city: Settings) -> None:
    body = {"floor_area_m2": 120, "storeys": 2, "period": "1946_1970", "attached_sides": 1,
            "roof_type": "pitched_uninsulated", "wall_type": "brick_uninsulated",
            "window_type": "single_glazing", "heating_system": "gas_boiler", "air_conditioned": True}
    response = client.post("/api/v1/twin/home/estimate", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    inputs = HomeInputs(**{**body, "floor_area_m2": 120.0})
    expected = estimate(inputs, city.twin_heating_degree_days, home_service.prices_of(city),
                        home_service.typology_of(city), cooling_degree_days=900.0)
    assert data["energy_class"] == expected.energy_class
    assert data["heating_need_kwh"] == round(expected.heating_need_kwh)
    assert data["cooling_need_kwh"] == round(expected.cooling_need_kwh) > 0
    assert data["cost_per_year"] == round(expected.cost_per_year)
    assert [i["key"] for i in data["improvements"]] == ["roof_insulation", "wall_insulation", "glazing",
                                                         "heat_pump"]
    # The page shows the same cooling need.
    html = _post(client, {**ANSWERS, "air_conditioned": "1"}).text
    cooling = re.search(r'data-figure="cooling_need_kwh">([^<]+)<', html).group(1)
    assert cooling == f"{_fr(data['cooling_need_kwh'])} kWh"


def test_the_api_refuses_wrong_answers_with_the_field(client) -> None:
    response = client.post("/api/v1/twin/home/estimate", json={"floor_area_m2": -5, "period": "1946_1970"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("twin-invalid-home")
    assert [e["field"] for e in problem["errors"]] == ["floor_area_m2"]
    unknown = client.post("/api/v1/twin/home/estimate", json={"floor_area_m2": 80, "period": "1800s"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "period"


def test_wrong_answers_give_the_form_again_with_translated_field_errors(client) -> None:
    response = _post(client, {**ANSWERS, "floor_area_m2": "beaucoup", "storeys": "1.5"},
                     **{"Accept-Language": "fr"})
    assert response.status_code == 422
    html = response.text
    assert '<p class="error" id="e-floor_area_m2">Saisissez un nombre.</p>' in html
    assert '<p class="error" id="e-storeys">Saisissez un nombre entier.</p>' in html
    assert 'id="f-floor_area_m2"' in html and 'aria-invalid="true"' in html
    assert 'value="beaucoup"' in html  # what the person typed is shown back to correct
    assert "Veuillez corriger les champs ci-dessous." in html
    assert 'data-class=' not in html
    # A value the engine refuses (no period nor year) is put on its field too.
    response = _post(client, {**ANSWERS, "period": "", "year": ""})
    assert response.status_code == 422
    assert 'id="e-period"' in response.text


def test_the_form_is_pre_filled_from_a_building_of_the_twin(client, db: Database, settings: Settings) -> None:
    provision_demo(db, settings, size=(300.0, 200.0), buildings=60)
    with db.read() as session:
        row = session.scalars(select(Building).where(Building.construction_period == "1946_1970")
                              .order_by(Building.id)).first()
        assert row is not None
        building_id, area, storeys = row.id, row.floor_area_m2, row.storeys
        wall, address = row.wall_type, row.address
    html = client.get(f"/twin/home?building={building_id}").text
    assert address in html
    assert '<option value="1946_1970" selected>' in html
    assert f'id="f-floor_area_m2" name="floor_area_m2" type="text" inputmode="decimal" value="{round(area)}"' in html
    assert f'id="f-storeys" name="storeys" type="text" inputmode="numeric" value="{storeys}"' in html
    assert f'<option value="{wall}" selected>' in html
    assert f'({FR.gettext("from the twin")})' in html  # which values came from the twin
    assert f'name="building" value="{building_id}"' in html
    # Submitted with the floor area corrected: the figures come, and only the values still the twin's
    # say so.
    mark = f'<span class="from-twin">({FR.gettext("from the twin")})</span>'
    answers = {"building": str(building_id), "period": "1946_1970", "floor_area_m2": str(round(area) + 7),
               "storeys": str(storeys), "wall_type": wall, "heating_system": "gas_boiler"}
    html = _post(client, answers).text
    assert 'data-class="' in html
    assert f'for="f-period">{FR.gettext("Construction period")} {mark}' in html
    assert f'for="f-floor_area_m2">{FR.gettext("Heated floor area (m², all storeys)")}</label>' in html
    # Without a building (or an unknown one), nothing is pre-filled.
    blank = client.get("/twin/home?building=999999").text
    assert 'value="1946_1970" selected' not in blank and 'name="building"' not in blank
