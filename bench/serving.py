"""What the benchmarks that start a real ``parvis serve`` share: a free port, waiting for every
web process, and their CPU time."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx


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


def cpu_seconds(parent: int) -> dict[int, float]:
    """CPU time (user + system) of each child process of ``parent``, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        out[int(child)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def serve(env: dict[str, str], folder: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``parvis serve`` (no migration: the bench built the database) with ``workers`` web
    processes on a free port; return the process and its base URL once every process answers."""
    port = free_port()
    command = [sys.executable, "-m", "parvis.cli", "serve", "--port", str(port), "--no-migrate",
               "--workers", str(workers)]
    log = folder / "serve.log"
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
