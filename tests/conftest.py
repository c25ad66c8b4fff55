"""Test fixtures: a fresh migrated database per test, on SQLite and on PostgreSQL+PostGIS.

Every test that uses ``db`` (or ``app``/``client``) runs twice: once on SQLite and once on
PostgreSQL (marked ``postgres``). PostgreSQL is required: when it cannot be reached the
PostgreSQL half fails instead of being skipped, unless PARVIS_TEST_POSTGRES=0 is set
deliberately on a laptop (CI never sets it).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from parvis.kernel import auth
from parvis.kernel.db import Database
from parvis.migrations import upgrade
from parvis.models import metadata

PG_ADMIN_DSN = os.environ.get("PARVIS_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_ENABLED = os.environ.get("PARVIS_TEST_POSTGRES", "1") != "0"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--gpu", action="store_true", help="also run the tests marked gpu (CuPy and a CUDA GPU)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``gpu`` need a CUDA GPU: deselected (not skipped) unless ``--gpu`` is given;
    the README says which figures were measured on one and when."""
    if config.getoption("--gpu"):
        return
    kept = [item for item in items if item.get_closest_marker("gpu") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> None:
    """argon2id at its recommended cost (64 MiB, ~0.1 s a hash) is right for a server, and it is
    still argon2id here, at the smallest cost: the suite hashes and checks thousands of
    passwords and SMS codes. The in-process browser server uses it too; processes the tests
    start (``parvis serve``, the CLI) keep the real cost."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    auth._hasher = cheap
    auth._DUMMY_HASH = cheap.hash("parvis-timing-equaliser")


def _pg_params() -> list:
    return [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if not PG_ENABLED:
        pytest.skip("PostgreSQL tests turned off with PARVIS_TEST_POSTGRES=0")
    import psycopg

    name = f"parvis_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL is required for the postgres tests and is unreachable: {exc}")
    host_part = PG_ADMIN_DSN
    params = dict(part.split("=", 1) for part in host_part.split())
    url = (f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:"
           f"{params.get('port', '5432')}/{name}")
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# A test leaves rows in a few tables: those are emptied, and the sequences it drew from restarted
# (a TRUNCATE of all 49 tables took 0.2-0.3 s a test; finding the few takes 0.03 s).
_HOLDING_ROWS = " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"
                                   for t in metadata.sorted_tables)
_RESTART_DRAWN = text(
    "SELECT setval(s.seqrelid, q.start_value, false) FROM pg_sequence AS s "
    "JOIN pg_sequences AS q ON format('%I.%I', q.schemaname, q.sequencename)::regclass = s.seqrelid "
    "JOIN pg_depend AS d ON d.objid = s.seqrelid AND d.deptype IN ('a', 'i') "
    "JOIN pg_class AS c ON c.oid = d.refobjid "
    "WHERE q.last_value IS NOT NULL AND c.relname = ANY(:tables)")


def _truncate_all(db: Database) -> None:
    with db.engine.begin() as conn:
        holding = [name for (name,) in conn.execute(text(_HOLDING_ROWS))]
        if holding:
            names = ", ".join(f'"{name}"' for name in holding)
            conn.execute(text("ALTER TABLE kernel_audit_log DISABLE TRIGGER USER"))
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
            conn.execute(text("ALTER TABLE kernel_audit_log ENABLE TRIGGER USER"))
        conn.execute(_RESTART_DRAWN, {"tables": [t.name for t in metadata.sorted_tables]})


@pytest.fixture(params=_pg_params())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "parvis.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    db = Database(url)
    _truncate_all(db)
    db.dispose()
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


# ----------------------------------------------------------------------------- app fixtures

from fastapi.testclient import TestClient  # noqa: E402

from parvis.settings import Settings  # noqa: E402


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(_env_file=None, database_url=database_url, secret_key="test-secret",
                    data_dir=tmp_path, demo_citizens=20, demo_reports=20,  # type: ignore[call-arg]
                    demo_sensor_hours=1, twin_demo_width_m=300, twin_demo_height_m=200,
                    twin_demo_buildings=60)


@pytest.fixture
def app(settings: Settings, db: Database):
    from parvis.app import create_app

    return create_app(settings, database=db)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


