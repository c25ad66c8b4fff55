"""What the benchmarks that start a real ``parvis serve`` share: a free port, waiting for every
web process, and their CPU time."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from sqlalchemy import text

from parvis.kernel.db import Database


def p95(samples: list[float]) -> float:
    """The 95th percentile of durations in seconds, in milliseconds."""
    return statistics.quantiles(samples, n=20)[-1] * 1000 if len(samples) >= 20 else max(samples) * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_workers(log: Path, workers: int, timeout: float = 60.0) -> None:
    """Until every web process has started: /healthz answers as soon as the first one has, and
    load connections opened before the others start would all stay on it (keep-alive)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text(errors="replace").count("Application startup complete") >= workers:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the {workers} web processes did not all start; see {log}")


def process_cpu(pid: int) -> float:
    """User + system CPU of a process and its waited-for children, from /proc (Linux); 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def database_pids(db: Database) -> list[int]:
    """The PostgreSQL server processes serving this database (a local server: their CPU is read
    from /proc too); none on SQLite."""
    if db.is_sqlite:
        return []
    with db.read() as session:
        return list(session.scalars(text(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")))


def cpu_seconds(parent: int) -> dict[int, float]:
    """CPU time (user + system) of each child process of ``parent``, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        out[int(child)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def serve(env: dict[str, str], folder: Path, workers: int,
          log_name: str = "serve.log") -> tuple[subprocess.Popen[bytes], str]:
    """Start ``parvis serve`` (no migration: the bench built the database) with ``workers`` web
    processes on a free port; return the process and its base URL once every process answers."""
    port = free_port()
    command = [sys.executable, "-m", "parvis.cli", "serve", "--port", str(port), "--no-migrate",
               "--workers", str(workers)]
    log = folder / log_name
    with log.open("wb") as log_file:
        server = subprocess.Popen(command, env={**os.environ, **env}, stdout=log_file,
                                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    wait_for_workers(log, workers)
    return server, base


async def http_load(bases: list[str], requests: Callable[[int], Iterator[bytes]], clients: int,
                    seconds: float) -> tuple[dict[int, int], list[float], float]:
    """Keep-alive HTTP/1.1 clients sending prepared requests for ``seconds``: a lean client (a
    request is bytes written, an answer is its status line and ``Content-Length`` bytes read),
    so that the load generator, on the same cores as the server, takes little of their time.
    Client n talks to ``bases[n % len(bases)]`` (the clients spread evenly over the servers, as
    a proxy's round robin spreads requests). ``requests(n)``: client n's endless requests, each
    the whole bytes of one. Returns the count of each status, the latencies and the elapsed
    seconds."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def client(n: int) -> None:
        host, _, port = bases[n % len(bases)].removeprefix("http://").partition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for request in requests(n):
                if time.perf_counter() >= stop:
                    return
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                status = int(lines[0].split()[1])
                length = next((int(line.split(b":", 1)[1]) for line in lines[1:]
                               if line[:15].lower() == b"content-length:"), 0)
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return statuses, latencies, time.perf_counter() - started


def request_bytes(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """One HTTP/1.1 request as bytes (JSON body, keep-alive) for ``http_load``."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1",
             *(f"{k}: {v}" for k, v in headers.items())]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
