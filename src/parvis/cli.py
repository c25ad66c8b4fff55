"""The ``parvis`` command: serve, worker, db, demo, user, backup, city."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

from parvis import migrations
from parvis.kernel import heap
from parvis.settings import Settings, get_settings


def _settings(database_url: str | None) -> Settings:
    return get_settings(database_url=database_url) if database_url else get_settings()


def _db(settings: Settings) -> Any:
    from parvis.kernel.db import Database

    return Database(settings.database_url)


def _ensure_schema(settings: Settings) -> None:
    migrations.upgrade(settings.database_url)


def _progress_factory() -> Callable[[str, int], Callable[[int], None]]:
    bars: list[Any] = []

    def make(label: str, total: int) -> Callable[[int], None]:
        if bars:
            bars[-1].__exit__(None, None, None)
        bar = click.progressbar(length=total, label=f"{label:<12}", show_pos=True,
                                file=sys.stderr)
        bar.__enter__()
        bars.append(bar)
        return bar.update

    make.close = lambda: bars and bars[-1].__exit__(None, None, None)  # type: ignore[attr-defined]
    return make


database_option = click.option("--database-url", envvar="PARVIS_DATABASE_URL", default=None,
                               help="Database URL (default: PARVIS_DATABASE_URL or ./parvis.db).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="parvis")
def main() -> None:
    """Parvis: an open-source smart-city platform. Each command has --help."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Web processes (each is stateless; use PostgreSQL beyond one machine).")
@click.option("--with-worker/--no-worker", default=False, show_default=True,
              help="Also run a background job worker in this process (single-server setups).")
@click.option("--migrate/--no-migrate", default=True, show_default=True,
              help="Apply database migrations before starting.")
@database_option
def serve(host: str, port: int, workers: int, with_worker: bool, migrate: bool,
          database_url: str | None) -> None:
    """Run the web server (uvicorn)."""
    import uvicorn

    settings = _settings(database_url)
    if migrate:
        _ensure_schema(settings)
    if with_worker:
        _start_worker_thread(settings)
    shown = make_url(settings.database_url).render_as_string()  # password hidden
    click.echo(f"Parvis on http://{host}:{port} (database: {shown})")
    if workers > 1:
        # the web processes are started afresh (spawn) and read their settings from the environment
        os.environ["PARVIS_DATABASE_URL"] = settings.database_url
        uvicorn.run("parvis.asgi:app", host=host, port=port, workers=workers, proxy_headers=True,
                    access_log=False)  # Parvis writes its own (kernel/access_log.py)
    else:
        from parvis.app import create_app, warm_up

        app = create_app(settings)
        heap.settle()
        warm_up(app)
        uvicorn.run(app, host=host, port=port, proxy_headers=True, access_log=False)


def _start_worker_thread(settings: Settings) -> None:
    from parvis.app import build_registry
    from parvis.kernel.jobs import Worker

    database = _db(settings)
    worker = Worker(database, build_registry(settings, database),
                    lease_seconds=settings.job_lease_seconds, poll_seconds=settings.worker_poll_seconds)
    threading.Thread(target=worker.run_forever, name="parvis-worker", daemon=True).start()


@main.command()
@click.option("--once", is_flag=True, help="Do the work that is due, then exit.")
@database_option
def worker(once: bool, database_url: str | None) -> None:
    """Run background jobs and send queued notifications. Run as many as you like."""
    from parvis.app import build_registry, register_privacy_hooks
    from parvis.kernel.jobs import Worker

    settings = _settings(database_url)
    register_privacy_hooks()
    database = _db(settings)
    runner = Worker(database, build_registry(settings, database),
                    lease_seconds=settings.job_lease_seconds, poll_seconds=settings.worker_poll_seconds)
    if once:
        done = runner.run_once()
        click.echo(f"{done} item(s) processed")
        return
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    heap.settle()
    click.echo(f"Worker {runner.worker_id} started; Ctrl-C to stop.")
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        runner.stop()


@main.group()
def db() -> None:
    """Database schema: upgrade, check, current revision."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@database_option
def db_upgrade(revision: str, database_url: str | None) -> None:
    """Apply migrations (shipped inside the package)."""
    settings = _settings(database_url)
    migrations.upgrade(settings.database_url, revision)
    click.echo(f"Database at revision {migrations.current(settings.database_url)}")


@db.command("check")
@database_option
def db_check(database_url: str | None) -> None:
    """Fail if the models hold a change that no migration carries."""
    migrations.check(_settings(database_url).database_url)
    click.echo("No missing migration.")


@db.command("current")
@database_option
def db_current(database_url: str | None) -> None:
    """Print the database's current revision."""
    click.echo(migrations.current(_settings(database_url).database_url) or "none")


@main.command()
@database_option
def demo(database_url: str | None) -> None:
    """Create the demo city (safe to run again)."""
    from parvis.app import register_privacy_hooks
    from parvis.demo import ADMIN_EMAIL, CITIZEN_PHONE, create_demo_city

    settings = _settings(database_url)
    _ensure_schema(settings)
    register_privacy_hooks()
    progress = _progress_factory()
    result = create_demo_city(_db(settings), settings, progress=progress)
    progress.close()  # type: ignore[attr-defined]
    click.echo(json.dumps(result))
    click.echo(f"Demo accounts (password: {settings.demo_password}): admin {ADMIN_EMAIL}, "
               f"agents <department>.agent@demo.parvis.city, citizen {CITIZEN_PHONE}")


@main.group()
def user() -> None:
    """Manage people."""


@user.command("create")
@click.option("--role", type=click.Choice(["admin", "supervisor", "agent"]), default="agent",
              show_default=True, help="Role of the new account.")
@click.option("--name", "display_name", required=True, help="Name shown to colleagues.")
@click.option("--email", default=None, help="E-mail address (sign-in identifier).")
@click.option("--phone", default=None, help="Phone number (sign-in identifier).")
@click.option("--department", "departments", multiple=True,
              help="Department code (repeat for several).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Password (asked if not given).")
@database_option
def user_create(role: str, display_name: str, email: str | None, phone: str | None,
                departments: tuple[str, ...], password: str, database_url: str | None) -> None:
    """Create an administrator or an agent."""
    from parvis.kernel.errors import ParvisError
    from parvis.modules.accounts import actions
    from parvis.modules.accounts.schemas import StaffCreate
    from parvis.modules.city import queries as city_queries

    settings = _settings(database_url)
    database = _db(settings)
    ids = []
    with database.read() as session:
        for code in departments:
            dep = city_queries.department_by_code(session, code)
            if dep is None:
                raise click.BadParameter(f"unknown department {code!r}", param_hint="--department")
            ids.append(dep.id)
    try:
        created = actions.create_staff(database, None, settings, StaffCreate(
            display_name=display_name, email=email, phone=phone, role=role,  # type: ignore[arg-type]
            password=password, department_ids=ids, all_departments=role == "admin"))
    except ParvisError as exc:
        raise click.ClickException(exc.detail or exc.title) from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {role} #{created.id}")


@main.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@database_option
def backup(target: Path, database_url: str | None) -> None:
    """Copy the SQLite database to TARGET while Parvis runs (online backup)."""
    settings = _settings(database_url)
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        raise click.ClickException(
            "This database is PostgreSQL: back it up with pg_dump, for example\n"
            f"  pg_dump --format=custom --file {target} '{dsn}'")
    source = sqlite3.connect(url.database or "parvis.db")
    dest = sqlite3.connect(target)
    with click.progressbar(length=100, label="backup", file=sys.stderr) as bar:
        def report(_status: int, remaining: int, total: int) -> None:
            bar.update(int(100 * (total - remaining) / max(total, 1)) - bar.pos)

        source.backup(dest, pages=256, progress=report)
    dest.close()
    source.close()
    click.echo(f"Backup written to {target}")


@main.group()
def city() -> None:
    """The city's districts and departments."""


@city.command("import-districts")
@click.argument("geojson_file", type=click.File("rb"))
@click.option("--code-property", default="code", show_default=True,
              help="Feature property holding the district code.")
@click.option("--name-property", default="name", show_default=True,
              help="Feature property holding the district name.")
@database_option
def import_districts(geojson_file: Any, code_property: str, name_property: str,
                     database_url: str | None) -> None:
    """Create or update districts from a GeoJSON FeatureCollection file (all or nothing)."""
    from parvis.kernel.errors import ParvisError
    from parvis.kernel.i18n import Translator
    from parvis.modules.city import actions

    settings = _settings(database_url)
    _ensure_schema(settings)
    raw = geojson_file.read()
    progress = _progress_factory()
    try:
        created, updated = actions.import_districts(
            _db(settings), None, raw, code_property=code_property, name_property=name_property,
            progress=progress("districts", max(1, raw.count(b'"Feature"'))))
    except ParvisError as exc:
        tr = Translator("en")
        raise click.ClickException(tr.gettext(exc.detail or exc.title, **exc.params)) from exc
    finally:
        progress.close()  # type: ignore[attr-defined]
    click.echo(f"{created} district(s) created, {updated} updated")


def _module_commands() -> None:
    from parvis.modules.sensors import cli as sensors_cli

    main.add_command(sensors_cli.group)
    main.add_command(sensors_cli.simulate)
    from parvis.modules.twin import cli as twin_cli

    main.add_command(twin_cli.group)


_module_commands()

if __name__ == "__main__":
    main()
