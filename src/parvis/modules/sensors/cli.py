"""``parvis sensors listen`` (store what devices publish over MQTT) and ``parvis simulate``
(publish the demo city's sensor streams)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from parvis.kernel import heap
from parvis.settings import get_settings


def _db(database_url: str | None) -> Any:
    from parvis.kernel.db import Database

    settings = get_settings(database_url=database_url) if database_url else get_settings()
    return settings, Database(settings.database_url)


database_option = click.option("--database-url", envvar="PARVIS_DATABASE_URL", default=None,
                               help="Database URL (default: PARVIS_DATABASE_URL or ./parvis.db).")


@click.group("sensors")
def group() -> None:
    """The city sensor hub."""


@group.command("listen")
@database_option
@click.option("--seconds", type=float, default=0.0, help="Stop after this many seconds (0: until stopped).")
def listen(database_url: str | None, seconds: float) -> None:
    """Subscribe to the MQTT broker (PARVIS_SENSORS_MQTT_URL) and store devices' measures."""
    from parvis.modules.sensors import subscriptions
    from parvis.modules.sensors.mqtt import Listener

    settings, db = _db(database_url)
    subscriptions.configure(settings.sensors_subscriptions_refresh_seconds)
    try:
        listener = Listener(db, settings)
    except ValueError as exc:  # a broker URL Parvis cannot use
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    heap.settle()
    listener.start()
    if not listener.connected.wait(30):
        listener.stop()
        why = listener.subscriber.refused
        raise click.ClickException(f"No MQTT broker answered at {settings.sensors_mqtt_url}"
                                   + (f": {why}." if why else "."))
    click.echo(f"listening on {settings.sensors_mqtt_url} ({listener.topic})")
    sys.stdout.flush()
    deadline = time.monotonic() + seconds if seconds else None
    try:
        while not stop.wait(1.0):
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        listener.stop()
        db.dispose()
        click.echo(" ".join(f"{k}={v}" for k, v in listener.totals.items()))


@click.command("simulate")
@database_option
@click.option("--minutes", type=click.IntRange(min=0), default=60, show_default=True,
              help="Minutes of the past to publish first, as fast as the broker takes them.")
@click.option("--live/--no-live", default=False, show_default=True,
              help="Then go on publishing a reading per step, in real time, until stopped.")
@click.option("--step", type=click.IntRange(min=1), default=60, show_default=True,
              help="Seconds between two readings.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--jam", "jam", default=None, metavar="SEGMENT",
              help="A traffic detector (device id such as traffic-vieillecitadelle-1, or its entity id) "
                   "whose segment jams (level of service F) when the live readings start.")
@click.option("--jam-minutes", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True,
              help="How long the jam lasts; then traffic flows again.")
@click.option("--direct/--mqtt", default=False, show_default=True,
              help="Store the readings straight into the database instead of publishing them "
                   "(a demo without an MQTT broker or listener).")
def simulate(database_url: str | None, minutes: int, live: bool, step: int, seed: int, jam: str | None,
             jam_minutes: float, direct: bool) -> None:
    """Publish the demo city's sensor streams (traffic, parking, air quality, bins) over MQTT,
    as its devices would, on PARVIS_SENSORS_MQTT_URL with the demo's IoT API key. With --jam, one
    road segment jams for --jam-minutes from the start of the live readings (or from now)."""
    from parvis.modules.sensors import demo_sensors
    from parvis.modules.sensors import simulate as sim
    from parvis.modules.sensors.mqtt import broker, publish, tls_context

    settings, db = _db(database_url)
    try:
        with db.read() as session:
            devices = demo_sensors.devices(session)
    except SQLAlchemyError:
        devices = []  # no tables yet
    if not direct:
        db.dispose()

    try:  # a broker URL or a TLS file that cannot be used: said at once
        tls = None if direct or not broker(settings.sensors_mqtt_url).tls else tls_context(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None

    def send(times: Any) -> int:
        if direct:
            return _store(db, settings, simulator, times)
        return publish(settings.sensors_mqtt_url, sim.messages(simulator, settings.demo_iot_api_key, times),
                       ssl_context=tls)

    if not devices:
        raise click.ClickException("The database has no district: run `parvis demo` first.")
    now = datetime.now().astimezone().replace(microsecond=0)
    simulator = sim.Simulator(devices, timezone=settings.timezone, seed=seed)
    if jam is not None:
        jammed = sim.find_device(devices, jam)
        if jammed is None:
            names = ", ".join(d.device_id for d in devices if d.kind == "traffic")
            raise click.ClickException(f"No traffic detector is called {jam}; the demo's are: {names}.")
        simulator.jams[jammed.device_id] = (now, now + timedelta(minutes=jam_minutes))
        click.echo(f"jam on {jammed.entity_id} for {jam_minutes:g} minutes")
    times = sim.timeline(now - timedelta(minutes=minutes), now, timedelta(seconds=step))
    sent = send(times)
    click.echo(f"published {sent} readings from {len(devices)} devices")
    if live:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        sent = send(_live(step, stop))
        click.echo(f"published {sent} live readings")


def _store(db: Any, settings: Any, simulator: Any, times: Any) -> int:
    """Store each time's readings as the listener would (one batch per time); how many."""
    import orjson

    from parvis.modules.sensors import ingest

    stored = 0
    for at in times:
        batch = [ingest.Message(api_key=settings.demo_iot_api_key, device_id=device.device_id,
                                body=orjson.dumps(measures), received_at=at, channel="demo")
                 for device, measures in simulator.readings(at)]
        stored += ingest.ingest(db, settings, batch).stored
    return stored


def _live(step: int, stop: threading.Event) -> Any:
    """The current time every ``step`` seconds, until ``stop`` is set."""
    while not stop.is_set():
        yield datetime.now().astimezone().replace(microsecond=0)
        stop.wait(step)
