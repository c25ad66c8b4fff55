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
@click.option("--max-bytes", type=int, default=None,
              help="Refuse larger files (default: PARVIS_TWIN_MAX_IMPORT_BYTES, 1 GiB).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@database_option
def import_command(kind: str, file: Path, crs: str | None, max_bytes: int | None, as_json: bool,
                   database_url: str | None) -> None:
    """Import FILE as KIND into the twin, showing progress on stderr and printing the report."""
    from parvis.modules.twin.errors import TwinError
    from parvis.modules.twin.importer import import_file

    settings, db = _db(database_url)
    try:
        report = import_file(db, Path(settings.data_dir), kind, file, crs=crs,
                             max_bytes=max_bytes or settings.twin_max_import_bytes,
                             max_hole_m2=settings.twin_max_hole_m2,
                             default_tilt=settings.twin_default_roof_tilt, progress=_progress)
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


@group.command("solar")
@database_option
def solar_command(database_url: str | None) -> None:
    """Compute the roof solar potential of every roof face now (progress on stderr)."""
    from parvis.modules.twin.solar_run import run_solar, tiles_note

    settings, db = _db(database_url)
    try:
        result = run_solar(db, settings, progress=_progress)
    except Exception as exc:
        message = exc.message() if hasattr(exc, "message") else f"{type(exc).__name__}: {exc}"
        raise click.ClickException(message) from None
    finally:
        db.dispose()
    click.echo(f"{result.faces} roof faces of {result.buildings} buildings, {result.positions} sun positions "
               f"({result.sky}, {result.backend}), {result.seconds:.1f} s{tiles_note(result)}")


@group.command("classify-thermography")
@click.option("--method", type=click.Choice(["quantiles", "thresholds"]), default="quantiles",
              show_default=True,
              help="Six heat-loss levels from the city's own roofs (quantiles) or fixed thresholds.")
@click.option("--thresholds", default=None, help="With --method thresholds: five ascending values "
              "(the raster's unit) between the six levels, e.g. 1,2,3,4,5.")
@database_option
def classify_thermography_command(method: str, thresholds: str | None, database_url: str | None) -> None:
    """Classify every roof into six heat-loss levels from the imported thermography layer."""
    from parvis.modules.twin.home_service import classify_thermography

    settings, db = _db(database_url)
    try:
        limits = [float(v) for v in thresholds.split(",")] if thresholds else None
        counts = classify_thermography(db, Path(settings.data_dir), method=method,  # type: ignore[arg-type]
                                       thresholds=limits)
    except Exception as exc:
        message = exc.message() if hasattr(exc, "message") else f"{type(exc).__name__}: {exc}"
        raise click.ClickException(message) from None
    finally:
        db.dispose()
    for key, value in counts.items():
        click.echo(f"{key}: {value}")


def _more_commands() -> None:
    from parvis.modules.twin.cityjson_export import export_cityjson

    group.add_command(export_cityjson)


_more_commands()
