"""Measure what a citizen's phone downloads on first load of the home page (gzip), map included.

Target (issue #2): at most 150 KB compressed. Run: `.venv/bin/python bench/page_weight.py`.
"""

from __future__ import annotations

import gzip
import re
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from parvis.app import create_app, register_privacy_hooks
from parvis.demo import create_demo_city
from parvis.kernel.db import Database
from parvis.migrations import upgrade
from parvis.settings import Settings


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        settings = Settings(_env_file=None, database_url=url, demo_citizens=10, demo_reports=50)  # type: ignore[call-arg]
        register_privacy_hooks()
        db = Database(url)
        create_demo_city(db, settings)
        client = TestClient(create_app(settings, database=db))
        for lang in ("fr", "ar"):
            page = client.get("/", headers={"Accept-Language": lang})
            rows = [("/ (HTML)", len(page.content), len(gzip.compress(page.content, 6)))]
            for asset in sorted(set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text))):
                body = client.get(asset).content
                rows.append((asset, len(body), len(gzip.compress(body, 6))))
            data = client.get("/api/v1/districts").content
            rows.append(("/api/v1/districts (map data)", len(data), len(gzip.compress(data, 6))))
            print(f"\nHome page, first load, language {lang}")
            for name, raw, packed in rows:
                print(f"  {name:<48} {raw / 1024:7.1f} KB raw {packed / 1024:7.1f} KB gzip")
            total = sum(r[2] for r in rows)
            print(f"  {'TOTAL':<48} {sum(r[1] for r in rows) / 1024:7.1f} KB raw "
                  f"{total / 1024:7.1f} KB gzip (budget 150 KB)")
        db.dispose()


if __name__ == "__main__":
    main()
