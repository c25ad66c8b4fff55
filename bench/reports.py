"""Citizen reports at scale: builds N reports (default 1,000,000), then measures and prints

1. creating reports through the JSON API (no photo), 16 concurrent clients: reports/s and p95;
2. the public map query for a viewport returning at most 500 markers: p95;
3. Open311 `GET requests.json` with a service_code and a date filter: p95;
4. the department queue page (`/admin/reports`): p95.

Run: `.venv/bin/python bench/reports.py [--reports 1000000] [--database-url URL]`
(default: a SQLite file in a temporary folder; PostgreSQL: an empty database URL).
It starts a real `parvis serve` on a loopback port, so HTTP figures include the whole stack.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import insert, select

from parvis.app import register_privacy_hooks
from parvis.demo import create_demo_city
from parvis.kernel.db import Database, utcnow
from parvis.migrations import upgrade
from parvis.modules.city import queries as city_queries
from parvis.modules.reports import queries
from parvis.modules.reports.models import Report
from parvis.settings import Settings
from serving import cpu_seconds, p95, serve

CONCURRENCY = 16
REQUESTS_PER_CONNECTION = 20


def bulk_reports(db: Database, count: int, first: int = 0) -> None:
    """Insert reports straight into the table (what years of use would leave), in batches;
    ``first`` numbers their tokens after those of an earlier run that is being topped up."""
    with db.read() as session:
        cats = queries.categories(session)
        districts = city_queries.districts(session)
    rng = random.Random(1)
    now = utcnow()
    statuses = ["new", "acknowledged", "in_progress", "resolved", "closed", "closed", "closed", "rejected"]
    batch = 20_000
    done = 0
    started = time.perf_counter()
    while done < count:
        rows = []
        for n in range(done, min(count, done + batch)):
            d = districts[n % len(districts)]
            lon = rng.uniform(d.min_lon, d.max_lon)
            lat = rng.uniform(d.min_lat, d.max_lat)
            created = now - timedelta(minutes=rng.uniform(0, 3 * 365 * 24 * 60))
            c = cats[n % len(cats)]
            rows.append({"token": f"b{first + n}", "category_id": c.id, "department_id": c.department_id,
                         "district_id": d.id, "status": rng.choice(statuses), "description": "Bench report",
                         "address": "", "lon": lon, "lat": lat, "public_lon": lon, "public_lat": lat,
                         "attributes": {}, "source": "web", "reporter_name": "", "contact_channel": "none",
                         "show_name": False, "interest_count": 1, "referred_to": "", "rating_comment": "",
                         "reopened_count": 0, "needs_location": False, "origin": "",
                         "created_at": created, "updated_at": created})
        with db.transaction() as session:
            session.execute(insert(Report), rows)
        done += len(rows)
        print(f"\r  inserted {done:,} reports ({done / (time.perf_counter() - started):,.0f}/s)", end="",
              flush=True)
    print()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


async def create_load(base: str, tokens: list[str], seconds: float) -> tuple[int, list[float], float]:
    """16 clients, each on its own keep-alive connection (renewed every few reports), posting
    reports back to back.

    The load comes from aiohttp, a light client, so that the two cores this machine has go to the
    server rather than to the client measuring it (httpx took three times the CPU per request)."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(token: str, seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        await asyncio.sleep(seed * 0.01)  # people do not all arrive in the same millisecond
        while time.perf_counter() < stop:
            # A phone keeps a connection for a while, not forever: a fresh one every few reports.
            # (With 16 connections opened at once and kept, the first web process to wake
            # accepts them all, and the others stay idle.)
            connector = aiohttp.TCPConnector(limit=1)
            async with aiohttp.ClientSession(base, connector=connector,
                                             headers={"Authorization": f"Bearer {token}"}) as http:
                for _ in range(REQUESTS_PER_CONNECTION):
                    if time.perf_counter() >= stop:
                        break
                    body = {"category": "LAMP", "description": "Lampadaire éteint",
                            "lon": 107.585 + rng.uniform(-0.01, 0.01),
                            "lat": 16.463 + rng.uniform(-0.005, 0.005), "contact_channel": "none"}
                    t0 = time.perf_counter()
                    async with http.post("/api/v1/reports", json=body) as response:
                        await response.read()
                        latencies.append(time.perf_counter() - t0)
                        if response.status != 201:
                            errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(tokens[i % len(tokens)], i) for i in range(CONCURRENCY)))
    return errors, latencies, time.perf_counter() - started


def run_create_load(base: str, tokens: list[str], seconds: float) -> tuple[int, list[float], float]:
    return asyncio.run(create_load(base, tokens, seconds))


async def get_load(base: str, paths: list[str], headers: dict[str, str], count: int) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as http:
        for i in range(count):
            t0 = time.perf_counter()
            response = await http.get(paths[i % len(paths)])
            latencies.append(time.perf_counter() - t0)
            assert response.status_code == 200, (paths[i % len(paths)], response.status_code)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seconds", type=float, default=20.0, help="Duration of the creation load.")
    parser.add_argument("--workers", type=int, default=1, help="Web processes of `parvis serve`.")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="parvis-bench-")
    url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    upgrade(url)
    settings = Settings(_env_file=None, database_url=url, demo_citizens=20, demo_reports=0,  # type: ignore[call-arg]
                        data_dir=Path(tmp), reports_anonymous_per_hour=10**9)
    register_privacy_hooks()
    db = Database(url)
    print(f"Database: {db.dialect}; {args.workers} web process(es); building the demo city and "
          f"{args.reports:,} reports")
    create_demo_city(db, settings)
    with db.read() as session:
        existing = session.scalar(select(Report.id).order_by(Report.id.desc()).limit(1)) or 0
    if existing < args.reports:
        bulk_reports(db, args.reports - existing, first=existing)
    env = {"PARVIS_DATABASE_URL": url, "PARVIS_DATA_DIR": tmp,
           "PARVIS_REPORTS_ANONYMOUS_PER_HOUR": str(10**9)}
    server, base = serve(env, Path(tmp), args.workers)
    try:
        tokens = []
        for n in range(1, 17):
            response = httpx.post(base + "/api/v1/auth/token",
                                  data={"username": f"+84912{n:06d}", "password": settings.demo_password})
            tokens.append(response.json()["access_token"])
        # The load comes from a fresh process: this one holds the whole demo city, objects its
        # garbage collector would scan again and again, slowing the client rather than the server.
        before = cpu_seconds(server.pid) if args.workers > 1 else {}
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            errors, lat, elapsed = pool.apply(run_create_load, (base, tokens, args.seconds))
        print(f"1. create via JSON API, {CONCURRENCY} clients: {len(lat) / elapsed:,.0f} reports/s, "
              f"p95 {p95(lat):.0f} ms, {errors} errors ({len(lat):,} requests in {elapsed:.0f} s)")
        if before:  # how the load spread over the web processes
            after = cpu_seconds(server.pid)
            busy = sorted((after[pid] - before.get(pid, 0.0) for pid in after), reverse=True)
            print("   CPU seconds per web process during the load: "
                  + ", ".join(f"{b:.1f}" for b in busy if b > 0.05))
        rng = random.Random(2)
        with db.read() as session:
            bounds = city_queries.bounds(session)
        # 2a: street-level viewports (~50-200 m), which return at most 500 open reports here;
        # 2b: district-level viewports (~200 m-1 km) holding thousands, cut to the newest 500.
        for label, low, high in (("2a. public map query, viewport returning <= 500 markers", 0.0005, 0.002),
                                 ("2b. public map query, wide viewport cut to 500 markers", 0.002, 0.01)):
            samples, counts = [], []
            with db.read() as session:
                for _ in range(200):
                    w = rng.uniform(low, high)
                    x, y = rng.uniform(bounds[0], bounds[2] - w), rng.uniform(bounds[1], bounds[3] - w)
                    f = queries.ReportFilter(status="open", bbox=(x, y, x + w, y + w))
                    t0 = time.perf_counter()
                    markers = queries.map_features(session, f)
                    samples.append(time.perf_counter() - t0)
                    counts.append(len(markers["features"]))
            print(f"{label}: p95 {p95(samples):.1f} ms (median {statistics.median(counts):.0f} markers)")
        since = (utcnow() - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        paths = [f"/open311/v2/requests.json?service_code={code}&start_date={since}"
                 for code in ("NID", "LAMP", "EAU", "DECH")]
        lat = asyncio.run(get_load(base, paths, {}, 200))
        print(f"3. Open311 GET requests.json (service_code + start_date): p95 {p95(lat):.0f} ms")
        credentials = {"username": "roads.agent@demo.parvis.city", "password": settings.demo_password}
        login = httpx.post(base + "/api/v1/auth/token", data=credentials)
        agent = {"Authorization": f"Bearer {login.json()['access_token']}"}
        lat = asyncio.run(get_load(base, ["/admin/reports", "/admin/reports?status=open"], agent, 200))
        print(f"4. department queue page (roads agent): p95 {p95(lat):.0f} ms")
    finally:
        server.terminate()
        server.wait(timeout=10)
        db.dispose()


if __name__ == "__main__":
    main()
