"""``parvis twin import KIND FILE`` (terrain, surface, buildings, zones, hazard, thermography) and
``parvis twin demo`` (generate and store the demo city's twin)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from parvis.settings import get_settings

database_option = click.option("--database-url", envvar="PARVIS_DATABASE_URL", default=None,
                               help="Database URL (default: PARVIS_DATABASE_URL or ./parvis.db).")


def _db(database_url: str | None) -> Any:
    from parvis.kernel.db import Database

    settings = get_settings(database_url=database_url) if database_url else get_settings()
    return settings, Database(settings.database_url)


def _progress(stage: str, fraction: float) -> None:
    click.echo(f"\r{stage:<14} {fraction * 100:5.1f} %", err=True, nl=fraction >= 1.0)
    sys.stderr.flush()


@click.group("twin")
def group() -> None:
    """The city's digital twin: import its data, generate the demo twin."""


@group.command("import")
@click.argument("kind", type=click.Choice(["dtm", "dsm", "buildings", "cityjson", "zoning", "hazard",
                                            "protected", "thermography"]))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", default=None, help="The file's CRS when it does not say (e.g. EPSG:32648).")
@click.option("--max-bytes", type=int, default=1 << 30, show_default=True, help="Refuse larger files.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@database_option
def import_command(kind: str, file: Path, crs: str | None, max_bytes: int, as_json: bool,
                   database_url: str | None) -> None:
    """Import FILE as KIND into the twin, showing progress on stderr and printing the report."""
    from parvis.modules.twin.errors import TwinError
    from parvis.modules.twin.importer import import_file

    settings, db = _db(database_url)
    try:
        report = import_file(db, Path(settings.data_dir), kind, file, crs=crs, max_bytes=max_bytes,
                             progress=_progress)
    except TwinError as exc:
        raise click.ClickException(exc.message()) from None
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for line in report.lines():
            click.echo(line)


@group.command("demo")
@click.option("--size", nargs=2, type=float, default=(1500.0, 1000.0), show_default=True,
              help="Width and height in metres.")
@click.option("--resolution", type=float, default=1.0, show_default=True, help="Cell size in metres.")
@click.option("--buildings", type=int, default=2500, show_default=True)
@click.option("--seed", type=int, default=6, show_default=True)
@database_option
def demo_command(size: tuple[float, float], resolution: float, buildings: int, seed: int,
                 database_url: str | None) -> None:
    """Generate the demo city's twin and store it (replaces the previous demo twin)."""
    from parvis.modules.twin.demo_twin import provision

    settings, db = _db(database_url)
    try:
        counts = provision(db, settings, size=size, resolution=resolution, buildings=buildings, seed=seed)
    finally:
        db.dispose()
    for key, value in counts.items():
        click.echo(f"{key}: {value}")
