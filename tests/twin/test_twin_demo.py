"""The demo city's generated twin: deterministic, with the river valley, the hill, the three roof
types, towers near the centre, a zoning plan, flood hazard bands and a protected area; stored with
each building in its district."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import shape

from parvis.demo import district_grid
from parvis.kernel.db import Database
from parvis.modules import city
from parvis.modules.city import actions as city_actions
from parvis.modules.twin import demo_twin, queries
from parvis.modules.twin.cli import group

SMALL = {"size_m": (400.0, 300.0), "resolution": 2.0, "buildings": 120}


def test_the_demo_twin_is_deterministic_and_has_the_three_roof_types() -> None:
    first = demo_twin.generate(**SMALL, seed=3)
    again = demo_twin.generate(**SMALL, seed=3)
    other = demo_twin.generate(**SMALL, seed=4)
    assert np.array_equal(first.dsm.values, again.dsm.values)
    assert [(b.ref, b.attrs["address"], b.height_m) for b in first.buildings] == \
        [(b.ref, b.attrs["address"], b.height_m) for b in again.buildings]
    assert not np.array_equal(first.dsm.values, other.dsm.values)
    assert len(first.buildings) == 120
    assert set(Counter(b.roof_type for b in first.buildings)) == {"flat", "gable", "hip"}
    pitched = [b for b in first.buildings if b.roof_type == "gable"]
    assert all(len(b.faces) == 2 and 20 <= b.roof_tilt <= 35 for b in pitched)
    assert all(len(b.faces) == 4 for b in first.buildings if b.roof_type == "hip")
    assert first.dtm.crs == "EPSG:32648" and first.dtm.shape == (150, 200)


@pytest.mark.parametrize("size", [(300.0, 200.0), (600.0, 400.0), (1500.0, 1000.0)])
def test_every_demo_zone_is_a_valid_polygon(size: tuple[float, float]) -> None:
    """Planners' pages cut zones with each other: an invalid zoning polygon would be "repaired"
    in front of them (it was, the residential zone touched itself)."""
    twin = demo_twin.generate(size, 1.0, 20, 6)
    assert [(z.kind, z.name) for z in twin.zones if not z.geometry.is_valid] == []
    assert {z.kind for z in twin.zones} == {"zoning", "hazard", "protected"}


def test_the_full_demo_twin_has_a_river_a_hill_towers_and_houses() -> None:
    twin = demo_twin.generate()  # the size the demo city gets: 1.5 x 1 km at 1 m, 2,500 buildings
    dtm = twin.dtm.values
    assert twin.dtm.shape == (1000, 1500) and len(twin.buildings) == 2500
    # the river runs west-east through the middle: each column's lowest cell is near the middle row
    lowest_rows = dtm.argmin(axis=0)
    assert np.all(np.abs(lowest_rows - 500) < 100) and dtm.min() < 1.0
    # the Colline des Pins rises to the north-west
    top_row, top_col = np.unravel_index(np.argmax(dtm), dtm.shape)
    assert top_row < 500 and top_col < 750 and dtm.max() > 35
    addresses = [b.attrs["address"] for b in twin.buildings]
    assert len(set(addresses)) == len(addresses) and "1 Lê Lợi" in addresses
    storeys = Counter(b.attrs["storeys"] for b in twin.buildings)
    assert set(storeys) >= {1, 2, 3, 4} and any(s >= 8 for s in storeys)
    towers = [b for b in twin.buildings if b.attrs["storeys"] >= 8]
    assert all(b.roof_type == "flat" and 8 <= b.attrs["storeys"] <= 20 for b in towers)
    cx, _cy = demo_twin._centre_xy()
    far = [abs(b.footprint.centroid.x - cx) for b in towers]
    assert max(far) < 0.2 * 1500  # in the mixed centre
    kinds = Counter((z.kind, z.buildable) for z in twin.zones)
    assert kinds[("zoning", True)] == 2 and kinds[("zoning", False)] == 3
    assert {z.hazard_level for z in twin.zones if z.kind == "hazard"} == {"low", "medium", "high"}
    assert [z.name for z in twin.zones if z.kind == "protected"] == ["Forêt classée de la Colline des Pins"]
    # houses stand on the terrain, roofs in the surface model
    assert (twin.dsm.values >= twin.dtm.values).all() and (twin.face_labels > 0).mean() > 0.1


def test_provision_stores_the_twin_in_the_districts(db: Database, tmp_path: Path) -> None:
    """Storage on both engines; the demo runs again without duplicating anything."""
    city_actions.import_districts(db, None, {"type": "FeatureCollection", "features": district_grid()})
    settings = SimpleNamespace(data_dir=tmp_path)
    started = time.perf_counter()
    counts = demo_twin.provision(db, settings, size=(300.0, 200.0), resolution=2.0, buildings=60)
    elapsed = time.perf_counter() - started
    assert counts["buildings"] == 60 and counts["zones_hazard"] == 2 and counts["zones_protected"] == 1
    assert elapsed < 2.0
    again = demo_twin.provision(db, settings, size=(300.0, 200.0), resolution=2.0, buildings=60)
    assert again == counts
    with db.read() as session:
        collection = queries.buildings_geojson(session)
        layers = {layer["kind"]: layer for layer in queries.layers(session)}
        hit = queries.search(session, collection["features"][0]["properties"]["address"])
        located = [city.district_id_at(session, *shape(f["geometry"]).representative_point().coords[0])
                   for f in collection["features"]]
        names = city.district_names(session)
    assert len(collection["features"]) == 60
    assert [f["properties"]["district_id"] for f in collection["features"]] == located
    # the centre straddles the river: Rive Sud below it, the Quartier Universitaire above (parvis.demo)
    assert {names[d] for d in located} <= {"Rive Sud", "Quartier Universitaire"} and None not in located
    assert set(layers) == {"dtm", "dsm"} and layers["dtm"]["crs"] == "EPSG:32648"
    assert (tmp_path / layers["dsm"]["path"]).is_file() and hit


def test_cli_demo(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    db_path = tmp_path / "demo.db"
    shutil.copyfile(sqlite_template, db_path)
    monkeypatch.setenv("PARVIS_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(group, ["demo", "--size", "200", "150", "--resolution", "2", "--buildings", "20",
                                       "--database-url", f"sqlite:///{db_path}"])
    assert result.exit_code == 0, result.output
    assert "buildings: 20" in result.output and (tmp_path / "twin" / "dtm.tif").is_file()


def test_cli_classifies_the_thermography_and_says_when_there_is_none(
        tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from parvis.modules.twin.home_service import demo_thermography

    db_path = tmp_path / "thermo.db"
    shutil.copyfile(sqlite_template, db_path)
    url = f"sqlite:///{db_path}"
    monkeypatch.setenv("PARVIS_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    made = runner.invoke(group, ["demo", "--size", "300", "200", "--buildings", "20", "--database-url", url])
    assert made.exit_code == 0, made.output
    missing = runner.invoke(group, ["classify-thermography", "--database-url", url])
    assert missing.exit_code == 1 and "thermograph" in missing.output.lower()  # a sentence, not a traceback
    db = Database(url)
    try:
        demo_thermography(db, tmp_path)
    finally:
        db.dispose()
    result = runner.invoke(group, ["classify-thermography", "--database-url", url])
    assert result.exit_code == 0, result.output
    counts = dict(line.split(": ") for line in result.output.strip().splitlines())
    assert int(counts["classified"]) > 0 and int(counts["buildings"]) == 20, result.output
