"""Workers killed with SIGKILL in the middle of an alert, and restarted: nothing lost, nothing sent
twice, counted from the fake SMS gateway's own log (``fake_sms_gateway.py``, its own process).

Real ``parvis worker`` processes run here, on the test's database (SQLite file or PostgreSQL),
with short leases so that a dead worker's job and messages are taken over within seconds.

- Killed while it queues the alert (the fan-out job): the worker sends nothing meanwhile, so no
  message can be in flight; the job is taken over and completed, and every subscriber gets the
  SMS exactly once, whatever the gateway (Kannel has no idempotency: this is the guarantee that
  holds with it).
- Killed while it sends (it had claimed a batch, the gateway took some of it): Kannel reports
  "submitted to the SMSC" within milliseconds, and that receipt marks the message sent: nothing
  reaches a handset twice (the fake gateway with ``receipts``, reporting to a live web server).
  A gateway that sends no receipt gets, after the lease, the messages whose result the dead worker
  could not write down again (at least once: at most one batch, each on its second attempt); one
  that deduplicates on our reference (the webhook adapter sends the message id) answers
  "duplicate" and no handset gets a message twice.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alerts_factories import SIZE, SOUTH_LAT, WEST_LON, sent_alert
from fake_sms_gateway import GatewayProcess, Summary, WorkerProcesses
from sqlalchemy import func, insert, select

from live_server import LiveServer
from parvis.kernel.db import Database
from parvis.kernel.jobs import Job
from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.alerts import actions, targeting
from parvis.modules.alerts.models import Delivery, Subscription

pytestmark = pytest.mark.timeout(240)

PEOPLE = 1500
LEASE_SECONDS = 4
TAKEN_BEFORE_KILL = 250  # messages the gateway takes before it stalls and the sender is killed


def _subscribe(db: Database, count: int) -> None:
    """``count`` people without an account, each with a point in the West district, by SMS."""
    rng = random.Random(4)
    margin = SIZE / 20
    rows = [{"person": f"phone:+849{n:08d}", "phone": f"+849{n:08d}", "label": "",
             "lon": rng.uniform(WEST_LON + margin, WEST_LON + SIZE - margin),
             "lat": rng.uniform(SOUTH_LAT + margin, SOUTH_LAT + SIZE - margin),
             "categories": 0, "by_sms": True, "by_email": False, "by_push": False, "tester": False}
            for n in range(count)]
    with db.transaction() as session:
        session.execute(insert(Subscription), rows)


def _workers(database_url: str, tmp_path: Path, gateway: GatewayProcess, backend: str,
             **settings: Any) -> WorkerProcesses:
    """``parvis worker`` processes sharing the test's database and the fake gateway."""
    env = {**os.environ, "PARVIS_DATABASE_URL": database_url, "PARVIS_DATA_DIR": str(tmp_path),
           "PARVIS_NOTIFY_SMS_BACKEND": backend, "PARVIS_KANNEL_SENDSMS_URL": gateway.sendsms_url,
           "PARVIS_SMS_WEBHOOK_URL": gateway.webhook_url, "PARVIS_SMS_INBOUND_TOKEN": "crash-test",
           "PARVIS_RATE_LIMIT_SMS_PER_MINUTE": "10000000", "PARVIS_WORKER_POLL_SECONDS": "0.1",
           "PARVIS_JOB_LEASE_SECONDS": str(LEASE_SECONDS)}
    env.update({f"PARVIS_{k.upper()}": str(v) for k, v in settings.items()})
    return WorkerProcesses(env, tmp_path / "workers.log", grace=20)


@pytest.fixture
def workers_for(database_url: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcesses]]:
    made: list[WorkerProcesses] = []

    def make(gateway: GatewayProcess, backend: str = "kannel", **settings: Any) -> WorkerProcesses:
        made.append(_workers(database_url, tmp_path, gateway, backend, **settings))
        return made[-1]

    yield make
    for workers in made:
        workers.stop()


def _wait(predicate: Callable[[], Any], timeout: float, every: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def _scalar(db: Database, query: Any) -> Any:
    with db.read() as session:
        return session.scalar(query)


def _deliveries(db: Database, alert_id: int) -> int:
    return _scalar(db, select(func.count()).select_from(Delivery).where(Delivery.alert_id == alert_id)) or 0


def _job(db: Database, alert_id: int) -> str | None:
    return _scalar(db, select(Job.status).where(Job.key == f"{actions.FAN_OUT_JOB}:{alert_id}"))


def _unsent(db: Database) -> int:
    return _scalar(db, select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status.in_(["queued", "sending"]))) or 0


def _drain(db: Database, alert_id: int, gateway: GatewayProcess, timeout: float = 120) -> Summary:
    """Wait until the fan-out job is done and every message is sent; the gateway's count then."""
    _wait(lambda: _job(db, alert_id) == "done" and _unsent(db) == 0, timeout, 0.1)
    time.sleep(0.5)  # the last lines of the log
    return gateway.summary()


def _killed_mid_send(workers: WorkerProcesses, gateway: GatewayProcess) -> None:
    """Start a worker, kill it (SIGKILL) once the gateway has taken ``TAKEN_BEFORE_KILL`` messages
    and holds the next ones unanswered, then let the gateway go on: a kill in the middle of a batch
    on any machine, however fast (a fast one used to send everything before the test could kill)."""
    first = workers.start()
    _wait(lambda: gateway.summary().requests >= TAKEN_BEFORE_KILL, 60)
    time.sleep(0.2)  # the worker's send threads are now waiting on the gateway
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    time.sleep(0.1)  # the gateway sees the dead worker's connections close: it drops what it held
    gateway.release()


def _sms_sent(db: Database) -> dict[str, int]:
    """Our SMS messages: their id (the reference the gateway logs) and attempt count."""
    with db.read() as session:
        return {str(i): n for i, n in session.execute(select(OutboxMessage.id, OutboxMessage.attempts).where(
            OutboxMessage.channel == "sms", OutboxMessage.status == "sent"))}


def _states(db: Database, alert_id: int) -> dict[str, int]:
    with db.read() as session:
        return dict(session.execute(select(Delivery.state, func.count()).where(
            Delivery.alert_id == alert_id).group_by(Delivery.state)).all())


def test_a_worker_killed_during_the_fan_out_neither_loses_nor_duplicates_a_message(
        db, settings, city, tmp_path, workers_for) -> None:
    _subscribe(db, PEOPLE)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    with GatewayProcess(tmp_path / "sms.log") as gateway:
        workers = workers_for(gateway, alerts_fanout_batch=10, notify_batch_size=50, notify_send_threads=4)
        first = workers.start()
        _wait(lambda: _deliveries(db, alert_id) >= 50, 60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = _deliveries(db, alert_id)
        assert at_kill < PEOPLE, "the fan-out ended before the kill: nothing was tested"
        assert gateway.summary().requests == 0  # it was queueing, not sending
        workers.start()  # a restarted worker, and a second one
        workers.start()
        seen = _drain(db, alert_id, gateway)
    print(f"\nkilled during the fan-out ({at_kill} of {PEOPLE} queued): {seen.line()}")
    sent = _sms_sent(db)
    assert len(sent) == PEOPLE
    assert seen.requests == seen.distinct == seen.handsets == seen.recipients == PEOPLE  # none twice
    assert set(seen.counts) == set(sent)  # none missing
    assert _states(db, alert_id) == {"sent": PEOPLE}


@pytest.mark.parametrize("backend", ["kannel", "webhook"])
def test_a_worker_killed_while_sending_resends_only_what_it_could_not_write_down(
        db, settings, city, tmp_path, workers_for, backend) -> None:
    """A gateway that sends no receipt (the fake Kannel without ``--receipts``): the dead worker's
    unwritten sends go again after its lease."""
    people = 1000
    batch = 100
    _subscribe(db, people)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    targeting.fan_out(db, settings, alert_id)  # queued already: the workers only send
    with GatewayProcess(tmp_path / "sms.log", delay_ms=3, hold_after=TAKEN_BEFORE_KILL) as gateway:
        workers = workers_for(gateway, backend, notify_batch_size=batch, notify_send_threads=4)
        _killed_mid_send(workers, gateway)
        in_flight = _scalar(db, select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == "sending")) or 0
        workers.start()
        seen = _drain(db, alert_id, gateway)
    sent = _sms_sent(db)
    repeated = {ref for ref, n in seen.counts.items() if n > 1}
    print(f"\n{backend}: killed while sending ({in_flight} messages claimed and not written down): "
          f"{seen.line()}")
    assert len(sent) == people and set(seen.counts) == set(sent)  # none missing
    assert seen.repeats == len(repeated) <= in_flight <= batch
    assert all(sent[ref] == 2 for ref in repeated)  # re-sent once, after the dead worker's lease
    if backend == "kannel":
        assert seen.handsets == seen.requests  # Kannel cannot tell: a repeat reaches the handset
    else:
        assert seen.handsets == seen.distinct == people  # the gateway took each reference once
    assert _states(db, alert_id) == {"sent": people}


def test_with_kannels_receipts_a_worker_killed_while_sending_sends_nothing_twice(
        db, settings, city, tmp_path, workers_for, app) -> None:
    """Kannel reports "submitted to the SMSC" (type 8) within milliseconds of taking a message:
    that receipt marks the message sent, so the dead worker's messages the gateway had taken are
    not sent again after its lease; those it had not sent yet are, once. Nothing twice."""
    people = 1000
    batch = 100
    settings.sms_inbound_token = "crash-test"  # the token the workers put in the dlr-url
    _subscribe(db, people)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    targeting.fan_out(db, settings, alert_id)
    with LiveServer(app) as web, GatewayProcess(tmp_path / "sms.log", delay_ms=3, receipts=True,
                                                hold_after=TAKEN_BEFORE_KILL) as gateway:
        workers = workers_for(gateway, "kannel", notify_batch_size=batch, notify_send_threads=4,
                              base_url=web.url)
        _killed_mid_send(workers, gateway)
        time.sleep(0.3)  # the receipts of what the gateway took before the kill
        in_flight = _scalar(db, select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == "sending")) or 0
        taken = gateway.summary().requests
        workers.start()
        seen = _drain(db, alert_id, gateway)
    sent = _sms_sent(db)
    print(f"\nkannel with receipts: killed while sending ({in_flight} claimed, not sent nor reported): "
          f"{seen.line()}")
    assert taken == TAKEN_BEFORE_KILL < people  # killed mid-send: the held requests were dropped
    assert len(sent) == people and set(seen.counts) == set(sent)  # none missing
    assert seen.repeats == 0 and seen.handsets == seen.distinct == people  # none twice
    assert _states(db, alert_id) == {"sent": people}
