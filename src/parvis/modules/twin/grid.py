"""Rasters of the twin: a ``Grid`` (values, affine transform, CRS) and GeoTIFF reading/writing.

Conventions shared by every twin engine: float32 values, row 0 is the north edge, columns run west
to east, square cells of ``resolution`` metres in a local metric CRS (the UTM zone of the city),
NaN where there is no data. Reading reprojects any GeoTIFF to that CRS with ``rasterio.warp``
(bilinear by default; nearest for class rasters such as an official hazard map).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.transform import Affine, array_bounds
from rasterio.warp import calculate_default_transform, reproject, transform_bounds
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

from parvis.kernel.errors import N_
from parvis.modules.twin.errors import FileTooLarge, MissingCRS, RasterHoles, UnreadableFile

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: larger files are refused before they are opened


@dataclass(frozen=True, eq=False)
class Grid:
    """A raster in a local metric CRS: ``values[row, col]``, row 0 north, NaN = no data."""

    values: np.ndarray
    transform: Affine
    crs: str

    @property
    def resolution(self) -> float:
        """Cell size in metres (cells are square)."""
        return float(self.transform.a)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in the grid's CRS."""
        west, south, east, north = array_bounds(self.shape[0], self.shape[1], self.transform)
        return (float(west), float(south), float(east), float(north))

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """x of each column's centre and y of each row's centre (1-D arrays)."""
        cols = np.arange(self.shape[1], dtype=np.float64)
        rows = np.arange(self.shape[0], dtype=np.float64)
        xs = self.transform.c + (cols + 0.5) * self.transform.a
        ys = self.transform.f + (rows + 0.5) * self.transform.e
        return xs, ys

    def with_values(self, values: np.ndarray) -> Grid:
        return Grid(values=values, transform=self.transform, crs=self.crs)


def local_crs(lon: float, lat: float) -> str:
    """The EPSG code of the UTM zone at a point (WGS 84 / UTM, north 326xx or south 327xx)."""
    zone = math.floor((lon + 180.0) / 6.0) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def check_size(path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """The file's size, or ``FileTooLarge`` before anything is read when over ``max_bytes``."""
    try:
        size = os.path.getsize(path)
    except OSError:
        raise UnreadableFile(N_("The file %(path)s does not exist or cannot be opened."),
                             params={"path": str(path)}) from None
    if size > max_bytes:
        raise FileTooLarge(N_("The file %(path)s is %(size)s MiB; the limit is %(limit)s MiB. Cut it into "
                              "tiles or raise the limit."),
                           params={"path": str(path), "size": round(size / 2**20, 1),
                                   "limit": round(max_bytes / 2**20, 1)})
    return size


def _parse_crs(crs: str) -> CRS:
    try:
        return CRS.from_user_input(crs)
    except Exception:  # rasterio raises CRSError, pyproj others
        raise UnreadableFile(N_("%(crs)s is not a coordinate system Parvis knows (use EPSG:xxxx)."),
                             params={"crs": crs}) from None


def read_geotiff(path: str | os.PathLike[str], target_crs: str | None = None, resolution: float | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, *, assume_crs: str | None = None,
                 resampling: Resampling = Resampling.bilinear, band: int = 1) -> Grid:
    """Read one band of a GeoTIFF into a ``Grid`` in ``target_crs`` (default: the local UTM zone
    of the raster's centre), at ``resolution`` metres (default: the source's, converted).

    The file's size is checked first. A raster without a CRS is refused (``MissingCRS``) unless
    ``assume_crs`` says which one it uses. Nodata cells (and NaN) become NaN and stay out of the
    interpolation. The output grid is north-up with square cells.
    """
    check_size(path, max_bytes)
    try:
        src = rasterio.open(path)
    except RasterioIOError:
        raise UnreadableFile(N_("%(path)s is not a GeoTIFF Parvis can read."),
                             params={"path": str(path)}) from None
    with src:
        src_crs = src.crs if src.crs else (_parse_crs(assume_crs) if assume_crs else None)
        if src_crs is None:
            raise MissingCRS(N_("%(path)s has no coordinate reference system. Give it with --crs EPSG:xxxx "
                                "(for example EPSG:32648)."), params={"path": str(path)})
        data = src.read(band, masked=True).astype(np.float32)
        values = data.filled(np.nan)
        src_transform = src.transform
        height, width = src.height, src.width
        bounds = src.bounds
    if target_crs is None:
        lon_w, lat_s, lon_e, lat_n = transform_bounds(src_crs, "EPSG:4326", *bounds)
        target_crs = local_crs((lon_w + lon_e) / 2, (lat_s + lat_n) / 2)
    dst_crs = _parse_crs(target_crs)
    same_crs = dst_crs == src_crs
    north_up = src_transform.b == 0 and src_transform.d == 0 and src_transform.e < 0
    square = abs(abs(src_transform.a) - abs(src_transform.e)) < 1e-9 * abs(src_transform.a)
    if (same_crs and north_up and square and src_transform.a > 0
            and (resolution is None or abs(resolution - src_transform.a) < 1e-9)):
        return Grid(values=values, transform=src_transform, crs=target_crs)
    if resolution is None:
        transform, w, h = calculate_default_transform(src_crs, dst_crs, width, height, *bounds)
        resolution = float(max(abs(transform.a), abs(transform.e)))
    transform, w, h = calculate_default_transform(src_crs, dst_crs, width, height, *bounds,
                                                  resolution=resolution)
    out = np.full((h, w), np.nan, dtype=np.float32)
    reproject(values, out, src_transform=src_transform, src_crs=src_crs, src_nodata=np.nan,
              dst_transform=transform, dst_crs=dst_crs, dst_nodata=np.nan, resampling=resampling)
    return Grid(values=out, transform=transform, crs=target_crs)


def resample_to(grid: Grid, like: Grid, resampling: Resampling = Resampling.bilinear) -> Grid:
    """``grid`` reprojected onto exactly ``like``'s cells (CRS, transform and shape)."""
    out = np.full(like.shape, np.nan, dtype=np.float32)
    reproject(grid.values, out, src_transform=grid.transform, src_crs=_parse_crs(grid.crs), src_nodata=np.nan,
              dst_transform=like.transform, dst_crs=_parse_crs(like.crs), dst_nodata=np.nan,
              resampling=resampling)
    return like.with_values(out)


def write_geotiff(grid: Grid, path: str | os.PathLike[str]) -> Path:
    """Write a grid as a tiled, deflate-compressed float32 GeoTIFF (NaN as nodata)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    rows, cols = grid.shape
    tiled = rows >= 256 and cols >= 256
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 1,
               "dtype": "float32", "crs": grid.crs, "transform": grid.transform, "nodata": np.nan,
               "compress": "deflate", "predictor": 3}
    if tiled:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    tmp = target.with_suffix(target.suffix + ".part")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(grid.values.astype(np.float32), 1)
    os.replace(tmp, target)
    return target


# ------------------------------------------------------------------------------ vector CRS helpers

def transformer(src_crs: str, dst_crs: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping an (n, 2+) coordinate array from ``src_crs`` to ``dst_crs`` (x, y order;
    a z column is kept), for ``shapely.transform``."""
    from pyproj import Transformer

    tr = Transformer.from_crs(src_crs, dst_crs, always_xy=True)

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        out = np.array(coords, dtype=np.float64, copy=True)
        out[:, 0], out[:, 1] = x, y
        return out

    return apply


def reproject_geometries(geoms: Sequence[BaseGeometry], src_crs: str, dst_crs: str) -> list[BaseGeometry]:
    """Geometries moved from one CRS to another in one vectorised call (z values kept)."""
    if not geoms:
        return []
    if src_crs == dst_crs:
        return list(geoms)
    arr = np.asarray(list(geoms), dtype=object)
    fn = transformer(src_crs, dst_crs)
    has_z = np.asarray(shapely.has_z(arr), dtype=bool)
    out = arr.copy()
    if (~has_z).any():
        out[~has_z] = shapely.transform(arr[~has_z], fn)
    if has_z.any():
        out[has_z] = shapely.transform(arr[has_z], fn, include_z=True)
    return list(out)


MAX_HOLE_M2 = 100.0  # largest nodata hole filled in a DTM/DSM; larger holes refuse the file


def fill_holes(grid: Grid, max_hole_m2: float = MAX_HOLE_M2) -> tuple[Grid, dict[str, int]]:
    """Fill small nodata holes from their neighbours; refuse large ones.

    A hole is a 4-connected group of NaN cells not touching the raster's edge. Holes up to
    ``max_hole_m2`` take the value of the nearest cell with data (Euclidean distance). A larger
    hole raises ``RasterHoles``. NaN touching the edge (outside the survey) is left as it is."""
    nan = np.isnan(grid.values)
    stats = {"holes_filled": 0, "cells_filled": 0, "cells_outside": 0}
    if not nan.any():
        return grid, stats
    labels, count = ndimage.label(nan)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    edge = edge[edge > 0]
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    is_hole = np.ones(count + 1, dtype=bool)
    is_hole[0] = False
    is_hole[edge] = False
    stats["cells_outside"] = int(sizes[edge].sum())
    cell = grid.resolution ** 2
    too_big = is_hole & (sizes * cell > max_hole_m2)
    if too_big.any():
        raise RasterHoles(N_("Holes with no data in the raster larger than %(limit)s m²: %(count)s "
                             "(the largest is %(largest)s m²). Fill them in the source (or raise the "
                             "limit)."),
                          params={"count": int(too_big.sum()), "limit": max_hole_m2,
                                  "largest": round(float(sizes[too_big].max() * cell), 1)})
    holes = is_hole[labels]
    if not holes.any():
        return grid, stats
    _, (rows, cols) = ndimage.distance_transform_edt(nan, return_indices=True)
    values = grid.values.copy()
    values[holes] = grid.values[rows[holes], cols[holes]]
    stats["holes_filled"] = int(is_hole.sum())
    stats["cells_filled"] = int(holes.sum())
    return grid.with_values(values), stats
