"""The outbox: idempotent enqueue, claims, retries, rate limit, leases, delivery reports."""

from __future__ import annotations

import threading
from datetime import timedelta

from notify_helpers import make_settings, message, outbox
from sqlalchemy import func, select

from parvis.kernel.db import Database, utcnow
from parvis.kernel.events import Event
from parvis.kernel.jobs import JobRegistry, Worker
from parvis.kernel.notify import (
    Channel,
    FakeAdapter,
    MessageStatus,
    PermanentError,
    TransientError,
    build_adapters,
    dispatch_due,
    enqueue,
    mark_delivery,
    register,
    withdraw,
)
from parvis.kernel.notify.models import OutboxMessage
from parvis.kernel.notify.outbox import claim, record_result


def _enqueue(db: Database, **kw: object) -> int:
    params: dict = {"channel": Channel.SMS, "to": "+84901234567", "body": "Xin chào"}
    params.update(kw)
    with db.transaction() as session:
        return enqueue(session, **params).id


def test_same_key_twice_is_one_message_and_one_send(db: Database) -> None:
    settings = make_settings()
    first = _enqueue(db, key="report-42-resolved", body="Báo cáo đã xử lý")
    second = _enqueue(db, key="report-42-resolved", body="something else")
    assert first == second
    fake = FakeAdapter(Channel.SMS)
    assert dispatch_due(db, {Channel.SMS: fake}, settings) == 1
    # Enqueued again after it was sent: still the same message, nothing more to send.
    assert _enqueue(db, key="report-42-resolved") == first
    assert dispatch_due(db, {Channel.SMS: fake}, settings) == 0
    assert fake.bodies() == ["Báo cáo đã xử lý"]
    rows = outbox(db)
    assert len(rows) == 1
    assert rows[0].status == MessageStatus.SENT
    assert rows[0].provider == "fake"
    assert rows[0].sent_at is not None


def test_without_key_each_enqueue_is_a_message(db: Database) -> None:
    _enqueue(db)
    _enqueue(db)
    assert len(outbox(db)) == 2


def test_concurrent_same_key_keeps_callers_transaction(db: Database) -> None:
    """Two transactions race on one key: one row, and the loser's transaction still commits."""
    inserted = threading.Event()
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with db.transaction() as session:
                results["first"] = enqueue(session, channel=Channel.EMAIL, to="a@example.org",
                                           body="one", key="race").id
                inserted.set()
                threading.Event().wait(0.5)  # hold the uncommitted row a while
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            inserted.set()

    def second() -> None:
        inserted.wait(5)
        try:
            with db.transaction() as session:
                results["second"] = enqueue(session, channel=Channel.EMAIL, to="a@example.org",
                                            body="two", key="race").id
                results["other"] = enqueue(session, channel=Channel.EMAIL, to="b@example.org",
                                           body="other", key="after-race").id
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors, errors
    assert results["first"] == results["second"]
    keys = sorted(m.idempotency_key for m in outbox(db))
    assert keys == ["after-race", "race"]
    assert message(db, results["first"]).body == "one"


def test_transient_errors_retry_with_backoff_then_fail(db: Database) -> None:
    settings = make_settings(notify_backoff_seconds=10, notify_max_attempts=3)
    msg_id = _enqueue(db)
    fake = FakeAdapter(Channel.SMS, failures=[TransientError("gateway busy")] * 3)
    adapters = {Channel.SMS: fake}
    t0 = utcnow()

    assert dispatch_due(db, adapters, settings, now=t0) == 1
    row = message(db, msg_id)
    assert (row.status, row.attempts) == (MessageStatus.QUEUED, 1)
    assert row.next_attempt_at == t0 + timedelta(seconds=10)  # 10 * 2**0
    assert "gateway busy" in (row.last_error or "")

    assert dispatch_due(db, adapters, settings, now=t0 + timedelta(seconds=9)) == 0  # not due
    t1 = t0 + timedelta(seconds=11)
    assert dispatch_due(db, adapters, settings, now=t1) == 1
    row = message(db, msg_id)
    assert (row.status, row.attempts) == (MessageStatus.QUEUED, 2)
    assert row.next_attempt_at == t1 + timedelta(seconds=20)  # 10 * 2**1

    t2 = t1 + timedelta(seconds=21)
    assert dispatch_due(db, adapters, settings, now=t2) == 1
    row = message(db, msg_id)
    assert (row.status, row.attempts) == (MessageStatus.FAILED, 3)
    assert row.failed_at == t2
    assert dispatch_due(db, adapters, settings, now=t2 + timedelta(days=1)) == 0
    assert fake.calls == 3 and fake.sent == []


def test_permanent_error_fails_at_once(db: Database, events: list[Event]) -> None:
    settings = make_settings()
    msg_id = _enqueue(db, user_id=5, purpose="reports.resolved")
    fake = FakeAdapter(Channel.SMS, failures=[PermanentError("invalid number")])
    assert dispatch_due(db, {Channel.SMS: fake}, settings) == 1
    row = message(db, msg_id)
    assert (row.status, row.attempts) == (MessageStatus.FAILED, 1)
    assert "invalid number" in (row.last_error or "")
    assert dispatch_due(db, {Channel.SMS: fake}, settings, now=utcnow() + timedelta(hours=1)) == 0
    failed = [e for e in events if e.name == "notify.failed"]
    assert [(e.payload["message_id"], e.payload["user_id"]) for e in failed] == [(msg_id, 5)]


def test_rate_limit_holds_across_dispatch_calls_and_workers(db: Database) -> None:
    settings = make_settings(rate_limit_sms_per_minute=3)
    for i in range(5):
        _enqueue(db, body=f"message {i}")
    _enqueue(db, channel=Channel.EMAIL, to="x@example.org", body="e-mail is not limited")
    worker_a = {Channel.SMS: FakeAdapter(Channel.SMS), Channel.EMAIL: FakeAdapter(Channel.EMAIL)}
    worker_b = {Channel.SMS: FakeAdapter(Channel.SMS)}
    assert dispatch_due(db, worker_a, settings) == 4  # 3 SMS + 1 e-mail
    assert dispatch_due(db, worker_b, settings) == 0  # this minute's SMS budget is spent
    statuses = [m.status for m in outbox(db) if m.channel == Channel.SMS]
    assert statuses.count(MessageStatus.SENT) == 3
    assert statuses.count(MessageStatus.QUEUED) == 2
    # A minute later the budget is back.
    assert dispatch_due(db, worker_b, settings, now=utcnow() + timedelta(seconds=61)) == 2
    assert len(worker_a[Channel.SMS].sent) + len(worker_b[Channel.SMS].sent) == 5


def test_dead_worker_lease_expires_and_another_worker_sends(db: Database) -> None:
    settings = make_settings(job_lease_seconds=30)
    msg_id = _enqueue(db, body="Cúp nước ngày mai")
    claimed = claim(db, Channel.SMS, settings)  # worker A claims, then dies
    assert [m.id for m in claimed] == [msg_id]
    assert message(db, msg_id).status == MessageStatus.SENDING

    fake = FakeAdapter(Channel.SMS)
    assert dispatch_due(db, {Channel.SMS: fake}, settings) == 0  # lease still held
    later = utcnow() + timedelta(seconds=31)
    assert dispatch_due(db, {Channel.SMS: fake}, settings, now=later) == 1
    row = message(db, msg_id)
    assert (row.status, row.attempts) == (MessageStatus.SENT, 2)
    assert fake.bodies() == ["Cúp nước ngày mai"]
    # Worker A comes back with a stale result: ignored.
    assert record_result(db, claimed[0], settings, provider="fake",
                         error=TransientError("late")) is None
    assert message(db, msg_id).status == MessageStatus.SENT


def _sent(db: Database) -> tuple[int, str]:
    msg_id = _enqueue(db)
    dispatch_due(db, {Channel.SMS: FakeAdapter(Channel.SMS)}, make_settings())
    ref = message(db, msg_id).provider_ref
    assert ref
    return msg_id, ref


def test_delivered_is_never_downgraded_and_repeats_are_harmless(
    db: Database, events: list[Event]
) -> None:
    msg_id, ref = _sent(db)
    assert mark_delivery(db, ref, None, "buffered") == MessageStatus.SENT
    assert mark_delivery(db, ref, True) == MessageStatus.DELIVERED
    delivered_at = message(db, msg_id).delivered_at
    assert delivered_at is not None
    assert mark_delivery(db, ref, True) == MessageStatus.DELIVERED  # repeated report
    assert mark_delivery(db, ref, None, "late smsc submit") == MessageStatus.DELIVERED
    assert mark_delivery(db, ref, False, "late failure") == MessageStatus.DELIVERED
    row = message(db, msg_id)
    assert (row.status, row.delivered_at, row.last_error) == (
        MessageStatus.DELIVERED, delivered_at, None)
    assert [e.name for e in events].count("notify.delivered") == 1
    assert mark_delivery(db, "no-such-ref", True) is None


def test_failure_report_then_delivered_wins(db: Database) -> None:
    msg_id, ref = _sent(db)
    assert mark_delivery(db, ref, False, "smsc reject") == MessageStatus.FAILED
    assert mark_delivery(db, ref, False, "smsc reject") == MessageStatus.FAILED
    assert "smsc reject" in (message(db, msg_id).last_error or "")
    assert mark_delivery(db, None, True, message_id=msg_id) == MessageStatus.DELIVERED


def test_report_before_the_send_is_recorded(db: Database) -> None:
    """A fast gateway reports delivery before the worker writes down the send."""
    settings = make_settings()
    msg_id = _enqueue(db)
    [claimed] = claim(db, Channel.SMS, settings)
    assert mark_delivery(db, str(msg_id), True, message_id=msg_id) == MessageStatus.DELIVERED
    fake = FakeAdapter(Channel.SMS)
    result = fake.send(claimed)
    assert record_result(db, claimed, settings, provider="kannel", result=result) == "delivered"
    row = message(db, msg_id)
    assert (row.status, row.provider, row.locked_until) == (MessageStatus.DELIVERED, "kannel",
                                                           None)
    assert row.sent_at is not None and row.provider_ref == result.provider_ref


def test_a_gateway_receipt_keeps_a_dead_workers_message_from_being_sent_twice(
    db: Database, events: list[Event]
) -> None:
    """Kannel reports "submitted to the SMSC" within milliseconds of taking a message: when the
    worker dies before writing its send down, that receipt says the gateway has it, and the
    message is not claimed again once the lease runs out."""
    settings = make_settings(job_lease_seconds=30)
    msg_id = _enqueue(db, body="Lũ tối nay")
    other = _enqueue(db, body="Cúp nước ngày mai", to="+84907654321")
    claimed = claim(db, Channel.SMS, settings)  # worker A sends both, then dies before recording
    assert sorted(m.id for m in claimed) == [msg_id, other]
    assert mark_delivery(db, str(msg_id), None, "smsc submit", message_id=msg_id) == MessageStatus.SENT
    assert [e.payload["message_ids"] for e in events if e.name == "notify.sent"] == [[msg_id]]
    fake = FakeAdapter(Channel.SMS)
    later = utcnow() + timedelta(seconds=31)
    assert dispatch_due(db, {Channel.SMS: fake}, settings, now=later) == 1
    assert fake.bodies() == ["Cúp nước ngày mai"]  # only the one the gateway never acknowledged
    # Worker A's own result, late: a timeout it saw does not undo what the gateway said.
    a_result = next(m for m in claimed if m.id == msg_id)
    record_result(db, a_result, settings, provider="kannel", error=TransientError("read timed out"))
    assert message(db, msg_id).status == MessageStatus.SENT
    assert mark_delivery(db, str(msg_id), True, message_id=msg_id) == MessageStatus.DELIVERED


def test_worker_tick_sends_with_the_configured_backends(db: Database) -> None:
    registry = JobRegistry()
    tick = register(registry, make_settings())
    assert registry.ticks == [tick]
    _enqueue(db, body="via the worker")
    _enqueue(db, channel=Channel.PUSH, to="https://push.example.org/x", body="push")
    assert Worker(db, registry).run_once() == 2
    adapters = tick.adapters(db)
    assert adapters[Channel.SMS].bodies() == ["via the worker"]  # type: ignore[attr-defined]
    with db.read() as session:
        sent = session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status == MessageStatus.SENT))
    assert sent == 2


def test_build_adapters_follows_settings(db: Database) -> None:
    fakes = build_adapters(make_settings())
    assert {c: a.name for c, a in fakes.items()} == {
        Channel.SMS: "fake", Channel.EMAIL: "fake", Channel.PUSH: "fake"}
    real = build_adapters(make_settings(
        notify_sms_backend="kannel", notify_email_backend="smtp", notify_push_backend="webpush"),
        db)
    assert {c: a.name for c, a in real.items()} == {
        Channel.SMS: "kannel", Channel.EMAIL: "smtp", Channel.PUSH: "webpush"}
    webhook = build_adapters(make_settings(notify_sms_backend="webhook",
                                           sms_webhook_url="http://127.0.0.1:9/sms"))
    assert webhook[Channel.SMS].name == "webhook"


def test_withdrawn_messages_are_never_sent_and_others_are_untouched(db: Database) -> None:
    """A cancelled cause (a cancelled alert) withdraws its queued messages, in the caller's
    transaction; a message already sent, another purpose or another key prefix stay as they are."""
    settings = make_settings()
    sent = _enqueue(db, key="alert:7:p1:sms", purpose="alerts")
    fake = FakeAdapter(Channel.SMS)
    assert dispatch_due(db, {Channel.SMS: fake}, settings) == 1
    queued = [_enqueue(db, key=f"alert:7:p{n}:sms", purpose="alerts") for n in (2, 3)]
    other_alert = _enqueue(db, key="alert:70:p2:sms", purpose="alerts")  # the prefix is "alert:7:"
    other_purpose = _enqueue(db, key="alert:7:p4:sms", purpose="reports.update")
    with db.transaction() as session:
        withdrawn = withdraw(session, purpose="alerts", key_prefix="alert:7:", reason="alert cancelled")
    assert sorted(withdrawn) == [("alert:7:p2:sms", "sms"), ("alert:7:p3:sms", "sms")]
    assert [message(db, i).status for i in queued] == [MessageStatus.FAILED] * 2
    assert "alert cancelled" in (message(db, queued[0]).last_error or "")
    assert message(db, sent).status == MessageStatus.SENT
    assert message(db, other_alert).status == message(db, other_purpose).status == MessageStatus.QUEUED
    assert dispatch_due(db, {Channel.SMS: fake}, settings) == 2  # only the two left untouched
    assert len(fake.sent) == 3
