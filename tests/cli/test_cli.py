"""The `parvis` command: help everywhere, demo idempotent, backup, district import, users."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from parvis.cli import main
from parvis.kernel.db import Database
from parvis.modules.accounts.models import User
from parvis.modules.city import queries


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    import shutil

    path = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def run(*args: str, url: str | None = None, input: str | None = None):
    env = {"PARVIS_DEMO_CITIZENS": "15", "PARVIS_DEMO_REPORTS": "30"}
    if url:
        env["PARVIS_DATABASE_URL"] = url
    result = CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)
    return result


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


def test_every_command_has_help():
    for path in [(), *_commands(main)]:
        result = run(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage:" in result.output and len(result.output) > 80, path


def test_demo_is_idempotent(sqlite_url):
    first = run("demo", url=sqlite_url)
    assert first.exit_code == 0, first.output
    created = json.loads(first.output.splitlines()[-2])
    assert created["districts_created"] == 10 and created["staff_created"] == 17
    assert created["citizens_created"] == 15
    second = run("demo", url=sqlite_url)
    again = json.loads(second.output.splitlines()[-2])
    assert again["districts_created"] == 0 and again["staff_created"] == 0
    assert again["citizens_created"] == 0
    db = Database(sqlite_url)
    with db.read() as session:
        assert len(queries.districts(session)) == 10
        assert len(queries.departments(session)) == 8
        # the demo districts tile the city: every district centre falls in its own district
        from parvis.kernel import geo

        for district in queries.districts(session):
            centre = geo.loads(district.geometry).representative_point()
            assert queries.locate(session, centre.x, centre.y).code == district.code
    db.dispose()


def test_backup_copies_a_live_sqlite_database(sqlite_url, tmp_path):
    run("demo", url=sqlite_url)
    target = tmp_path / "backup.db"
    result = run("backup", str(target), url=sqlite_url)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM city_districts").fetchone()[0] == 10
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_backup_on_postgresql_points_to_pg_dump(tmp_path):
    result = CliRunner().invoke(main, ["backup", str(tmp_path / "x")],
                                env={"PARVIS_DATABASE_URL": "postgresql+psycopg://u@h/db"})
    assert result.exit_code != 0 and "pg_dump" in result.output


def test_import_districts_from_a_geojson_file(sqlite_url, tmp_path):
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ma": "Q1", "ten": "Quận 1"},
         "geometry": {"type": "Polygon", "coordinates": [[[106.69, 10.77], [106.71, 10.77],
                                                          [106.71, 10.79], [106.69, 10.77]]]}}]}))
    result = run("city", "import-districts", str(path), "--code-property", "ma",
                 "--name-property", "ten", url=sqlite_url)
    assert result.exit_code == 0, result.output
    assert "1 district(s) created" in result.output
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
                   ' "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}]}')
    refused = CliRunner().invoke(main, ["city", "import-districts", str(bad)],
                                 env={"PARVIS_DATABASE_URL": sqlite_url})
    assert refused.exit_code != 0 and "crosses itself" in refused.output


def test_user_create_makes_an_agent_of_a_department(sqlite_url):
    run("demo", url=sqlite_url)
    result = run("user", "create", "--role", "agent", "--name", "Chị Mai", "--email",
                 "mai@example.org", "--department", "water", "--password", "long-password",
                 url=sqlite_url)
    assert result.exit_code == 0, result.output
    db = Database(sqlite_url)
    with db.read() as session:
        from sqlalchemy import select

        user = session.scalar(select(User).where(User.email == "mai@example.org"))
        assert user.role == "agent" and len(user.department_ids) == 1
    db.dispose()
    unknown = CliRunner().invoke(main, ["user", "create", "--name", "X", "--email", "x@example.org",
                                        "--department", "nope", "--password", "long-password"],
                                 env={"PARVIS_DATABASE_URL": sqlite_url})
    assert unknown.exit_code != 0 and "unknown department" in unknown.output


def test_db_upgrade_and_check(sqlite_url):
    assert run("db", "upgrade", url=sqlite_url).exit_code == 0
    assert "No missing migration" in run("db", "check", url=sqlite_url).output
    from alembic.script import ScriptDirectory

    from parvis.migrations import alembic_config

    head = ScriptDirectory.from_config(alembic_config(sqlite_url)).get_current_head()
    assert run("db", "current", url=sqlite_url).output.strip() == head


def test_simulate_direct_stores_the_demo_city_readings_without_a_broker(sqlite_url):
    assert run("demo", url=sqlite_url).exit_code == 0
    from sqlalchemy import func, select

    from parvis.modules.sensors.models import Observation

    db = Database(sqlite_url)
    with db.read() as session:
        before = session.scalar(select(func.count()).select_from(Observation))
    result = run("simulate", "--minutes", "3", "--step", "60", "--direct", url=sqlite_url)
    assert result.exit_code == 0, result.output
    with db.read() as session:
        after = session.scalar(select(func.count()).select_from(Observation))
    db.dispose()
    assert after - before >= 3 * 70 * 2  # three minutes of 70 devices, at least two measures each
