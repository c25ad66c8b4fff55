"""Crisis alerts at city scale: builds N subscribed citizens (default 1,000,000) spread over the
demo city, then measures and prints

0. preview: the draft's count of the people it will reach (what its page loads after itself);
1. fan-out: an alert whose area covers about a quarter of them is approved; seconds from the
   approval until every recipient is resolved and every delivery is queued in the outbox;
2. delivery: two `parvis worker` processes send the SMS to a fake Kannel gateway on loopback
   (tests/alerts/fake_sms_gateway.py, its own process): messages per second, sustained;
3. crash: a second alert is approved; the worker running its fan-out is killed with SIGKILL half
   way and a new worker started; once everything is sent, the gateway's own log is counted:
   requests received, distinct messages, duplicates and missing messages (against the outbox).

Run: `.venv/bin/python bench/alerts.py --db sqlite|postgres [--subscribers 1000000]`
(SQLite: a file under /tmp/parvis-bench-alerts, kept between runs; PostgreSQL: the database
`parvis_bench_alerts` on 127.0.0.1, created with PostGIS when missing). Subscriptions already
there are kept; the alerts, deliveries and messages of an earlier run are removed first.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import delete, func, select

from parvis.app import build_registry, register_privacy_hooks
from parvis.demo import create_demo_city
from parvis.kernel.bulk import insert_rows, stored
from parvis.kernel.db import Database, utcnow
from parvis.kernel.jobs import Job, Worker, claim_one
from parvis.kernel.notify.models import OutboxMessage
from parvis.migrations import upgrade
from parvis.modules.accounts import queries as accounts_queries
from parvis.modules.alerts import actions, reach, targeting
from parvis.modules.alerts.models import Alert, Delivery, Subscription
from parvis.modules.alerts.schemas import AlertCreate
from parvis.modules.city import queries as city_queries
from parvis.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "alerts"))
from fake_sms_gateway import GatewayProcess, WorkerProcesses, summary

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/parvis_bench_alerts"
SQLITE_DIR = Path("/tmp/parvis-bench-alerts")
EVENT = "Bench flood"
LANGUAGES = ["vi"] * 6 + ["fr", "en", "km", "ar"]
# The bench's workers: no rate limit that would bind, the real Kannel adapter, short leases so
# that a killed worker's fan-out job is taken over within seconds.
WORKER_ENV = {"PARVIS_NOTIFY_SMS_BACKEND": "kannel", "PARVIS_RATE_LIMIT_SMS_PER_MINUTE": "100000000",
              "PARVIS_JOB_LEASE_SECONDS": "10", "PARVIS_WORKER_POLL_SECONDS": "0.2",
              "PARVIS_SMS_INBOUND_TOKEN": "bench-token", "PARVIS_BASE_URL": "https://alerts.bench.parvis.city"}


def database_url(kind: str) -> str:
    if kind == "sqlite":
        SQLITE_DIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{SQLITE_DIR / 'bench.db'}"
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'parvis_bench_alerts'").fetchone() is None:
            conn.execute('CREATE DATABASE "parvis_bench_alerts"')
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=parvis_bench_alerts",
                         autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return PG_URL


def bench_settings(url: str, data_dir: Path) -> Settings:
    return Settings(_env_file=None, database_url=url, demo_citizens=20, demo_reports=0,  # type: ignore[call-arg]
                    data_dir=data_dir,
                    **{k.removeprefix("PARVIS_").lower(): v for k, v in WORKER_ENV.items()})


def random_points(polygons: list[Any], count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points uniformly spread over the districts (vectorised: draw in the bounding box,
    keep those inside)."""
    city = shapely.union_all(polygons)
    shapely.prepare(city)
    min_x, min_y, max_x, max_y = city.bounds
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    while have < count:
        x = rng.uniform(min_x, max_x, count)
        y = rng.uniform(min_y, max_y, count)
        inside = shapely.contains_xy(city, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        have += int(inside.sum())
    return np.concatenate(xs)[:count], np.concatenate(ys)[:count]


SUBSCRIPTION_COLUMNS = ("person", "phone", "email", "lon", "lat", "district_id", "by_sms", "by_email",
                        "language")


def bulk_subscriptions(db: Database, count: int) -> int:
    """Subscribers without an account (a phone number), straight into the table in batches with
    ``kernel.bulk`` (Core-level multi-row inserts; COPY on PostgreSQL): 90% subscribe a point,
    10% a whole district; all by SMS, 5% by e-mail too."""
    with db.read() as session:
        have = session.scalar(select(func.count()).select_from(Subscription).where(
            Subscription.person.like("phone:+849%"))) or 0
        cmap = targeting.city_map(session)
    if have >= count:
        print(f"  {have:,} subscribers already there")
        return have
    rng = np.random.default_rng(1)
    pick = random.Random(1)
    ids = sorted(cmap.districts)
    lons, lats = random_points([cmap.districts[i] for i in ids], count, rng)
    started = time.perf_counter()
    batch = 50_000
    table = Subscription.__table__
    for start in range(have, count, batch):
        rows = []
        for n in range(start, min(count, start + batch)):
            by_district = n % 10 == 9
            email = n % 20 == 3
            rows.append((f"phone:+849{n:08d}", f"+849{n:08d}", f"c{n}@example.org" if email else None,
                         None if by_district else float(lons[n]), None if by_district else float(lats[n]),
                         ids[n % len(ids)] if by_district else None, True, email, pick.choice(LANGUAGES)))
        with db.transaction() as session:
            now = stored(session, table.c.created_at, utcnow())
            insert_rows(session, table, SUBSCRIPTION_COLUMNS, rows, constants={
                "user_id": None, "label": "", "categories": 0, "by_push": False, "tester": False,
                "created_at": now})
        done = start + len(rows)
        rate = (done - have) / (time.perf_counter() - started)
        print(f"\r  inserted {done - have:,} subscriptions ({rate:,.0f}/s)", end="", flush=True)
    print()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return count


def reset(db: Database) -> None:
    """Remove what an earlier run left: its alerts, deliveries, messages and jobs."""
    with db.transaction() as session:
        session.execute(delete(Delivery))
        session.execute(delete(OutboxMessage))
        session.execute(delete(Job))
        bench_alerts = select(Alert.id).where(Alert.event == EVENT)
        session.execute(delete(Alert).where(Alert.references_id.in_(bench_alerts)))
        session.execute(delete(Alert).where(Alert.event == EVENT))
    if db.is_sqlite:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE kernel_notify_outbox")
            conn.exec_driver_sql("VACUUM ANALYZE alerts_deliveries")


def staff(db: Database) -> tuple[Any, Any]:
    with db.read() as session:
        department = city_queries.department_by_code(session, "civil-protection")
        members, _total = accounts_queries.staff(session, department_id=department.id, limit=10)  # type: ignore[union-attr]
        agent = next(m for m in members if m.role == "agent")
        supervisor = next(m for m in members if m.role == "supervisor")
        return accounts_queries.principal_for(agent), accounts_queries.principal_for(supervisor)


def area_polygon(db: Database, share: float) -> list[list[float]]:
    """A rectangle over the west ``share`` of the city, just inside its outline."""
    with db.read() as session:
        min_x, min_y, max_x, max_y = targeting.city_map(session).shape.bounds  # type: ignore[union-attr]
    x = min_x + (max_x - min_x) * share
    e = 0.0005
    return [[min_x + e, min_y + e], [x, min_y + e], [x, max_y - e], [min_x + e, max_y - e]]


def compose(db: Database, settings: Settings, author: Any, share: float) -> int:
    data = AlertCreate.model_validate({
        "status": "Actual", "event": EVENT, "categories": ["Met", "Safety"], "response_types": ["Evacuate"],
        "urgency": "Immediate", "severity": "Severe", "certainty": "Observed",
        "infos": [{"language": "fr", "headline": "Crue de la rivière : évacuez les rez-de-chaussée",
                   "instruction": "Montez dans les étages, coupez l'électricité."},
                  {"language": "vi", "headline": "Lũ sông: hãy rời khỏi tầng trệt",
                   "instruction": "Lên tầng trên, ngắt điện."},
                  {"language": "en", "headline": "River flood: leave ground floors",
                   "instruction": "Go upstairs, switch off the power."}],
        "area": {"description": "Ouest de la ville", "polygon": area_polygon(db, share)}})
    return actions.compose(db, settings, author, data).id


def count(db: Database, query: Any) -> int:
    with db.read() as session:
        return session.scalar(query) or 0


def wait(predicate: Callable[[], bool], timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def figure_preview(db: Database, alert_id: int) -> None:
    """What the draft's page shows before approval: who it will reach, counted."""
    started = time.perf_counter()
    with db.read() as session:
        counts = reach.count(session, session.get_one(Alert, alert_id))
    elapsed = time.perf_counter() - started
    print(f"0. preview of the draft: {counts['people']:,} people, "
          f"{counts['channels']['sms']['subscriptions']:,} SMS subscriptions, counted in {elapsed:.1f} s")


def figure_fan_out(db: Database, settings: Settings, subscribers: int) -> int:
    author, approver = staff(db)
    alert_id = compose(db, settings, author, 0.30)
    figure_preview(db, alert_id)
    registry = build_registry(settings, db)
    timings: dict[str, float] = {}
    real_resolve = targeting.resolve

    def timed_resolve(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        people = real_resolve(*args, **kwargs)
        timings["resolve"] = time.perf_counter() - t
        return people

    targeting.resolve = timed_resolve  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        actions.approve(db, settings, approver, alert_id)
        job = claim_one(db, "bench", 600)
        assert job is not None and job.payload == {"alert_id": alert_id}, job
        Worker(db, registry).run_job(job)
        elapsed = time.perf_counter() - started
    finally:
        targeting.resolve = real_resolve  # type: ignore[assignment]
    # Fresh planner statistics for the tables that just grew by a quarter of a million rows, as
    # autovacuum (PostgreSQL) would give them within a minute.
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE alerts_deliveries")
        conn.exec_driver_sql("ANALYZE kernel_notify_outbox")
    people = count(db, select(func.count(func.distinct(Delivery.person))).where(
        Delivery.alert_id == alert_id))
    deliveries = count(db, select(func.count()).select_from(Delivery).where(Delivery.alert_id == alert_id))
    queued = count(db, select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.idempotency_key.like(f"alert:{alert_id}:%")))
    resolution = timings.get("resolve", 0.0)
    print(f"1. fan-out: {people:,} people reached ({people / subscribers:.0%} of {subscribers:,} "
          f"subscribers), {deliveries:,} deliveries and {queued:,} messages queued in {elapsed:.1f} s from "
          f"approval (resolution {resolution:.1f} s, queueing {elapsed - resolution:.1f} s; "
          f"{queued / elapsed:,.0f} messages/s)")
    return alert_id


def bench_workers(url: str, data_dir: Path, gateway: GatewayProcess, threads: int,
                  batch: int) -> WorkerProcesses:
    """`parvis worker` processes with the bench's settings."""
    env = {**os.environ, **WORKER_ENV, "PARVIS_DATABASE_URL": url, "PARVIS_DATA_DIR": str(data_dir),
           "PARVIS_KANNEL_SENDSMS_URL": gateway.sendsms_url, "PARVIS_NOTIFY_SEND_THREADS": str(threads),
           "PARVIS_NOTIFY_BATCH_SIZE": str(batch)}
    return WorkerProcesses(env, data_dir / "workers.log")


def sms_sent(log: Path) -> int:
    try:
        with open(log, "rb") as f:
            return sum(buf.count(b"\n") for buf in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def figure_delivery(log: Path, seconds: float, warmup: float) -> None:
    wait(lambda: sms_sent(log) > 0, 60)
    time.sleep(warmup)
    n0, t0 = sms_sent(log), time.perf_counter()
    time.sleep(seconds)
    n1, t1 = sms_sent(log), time.perf_counter()
    print(f"2. delivery, 2 workers -> fake Kannel gateway on loopback: {(n1 - n0) / (t1 - t0):,.0f} "
          "messages/s "
          f"sustained ({n1 - n0:,} SMS in {t1 - t0:.0f} s, after {warmup:.0f} s of warm-up)")


def fan_out_holder(db: Database, alert_id: int) -> int | None:
    """The pid of the worker running this alert's fan-out job, if one is."""
    with db.read() as session:
        job = session.scalar(select(Job).where(Job.key == f"{actions.FAN_OUT_JOB}:{alert_id}"))
    if job is None or job.status != "running" or not job.locked_by:
        return None
    return int(job.locked_by.split(":")[1])


def figure_crash(db: Database, settings: Settings, workers: WorkerProcesses, log: Path,
                 first_alert: int) -> None:
    author, approver = staff(db)
    alert_id = compose(db, settings, author, 0.10)
    with db.read() as session:
        reached = reach.count(session, session.get_one(Alert, alert_id))["people"]
    actions.approve(db, settings, approver, alert_id)
    assert wait(lambda: fan_out_holder(db, alert_id) is not None, 60), "no worker took the fan-out"
    holder = fan_out_holder(db, alert_id)
    # Half way: a few batches queued, the job still running.
    threshold = max(1, min(2 * settings.alerts_fanout_batch, reached // 3))
    assert wait(lambda: count(db, select(func.count()).select_from(Delivery).where(
        Delivery.alert_id == alert_id)) >= threshold, 120, 0.01), "the fan-out did not progress"
    queued_at_kill = count(db, select(func.count()).select_from(Delivery).where(
        Delivery.alert_id == alert_id))
    still_running = fan_out_holder(db, alert_id) == holder
    os.kill(holder, signal.SIGKILL)  # type: ignore[arg-type]
    print(f"3. crash: worker {holder} killed with SIGKILL during the fan-out of alert {alert_id} "
          f"({queued_at_kill:,} deliveries queued, job {'still running' if still_running else 'done'}); "
          "a new worker started")
    workers.start()
    ids = [first_alert, alert_id]

    def drained() -> bool:
        with db.read() as session:
            job = session.scalar(select(Job.status).where(Job.key == f"{actions.FAN_OUT_JOB}:{alert_id}"))
            left = session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.channel == "sms", OutboxMessage.status.in_(["queued", "sending"])))
        return job == "done" and left == 0

    started = time.perf_counter()
    assert wait(drained, 3600, 1.0), "messages were still queued after an hour"
    time.sleep(1.0)  # the last requests' lines
    with db.read() as session:
        expected = {str(i) for i, in session.execute(select(OutboxMessage.id).where(
            OutboxMessage.channel == "sms", OutboxMessage.purpose == targeting.PURPOSE))}
        states = dict(session.execute(select(Delivery.state, func.count()).where(
            Delivery.alert_id.in_(ids), Delivery.channel == "sms").group_by(Delivery.state)).all())
        people = session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.alert_id == alert_id, Delivery.channel == "sms"))
    seen = summary(log)
    missing = len(expected - set(seen.counts))
    duplicates = sum(n - 1 for n in seen.counts.values() if n > 1)
    print(f"   after the restart, everything sent in {time.perf_counter() - started:.0f} s; gateway log: "
          f"{seen.line()}; expected {len(expected):,} SMS (alert {alert_id}: {people:,}); "
          f"duplicates {duplicates}, missing {missing}; SMS delivery records by state: {states}")
    assert duplicates == 0 and missing == 0 and seen.distinct == len(expected), "duplicates or missing"


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown CPU"
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="How long the delivery rate is measured.")
    parser.add_argument("--threads", type=int, default=8, help="Sends in flight per worker.")
    parser.add_argument("--batch", type=int, default=200, help="Messages a worker claims at once.")
    parser.add_argument("--fan-out-only", action="store_true", help="Only figure 1.")
    args = parser.parse_args()
    url = database_url(args.db)
    data_dir = SQLITE_DIR if args.db == "sqlite" else Path("/tmp/parvis-bench-alerts-pg")
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    settings = bench_settings(url, data_dir)
    register_privacy_hooks()
    db = Database(url)
    print(f"Database: {db.dialect}; {os.cpu_count()} CPU cores ({cpu_model()}); building the demo city and "
          f"{args.subscribers:,} subscribers")
    create_demo_city(db, settings)
    reset(db)
    subscribers = bulk_subscriptions(db, args.subscribers)
    first = figure_fan_out(db, settings, subscribers)
    if args.fan_out_only:
        db.dispose()
        return
    log = data_dir / "gateway.log"
    log.unlink(missing_ok=True)
    with GatewayProcess(log) as gateway:
        workers = bench_workers(url, data_dir, gateway, args.threads, args.batch)
        try:
            workers.start()
            workers.start()
            figure_delivery(log, args.seconds, warmup=5.0)
            figure_crash(db, settings, workers, log, first)
        finally:
            workers.stop()
    db.dispose()


if __name__ == "__main__":
    main()
