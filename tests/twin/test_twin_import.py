"""Importing the twin's data: rasters in any CRS, the bad inputs of issue #6 (no CRS, mismatched
resolutions, holes, buildings outside the terrain, a 2 GB file, a polygon with a hole and one that
crosses itself, roof tilts over 90 degrees), CityJSON, zones, the CLI and the queries on top."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pyproj import Transformer
from rasterio.transform import from_origin
from tests.twin.conftest import CENTRE_LONLAT, CRS, centre_xy, make_terrain, terrain_origin, write_tif

from parvis.kernel.db import Database
from parvis.modules.twin import actions, queries
from parvis.modules.twin.cli import group
from parvis.modules.twin.errors import FileTooLarge, MissingCRS, NoTerrain, RasterHoles
from parvis.modules.twin.import_cityjson import import_cityjson
from parvis.modules.twin.importer import import_buildings, import_raster, import_zones

TO_LONLAT = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def lonlat_ring(xy: list[tuple[float, float]]) -> list[list[float]]:
    """A closed ring in lon/lat from offsets (metres) to the demo centre."""
    cx, cy = centre_xy()
    pts = [list(TO_LONLAT.transform(cx + dx, cy + dy)) for dx, dy in xy]
    return [*pts, pts[0]]


def square(dx: float, dy: float, side: float) -> list[tuple[float, float]]:
    return [(dx, dy), (dx + side, dy), (dx + side, dy + side), (dx, dy + side)]


def feature(ref: str, rings: list[list[list[float]]], **props: object) -> dict:
    return {"type": "Feature", "properties": {"ref": ref, **props},
            "geometry": {"type": "Polygon", "coordinates": rings}}


def write_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


# ----------------------------------------------------------------------------------- rasters

def test_a_geotiff_in_lon_lat_lands_in_metres_at_the_right_place(twin_db: Database, data_dir: Path,
                                                                  tmp_path: Path) -> None:
    lon0, lat0, step = CENTRE_LONLAT[0] - 0.001, CENTRE_LONLAT[1] + 0.001, 0.00001  # ~1.07 x 1.1 m cells
    values = np.full((200, 200), 5.0, dtype=np.float32)
    values[95:105, 95:105] = 50.0  # a 10-cell block around lon/lat centre + (0.00001 * 100) ...
    src = write_tif(tmp_path / "wgs84.tif", values, from_origin(lon0, lat0, step, step), "EPSG:4326")
    report = import_raster(twin_db, data_dir, src, "dtm")
    assert report.info["source_crs"] == "EPSG:4326" and report.info["crs"] == CRS
    with twin_db.read() as session:
        grid = queries.load_grid(session, data_dir, "dtm")
    assert grid is not None and grid.crs == CRS and 1.0 < grid.resolution < 1.2
    rows, cols = np.nonzero(grid.values > 40)
    xs, ys = grid.cell_centres()
    block_x, block_y = xs[cols].mean(), ys[rows].mean()
    expected = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(lon0 + 100 * step,
                                                                                 lat0 - 100 * step)
    assert math.hypot(block_x - expected[0], block_y - expected[1]) < 1.5  # metres
    assert (data_dir / "twin" / "dtm.tif").is_file()


def test_a_geotiff_without_crs_is_refused_unless_crs_is_given(twin_db: Database, data_dir: Path,
                                                            tmp_path: Path) -> None:
    west, north = terrain_origin(50)
    src = write_tif(tmp_path / "nocrs.tif", np.ones((50, 50)), from_origin(west, north, 1, 1), None)
    with pytest.raises(MissingCRS) as caught:
        import_raster(twin_db, data_dir, src, "dtm")
    assert "--crs" in caught.value.message()
    report = import_raster(twin_db, data_dir, src, "dtm", crs="EPSG:32648")
    assert report.info["crs"] == CRS and any("EPSG:32648 assumed" in w for w in report.warnings)


def test_a_dsm_at_another_resolution_is_resampled_to_the_dtm_and_said(with_terrain: Database, data_dir: Path,
                                                                       tmp_path: Path) -> None:
    west, north = terrain_origin(200)
    src = write_tif(tmp_path / "dsm2m.tif", np.full((100, 100), 12.0), from_origin(west, north, 2, 2), CRS)
    report = import_raster(with_terrain, data_dir, src, "dsm")
    assert any("resampled from 2 m to the terrain model's 1 m" in w for w in report.warnings)
    with with_terrain.read() as session:
        dsm = queries.load_grid(session, data_dir, "dsm")
        dtm = queries.load_grid(session, data_dir, "dtm")
    assert dsm is not None and dtm is not None
    assert dsm.shape == dtm.shape == (200, 200) and dsm.transform == dtm.transform
    assert np.nanmean(dsm.values) == pytest.approx(12.0)


def test_small_dsm_holes_are_filled_and_reported_large_ones_refused(with_terrain: Database, data_dir: Path,
                                                                     tmp_path: Path) -> None:
    west, north = terrain_origin(200)
    values = np.full((200, 200), 15.0, dtype=np.float32)
    values[50:53, 50:53] = -9999  # a 9 m² hole: filled
    values[0:5, :] = -9999  # nodata along the edge: outside the survey, left as it is
    src = write_tif(tmp_path / "dsm_holes.tif", values, from_origin(west, north, 1, 1), CRS, nodata=-9999)
    report = import_raster(with_terrain, data_dir, src, "dsm")
    assert report.counts["cells_filled"] == 9 and report.counts["holes_filled"] == 1
    assert "1 nodata hole(s) of at most 100 m² filled" in report.repairs[0]
    assert report.counts["cells_outside"] == 1000
    with with_terrain.read() as session:
        dsm = queries.load_grid(session, data_dir, "dsm")
    assert dsm is not None and dsm.values[51, 51] == 15.0 and np.isnan(dsm.values[0, 0])
    values[100:120, 100:120] = -9999  # 400 m²: too large to invent
    big = write_tif(tmp_path / "dsm_big_hole.tif", values, from_origin(west, north, 1, 1), CRS, nodata=-9999)
    with pytest.raises(RasterHoles) as caught:
        import_raster(with_terrain, data_dir, big, "dsm")
    assert "400.0 m²" in caught.value.message()


def test_a_hazard_raster_keeps_its_classes_when_resampled(with_terrain: Database, data_dir: Path,
                                                          tmp_path: Path) -> None:
    west, north = terrain_origin(200)
    classes = np.ones((100, 100), dtype=np.float32)
    classes[:, 50:] = 3.0  # low in the west half, high in the east half
    src = write_tif(tmp_path / "hazard.tif", classes, from_origin(west, north, 2, 2), CRS)
    report = import_raster(with_terrain, data_dir, src, "hazard")
    assert report.counts["resampled"] == 1
    with with_terrain.read() as session:
        grid = queries.load_grid(session, data_dir, "hazard")
    assert grid is not None and grid.shape == (200, 200)
    assert set(np.unique(grid.values)) == {1.0, 3.0}  # nearest, never an invented 2.0


def test_a_2_gb_file_is_refused_before_it_is_read(twin_db: Database, data_dir: Path, tmp_path: Path) -> None:
    huge = tmp_path / "huge.tif"
    with huge.open("wb") as f:
        f.truncate(2 * 2**30)  # sparse: nothing is written, the size says 2 GiB
    with pytest.raises(FileTooLarge) as caught:
        import_raster(twin_db, data_dir, huge, "dtm")
    assert "2048.0 MiB" in caught.value.message() and "1024.0 MiB" in caught.value.message()
    small_limit = write_geojson(tmp_path / "b.geojson", [feature("x", [lonlat_ring(square(0, 0, 10))])])
    with pytest.raises(FileTooLarge):
        import_buildings(twin_db, data_dir, small_limit, max_bytes=10)


# --------------------------------------------------------------------------------- buildings

def test_buildings_are_repaired_skipped_and_listed(db: Database, tmp_path: Path) -> None:
    """Storage on both engines: holes kept, a self-intersection repaired, bad buildings listed."""
    data_dir = tmp_path / "data"
    import_raster(db, data_dir, make_terrain(tmp_path / "dtm.tif"), "dtm")
    courtyard = [lonlat_ring(square(-20, -20, 20)), lonlat_ring(square(-15, -15, 10))]
    bowtie = lonlat_ring([(30, 30), (40, 40), (40, 30), (30, 40)])  # crosses itself
    features = [
        feature("courtyard", courtyard, height=9, address="12 Lê Lợi"),
        feature("bowtie", [bowtie], height=6),
        feature("far-away", [lonlat_ring(square(500, 500, 10))], height=6),
        feature("steep", [lonlat_ring(square(40, -40, 10))], height=8, roof_type="gable", roof_tilt=95),
        feature("sunken", [lonlat_ring(square(60, -40, 10))], height=-3),
        feature("storeys-only", [lonlat_ring(square(-60, 40, 10))], storeys=2, roof_type="gable"),
        feature("no-height", [lonlat_ring(square(-60, -60, 10))]),
    ]
    report = import_buildings(db, data_dir, write_geojson(tmp_path / "b.geojson", features))
    skipped = {s["ref"]: s["reason"] for s in report.skipped}
    assert skipped["far-away"] == "outside the terrain model"
    assert "between 0 and 90" in skipped["steep"] and "above 0" in skipped["sunken"]
    assert "no height" in skipped["no-height"]
    assert report.counts["imported"] == 3 and report.counts["repaired"] == 1 and report.counts["with_holes"] == 1
    assert any(r.startswith("bowtie: Self-intersection") for r in report.repairs)
    assert any("6 m estimated from 2 storeys" in r for r in report.repairs)
    with db.read() as session:
        found = queries.search(session, "le loi")
        assert [f["address"] for f in found] == ["12 Lê Lợi"]
        house = queries.building(session, found[0]["id"])
        assert house is not None and house["height_m"] == 9 and house["ground_m"] == 10.0
        assert len(house["faces"]) == 1 and house["faces"][0]["area_m2"] == pytest.approx(300, rel=0.01)
        assert len(house["footprint"]["coordinates"]) == 2  # the courtyard is kept
        bowtie_area = sum(f["area_m2"] for b in queries.buildings_geojson(session)["features"]
                          if b["properties"]["ref"] == "bowtie"
                          for f in (queries.building(session, b["id"]) or {})["faces"])
        assert bowtie_area == pytest.approx(50, rel=0.02)  # two 25 m² triangles
        gable = queries.search(session, "x")  # no address: not found by search
        assert gable == []


def test_buildings_need_a_terrain_first(twin_db: Database, data_dir: Path, tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "b.geojson", [feature("a", [lonlat_ring(square(0, 0, 10))], height=5)])
    with pytest.raises(NoTerrain):
        import_buildings(twin_db, data_dir, path)


def test_roof_faces_given_in_the_file_get_their_tilt_and_azimuth(with_terrain: Database, data_dir: Path,
                                                                 tmp_path: Path) -> None:
    rise = 3 * math.tan(math.radians(30))
    cx, cy = centre_xy()

    def ring3d(points: list[tuple[float, float, float]]) -> dict:
        coords = [[*TO_LONLAT.transform(cx + x, cy + y), z] for x, y, z in points]
        return {"type": "Polygon", "coordinates": [[*coords, coords[0]]]}

    faces = [ring3d([(0, 0, 6), (10, 0, 6), (10, 3, 6 + rise), (0, 3, 6 + rise)]),
             ring3d([(0, 3, 6 + rise), (10, 3, 6 + rise), (10, 6, 6), (0, 6, 6)])]
    path = write_geojson(tmp_path / "b.geojson", [feature("g", [lonlat_ring(square(0, 0, 10))], roof_faces=faces)])
    report = import_buildings(with_terrain, data_dir, path)
    assert report.counts["imported"] == 1 and report.counts["faces"] == 2
    with with_terrain.read() as session:
        shapes, _ids = queries.building_shapes(session)
    got = sorted((round(f.tilt, 1), round(f.azimuth)) for f in shapes[0].faces)
    assert got == [(30.0, 0), (30.0, 180)]


def cityjson(lod: str, surfaces: list[list[int]], semantics: list[int] | None) -> dict:
    cx, cy = centre_xy()
    ridge = 3 * math.tan(math.radians(30))
    vertices = [[0, 0, 10], [10, 0, 10], [10, 6, 10], [0, 6, 10],  # ground at 10 m
                [0, 0, 16], [10, 0, 16], [10, 6, 16], [0, 6, 16],  # eaves at 6 m
                [0, 3, 16 + ridge], [10, 3, 16 + ridge]]  # ridge
    geometry: dict = {"type": "MultiSurface", "lod": lod, "boundaries": [[s] for s in surfaces]}
    if semantics is not None:
        geometry["semantics"] = {"surfaces": [{"type": "GroundSurface"}, {"type": "WallSurface"},
                                              {"type": "RoofSurface"}], "values": semantics}
    return {"type": "CityJSON", "version": "2.0",
            "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/32648"},
            "transform": {"scale": [0.001, 0.001, 0.001], "translate": [cx, cy, 0]},
            "vertices": [[round(x * 1000), round(y * 1000), round(z * 1000)] for x, y, z in vertices],
            "CityObjects": {"house-1": {"type": "Building", "attributes": {"yearOfConstruction": 1962},
                                        "geometry": [geometry]}}}


def test_cityjson_lod2_roof_surfaces_become_faces(with_terrain: Database, data_dir: Path, tmp_path: Path) -> None:
    surfaces = [[0, 3, 2, 1], [0, 1, 5, 4], [2, 3, 7, 6], [1, 2, 6, 9, 5], [3, 0, 4, 8, 7],
                [4, 5, 9, 8], [8, 9, 6, 7]]
    path = tmp_path / "house.city.json"
    path.write_text(json.dumps(cityjson("2.2", surfaces, [0, 1, 1, 1, 1, 2, 2])))
    report = import_cityjson(with_terrain, data_dir, path)
    assert report.counts["imported"] == 1 and report.counts["faces"] == 2
    with with_terrain.read() as session:
        (hit,) = queries.buildings_geojson(session)["features"]
        house = queries.building(session, hit["id"])
    assert house is not None and house["roof_type"] == "gable" and house["ground_m"] == 10.0
    assert house["height_m"] == pytest.approx(6 + 3 * math.tan(math.radians(30)), abs=0.01)
    assert house["construction_period"] == "1946_1970"
    assert sorted(round(f["azimuth"]) for f in house["faces"]) == [0, 180]
    assert all(f["tilt"] == pytest.approx(30, abs=0.05) for f in house["faces"])
    assert sum(f["area_m2"] for f in house["faces"]) == pytest.approx(60 / math.cos(math.radians(30)), rel=1e-3)


def test_cityjson_lod1_gets_a_flat_roof(with_terrain: Database, data_dir: Path, tmp_path: Path) -> None:
    box_surfaces = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]]
    path = tmp_path / "box.city.json"
    path.write_text(json.dumps(cityjson("1", box_surfaces, None)))
    report = import_cityjson(with_terrain, data_dir, path)
    assert report.counts["imported"] == 1
    with with_terrain.read() as session:
        (hit,) = queries.buildings_geojson(session)["features"]
        house = queries.building(session, hit["id"])
    assert house is not None and house["roof_type"] == "flat" and house["height_m"] == pytest.approx(6.0)
    assert [f["tilt"] for f in house["faces"]] == [0.0]


# ------------------------------------------------------------------------------------- zones

def test_hazard_and_zoning_plans(db: Database, tmp_path: Path) -> None:
    """Storage on both engines: levels in French become low/medium/high; buildable derived."""
    data_dir = tmp_path / "data"
    hazard = write_geojson(tmp_path / "hazard.geojson", [
        feature("river", [lonlat_ring(square(-50, -10, 20))], alea="Fort"),
        feature("plain", [lonlat_ring(square(-50, 10, 20))], level="faible"),
        feature("odd", [lonlat_ring(square(-50, 30, 20))], level="purple"),
    ])
    report = import_zones(db, data_dir, hazard, "hazard")
    assert report.counts["imported"] == 2 and report.skipped[0]["ref"] == "odd"
    zoning = write_geojson(tmp_path / "zoning.geojson", [
        feature("centre", [lonlat_ring(square(0, 0, 50))], category="mixed"),
        feature("park", [lonlat_ring(square(0, 60, 50))], category="green", buildable="non"),
    ])
    report = import_zones(db, data_dir, zoning, "zoning")
    assert any("derived from their category" in w for w in report.warnings)
    with db.read() as session:
        levels = [f["properties"]["hazard_level"] for f in queries.zones_geojson(session, "hazard")["features"]]
        plan = {f["properties"]["category"]: f["properties"]["buildable"]
                for f in queries.zones_geojson(session, "zoning")["features"]}
        cx, cy = CENTRE_LONLAT
        nearby = queries.zones_geojson(session, "zoning", bbox=(cx - 0.0001, cy - 0.0001, cx + 0.0001, cy + 0.0001))
    assert levels == ["high", "low"] and plan == {"mixed": True, "green": False}
    assert [f["properties"]["category"] for f in nearby["features"]] == ["mixed"]


def test_runs_show_progress(db: Database) -> None:
    run_id = actions.start_run(db, "solar", "whole city")
    actions.progress_run(db, run_id, 0.25)
    with db.read() as session:
        assert (queries.run(session, run_id) or {})["progress"] == 0.25
    actions.finish_run(db, run_id)
    with db.read() as session:
        run = queries.run(session, run_id) or {}
    assert run["status"] == "done" and run["progress"] == 1.0 and run["finished_at"] is not None


# --------------------------------------------------------------------------------------- CLI

def test_cli_imports_with_progress_and_a_report(tmp_path: Path, sqlite_template: Path, monkeypatch) -> None:
    import shutil

    db_path = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, db_path)
    monkeypatch.setenv("PARVIS_DATA_DIR", str(tmp_path / "data"))
    url = f"sqlite:///{db_path}"
    runner = CliRunner()
    result = runner.invoke(group, ["import", "dtm", str(make_terrain(tmp_path / "dtm.tif")), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "dtm from dtm.tif" in result.stdout and "crs: EPSG:32648" in result.stdout
    assert "done" in result.stderr
    west, north = terrain_origin(50)
    bare = write_tif(tmp_path / "bare.tif", np.ones((50, 50)), from_origin(west, north, 1, 1), None)
    result = runner.invoke(group, ["import", "dsm", str(bare), "--database-url", url])
    assert result.exit_code == 1 and "no coordinate reference system" in result.output
    result = runner.invoke(group, ["import", "dsm", str(bare), "--crs", "EPSG:32648", "--database-url", url])
    assert result.exit_code == 0 and "resampled" not in result.output
