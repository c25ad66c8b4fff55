"""The job queue: retries with backoff, a dead worker's job is retried, workers never share one."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from parvis.kernel.db import utcnow
from parvis.kernel.jobs import Job, JobRegistry, JobStatus, Worker, claim_one, enqueue


def _registry(calls: list, fail_times: int = 0) -> JobRegistry:
    registry = JobRegistry()
    state = {"failures": 0}

    @registry.handler("demo.echo")
    def echo(_db, payload):
        if state["failures"] < fail_times:
            state["failures"] += 1
            raise RuntimeError("gateway down")
        calls.append(payload["n"])

    return registry


def _job(db, job_id: int) -> Job:
    with db.read() as session:
        return session.get(Job, job_id)


def test_a_job_runs_once_and_is_done(db):
    calls: list = []
    with db.transaction() as session:
        job_id = enqueue(session, "demo.echo", {"n": 1}).id
    assert Worker(db, _registry(calls)).run_once() == 1
    assert calls == [1]
    assert _job(db, job_id).status == JobStatus.DONE
    assert Worker(db, _registry(calls)).run_once() == 0


def test_same_key_enqueues_one_job(db):
    with db.transaction() as session:
        first = enqueue(session, "demo.echo", {"n": 1}, key="once").id
    with db.transaction() as session:
        assert enqueue(session, "demo.echo", {"n": 2}, key="once").id == first


def test_failures_retry_with_backoff_then_fail_with_the_error(db):
    calls: list = []
    with db.transaction() as session:
        job_id = enqueue(session, "demo.echo", {"n": 1}, max_attempts=2).id
    worker = Worker(db, _registry(calls, fail_times=5))
    worker.run_once()
    job = _job(db, job_id)
    assert job.status == JobStatus.QUEUED and job.attempts == 1
    assert job.run_at > utcnow() + timedelta(seconds=1)  # waits before the retry
    assert job.last_error == "RuntimeError: gateway down"
    with db.transaction() as session:
        session.get(Job, job_id).run_at = utcnow()
    worker.run_once()
    job = _job(db, job_id)
    assert job.status == JobStatus.FAILED and job.attempts == 2 and calls == []


def test_a_killed_workers_job_is_retried_after_its_lease(db):
    calls: list = []
    with db.transaction() as session:
        job_id = enqueue(session, "demo.echo", {"n": 7}).id
    dead = claim_one(db, "dead-worker", lease_seconds=60)  # claimed, then the worker "dies"
    assert dead is not None and dead.id == job_id
    assert claim_one(db, "other", lease_seconds=60) is None  # leased: nobody else takes it
    with db.transaction() as session:
        session.get(Job, job_id).locked_until = utcnow() - timedelta(seconds=1)
    Worker(db, _registry(calls)).run_once()
    assert calls == [7]
    assert _job(db, job_id).status == JobStatus.DONE


def test_unknown_job_kind_ends_failed_with_a_reason(db):
    with db.transaction() as session:
        job_id = enqueue(session, "nobody.handles.this", max_attempts=1).id
    Worker(db, JobRegistry()).run_once()
    job = _job(db, job_id)
    assert job.status == JobStatus.FAILED and "no handler" in job.last_error


@pytest.mark.parametrize("workers", [4])
def test_concurrent_workers_run_each_job_exactly_once(db, workers):
    calls: list = []
    lock = threading.Lock()
    registry = JobRegistry()

    @registry.handler("demo.echo")
    def echo(_db, payload):
        with lock:
            calls.append(payload["n"])

    with db.transaction() as session:
        for n in range(60):
            enqueue(session, "demo.echo", {"n": n})
    threads = [threading.Thread(target=Worker(db, registry, worker_id=f"w{i}").run_once)
               for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(calls) == list(range(60))
    with db.read() as session:
        statuses = set(session.scalars(select(Job.status)))
        workers_used = set(session.scalars(select(Job.locked_by)))
    assert statuses == {JobStatus.DONE}
    assert workers_used == {None}


def test_services_run_beside_the_worker_until_it_stops_and_start_again_after_a_failure(db):
    import threading

    from parvis.kernel.jobs import JobRegistry, Worker

    runs: list[str] = []
    stopped = threading.Event()

    def flaky(_db, stopping: threading.Event) -> None:
        runs.append("start")
        if len(runs) == 1:
            raise RuntimeError("first run fails")
        stopping.wait()
        stopped.set()

    registry = JobRegistry()
    registry.add_service(flaky)
    worker = Worker(db, registry, poll_seconds=0.05)
    assert worker.run_once() == 0 and runs == []  # one pass starts no service
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    for _ in range(100):
        if len(runs) >= 2:
            break
        threading.Event().wait(0.05)
    worker.stop()
    thread.join(timeout=10)
    assert runs == ["start", "start"] and stopped.is_set() and not thread.is_alive()
