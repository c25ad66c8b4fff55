"""What the planners' pages compute (``planning_service``), on one small demo twin (300 x 200 m,
60 buildings) split between two districts, stored once in SQLite for the module (the pages'
tests run the same service through HTTP on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy import ndimage
from shapely.geometry import box
from sqlalchemy import func, select

import factories
from factories import PASSWORD
from parvis.kernel.db import Database
from parvis.modules.twin import actions, demo_twin, provision_demo
from parvis.modules.twin.buildable import to_csv
from parvis.modules.twin.drainage import height_above_nearest_drainage
from parvis.modules.twin.models import Building
from parvis.modules.twin.planning_service import BadFloodLevel, PlanningService
from parvis.settings import Settings
from web_helpers import sign_in

SIZE = (300.0, 200.0)
BUILDINGS = 60


def _settings(folder: Path, url: str, **overrides: object) -> Settings:
    return Settings(_env_file=None, database_url=url, secret_key="test", data_dir=folder,  # type: ignore[call-arg]
                    **overrides)


def _twin(folder: Path, template: Path, buildings: int) -> tuple[Database, Settings]:
    shutil.copyfile(template, folder / "twin.db")
    url = f"sqlite:///{folder / 'twin.db'}"
    db = Database(url)
    factories.district(db, "W", lon=107.575, lat=16.455, size=0.01)  # west of the centre
    factories.district(db, "E", lon=107.585, lat=16.455, size=0.01)  # east of it
    settings = _settings(folder, url)
    provision_demo(db, settings, size=SIZE, buildings=buildings)
    return db, settings


@pytest.fixture(scope="module")
def twin(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Settings]]:
    db, settings = _twin(tmp_path_factory.mktemp("planning"), sqlite_template, BUILDINGS)
    yield db, settings
    db.dispose()


@pytest.fixture(scope="module")
def service() -> PlanningService:
    return PlanningService()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def png_alpha(data: bytes) -> np.ndarray:
    """The alpha channel of one of our PNGs (RGBA, 8 bits, filter 0 on every row)."""
    width, height = png_size(data)
    pos, idat = 8, b""
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width * 4 + 1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(height, width, 4)[:, :, 3]


def engine_area(level: float) -> float:
    """The flooded area (m²) computed here from scratch on the same generated terrain: cells below
    the level, 4-connected to the river (the drainage line of a tenth of the twin's area)."""
    z = demo_twin.generate(SIZE, buildings=0).dtm.values
    river = height_above_nearest_drainage(z, 1.0, threshold_m2=0.1 * z.size).drainage
    labels, _ = ndimage.label(z < level)
    keep = np.unique(labels[river & (z < level)])
    return float(np.isin(labels, keep[keep > 0]).sum())


def test_the_flooded_area_grows_with_the_level_and_matches_the_engine(twin, service):
    db, settings = twin
    terrain = service.terrain(db, settings)
    levels = terrain.levels
    assert terrain.river_source == "drainage"
    assert 0.3 < levels.river < 1.0  # the channel's bed: 0.5 m, +/- 0.5 m of relief
    assert levels.minimum == pytest.approx(0.5) and levels.maximum <= levels.minimum + 10
    areas = [service.flood(db, settings, level).area_m2 for level in (levels.minimum, 2.0, 3.0, 4.0, levels.maximum)]
    assert areas == sorted(areas) and areas[0] < areas[1] < areas[-1]
    assert areas[2] == engine_area(3.0)
    assert areas[-1] > 0.9 * SIZE[0] * SIZE[1]  # ten metres above the river: nearly everything


def test_exposure_counts_the_buildings_and_their_residents(twin, service):
    db, settings = twin
    with db.read() as session:
        residents = session.scalar(select(func.sum(Building.population)))
    levels = service.terrain(db, settings).levels
    dry = service.flood(db, settings, levels.minimum)
    assert dry.buildings == 0 and dry.people == 0
    wet = service.flood(db, settings, levels.maximum)
    assert wet.buildings == BUILDINGS and wet.people == pytest.approx(residents)
    assert {row["district"] for row in wet.per_district} == {"District W", "District E"}
    assert sum(row["buildings"] for row in wet.per_district) == BUILDINGS
    middle = service.flood(db, settings, 4.0)
    assert 0 < middle.buildings < BUILDINGS
    assert sum(row["people"] for row in middle.per_district) == pytest.approx(middle.people, abs=0.2)
    assert [service.flood(db, settings, lv).buildings for lv in (3.5, 4.0, 4.5)] == sorted(
        service.flood(db, settings, lv).buildings for lv in (3.5, 4.0, 4.5))


def test_the_overlays_are_pngs_of_the_web_map_grid(twin, service):
    db, settings = twin
    terrain = service.terrain(db, settings)
    size = (terrain.overlay.width, terrain.overlay.height)
    assert abs(size[0] - 300) <= 15 and abs(size[1] - 200) <= 15  # ~1 m pixels in Web Mercator
    south, west, north, east = terrain.overlay.bounds
    assert south < 16.463 < north and west < 107.585 < east
    assert (north - south) * 111_000 == pytest.approx(200, rel=0.1)
    low, high = (service.flood_png(db, settings, level) for level in (2.0, 4.0))
    assert png_size(low) == png_size(high) == size
    wet_pixels = int((png_alpha(high) > 0).sum())
    assert wet_pixels > (png_alpha(low) > 0).sum()
    # nearest-cell resampling onto about as many pixels as cells: about one pixel per flooded m²
    assert wet_pixels == pytest.approx(service.flood(db, settings, 4.0).area_m2, rel=0.03)
    hand = terrain.hand_png
    assert png_size(hand) == size
    assert 0 < (png_alpha(hand) > 0).sum() < size[0] * size[1]  # low ground coloured, hills not


@pytest.mark.parametrize("level", ["nan", "abc", "inf", "-50", "1000", 10.6])
def test_a_bad_level_is_refused_with_the_range(twin, service, level):
    db, settings = twin
    levels = service.terrain(db, settings).levels
    with pytest.raises(BadFloodLevel) as caught:
        levels.check(level)
    assert caught.value.status == 422
    assert caught.value.params == {**caught.value.params, "min": 0.5, "max": levels.maximum}
    assert levels.check("3,5") == 3.5 and levels.check(None) == levels.default


def test_buildable_statistics_add_up_and_export(twin, service):
    db, settings = twin
    everything = settings.model_copy(update={"twin_buildable_excluded_hazard": []})
    answer = service.buildable(db, everything)
    assert answer.total_ha > 0 and answer.parameters["max_slope_pct"] == 15.0
    assert {r["district"] for r in answer.rows} == {"District W", "District E"}
    assert sum(r["buildable_ha"] for r in answer.rows) == pytest.approx(answer.total_ha, abs=0.001)
    assert sum(r["district_ha"] for r in answer.rows) == pytest.approx(6.0, abs=0.01)  # 300 x 200 m
    for r in answer.rows:
        assert r["share"] == pytest.approx(r["buildable_ha"] / r["district_ha"], abs=1e-4)
    parsed = list(csv.DictReader(io.StringIO(to_csv(answer.rows))))
    assert [(p["district"], float(p["buildable_ha"])) for p in parsed] == [
        (r["district"], r["buildable_ha"]) for r in answer.rows]
    features = answer.geojson["features"]
    assert sum(f["properties"]["area_ha"] for f in features) == pytest.approx(answer.total_ha, abs=0.01)
    lon, lat = features[0]["geometry"]["coordinates"][0][0][:2]
    assert 107.58 < lon < 107.59 and 16.46 < lat < 16.47
    # The small twin lies in the official hazard bands: excluding medium and high leaves less land.
    assert service.buildable(db, settings).total_ha < answer.total_ha
    flat_only = everything.model_copy(update={"twin_buildable_max_slope_pct": 0.5})
    assert service.buildable(db, flat_only).total_ha < answer.total_ha


def test_a_river_zone_is_the_river(sqlite_template, tmp_path):
    db, settings = _twin(tmp_path, sqlite_template, 0)
    try:
        x, y = demo_twin._centre_xy()
        actions.store_zones(db, "protected", [actions.ZoneRecord(
            geometry_local=box(x - 150, y - 5, x - 140, y + 5), name="Sông Xanh", category="river")],
            demo_twin.CRS, source="test")
        terrain = PlanningService().terrain(db, settings)
        assert terrain.river_source == "zone"
        assert 100 <= terrain.river.sum() <= 130  # 10 x 10 m, and the cells it touches
    finally:
        db.dispose()


def test_warm_up_prepares_the_planners_models_before_their_first_request(twin, monkeypatch):
    from parvis.app import create_app, warm_up
    from parvis.modules.twin import planning_service

    db, settings = twin
    loads: list[int] = []
    real_load = PlanningService._load
    monkeypatch.setattr(PlanningService, "_load",
                        lambda self, *args: (loads.append(1), real_load(self, *args))[1])
    monkeypatch.setattr(planning_service, "_SERVICES", planning_service.weakref.WeakKeyDictionary())
    app = create_app(settings, database=db)
    warm_up(app).join(60)
    assert loads == [1]  # computed in the background
    factories.staff(db, settings, "warm@example.org", "agent")
    with TestClient(app) as client:
        sign_in(client, "warm@example.org", PASSWORD)
        answer = client.get("/api/v1/twin/planning/terrain")
    assert answer.status_code == 200, answer.text
    assert loads == [1]  # the first request found it ready


def test_warm_up_without_a_terrain_computes_nothing(db, settings):
    from parvis.modules.twin import warm_up

    assert warm_up(db, settings) is False
