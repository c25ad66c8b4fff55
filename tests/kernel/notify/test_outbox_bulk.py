"""The outbox at city scale: bulk enqueue (idempotent, concurrent duplicates), batch dispatch
(concurrent sends, one transaction per batch, fencing, rate limits across workers, receipts
before results), and the keep-alive gateway client."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from notify_helpers import make_settings, message, outbox
from sqlalchemy import func, select

from parvis.kernel.db import Database, utcnow
from parvis.kernel.events import Event
from parvis.kernel.notify import (
    Channel,
    FakeAdapter,
    MessageStatus,
    NewMessage,
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
    dispatch_due,
    enqueue,
    enqueue_many,
    mark_delivery,
    push_endpoints,
)
from parvis.kernel.notify.actions import save_subscription
from parvis.kernel.notify.models import OutboxMessage
from parvis.kernel.notify.outbox import Outcome, claim, record_results
from parvis.kernel.notify.sms import GatewayClient, KannelAdapter


def _sms(n: int, *, key: str | None = None, body: str = "Lũ tối nay", purpose: str = "alerts",
         data: dict[str, Any] | None = None) -> NewMessage:
    return NewMessage("sms", f"+849{n:08d}", body, key or f"alert:1:phone:{n}:sms", purpose=purpose, data=data)


def _count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


# ------------------------------------------------------------------------------- enqueue_many

def test_enqueue_many_queues_each_key_once_and_returns_the_ids(db: Database) -> None:
    shared = {"url": "https://city.example/alerts/1"}
    with db.transaction() as session:
        first = enqueue_many(session, [_sms(n, data=shared) for n in range(1200)]
                             + [_sms(0, body="a second time in the same call")])
    assert len(first) == 1200 and len(set(first.values())) == 1200
    assert _count(db) == 1200
    row = message(db, first["alert:1:phone:7:sms"])
    assert (row.recipient, row.body, row.status, row.attempts, row.purpose) == (
        "+84900000007", "Lũ tối nay", MessageStatus.QUEUED, 0, "alerts")
    assert row.data == shared and row.next_attempt_at is not None and row.created_at is not None
    assert message(db, first["alert:1:phone:0:sms"]).body == "Lũ tối nay"  # the first one wins

    # A re-run (a fan-out that died half-way) gets the same ids and queues only what is new.
    with db.transaction() as session:
        again = enqueue_many(session, [_sms(n, body="changed") for n in range(1100, 1300)])
    assert {k: again[k] for k in again if k in first} == {k: first[k] for k in again if k in first}
    assert _count(db) == 1300
    assert message(db, first["alert:1:phone:1100:sms"]).body == "Lũ tối nay"
    # The one-at-a-time enqueue and the bulk one agree on keys.
    with db.transaction() as session:
        assert enqueue(session, channel=Channel.SMS, to="+84900001100", body="x",
                       key="alert:1:phone:1100:sms").id == first["alert:1:phone:1100:sms"]
    assert _count(db) == 1300


def test_enqueue_many_refuses_what_cannot_be_sent(db: Database) -> None:
    with db.transaction() as session:
        with pytest.raises(ValueError, match="channel"):
            enqueue_many(session, [NewMessage("fax", "+84900000001", "x", "k1")])
        with pytest.raises(ValueError, match="recipient"):
            enqueue_many(session, [NewMessage("sms", "", "x", "k2")])
        with pytest.raises(ValueError, match="key"):
            enqueue_many(session, [NewMessage("sms", "+84900000001", "x", "")])
        assert enqueue_many(session, []) == {}
    assert _count(db) == 0


def test_concurrent_bulk_enqueues_of_the_same_keys_make_one_message_each(db: Database) -> None:
    """Two fan-outs of one alert race (a job whose lease ran out): every key is one message,
    both transactions commit, and both learn the same ids."""
    results: dict[str, dict[str, int]] = {}
    errors: list[BaseException] = []
    inserted = threading.Event()

    def first() -> None:
        try:
            with db.transaction() as session:
                results["first"] = enqueue_many(session, [_sms(n) for n in range(0, 600)])
                inserted.set()
                time.sleep(0.5)  # hold the uncommitted rows a while
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            inserted.set()

    def second() -> None:
        inserted.wait(10)
        try:
            with db.transaction() as session:
                results["second"] = enqueue_many(session, [_sms(n) for n in range(300, 900)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert _count(db) == 900
    common = [f"alert:1:phone:{n}:sms" for n in range(300, 600)]
    assert [results["first"][k] for k in common] == [results["second"][k] for k in common]
    with db.read() as session:
        keys = list(session.scalars(select(OutboxMessage.idempotency_key)))
    assert len(keys) == len(set(keys)) == 900


def test_push_endpoints_lists_each_persons_subscriptions(db: Database) -> None:
    with db.transaction() as session:
        for user, endpoint in ((5, "https://push.example/a"), (5, "https://push.example/b"),
                               (6, "https://push.example/c")):
            save_subscription(session, user_id=user, endpoint=endpoint, p256dh="k", auth="a")
    with db.read() as session:
        found = push_endpoints(session, [5, 6, 7, 5])
    assert {u: [e for _i, e in subs] for u, subs in found.items()} == {
        5: ["https://push.example/a", "https://push.example/b"], 6: ["https://push.example/c"]}


# ------------------------------------------------------------------------------- batch dispatch

class SlowAdapter:
    """Records sends from several threads at once; each send takes ``delay`` seconds."""

    name = "slow"

    def __init__(self, delay: float = 0.01, fail: dict[str, Exception] | None = None) -> None:
        self.delay = delay
        self.fail = fail or {}
        self.sent: list[OutgoingMessage] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def send(self, msg: OutgoingMessage) -> SendResult:
        time.sleep(self.delay)
        with self.lock:
            self.threads.add(threading.get_ident())
            if msg.recipient in self.fail:
                raise self.fail[msg.recipient]
            self.sent.append(msg)
        return SendResult(provider_ref=f"ref-{msg.id}")


def _queue(db: Database, count: int, purpose: str = "alerts") -> list[int]:
    with db.transaction() as session:
        ids = enqueue_many(session, [_sms(n, purpose=purpose) for n in range(count)])
    return sorted(ids.values())


def test_a_batch_is_sent_concurrently_and_followed_by_one_sent_event(db: Database, events: list[Event]) -> None:
    settings = make_settings(notify_send_threads=8, rate_limit_sms_per_minute=10_000)
    ids = _queue(db, 120)
    adapter = SlowAdapter(delay=0.02)
    started = time.perf_counter()
    assert dispatch_due(db, {Channel.SMS: adapter}, settings, batch=120) == 120
    assert time.perf_counter() - started < 120 * 0.02 * 0.8  # one after the other takes 2.4 s
    assert len(adapter.threads) > 1
    assert sorted(m.id for m in adapter.sent) == ids
    rows = outbox(db)
    assert {r.status for r in rows} == {MessageStatus.SENT}
    assert all(r.provider == "slow" and r.provider_ref == f"ref-{r.id}" and r.sent_at for r in rows)
    assert all(r.locked_until is None for r in rows)
    sent = [e for e in events if e.name == "notify.sent"]
    assert len(sent) == 1 and sent[0].payload["purpose"] == "alerts"
    assert sorted(sent[0].payload["message_ids"]) == ids


def test_a_batch_with_failures_retries_fails_and_sends_each_by_its_own_outcome(
        db: Database, events: list[Event]) -> None:
    settings = make_settings(notify_backoff_seconds=10, notify_max_attempts=3)
    ids = _queue(db, 5)
    adapter = SlowAdapter(delay=0, fail={"+84900000001": TransientError("busy"),
                                         "+84900000002": PermanentError("no such number")})
    t0 = utcnow()
    assert dispatch_due(db, {Channel.SMS: adapter}, settings, now=t0) == 5
    by_id = {r.id: r for r in outbox(db)}
    assert [by_id[i].status for i in ids] == [MessageStatus.SENT, MessageStatus.QUEUED, MessageStatus.FAILED,
                                             MessageStatus.SENT, MessageStatus.SENT]
    assert by_id[ids[1]].next_attempt_at == t0 + timedelta(seconds=10)
    assert "busy" in (by_id[ids[1]].last_error or "") and "no such number" in (by_id[ids[2]].last_error or "")
    assert [e.payload["message_id"] for e in events if e.name == "notify.failed"] == [ids[2]]
    assert sorted(next(e for e in events if e.name == "notify.sent").payload["message_ids"]) == [
        ids[0], ids[3], ids[4]]


def test_results_of_a_stale_claim_are_ignored(db: Database) -> None:
    """Worker A claims a batch and stalls past its lease; worker B takes the messages again and
    sends them. A's late results change nothing, whether they say sent or failed."""
    settings = make_settings(job_lease_seconds=30)
    ids = _queue(db, 4)
    stale = claim(db, Channel.SMS, settings, batch=10)
    later = utcnow() + timedelta(seconds=31)
    b = SlowAdapter(delay=0)
    assert dispatch_due(db, {Channel.SMS: b}, settings, now=later) == 4
    assert [m.attempt for m in b.sent] == [2, 2, 2, 2]
    outcomes = [Outcome(stale[0], SendResult("late-ref")), Outcome(stale[1], error=PermanentError("late")),
                *(Outcome(m, SendResult("late")) for m in stale[2:])]
    assert record_results(db, outcomes, settings, provider="a") == dict.fromkeys(ids)
    rows = outbox(db)
    assert {r.status for r in rows} == {MessageStatus.SENT}
    assert {r.provider for r in rows} == {"slow"} and not any(r.provider_ref == "late-ref" for r in rows)


def test_receipts_before_the_batch_result_are_kept(db: Database, events: list[Event]) -> None:
    """A fast gateway reports before the worker writes the batch down: delivered stays
    delivered; a failure report stays failed; the send is noted on both."""
    settings = make_settings()
    ids = _queue(db, 3)
    claimed = claim(db, Channel.SMS, settings, batch=10)
    assert mark_delivery(db, None, True, message_id=ids[0]) == MessageStatus.DELIVERED
    assert mark_delivery(db, None, False, "rejected by the network", message_id=ids[1]) == MessageStatus.FAILED
    statuses = record_results(db, [Outcome(m, SendResult(f"gw-{m.id}")) for m in claimed], settings,
                              provider="kannel")
    assert statuses == {ids[0]: MessageStatus.DELIVERED, ids[1]: MessageStatus.FAILED,
                        ids[2]: MessageStatus.SENT}
    rows = {r.id: r for r in outbox(db)}
    assert all(rows[i].provider == "kannel" and rows[i].provider_ref == f"gw-{i}" and rows[i].sent_at
               and rows[i].locked_until is None for i in ids)
    # Only the message that was still in flight counts as newly sent for the modules.
    assert [e.payload["message_ids"] for e in events if e.name == "notify.sent"] == [[ids[2]]]
    # A late delivered report after the result still wins; a repeat is harmless.
    assert mark_delivery(db, f"gw-{ids[2]}", True) == MessageStatus.DELIVERED
    assert mark_delivery(db, f"gw-{ids[2]}", False, "late") == MessageStatus.DELIVERED


def test_the_rate_limit_holds_across_two_workers_sending_at_once(db: Database) -> None:
    """Two workers dispatch concurrently, each with its own thread pool: together they never
    exceed the channel's budget for the minute."""
    settings = make_settings(rate_limit_sms_per_minute=150, notify_send_threads=4)
    _queue(db, 400)
    adapters = [SlowAdapter(delay=0.005), SlowAdapter(delay=0.005)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(adapter: SlowAdapter) -> None:
        try:
            barrier.wait(10)
            for _ in range(6):
                dispatch_due(db, {Channel.SMS: adapter}, settings, batch=40)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in adapters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    sent = [m.id for a in adapters for m in a.sent]
    assert len(sent) == len(set(sent)) == 150
    assert all(a.sent for a in adapters)  # both took part
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == MessageStatus.QUEUED)) == 250
    later = utcnow() + timedelta(seconds=61)
    assert dispatch_due(db, {Channel.SMS: adapters[0]}, settings, now=later, batch=500) == 150


def test_a_fake_adapter_batch_keeps_working_one_at_a_time(db: Database) -> None:
    """With one thread the batch is sent in order, on the caller's thread."""
    settings = make_settings(notify_send_threads=1)
    _queue(db, 3)
    fake = FakeAdapter(Channel.SMS)
    assert dispatch_due(db, {Channel.SMS: fake}, settings) == 3
    assert [m.recipient for m in fake.sent] == ["+84900000000", "+84900000001", "+84900000002"]


# ------------------------------------------------------------------------------- gateway client

class ClosingHandler(BaseHTTPRequestHandler):
    """Answers like Kannel, keeps the connection open, then closes it after each answer without
    saying so (as a gateway closing idle keep-alive connections does)."""

    protocol_version = "HTTP/1.1"
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        ClosingHandler.requests.append(self.path)
        body = b"0: Accepted for delivery"
        self.send_response(202)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


def test_the_gateway_client_reconnects_once_when_the_server_closed_the_connection() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ClosingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/sendsms"
        adapter = KannelAdapter(make_settings(kannel_sendsms_url=url), GatewayClient(timeout=5))
        for n in range(3):
            msg = OutgoingMessage(id=n + 1, channel=Channel.SMS, recipient="+84900000001", body="Xin chào")
            assert adapter.send(msg).provider_ref == str(n + 1)
        assert len(ClosingHandler.requests) == 3  # each sent once, none twice
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(TransientError, match="unreachable"):
        adapter.send(OutgoingMessage(id=9, channel=Channel.SMS, recipient="+84900000001", body="x"))
