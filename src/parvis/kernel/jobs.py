"""A database-backed job queue that any number of ``parvis worker`` processes can share.

PostgreSQL: jobs are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` so workers never
block each other. SQLite: claims happen inside ``BEGIN IMMEDIATE``, which serialises them.
A claimed job holds a lease; if its worker dies, the lease runs out and another worker
retries it. Failures retry with exponential backoff, then end as ``failed`` with the error.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from parvis.kernel.db import Base, Database, UTCDateTime, utcnow

log = logging.getLogger(__name__)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    __tablename__ = "kernel_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_kernel_jobs_due", "status", "run_at"),)


JobHandler = Callable[[Database, dict[str, Any]], None]
Tick = Callable[[Database], int]
# A long-running loop a worker runs beside its jobs (such as sending notifications as they come):
# called in its own thread with the worker's database and an event set when the worker stops.
Service = Callable[[Database, threading.Event], None]


class JobRegistry:
    """Which function runs each kind of job, plus periodic ticks (such as the outbox)."""

    def __init__(self) -> None:
        self.handlers: dict[str, JobHandler] = {}
        self.ticks: list[Tick] = []
        self.services: list[Service] = []

    def handler(self, kind: str) -> Callable[[JobHandler], JobHandler]:
        def register(fn: JobHandler) -> JobHandler:
            self.handlers[kind] = fn
            return fn

        return register

    def add_tick(self, fn: Tick) -> None:
        self.ticks.append(fn)

    def add_service(self, fn: Service) -> None:
        """A loop that ``Worker.run_forever`` runs in a thread of its own until the worker stops
        (``run_once``, for tests and ``parvis worker --once``, does not start it)."""
        self.services.append(fn)


def statuses(session: Session, keys: list[str]) -> dict[str, str]:
    """The status of the keyed jobs that exist (queued, running, done, failed), by key: what a
    module asks about the jobs it queued, without reading the jobs table itself."""
    if not keys:
        return {}
    rows = session.execute(select(Job.key, Job.status).where(Job.key.in_(keys)))
    return {key: status for key, status in rows}


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 5,
) -> Job:
    """Add a job inside the caller's transaction; with ``key``, at most one such job exists."""
    if key is not None:
        existing = session.scalar(select(Job).where(Job.key == key))
        if existing is not None:
            return existing
    job = Job(kind=kind, payload=payload or {}, key=key, run_at=run_at or utcnow(),
              max_attempts=max_attempts)
    session.add(job)
    session.flush()
    return job


def backoff(attempts: int, base: float = 2.0, cap: float = 3600.0) -> timedelta:
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))


def claim_one(db: Database, worker_id: str, lease_seconds: int) -> Job | None:
    """Take the next due job (or one whose worker's lease ran out)."""
    now = utcnow()
    with db.transaction() as session:
        query = (
            select(Job)
            .where(
                or_(
                    (Job.status == JobStatus.QUEUED) & (Job.run_at <= now),
                    (Job.status == JobStatus.RUNNING) & (Job.locked_until < now),
                )
            )
            .order_by(Job.run_at, Job.id)
            .limit(1)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        job = session.scalar(query)
        if job is None:
            return None
        job.status = JobStatus.RUNNING
        job.locked_by = worker_id
        job.locked_until = now + timedelta(seconds=lease_seconds)
        job.attempts += 1
        session.flush()
        session.expunge(job)
        return job


def _finish(db: Database, job_id: int, error: str | None) -> None:
    with db.transaction() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        job.locked_by = None
        job.locked_until = None
        if error is None:
            job.status = JobStatus.DONE
            job.finished_at = utcnow()
            job.last_error = None
        elif job.attempts >= job.max_attempts:
            job.status = JobStatus.FAILED
            job.finished_at = utcnow()
            job.last_error = error
        else:
            job.status = JobStatus.QUEUED
            job.run_at = utcnow() + backoff(job.attempts)
            job.last_error = error


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    """Runs jobs and periodic ticks until stopped."""

    def __init__(self, db: Database, registry: JobRegistry, *, lease_seconds: int = 300,
                 poll_seconds: float = 1.0, worker_id: str | None = None) -> None:
        self.db = db
        self.registry = registry
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.worker_id = worker_id or default_worker_id()
        self.stopping = threading.Event()

    def run_job(self, job: Job) -> None:
        handler = self.registry.handlers.get(job.kind)
        if handler is None:
            _finish(self.db, job.id, f"no handler for job kind {job.kind!r}")
            return
        try:
            handler(self.db, job.payload)
        except Exception as exc:
            log.exception("job %s (%s) failed", job.id, job.kind)
            _finish(self.db, job.id, f"{type(exc).__name__}: {exc}")
        else:
            _finish(self.db, job.id, None)

    def run_once(self) -> int:
        """One pass: every due job, then every tick. Returns how much work was done."""
        done = 0
        while not self.stopping.is_set():
            job = claim_one(self.db, self.worker_id, self.lease_seconds)
            if job is None:
                break
            self.run_job(job)
            done += 1
        for tick in self.registry.ticks:
            try:
                done += tick(self.db)
            except Exception:
                log.exception("periodic task %s failed", getattr(tick, "__name__", tick))
        return done

    def run_forever(self) -> None:
        threads = [threading.Thread(target=self._serve, args=(service,), daemon=True,
                                    name=f"parvis-{getattr(service, '__name__', 'service')}")
                   for service in self.registry.services]
        for thread in threads:
            thread.start()
        try:
            while not self.stopping.is_set():
                if self.run_once() == 0:
                    self.stopping.wait(self.poll_seconds)
                else:
                    time.sleep(0)
        finally:
            self.stopping.set()
            for thread in threads:
                thread.join(timeout=10)

    def _serve(self, service: Service) -> None:
        """Run a service until the worker stops; one that fails starts again a second later."""
        while not self.stopping.is_set():
            try:
                service(self.db, self.stopping)
            except Exception:
                log.exception("service %s failed; it starts again", getattr(service, "__name__", service))
            self.stopping.wait(1.0)

    def stop(self) -> None:
        self.stopping.set()
