"""Home insulation estimate: known answers computed by hand from the typology table."""

from __future__ import annotations

import json

import pytest

from parvis.modules.twin.insulation import (
    EnergyPrices,
    HomeInputs,
    ImprovementCosts,
    InvalidHomeInputs,
    energy_class,
    estimate,
    improvements,
)
from parvis.modules.twin.typology import InvalidTypology, default_typology, load_typology

PRICES = EnergyPrices(gas=0.10, oil=0.12, electricity=0.25, wood=0.08)
COSTS = ImprovementCosts(roof_per_m2=70.0, wall_per_m2=160.0, window_per_m2=650.0,
                         heat_pump_per_kw=1200.0, heat_pump_fixed=4000.0)
NAMUR_HDD = 2800.0


def _house(**kw: object) -> HomeInputs:
    base: dict[str, object] = {"floor_area_m2": 100.0, "storeys": 1, "period": "1971_1990"}
    base.update(kw)
    return HomeInputs(**base)  # type: ignore[arg-type]


def test_shipped_table_says_it_is_indicative_and_has_the_1971_1990_values_used_below() -> None:
    table = default_typology()
    assert "indicative" in table.about.lower() and "TABULA" in table.about
    p = table.period("1971_1990")
    assert p is not None
    assert (p.u_wall, p.u_roof, p.u_floor, p.u_window, p.window_share, p.air_changes) == (
        0.9, 0.7, 0.9, 3.2, 0.20, 0.7)


def test_100_m2_single_storey_detached_house_heating_need_by_hand() -> None:
    # Square plan 10 m x 10 m, 2.7 m high: facade 4 * 10 * 2.7 = 108 m², 20 % windows = 21.6 m²,
    # opaque wall 86.4 m², roof 100 m², floor 100 m² (ground factor 0.5), volume 270 m³.
    ua = 0.9 * 86.4 + 3.2 * 21.6 + 0.7 * 100 + 0.5 * 0.9 * 100  # 261.88 W/K
    hv = 0.34 * 0.7 * 270  # 64.26 W/K
    need = (1 - 0.10) * (ua + hv) * 2800 * 24 / 1000  # 19,724.9 kWh/yr
    result = estimate(_house(), NAMUR_HDD, PRICES)
    assert result.envelope.window_m2 == pytest.approx(21.6)
    assert result.envelope.wall_m2 == pytest.approx(86.4)
    assert result.h_transmission == pytest.approx(261.88)
    assert result.h_ventilation == pytest.approx(64.26)
    assert result.heating_need_kwh == pytest.approx(need)
    assert result.heating_need_kwh == pytest.approx(19724.9, abs=0.1)
    assert result.heating_need_kwh_m2 == pytest.approx(need / 100)
    assert result.energy_class == "D"  # 197 kWh/m²: between 180 and 250
    assert result.heating_final_kwh == pytest.approx(need / 0.85)  # gas boiler
    assert result.cost_per_year == pytest.approx(need / 0.85 * 0.10)
    assert result.cooling_need_kwh == 0.0


def test_year_of_construction_picks_the_period() -> None:
    by_year = estimate(_house(period=None, year=1980), NAMUR_HDD, PRICES)
    by_period = estimate(_house(), NAMUR_HDD, PRICES)
    assert by_year.heating_need_kwh == by_period.heating_need_kwh
    table = default_typology()
    assert table.period_for_year(1945).key == "before_1945"  # type: ignore[union-attr]
    assert table.period_for_year(1946).key == "1946_1970"  # type: ignore[union-attr]
    assert table.period_for_year(2030).key == "after_2015"  # type: ignore[union-attr]


def test_each_attached_side_removes_one_side_of_facade_from_the_losses() -> None:
    # 200 m² on 2 storeys: plan 10 m x 10 m; one side of facade = 10 * 2 * 2.7 = 54 m²,
    # 20 % windows: 0.9 * 43.2 + 3.2 * 10.8 = 73.44 W/K per side.
    per_side = (1 - 0.10) * 73.44 * 2800 * 24 / 1000  # 4,441.65 kWh/yr
    needs = [estimate(_house(floor_area_m2=200.0, storeys=2, attached_sides=n), NAMUR_HDD,
                      PRICES).heating_need_kwh for n in (0, 1, 2)]
    assert needs[0] > needs[1] > needs[2]
    assert needs[0] - needs[1] == pytest.approx(per_side)
    assert needs[1] - needs[2] == pytest.approx(per_side)


def test_known_element_types_override_the_period_defaults() -> None:
    bare = estimate(_house(period="before_1945"), NAMUR_HDD, PRICES)
    better = estimate(_house(period="before_1945", wall_type="insulated_10cm", window_type="low_e_double",
                             roof_type="pitched_insulated"), NAMUR_HDD, PRICES)
    assert better.envelope.u_wall == 0.32 and better.envelope.u_window == 1.5 and better.envelope.u_roof == 0.3
    assert better.heating_need_kwh < 0.5 * bare.heating_need_kwh
    assert bare.energy_class in ("F", "G") and better.energy_class < bare.energy_class


def test_each_improvement_lowers_the_bill_and_payback_is_cost_over_saving() -> None:
    base = estimate(_house(), NAMUR_HDD, PRICES)
    found = {imp.key: imp for imp in improvements(_house(), NAMUR_HDD, PRICES, COSTS, horizon_years=100)}
    assert set(found) == {"roof_insulation", "wall_insulation", "glazing", "heat_pump"}
    for key in ("roof_insulation", "wall_insulation", "glazing"):
        assert found[key].after.heating_need_kwh < base.heating_need_kwh
    for imp in found.values():
        assert imp.saving_kwh > 0 and imp.saving_money > 0
        assert imp.payback_years == pytest.approx(imp.cost / imp.saving_money)
    # Roof from U 0.7 to 0.25 over 100 m²: 45 W/K less, 0.9 * 45 * 2800 * 24 / 1000 = 2,721.6 kWh
    # of heat, / 0.85 of gas at 0.10 a kWh; cost 70 * 100 m².
    roof = found["roof_insulation"]
    assert roof.saving_kwh == pytest.approx(2721.6 / 0.85)
    assert roof.saving_money == pytest.approx(2721.6 / 0.85 * 0.10)
    assert roof.cost == pytest.approx(7000.0)
    assert roof.payback_years == pytest.approx(7000.0 / (2721.6 / 0.85 * 0.10))
    # Heat pump: the same need bought as electricity over a seasonal COP of 3; sized on H * 28 K.
    hp = found["heat_pump"]
    assert hp.after.heating_final_kwh == pytest.approx(base.heating_need_kwh / 3.0)
    assert hp.saving_money == pytest.approx(base.cost_per_year - base.heating_need_kwh / 3.0 * 0.25)
    assert hp.cost == pytest.approx(326.14 * 28 / 1000 * 1200 + 4000)


def test_improvements_already_done_are_not_offered() -> None:
    done = _house(period="after_2015", heating_system="heat_pump")
    assert improvements(done, NAMUR_HDD, PRICES, COSTS) == []


def test_zero_degree_days_means_no_heating_need_and_no_payback() -> None:
    result = estimate(_house(), 0.0, PRICES)
    assert result.heating_need_kwh == 0.0 and result.cost_per_year == 0.0 and result.energy_class == "A"
    found = improvements(_house(), 0.0, PRICES, COSTS)
    assert found, "the improvements are still listed, with no payback"
    for imp in found:
        assert imp.saving_kwh == 0.0 and imp.saving_money == 0.0 and imp.payback_years is None
        assert imp.no_payback == "no_saving"


def test_a_payback_longer_than_the_horizon_is_reported_as_none() -> None:
    # Glazing: U 3.2 -> 1.5 over 21.6 m² = 36.72 W/K, 0.9 * 36.72 * 2800 * 24 / 1000 = 2,220.8 kWh of
    # heat, 261.3 a year of gas; 650 * 21.6 = 14,040 of works: 53.7 years.
    payback = 14040 / (0.9 * 36.72 * 2800 * 24 / 1000 / 0.85 * 0.10)
    glazing = {i.key: i for i in improvements(_house(), NAMUR_HDD, PRICES, COSTS)}["glazing"]
    assert glazing.payback_years is None and glazing.no_payback == "beyond_horizon"
    longer = {i.key: i for i in improvements(_house(), NAMUR_HDD, PRICES, COSTS, horizon_years=60)}["glazing"]
    assert longer.payback_years == pytest.approx(payback) and longer.no_payback is None
    assert payback == pytest.approx(53.7, abs=0.05)


def test_tropical_city_gas_heated_home_gets_no_payback_rather_than_centuries() -> None:
    found = improvements(_house(period="before_1945"), 50.0, PRICES, COSTS)
    assert len(found) == 4
    for imp in found:
        assert imp.saving_money > 0  # a little is saved...
        assert imp.payback_years is None and imp.no_payback == "beyond_horizon"  # ...never enough


def test_tropical_city_unheated_home_gets_no_payback_from_insulation() -> None:
    home = _house(period="before_1945", heating_system="none")
    found = improvements(home, 50.0, PRICES, COSTS)
    assert {imp.key for imp in found} == {"roof_insulation", "wall_insulation", "glazing"}
    assert all(imp.payback_years is None for imp in found)


def test_air_conditioned_tropical_home_saves_cooling_with_roof_insulation() -> None:
    home = _house(period="2006_2015", roof_type="metal_sheet_uninsulated", heating_system="none",
                  air_conditioned=True)
    result = estimate(home, 50.0, PRICES, cooling_degree_days=600.0)
    assert result.cooling_need_kwh == pytest.approx(result.h_total * 600 * 24 / 1000)
    assert result.cooling_final_kwh == pytest.approx(result.cooling_need_kwh / 3.0)
    roof = next(i for i in improvements(home, 50.0, PRICES, COSTS, cooling_degree_days=600.0)
                if i.key == "roof_insulation")
    # U 5.5 -> 0.25 over 100 m²: 525 W/K * 600 K·d * 24 / 1000 = 7,560 kWh of cooling, / EER 3.
    assert roof.saving_kwh == pytest.approx(7560 / 3)
    assert roof.payback_years == pytest.approx(7000 / (7560 / 3 * 0.25))


@pytest.mark.parametrize(("value", "letter"), [
    (0.0, "A"), (70.0, "A"), (70.01, "B"), (110.0, "B"), (110.5, "C"), (180.0, "C"), (180.1, "D"),
    (250.0, "D"), (330.0, "E"), (420.0, "F"), (420.1, "G"), (900.0, "G")])
def test_energy_class_boundaries(value: float, letter: str) -> None:
    assert energy_class(value) == letter


def test_energy_class_scale_is_a_parameter() -> None:
    assert energy_class(45.0, (15, 30, 50, 90, 150, 230)) == "C"
    with pytest.raises(ValueError):
        energy_class(45.0, (50, 30, 15, 90, 150, 230))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"floor_area_m2": -20.0}, "floor_area_m2"),
    ({"floor_area_m2": 0.0}, "floor_area_m2"),
    ({"floor_area_m2": float("nan")}, "floor_area_m2"),
    ({"storeys": 0}, "storeys"),
    ({"storeys": 1.5}, "storeys"),
    ({"attached_sides": 3}, "attached_sides"),
    ({"period": None, "year": None}, "period"),
    ({"heating_system": "nuclear"}, "heating_system"),
])
def test_invalid_inputs_are_refused_with_the_field_named(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidHomeInputs) as err:
        _house(**kwargs)
    assert err.value.status == 422 and err.value.errors[0]["field"] == field
    assert err.value.detail  # a translatable sentence, not a bare exception


@pytest.mark.parametrize(("kwargs", "field", "value"), [
    ({"period": "1800s"}, "period", "1800s"),
    ({"wall_type": "straw"}, "wall_type", "straw"),
    ({"roof_type": "thatch"}, "roof_type", "thatch"),
    ({"window_type": "paper"}, "window_type", "paper"),
])
def test_unknown_period_or_type_is_refused(kwargs: dict[str, object], field: str, value: str) -> None:
    with pytest.raises(InvalidHomeInputs) as err:
        estimate(_house(**kwargs), NAMUR_HDD, PRICES)
    assert err.value.errors[0] == {"field": field, "code": "unknown"}
    assert err.value.params["value"] == value


def test_negative_degree_days_are_refused() -> None:
    with pytest.raises(InvalidHomeInputs) as err:
        estimate(_house(), -5.0, PRICES)
    assert err.value.errors[0]["field"] == "degree_days"


VIETNAM_PERIODS = {
    "before_1986": {"start_year": None, "end_year": 1985, "u_wall": 2.2, "u_roof": 5.5, "u_floor": 2.0,
                    "u_window": 5.8, "window_share": 0.2, "air_changes": 2.0, "label": "Trước 1986"},
    "after_1986": {"start_year": 1986, "end_year": None, "u_wall": 2.0, "u_roof": 3.0, "u_floor": 2.0,
                   "u_window": 5.8, "window_share": 0.25, "air_changes": 1.5},
}


def test_a_city_typology_replaces_periods_and_keeps_shipped_types(tmp_path) -> None:
    path = tmp_path / "typology.json"
    path.write_text(json.dumps({"_about": "Survey 2025", "periods": VIETNAM_PERIODS}), "utf-8")
    table = load_typology(path)
    assert [p.key for p in table.periods] == ["before_1986", "after_1986"]
    assert table.period_for_year(1990).u_roof == 3.0  # type: ignore[union-attr]
    assert table.period("before_1986").label == "Trước 1986"  # type: ignore[union-attr]
    assert table.window_types == default_typology().window_types
    assert table.about == "Survey 2025"
    result = estimate(HomeInputs(100.0, year=1970, heating_system="none"), 50.0, PRICES, table)
    assert result.envelope.period == "before_1986" and result.envelope.u_roof == 5.5
    assert load_typology(None) is default_typology()


@pytest.mark.parametrize(("data", "where"), [
    ({"periods": {**VIETNAM_PERIODS, "after_1986": {**VIETNAM_PERIODS["after_1986"], "u_wall": -1}}},
     "periods.after_1986.u_wall"),
    ({"periods": {**VIETNAM_PERIODS, "after_1986": {**VIETNAM_PERIODS["after_1986"], "start_year": 1980}}},
     "periods.after_1986"),
    ({"periods": {"p": {"start_year": None, "end_year": None, "u_wall": 1.0}}}, "periods.p"),
    ({"wall_types": {"brick": "1.7"}}, "wall_types.brick"),
    ({"window_types": {"single": 58}}, "window_types.single"),
])
def test_a_bad_city_typology_is_refused_never_silently_replaced(data: dict, where: str) -> None:
    with pytest.raises(InvalidTypology) as err:
        load_typology(data)
    assert err.value.errors[0]["field"] == where


def test_a_typology_file_that_is_not_json_is_refused(tmp_path) -> None:
    path = tmp_path / "typology.json"
    path.write_text("{not json", "utf-8")
    with pytest.raises(InvalidTypology):
        load_typology(path)
