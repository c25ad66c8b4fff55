"""PostgreSQL restarts and dropped connections: a request caught by one gets a clear 503 with
nothing written, the next one works; a connection that sat idle is checked before use."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import func, select

import factories
import web_helpers
from parvis.kernel import db as kernel_db
from parvis.modules.reports import configuration
from parvis.modules.reports.models import Report
from parvis.modules.reports.schemas import CategoryCreate

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _drop_connections(url: str) -> int:
    """What a database restart does to the pool: every server connection goes away."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]


@pytest.fixture
def reporter(db, settings, client) -> dict[str, str]:
    roads = factories.department(db)
    factories.district(db, "N", lon=107.0, lat=16.0)
    configuration.create_category(db, None, CategoryCreate(code="LAMP", name="Lampadaire", department_id=roads))
    factories.citizen(db, settings, "+84912000777")
    return web_helpers.bearer(client, "+84912000777")


REPORT = {"category": "LAMP", "description": "Lampadaire éteint", "lon": 107.005, "lat": 16.005,
          "contact_channel": "none"}


def _reports(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Report)) or 0


def test_a_request_caught_by_a_restart_answers_503_and_writes_nothing(db, client, reporter):
    assert client.post("/api/v1/reports", json=REPORT, headers=reporter).status_code == 201
    assert _drop_connections(db.url) >= 1

    caught = client.post("/api/v1/reports", json=REPORT, headers=reporter)

    assert caught.status_code == 503
    assert caught.headers["content-type"].startswith("application/problem+json")
    assert caught.json()["type"].endswith("/database-unavailable")
    assert caught.headers["retry-after"]
    assert "Traceback" not in caught.text
    assert _reports(db) == 1  # nothing of the failed request was written
    # The pool starts afresh: the client's retry goes through.
    assert client.post("/api/v1/reports", json=REPORT, headers=reporter).status_code == 201
    assert _reports(db) == 2


def test_a_connection_idle_for_a_while_is_checked_before_use(db, client, reporter, monkeypatch):
    assert client.post("/api/v1/reports", json=REPORT, headers=reporter).status_code == 201
    monkeypatch.setattr(kernel_db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every pooled connection is "idle"
    _drop_connections(db.url)

    response = client.post("/api/v1/reports", json=REPORT, headers=reporter)

    assert response.status_code == 201, response.text  # the dead connection was replaced unseen
    assert _reports(db) == 2
