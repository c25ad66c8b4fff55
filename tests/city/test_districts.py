"""Districts: created from GeoJSON, refused when invalid, found from a point on both engines."""

from __future__ import annotations

import pytest

import factories
from factories import square
from parvis.kernel.errors import InvalidGeometry
from parvis.modules.city import queries
from parvis.modules.city.actions import import_districts


def test_point_in_district_uses_the_spatial_index(db):
    factories.district(db, "A", lon=107.0, lat=16.0)
    factories.district(db, "B", lon=107.01, lat=16.0)
    with db.read() as session:
        assert queries.locate(session, 107.005, 16.005).code == "A"
        assert queries.locate(session, 107.015, 16.005).code == "B"
        assert queries.locate(session, 108.0, 16.0) is None


def test_point_inside_bbox_but_outside_polygon_is_not_matched(db):
    l_shape = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2], [0, 0]]]}
    import_districts(db, None, {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "L", "name": "L"}, "geometry": l_shape}]})
    with db.read() as session:
        assert queries.locate(session, 0.5, 1.5).code == "L"
        assert queries.locate(session, 1.5, 1.5) is None  # in the box, not in the L


def test_self_intersecting_polygon_is_refused_and_nothing_is_written(db):
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    good = {"type": "Feature", "properties": {"code": "OK"}, "geometry": square(5, 5)}
    bad = {"type": "Feature", "properties": {"code": "BAD"}, "geometry": bowtie}
    with pytest.raises(InvalidGeometry) as info:
        import_districts(db, None, {"type": "FeatureCollection", "features": [good, bad]})
    assert "Self-intersection" in info.value.params["reason"]
    with db.read() as session:
        assert queries.districts(session) == []


def test_import_updates_existing_codes(db):
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "X", "name": "Old"}, "geometry": square(1, 1)}]}
    assert import_districts(db, None, fc) == (1, 0)
    fc["features"][0]["properties"]["name"] = "New"
    fc["features"][0]["geometry"] = square(3, 3)
    assert import_districts(db, None, fc) == (0, 1)
    with db.read() as session:
        assert [d.name for d in queries.districts(session)] == ["New"]
        assert queries.locate(session, 3.005, 3.005).code == "X"
        assert queries.locate(session, 1.005, 1.005) is None  # the index followed the update


def test_districts_api_is_geojson(client, db):
    factories.district(db, "A", lon=107.0, lat=16.0)
    response = client.get("/api/v1/districts")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    feature = body["features"][0]
    assert feature["properties"]["code"] == "A"
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["geometry"]["coordinates"][0][0][0] == [107.0, 16.0]  # lon, lat order
    located = client.get("/api/v1/districts/locate", params={"lon": 107.005, "lat": 16.005})
    assert located.json()["properties"]["code"] == "A"
    assert client.get("/api/v1/districts/locate", params={"lon": 0, "lat": 0}).status_code == 404


@pytest.mark.parametrize("geometry, fragment", [
    ({"type": "Point", "coordinates": [1, 2]}, "Polygon or MultiPolygon"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "crosses itself"),
    ({"type": "Polygon", "coordinates": [[[16, 107], [16, 200], [17, 200], [16, 107]]]},
     "longitude, latitude"),
    ({"type": "Polygon", "coordinates": "nope"}, "cannot be read"),
])
def test_admin_gets_a_clear_error_for_bad_geometry(client, db, settings, geometry, fragment):
    factories.staff(db, settings, "admin@example.org", role="admin")
    from web_helpers import sign_in

    sign_in(client, "admin@example.org", factories.PASSWORD)
    token = client.post("/api/v1/auth/token", data={"username": "admin@example.org",
                                                    "password": factories.PASSWORD}).json()
    response = client.post("/api/v1/districts", json={"code": "Z", "name": "Z", "geometry": geometry},
                           headers={"Authorization": f"Bearer {token['access_token']}",
                                    "Accept-Language": "en"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://parvis.city/problems/invalid-geometry"
    assert fragment in problem["detail"]
    assert client.get("/api/v1/districts").json()["features"] == []
