"""Fixtures of the twin's data tests: GeoTIFF writers, a terrain around the demo city's centre,
and a SQLite-only database for the import tests that need no second engine (the storage tests
use the suite's ``db`` fixture and run on SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import Affine, from_origin

import parvis.modules.twin.models  # noqa: F401  (the twin's tables in the metadata the fixtures truncate)
from parvis.kernel.db import Database

CENTRE_LONLAT = (107.585, 16.463)
CRS = "EPSG:32648"


def centre_xy() -> tuple[float, float]:
    x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(*CENTRE_LONLAT)
    return float(x), float(y)


def write_tif(path: Path, values: np.ndarray, transform: Affine, crs: str | None,
              nodata: float | None = None) -> Path:
    profile = {"driver": "GTiff", "height": values.shape[0], "width": values.shape[1], "count": 1,
               "dtype": "float32", "transform": transform, "nodata": nodata}
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values.astype(np.float32), 1)
    return path


def terrain_origin(size: int = 200) -> tuple[float, float]:
    """West and north edges of a ``size`` m square terrain centred on the demo city (whole metres)."""
    x, y = centre_xy()
    return float(np.floor(x - size / 2)), float(np.ceil(y + size / 2))


def make_terrain(path: Path, size: int = 200, resolution: float = 1.0, altitude: float = 10.0) -> Path:
    west, north = terrain_origin(size)
    n = int(size / resolution)
    return write_tif(path, np.full((n, n), altitude, dtype=np.float32),
                     from_origin(west, north, resolution, resolution), CRS)


@pytest.fixture
def twin_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "twin.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def with_terrain(twin_db: Database, data_dir: Path, tmp_path: Path) -> Database:
    """A twin with a flat 200 m x 200 m DTM at 10 m around the demo centre."""
    from parvis.modules.twin.importer import import_raster

    import_raster(twin_db, data_dir, make_terrain(tmp_path / "dtm_src.tif"), "dtm")
    return twin_db
