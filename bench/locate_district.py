"""Point-in-district lookups per second through the spatial index (SQLite R*Tree, PostGIS GiST).

Run: `.venv/bin/python bench/locate_district.py [postgresql+psycopg://postgres@127.0.0.1/db]`.
Uses a synthetic city of 400 districts (20 x 20 grid) and 5,000 random points.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from parvis.kernel.db import Database
from parvis.migrations import upgrade
from parvis.modules.city import queries
from parvis.modules.city.actions import import_districts


def grid(n: int = 20, step: float = 0.01) -> dict:
    features = []
    for i in range(n):
        for j in range(n):
            x, y = 100 + i * step, 10 + j * step
            ring = [[x, y], [x + step, y], [x + step, y + step], [x, y + step], [x, y]]
            features.append({"type": "Feature", "properties": {"code": f"G{i:02d}{j:02d}"},
                             "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": features}


def run(url: str) -> None:
    upgrade(url)
    db = Database(url)
    import_districts(db, None, grid())
    rng = random.Random(1)
    points = [(100 + rng.random() * 0.2, 10 + rng.random() * 0.2) for _ in range(5000)]
    with db.read() as session:
        started = time.perf_counter()
        found = sum(1 for lon, lat in points if queries.locate(session, lon, lat) is not None)
        elapsed = time.perf_counter() - started
    print(f"{db.dialect}: {len(points)} lookups among 400 districts in {elapsed:.2f} s "
          f"= {len(points) / elapsed:,.0f} lookups/s ({found} found)")
    db.dispose()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        run(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{Path(tmp) / 'bench.db'}")
