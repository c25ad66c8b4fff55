"""Platform endpoints and promises: health, metrics, OpenAPI, settings documented, page weight."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import anyio.to_thread
from fastapi.testclient import TestClient

from parvis.app import create_app
from parvis.migrations import check
from parvis.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_health_readiness_and_metrics(client):
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["database"] in ("sqlite", "postgresql")
    client.get("/")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'parvis_http_requests_total{method="GET",route="/",status="200"}' in metrics.text


def test_openapi_describes_the_api_and_the_docs_page_works_offline(client):
    spec = client.get("/api/openapi.json").json()
    assert spec["info"]["title"] == "Parvis API"
    for path in ("/api/v1/auth/token", "/api/v1/districts", "/api/v1/me/export", "/api/v1/audit"):
        assert path in spec["paths"], path
    token_form = spec["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in token_form
    docs = client.get("/api/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs
    assert "cdn" not in docs.lower()
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_every_setting_is_documented_with_its_default():
    doc = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        row = re.search(rf"^\| `PARVIS_{name.upper()}` \| (.*?) \|", doc, re.M)
        assert row, f"PARVIS_{name.upper()} is not in docs/settings.md"
        shown = row.group(1)
        if field.default not in ("", None):
            assert str(field.default) in shown, f"default of {name} differs in the docs"
        assert field.description, f"{name} has no help text"


def test_models_and_migrations_agree(database_url):
    check(database_url)  # raises when a model change has no migration


def test_citizen_home_page_weighs_under_150_kb_compressed(client):
    """First load of the home page, map included, as a phone on 3G would fetch it."""
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert any("leaflet.js" in a for a in assets) and any("htmx" in a for a in assets)
    total = len(gzip.compress(page.content))
    for asset in set(assets):
        response = client.get(asset)
        assert response.status_code == 200, asset
        total += len(gzip.compress(response.content, 6))
    total += len(gzip.compress(client.get("/api/v1/districts").content))
    assert total < 150 * 1024, f"{total / 1024:.0f} KB"


def test_responses_are_compressed_for_slow_networks(client):
    response = client.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == "gzip"


def test_pages_carry_security_headers(client):
    headers = client.get("/").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"


def test_a_web_process_runs_blocking_work_in_the_configured_number_of_threads(settings, db):
    """``PARVIS_WEB_THREADS`` sizes the thread pool of sync endpoints (fewer threads: less time
    lost fighting over Python's lock; see the README's performance section)."""
    app = create_app(settings.model_copy(update={"web_threads": 3}), db)

    @app.get("/_test/threads")
    async def threads() -> dict[str, float]:
        return {"threads": anyio.to_thread.current_default_thread_limiter().total_tokens}

    with TestClient(app) as client:
        assert client.get("/_test/threads").json() == {"threads": 3}
