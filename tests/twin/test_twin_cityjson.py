"""The twin as CityJSON 2.0: a structurally valid document (checked here rule by rule: types,
transform, integer vertices, indices in range, boundaries nested per geometry type, semantics
matching the boundaries), one Building per twin building, vertices that decode to the twin's
coordinates within the scale, outward-facing LOD1 solids of the right volume, LOD2 roofs of the
faces' area, no personal data; the download and the command; and the file imports back into a
twin with the same buildings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from shapely.geometry import shape
from sqlalchemy import select

from parvis.kernel.db import Database
from parvis.modules.twin import cityjson_export, demo_twin, queries
from parvis.modules.twin.import_cityjson import import_cityjson
from parvis.modules.twin.importer import import_raster
from parvis.modules.twin.models import Building
from parvis.settings import Settings

# boundaries depth (lists around a vertex index) per geometry type, CityJSON 2.0 section 3.3
DEPTH = {"MultiPoint": 1, "MultiLineString": 2, "MultiSurface": 3, "CompositeSurface": 3, "Solid": 4,
         "MultiSolid": 5, "CompositeSolid": 5}
SEMANTIC_DEPTH = {"MultiSurface": 1, "CompositeSurface": 1, "Solid": 2, "MultiSolid": 3, "CompositeSolid": 3}
PRIVATE = {"population", "households", "heat_loss_level", "owner", "attached_sides", "heating_system",
           "wall_type", "window_type", "roof_construction"}


def structural_errors(doc: dict[str, Any]) -> list[str]:
    """CityJSON rules a program can check without the schema files: what a validator would say."""
    errors: list[str] = []
    if doc.get("type") != "CityJSON" or doc.get("version") not in ("1.1", "2.0"):
        errors.append("type/version")
    transform = doc.get("transform") or {}
    if len(transform.get("scale", [])) != 3 or len(transform.get("translate", [])) != 3:
        errors.append("transform")
    vertices = doc.get("vertices")
    if not isinstance(vertices, list) or not all(
            isinstance(v, list) and len(v) == 3 and all(type(c) is int for c in v) for v in vertices):
        errors.append("vertices must be [x, y, z] integers")
        return errors
    if len({tuple(v) for v in vertices}) != len(vertices):
        errors.append("duplicate vertices")
    used: set[int] = set()

    def walk(node: Any, depth: int, where: str) -> None:
        if depth == 0:
            if type(node) is not int or not 0 <= node < len(vertices):
                errors.append(f"{where}: index {node!r} out of range")
            else:
                used.add(node)
            return
        if not isinstance(node, list) or not node:
            errors.append(f"{where}: expected a non-empty list at depth {depth}")
            return
        if depth == 1 and len(node) < 3:
            errors.append(f"{where}: a ring needs 3 vertices")
        if depth == 1 and len(set(node)) != len(node):
            errors.append(f"{where}: a ring repeats a vertex")
        for item in node:
            walk(item, depth - 1, where)

    def shape_of(node: Any, depth: int) -> Any:
        return len(node) if depth == 1 else [shape_of(n, depth - 1) for n in node]

    for ref, obj in doc.get("CityObjects", {}).items():
        if obj.get("type") not in ("Building", "BuildingPart"):
            errors.append(f"{ref}: type")
        for geometry in obj.get("geometry", []):
            kind = geometry.get("type")
            if kind not in DEPTH or str(geometry.get("lod")) not in ("0", "1", "2", "3", "1.2", "2.2"):
                errors.append(f"{ref}: geometry type/lod {kind} {geometry.get('lod')}")
                continue
            walk(geometry["boundaries"], DEPTH[kind], ref)
            semantics = geometry.get("semantics")
            if semantics:
                surfaces = semantics["surfaces"]
                if any(s.get("type") not in ("RoofSurface", "GroundSurface", "WallSurface") for s in surfaces):
                    errors.append(f"{ref}: semantic type")
                expected = shape_of(geometry["boundaries"], SEMANTIC_DEPTH[kind])
                values = semantics["values"]
                if shape_of(values, SEMANTIC_DEPTH[kind]) != expected:
                    errors.append(f"{ref}: semantics values do not follow the boundaries")
                flat = values if SEMANTIC_DEPTH[kind] == 1 else [v for x in values for v in x]
                if any(v is not None and not 0 <= v < len(surfaces) for v in flat):
                    errors.append(f"{ref}: semantic index out of range")
    if vertices and len(used) != len(vertices):
        errors.append("unused vertices")
    return errors


@pytest.fixture
def twin(db: Database, settings: Settings) -> Database:
    demo_twin.provision(db, settings, size=(200.0, 150.0), resolution=2.0, buildings=12)
    return db


def _export(db: Database, **options: Any) -> dict[str, Any]:
    with db.read() as session:
        return cityjson_export.export(session, queries.local_crs_of_twin(session), **options)


def _decode(doc: dict[str, Any]) -> np.ndarray:
    t = doc["transform"]
    return np.asarray(doc["vertices"], dtype=float) * np.asarray(t["scale"]) + np.asarray(t["translate"])


def _rings(doc: dict[str, Any], geometry: dict[str, Any]) -> list[tuple[list[np.ndarray], Any]]:
    """Each surface (its rings as coordinates) with its semantic type."""
    xyz = _decode(doc)
    types = [s["type"] for s in (geometry.get("semantics") or {}).get("surfaces", [])]
    values = (geometry.get("semantics") or {}).get("values")
    out = []
    if geometry["type"] == "Solid":
        for shell in geometry["boundaries"]:
            out += [([xyz[r] for r in surface], None) for surface in shell]
    elif geometry["type"] == "MultiSurface":
        out += [([xyz[r] for r in surface], types[values[i]] if values else None)
                for i, surface in enumerate(geometry["boundaries"])]
    return out


def _newell(ring: np.ndarray) -> np.ndarray:
    nxt = np.roll(ring, -1, axis=0)
    return 0.5 * np.array([np.sum((ring[:, 1] - nxt[:, 1]) * (ring[:, 2] + nxt[:, 2])),
                           np.sum((ring[:, 2] - nxt[:, 2]) * (ring[:, 0] + nxt[:, 0])),
                           np.sum((ring[:, 0] - nxt[:, 0]) * (ring[:, 1] + nxt[:, 1]))])


def test_the_export_is_valid_cityjson_with_every_building_and_no_personal_data(twin: Database) -> None:
    doc = _export(twin)
    assert structural_errors(doc) == []
    assert doc["version"] == "2.0"
    assert doc["metadata"]["referenceSystem"] == "https://www.opengis.net/def/crs/EPSG/0/32648"
    with twin.read() as session:
        rows = list(session.scalars(select(Building).order_by(Building.id)))
    assert sorted(doc["CityObjects"]) == sorted(r.ref for r in rows) and len(rows) >= 8
    for row in rows:
        obj = doc["CityObjects"][row.ref]
        assert obj["attributes"]["address"] == row.address
        assert obj["attributes"]["measuredHeight"] == row.height_m
        assert obj["attributes"]["roofType"] == row.roof_type
        assert obj["attributes"]["construction_period"] == row.construction_period
        assert not PRIVATE & set(obj["attributes"])
        assert [g["lod"] for g in obj["geometry"]] == ["1", "2"]
    text = cityjson_export.dumps(doc)
    assert "households" not in text and "heat_loss" not in text
    # a structural error is seen: the checker is not blind
    broken = json.loads(text)
    first = next(iter(broken["CityObjects"].values()))
    first["geometry"][0]["boundaries"][0][0][0][0] = len(broken["vertices"]) + 5
    assert any("out of range" in e for e in structural_errors(broken))


def test_vertices_decode_to_the_twin_coordinates_within_the_scale(twin: Database) -> None:
    doc = _export(twin)
    scale = doc["transform"]["scale"][0]
    assert scale == 0.001 and min(min(v) for v in doc["vertices"]) >= 0
    xyz = _decode(doc)
    with twin.read() as session:
        rows = list(session.scalars(select(Building)))
    for row in rows:
        solid = doc["CityObjects"][row.ref]["geometry"][0]
        points = np.concatenate([r for rings, _t in _rings(doc, solid) for r in rings])
        footprint = np.asarray(shape(json.loads(row.footprint_local)).exterior.coords)[:-1]
        for x, y in footprint:  # every footprint corner is a vertex, within half the scale
            nearest = np.min(np.hypot(points[:, 0] - x, points[:, 1] - y))
            assert nearest <= scale * 0.5 + 1e-9
        assert points[:, 2].min() == pytest.approx(row.ground_m, abs=scale)
        assert points[:, 2].max() == pytest.approx(row.ground_m + row.height_m, abs=scale)
    assert xyz.shape == (len(doc["vertices"]), 3)


def test_lod1_solids_face_outwards_with_the_footprint_volume(twin: Database) -> None:
    doc = _export(twin)
    with twin.read() as session:
        rows = list(session.scalars(select(Building)))
    for row in rows:
        solid = doc["CityObjects"][row.ref]["geometry"][0]
        assert solid["type"] == "Solid"
        surfaces = _rings(doc, solid)
        # divergence theorem: volume = sum over surfaces of (any point . area-weighted normal) / 3
        volume = sum(float(np.dot(rings[0][0], _newell(rings[0])))
                     for rings, _t in surfaces) / 3.0
        expected = shape(json.loads(row.footprint_local)).area * row.height_m
        assert volume == pytest.approx(expected, rel=1e-3)
        normals = [_newell(rings[0]) for rings, _t in surfaces]
        assert normals[0][2] < 0 < normals[1][2]  # ground faces down, roof up


def test_lod2_roofs_have_the_faces_area_and_walls_reach_the_ground(twin: Database) -> None:
    doc = _export(twin)
    with twin.read() as session:
        rows = list(session.scalars(select(Building)))
        faces = {r.ref: queries.building(session, r.id)["faces"] for r in rows}
    for row in rows:
        lod2 = doc["CityObjects"][row.ref]["geometry"][1]
        surfaces = _rings(doc, lod2)
        roofs = [rings[0] for rings, kind in surfaces if kind == "RoofSurface"]
        walls = [rings[0] for rings, kind in surfaces if kind == "WallSurface"]
        grounds = [rings[0] for rings, kind in surfaces if kind == "GroundSurface"]
        assert len(roofs) == len(faces[row.ref]) and len(grounds) == 1 and len(walls) >= 4
        area = sum(float(np.linalg.norm(_newell(r))) for r in roofs)
        assert area == pytest.approx(sum(f["area_m2"] for f in faces[row.ref]), rel=0.005)
        assert all(_newell(r)[2] > 0 for r in roofs)  # roofs face up
        assert all(w[:, 2].min() == pytest.approx(row.ground_m, abs=0.001) for w in walls)
    only1 = _export(twin, lod2=False)
    assert structural_errors(only1) == []
    assert all([g["lod"] for g in o["geometry"]] == ["1"] for o in only1["CityObjects"].values())


def test_the_export_imports_back_into_the_same_buildings(twin: Database, settings: Settings,
                                                         tmp_path: Path, sqlite_template: Path) -> None:
    import shutil

    doc = _export(twin)
    path = tmp_path / "twin.city.json"
    path.write_text(cityjson_export.dumps(doc), encoding="utf-8")
    copy = tmp_path / "again.db"
    shutil.copyfile(sqlite_template, copy)
    again = Database(f"sqlite:///{copy}")
    try:
        data_dir = tmp_path / "again"
        data_dir.mkdir()
        import_raster(again, data_dir, Path(settings.data_dir) / "twin" / "dtm.tif", "dtm")
        report = import_cityjson(again, data_dir, path)
        assert report.counts["imported"] == len(doc["CityObjects"])
        with twin.read() as session:
            before = {r.ref: (r, len(r.faces)) for r in session.scalars(select(Building))}
        with again.read() as session:
            after = {r.ref: r for r in session.scalars(select(Building))}
            for ref, row in after.items():
                old, old_faces = before[ref]
                assert row.height_m == pytest.approx(old.height_m, abs=0.01)
                assert row.ground_m == pytest.approx(old.ground_m, abs=0.01)
                assert row.roof_type == old.roof_type and row.address == old.address
                assert len(row.faces) == old_faces
                assert shape(json.loads(row.footprint_local)).area == pytest.approx(
                    shape(json.loads(old.footprint_local)).area, rel=1e-3)
    finally:
        again.dispose()


def test_the_download_and_the_command(client: TestClient, twin: Database, settings: Settings,
                                      tmp_path: Path) -> None:
    response = client.get("/api/v1/twin/cityjson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/city+json")
    assert 'filename="twin.city.json"' in response.headers["content-disposition"]
    doc = response.json()
    assert structural_errors(doc) == [] and len(doc["CityObjects"]) >= 8
    lod1 = client.get("/api/v1/twin/cityjson", params={"lod": "1"}).json()
    assert {g["type"] for o in lod1["CityObjects"].values() for g in o["geometry"]} == {"Solid"}
    bad = client.get("/api/v1/twin/cityjson", params={"lod": "3"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")

    out = tmp_path / "cli.city.json"
    result = CliRunner().invoke(cityjson_export.export_cityjson,
                                [str(out), "--database-url", settings.database_url])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(written["CityObjects"]) == sorted(doc["CityObjects"])
    assert written["vertices"] == doc["vertices"]


def test_an_empty_twin_exports_an_empty_valid_document(client: TestClient) -> None:
    doc = client.get("/api/v1/twin/cityjson").json()
    assert doc["CityObjects"] == {} and doc["vertices"] == [] and structural_errors(doc) == []
    assert "referenceSystem" not in doc["metadata"]
