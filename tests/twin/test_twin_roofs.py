"""Roof faces from footprints (flat, gable, hip), faces from 3-D polygons, the surface model with
roofs burnt in, and the UTM zone of a place."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rasterio.transform import from_origin
from shapely.geometry import Polygon, box

from parvis.modules.twin.errors import InvalidRoof
from parvis.modules.twin.grid import Grid, local_crs
from parvis.modules.twin.roofs import BuildingShape, burn_buildings, face_from_3d, roof_faces


def test_gable_of_a_10_by_6_house_at_30_degrees() -> None:
    faces = roof_faces(box(0, 0, 10, 6), height=8.0, roof_type="gable", tilt=30.0)
    assert len(faces) == 2
    assert sorted(f.azimuth for f in faces) == pytest.approx([0.0, 180.0])  # ridge east-west
    assert abs(faces[0].azimuth - faces[1].azimuth) == pytest.approx(180.0)
    for face in faces:
        assert face.tilt == 30.0
        assert face.area_m2 == pytest.approx(60 / math.cos(math.radians(30)) / 2, rel=1e-4)  # 34.64 m²
        # the ridge (y = 3) is at 8 m, the eaves 3 * tan 30 = 1.73 m lower
        assert face.height_at(np.array([5.0]), np.array([3.0]))[0] == pytest.approx(8.0)
        assert face.height_at(np.array([5.0]), np.array([0.0 if face.azimuth == 180 else 6.0]))[0] == \
            pytest.approx(8.0 - 3 * math.tan(math.radians(30)))


def test_gable_ridge_follows_the_longer_axis_of_a_rotated_house() -> None:
    # a 12 x 6 house whose long side runs north-south: faces look east and west
    faces = roof_faces(box(0, 0, 6, 12), height=7.0, roof_type="gable", tilt=25.0)
    assert sorted(f.azimuth for f in faces) == pytest.approx([90.0, 270.0])


def test_hip_roof_has_four_faces_that_cover_the_footprint() -> None:
    faces = roof_faces(box(0, 0, 12, 8), height=9.0, roof_type="hip", tilt=30.0)
    assert len(faces) == 4
    assert sorted(f.azimuth for f in faces) == pytest.approx([0.0, 90.0, 180.0, 270.0])
    assert sum(f.area_m2 for f in faces) == pytest.approx(96 / math.cos(math.radians(30)), rel=1e-4)
    ends = [f for f in faces if f.azimuth in (90.0, 270.0)]
    assert all(len(f.polygon.exterior.coords) == 4 for f in ends)  # triangles
    top = max(max(z for *_, z in f.polygon.exterior.coords) for f in faces)
    assert top == pytest.approx(9.0)


def test_flat_roof_keeps_the_courtyard() -> None:
    courtyard = Polygon(box(0, 0, 20, 20).exterior.coords, [box(5, 5, 15, 15).exterior.coords])
    (face,) = roof_faces(courtyard, height=6.0, roof_type="flat")
    assert face.tilt == 0 and face.area_m2 == pytest.approx(300.0)


@pytest.mark.parametrize(("height", "tilt", "words"), [
    (8.0, 95.0, "between 0 and 90"), (8.0, -5.0, "between 0 and 90"), (0.0, 30.0, "above 0"),
    (-3.0, None, "above 0"), (1.0, 60.0, "rises"),
])
def test_impossible_roofs_are_refused_clearly(height: float, tilt: float | None, words: str) -> None:
    with pytest.raises(InvalidRoof) as caught:
        roof_faces(box(0, 0, 10, 6), height=height, roof_type="gable", tilt=tilt)
    assert words in caught.value.message()


def test_face_from_a_3d_polygon_gets_its_tilt_and_azimuth() -> None:
    rise = 4 * math.tan(math.radians(30))
    south = Polygon([(0, 0, 5), (10, 0, 5), (10, 4, 5 + rise), (0, 4, 5 + rise)])  # falls towards the south
    face = face_from_3d(south)
    assert face.tilt == pytest.approx(30.0) and face.azimuth == pytest.approx(180.0)
    assert face.area_m2 == pytest.approx(40 / math.cos(math.radians(30)), rel=1e-4)
    with pytest.raises(InvalidRoof, match="vertical"):
        face_from_3d(Polygon([(0, 0, 0), (10, 0, 0), (10, 0, 5), (0, 0, 5)]))


def test_burnt_gable_roof_has_its_shape_not_a_box() -> None:
    dtm = Grid(values=np.full((20, 20), 10.0, dtype=np.float32), transform=from_origin(0, 20, 1, 1),
               crs="EPSG:32648")
    faces = roof_faces(box(5, 5, 15, 11), height=8.0, roof_type="gable", tilt=30.0)  # ridge at y = 8
    dsm, labels = burn_buildings(dtm, [BuildingShape(faces=faces, ground=10.0)])
    assert set(np.unique(labels)) == {0, 1, 2}
    column = dsm[9:15, 10]  # rows 9..14 are y = 10.5 .. 5.5 (north to south), across the ridge
    assert column.max() == pytest.approx(18.0 - 0.5 * math.tan(math.radians(30)), abs=1e-3)
    assert column[0] < column[2] and column[-1] < column[3]  # lower at the eaves than near the ridge
    assert dsm[0, 0] == 10.0 and labels[0, 0] == 0  # terrain outside the house
    assert (dsm[labels > 0] > 10.0).all()


def test_burn_uses_the_terrain_under_a_building_without_ground_altitude() -> None:
    values = np.tile(np.linspace(0, 19, 20, dtype=np.float32), (20, 1))  # rises eastwards 1 m per cell
    dtm = Grid(values=values, transform=from_origin(0, 20, 1, 1), crs="EPSG:32648")
    faces = roof_faces(box(8, 8, 12, 12), height=5.0, roof_type="flat")
    dsm, labels = burn_buildings(dtm, [BuildingShape(faces=faces, ground=None, face_labels=[42])])
    assert set(np.unique(labels)) == {0, 42}
    assert dsm[labels == 42] == pytest.approx(np.full(16, 9.5 + 5.0))  # mean terrain 9.5 m, flat roof


def test_local_crs_is_the_utm_zone() -> None:
    assert local_crs(107.585, 16.463) == "EPSG:32648"
    assert local_crs(4.867, 50.467) == "EPSG:32631"  # Namur
    assert local_crs(-47.9, -15.8) == "EPSG:32723"
