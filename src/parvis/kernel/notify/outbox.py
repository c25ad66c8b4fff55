"""The outbox: messages are written with the change that causes them, and sent afterwards.

``enqueue`` (one message) and ``enqueue_many`` (a city-scale alert: multi-row inserts) add
messages inside the caller's transaction, so a message exists if and only if the change that
wanted it committed; the idempotency key makes a repeated enqueue a no-op. ``dispatch_due``
(a worker tick) works in batches: per channel it claims due messages under a lease in one
transaction, sends them concurrently outside any transaction (a small thread pool per
channel, keep-alive connections), then records every result in one transaction. Several
workers may run at once: on PostgreSQL claims use ``FOR UPDATE SKIP LOCKED`` and a per-channel
advisory lock that makes the per-minute rate limit hold across workers; on SQLite claims run
inside the ``BEGIN IMMEDIATE`` write transaction, which serialises them.
Delivery is at least once: a worker that dies mid-send leaves a lease that runs out, and
another worker sends the message again (see docs/alerts.md for what that means with Kannel).
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parvis.kernel.bulk import insert_rows, stored
from parvis.kernel.db import Database, utcnow
from parvis.kernel.events import emit
from parvis.kernel.notify.adapters import (
    Adapter,
    OutgoingMessage,
    PermanentError,
    SendResult,
)
from parvis.kernel.notify.models import Channel, MessageStatus, OutboxMessage, PushSubscription
from parvis.settings import Settings

log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(seconds=60)
MAX_BACKOFF = timedelta(days=1)
DEFAULT_BATCH = 100
LOOKUP_PAGE = 5000  # keys per IN (...) lookup
_CHANNELS = frozenset(c.value for c in Channel)
_TABLE = OutboxMessage.__table__


def enqueue(
    session: Session,
    *,
    channel: Channel | str,
    to: str,
    body: str,
    subject: str = "",
    user_id: int | None = None,
    key: str | None = None,
    purpose: str = "",
    data: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Queue one message in the caller's transaction; the same ``key`` never sends twice.

    A concurrent transaction inserting the same key makes our insert fail on the unique
    index; that failure is confined to a SAVEPOINT, so the caller's transaction goes on and
    gets the other transaction's row.
    """
    channel = Channel(channel)
    if not to:
        raise ValueError("a message needs a recipient")
    key = key or uuid.uuid4().hex
    existing = _by_key(session, key)
    if existing is not None:
        return existing
    message = OutboxMessage(
        idempotency_key=key,
        channel=str(channel),
        user_id=user_id,
        recipient=to,
        subject=subject,
        body=body,
        data=dict(data or {}),
        purpose=purpose,
        status=str(MessageStatus.QUEUED),
        attempts=0,
        next_attempt_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        existing = _by_key(session, key)
        if existing is None:  # the conflict was about something else
            raise
        return existing
    return message


def withdraw(session: Session, *, purpose: str, key_prefix: str, reason: str) -> list[tuple[str, str]]:
    """Withdraw the queued messages of ``purpose`` whose idempotency key starts with
    ``key_prefix``, in the caller's transaction: they become failed with ``reason`` and are never
    sent. A message a worker has already claimed is left to it (on PostgreSQL, rows a worker has
    locked are skipped). Returns the ``(key, channel)`` of each message withdrawn."""
    query = select(OutboxMessage.id, OutboxMessage.idempotency_key, OutboxMessage.channel).where(
        OutboxMessage.status == MessageStatus.QUEUED, OutboxMessage.purpose == purpose,
        OutboxMessage.idempotency_key.startswith(key_prefix, autoescape=True))
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if rows:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows])).values(
            status=MessageStatus.FAILED, failed_at=utcnow(), last_error=reason[:500]))
    return [(r.idempotency_key, r.channel) for r in rows]


class Status(NamedTuple):
    status: str
    error: str


def statuses(session: Session, message_ids: Iterable[int]) -> dict[int, Status]:
    """The status (and last error) of the given messages that exist, by id: what a module asks to
    bring its own records up to date when the news of a send or a delivery report did not reach it
    (events are in-process: a worker killed between its commit and the handlers loses them)."""
    ids = sorted(set(message_ids))
    out: dict[int, Status] = {}
    for start in range(0, len(ids), LOOKUP_PAGE):
        rows = session.execute(select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.last_error)
                               .where(OutboxMessage.id.in_(ids[start:start + LOOKUP_PAGE])))
        out.update((i, Status(status, error or "")) for i, status, error in rows)
    return out


def _by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))


class NewMessage(NamedTuple):
    """One message for ``enqueue_many`` (a tuple: a million of them stay cheap)."""

    channel: str
    to: str
    body: str
    key: str
    subject: str = ""
    user_id: int | None = None
    purpose: str = ""
    data: dict[str, Any] | None = None


_BULK_COLUMNS = ("idempotency_key", "channel", "user_id", "recipient", "subject", "body", "data", "purpose")


def enqueue_many(session: Session, messages: Iterable[NewMessage]) -> dict[str, int]:
    """Queue many messages in the caller's transaction; returns each key's message id.

    Multi-row ``INSERT ... ON CONFLICT (idempotency_key) DO NOTHING`` on both engines
    (``kernel.bulk``): a key already queued (by an earlier run, or by a concurrent transaction,
    which this insert waits for on PostgreSQL) is skipped and its existing message's id is
    returned, so the same key never sends twice. A key given twice in ``messages`` is queued
    once (the first wins). Messages sharing one ``data`` object have it serialised once.
    """
    data_column = _TABLE.c.data
    serialised: dict[int, tuple[Any, Any]] = {}  # id(data) -> (data kept alive, its JSON)
    rows: dict[str, tuple[Any, ...]] = {}
    for m in messages:
        if m.channel not in _CHANNELS:
            raise ValueError(f"unknown channel {m.channel!r}")
        if not m.to:
            raise ValueError("a message needs a recipient")
        if not m.key:
            raise ValueError("enqueue_many needs an idempotency key per message")
        if m.key in rows:
            continue
        data = m.data or {}
        cached = serialised.get(id(data))
        if cached is None:
            cached = serialised[id(data)] = (data, stored(session, data_column, data))
        rows[m.key] = (m.key, m.channel, m.user_id, m.to, m.subject, m.body, cached[1], m.purpose)
    if not rows:
        return {}
    now = stored(session, _TABLE.c.created_at, utcnow())
    constants = {"status": str(MessageStatus.QUEUED), "attempts": 0, "next_attempt_at": now, "provider": "",
                 "created_at": now}
    ids: dict[str, int] = {key: id_ for id_, key in insert_rows(
        session, _TABLE, _BULK_COLUMNS, list(rows.values()), constants=constants,
        skip_conflicts_on=["idempotency_key"], returning=["id", "idempotency_key"])}
    missing = [key for key in rows if key not in ids]  # queued before: read their ids
    for start in range(0, len(missing), LOOKUP_PAGE):
        ids.update((key, id_) for key, id_ in session.execute(select(
            OutboxMessage.idempotency_key, OutboxMessage.id).where(
            OutboxMessage.idempotency_key.in_(missing[start:start + LOOKUP_PAGE]))))
    if len(ids) < len(rows):  # pragma: no cover - a conflict on something other than the key
        raise RuntimeError("some messages could be neither queued nor found by their key")
    return ids


def push_endpoints(session: Session, user_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """Each person's web push subscriptions as ``(subscription id, endpoint)``, oldest first:
    what ``enqueue_many`` needs to queue push messages for many people at once (one message
    per subscription, keyed ``<key>:<subscription id>`` like ``enqueue_push``)."""
    wanted = sorted(set(user_ids))
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for start in range(0, len(wanted), LOOKUP_PAGE):
        for user_id, sub_id, endpoint in session.execute(
                select(PushSubscription.user_id, PushSubscription.id, PushSubscription.endpoint)
                .where(PushSubscription.user_id.in_(wanted[start:start + LOOKUP_PAGE]))
                .order_by(PushSubscription.id)):
            out[user_id].append((sub_id, endpoint))
    return dict(out)


def backoff_delay(settings: Settings, attempts: int) -> timedelta:
    delay = timedelta(seconds=settings.notify_backoff_seconds * 2 ** max(0, attempts - 1))
    return min(delay, MAX_BACKOFF)


def rate_limit(settings: Settings, channel: Channel) -> int:
    return int(getattr(settings, f"rate_limit_{channel.value}_per_minute"))


def _snapshot(row: Any, attempt: int) -> OutgoingMessage:
    return OutgoingMessage(
        id=row.id,
        channel=Channel(row.channel),
        recipient=row.recipient,
        body=row.body,
        subject=row.subject,
        data=dict(row.data or {}),
        attempt=attempt,
        purpose=row.purpose,
    )


_C = _TABLE.c  # Core columns: the hot paths below skip the ORM


def in_rate_window(session: Session, channel: Channel, now: datetime) -> int:
    """Messages of ``channel`` that count against this minute's budget: sent in the last
    minute, or being sent under a live lease. Two counts, each on its own index (the sets are
    disjoint: a message being sent has no ``sent_at`` yet), in one statement: on PostgreSQL
    each statement sees its own snapshot, and a batch recorded between two statements would be
    counted in neither."""
    sent = select(func.count()).select_from(_TABLE).where(
        _C.channel == channel.value, _C.sent_at >= now - RATE_WINDOW).scalar_subquery()
    sending = select(func.count()).select_from(_TABLE).where(
        _C.status == MessageStatus.SENDING, _C.channel == channel.value,
        _C.locked_until >= now).scalar_subquery()
    return session.scalar(select(sent + sending)) or 0


_CLAIM_COLUMNS = (_C.id, _C.channel, _C.recipient, _C.body, _C.subject, _C.data, _C.attempts, _C.purpose)


def claim(
    db: Database,
    channel: Channel,
    settings: Settings,
    *,
    now: datetime | None = None,
    batch: int = DEFAULT_BATCH,
) -> list[OutgoingMessage]:
    """Take due messages of one channel, within what the rate limit leaves this minute.

    Claimed messages are marked ``sending`` with a lease of ``job_lease_seconds`` and their
    attempt counter goes up; the attempt number is the fencing token of this claim. Messages
    whose lease ran out (their worker died) come first, then queued ones in the order they
    became due.
    """
    now = now or utcnow()
    lease = timedelta(seconds=settings.job_lease_seconds)
    with db.transaction() as session:
        if not db.is_sqlite:
            # Serialises claims of one channel across workers, so two workers never both
            # spend the same remaining budget. Released at commit.
            lock_id = zlib.crc32(f"parvis.notify.rate.{channel.value}".encode()) & 0x7FFFFFFF
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})
        room = min(batch, rate_limit(settings, channel) - in_rate_window(session, channel, now))
        if room <= 0:
            return []
        # No ORDER BY for leases that ran out (any order will do): with one, SQLite's planner may
        # walk the whole table in id order when its statistics say every message is queued.
        expired = (select(*_CLAIM_COLUMNS).where(
            _C.status == MessageStatus.SENDING, _C.channel == channel.value, _C.locked_until < now)
            .limit(room))
        queued = (select(*_CLAIM_COLUMNS).where(
            _C.status == MessageStatus.QUEUED, _C.channel == channel.value, _C.next_attempt_at <= now)
            .order_by(_C.next_attempt_at, _C.id))
        if not db.is_sqlite:
            expired = expired.with_for_update(skip_locked=True)
            queued = queued.with_for_update(skip_locked=True)
        rows = sorted(session.execute(expired), key=lambda row: row.id)
        if len(rows) < room:
            rows += session.execute(queued.limit(room - len(rows)))
        if not rows:
            return []
        session.execute(update(_TABLE).where(_C.id.in_([row.id for row in rows])).values(
            status=MessageStatus.SENDING, locked_until=now + lease, attempts=_C.attempts + 1))
        return [_snapshot(row, row.attempts + 1) for row in rows]


class Outcome(NamedTuple):
    """What happened to one claimed message: a result, or the error its send raised."""

    message: OutgoingMessage
    result: SendResult | None = None
    error: Exception | None = None


_RECORD_COLUMNS = (_C.id, _C.attempts, _C.status, _C.sent_at, _C.provider_ref, _C.user_id, _C.channel,
                   _C.purpose)


def _new_values(row: Any, outcome: Outcome, settings: Settings, provider: str,
                now: datetime) -> dict[str, Any]:
    """The columns one result changes (the rules of ``record_results``)."""
    values: dict[str, Any] = {"locked_until": None}
    if outcome.error is None:
        result = outcome.result
        values.update(provider=provider, sent_at=row.sent_at or now,
                      provider_ref=(result.provider_ref if result else None) or row.provider_ref)
        if row.status == MessageStatus.SENDING:
            values.update(status=str(MessageStatus.SENT), last_error=None)
        return values
    if row.status != MessageStatus.SENDING:  # a delivery report settled it meanwhile
        return values
    error = outcome.error
    values.update(provider=provider, last_error=f"{type(error).__name__}: {error}"[:2000])
    if isinstance(error, PermanentError) or row.attempts >= settings.notify_max_attempts:
        values.update(status=str(MessageStatus.FAILED), failed_at=now)
    else:
        values.update(status=str(MessageStatus.QUEUED),
                      next_attempt_at=now + backoff_delay(settings, row.attempts))
    return values


def record_results(
    db: Database,
    outcomes: Sequence[Outcome],
    settings: Settings,
    *,
    provider: str,
    now: datetime | None = None,
) -> dict[int, str | None]:
    """Write down what happened to a batch of claimed messages, in one transaction; returns
    each message's new status (``None`` for a result that was ignored).

    The batch's rows are read (and locked, on PostgreSQL, in id order so that two workers never
    deadlock), the rules applied in Python, and the changes written with one ``executemany`` per
    set of changed columns. A result from a claim that is no longer current (its lease ran out
    and another worker took the message: the attempt number differs) is ignored. A delivery
    report that arrived before this result (fast gateways do that) is kept: ``delivered`` is
    never undone, and a message an intermediate report showed the gateway holds stays ``sent``
    even if this worker's request timed out. Emits ``notify.failed`` per message that failed for good and one
    ``notify.sent`` per purpose with the ids of the messages the gateway accepted
    (``message_ids``), so that modules follow a million messages with a few events.
    """
    now = now or utcnow()
    out: dict[int, str | None] = {o.message.id: None for o in outcomes}
    if not outcomes:
        return out
    with db.transaction() as session:
        query = select(*_RECORD_COLUMNS).where(_C.id.in_(sorted(out)))
        if not db.is_sqlite:
            query = query.order_by(_C.id).with_for_update()
        current = {row.id: row for row in session.execute(query)}
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        sent: dict[str, list[int]] = defaultdict(list)
        for outcome in outcomes:
            row = current.get(outcome.message.id)
            if row is None or row.attempts != outcome.message.attempt or row.status not in (
                    MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED):
                continue
            values = _new_values(row, outcome, settings, provider, now)
            status = values.get("status", row.status)
            out[row.id] = status
            if status == MessageStatus.SENT:
                sent[row.purpose].append(row.id)
            elif status == MessageStatus.FAILED and row.status == MessageStatus.SENDING:
                emit(session, "notify.failed", message_id=row.id, user_id=row.user_id,
                     channel=row.channel, purpose=row.purpose, error=values["last_error"])
            groups[tuple(sorted(values))].append({"b_id": row.id, **{f"v_{c}": v for c, v in values.items()}})
        for columns, params in groups.items():
            session.execute(update(_TABLE).where(_C.id == bindparam("b_id"))
                            .values({c: bindparam(f"v_{c}") for c in columns}), params)
        for purpose, ids in sent.items():
            emit(session, "notify.sent", purpose=purpose, message_ids=ids)
    return out


def record_result(
    db: Database,
    message: OutgoingMessage,
    settings: Settings,
    *,
    provider: str,
    result: SendResult | None = None,
    error: Exception | None = None,
    now: datetime | None = None,
) -> str | None:
    """``record_results`` for one message; returns its new status or ``None`` if ignored."""
    return record_results(db, [Outcome(message, result, error)], settings, provider=provider,
                          now=now)[message.id]


def _send_one(adapter: Adapter, message: OutgoingMessage) -> Outcome:
    try:
        return Outcome(message, adapter.send(message))
    except Exception as exc:
        if not isinstance(exc, PermanentError):
            log.warning("notify %s #%s attempt %s failed: %s", message.channel, message.id,
                        message.attempt, exc)
        return Outcome(message, error=exc)


def send_batch(adapter: Adapter, messages: Sequence[OutgoingMessage],
               pool: Executor | None = None, *, threads: int = 1) -> list[Outcome]:
    """Send claimed messages through ``adapter``, several at once: on ``pool`` when given,
    else on a pool of ``threads`` made for this batch (sequentially with one thread)."""
    if len(messages) == 1 or (pool is None and threads <= 1):
        return [_send_one(adapter, m) for m in messages]
    if pool is not None:
        return list(pool.map(lambda m: _send_one(adapter, m), messages))
    with ThreadPoolExecutor(max_workers=min(threads, len(messages)),
                            thread_name_prefix="parvis-send") as own:
        return list(own.map(lambda m: _send_one(adapter, m), messages))


def dispatch_due(
    db: Database,
    adapters: Mapping[Channel, Adapter],
    settings: Settings,
    *,
    now: datetime | None = None,
    batch: int | None = None,
    pools: Mapping[Channel, Executor] | None = None,
) -> int:
    """One worker pass: per channel, claim a batch, send it concurrently, record the results.

    Returns how many messages were attempted (sent, retried or failed). ``now`` lets tests
    move the clock; without it the real time is used. ``batch`` defaults to
    ``notify_batch_size``; ``pools`` (one executor per channel, kept by the worker) send the
    batch, else a pool of ``notify_send_threads`` threads is made for it.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    size = batch or settings.notify_batch_size
    done = 0
    for channel, adapter in adapters.items():
        messages = claim(db, Channel(channel), settings, now=clock(), batch=size)
        if not messages:
            continue
        outcomes = send_batch(adapter, messages, (pools or {}).get(Channel(channel)),
                              threads=settings.notify_send_threads)
        record_results(db, outcomes, settings, provider=adapter.name, now=clock())
        done += len(messages)
    return done


def mark_delivery(
    db: Database,
    provider_ref: str | None,
    delivered: bool | None,
    reason: str = "",
    *,
    message_id: int | None = None,
) -> str | None:
    """Apply a delivery report; idempotent, safe with repeats and reports out of order.

    ``delivered``: True (handset confirmed), False (gateway says it cannot be delivered) or
    None (an intermediate report such as buffered or submitted: it changes nothing). The
    message is found by ``message_id`` when the gateway echoes our id, else by
    ``provider_ref``. Returns the message's status after the report, or None when unknown.
    Rules: ``delivered`` is final and wins over everything, even a failure recorded from an
    earlier report; a failure report only fails a message that is sending or sent.
    """
    if message_id is None and not provider_ref:
        return None
    now = utcnow()
    with db.transaction() as session:
        query = select(OutboxMessage)
        if message_id is not None:
            query = query.where(OutboxMessage.id == message_id)
        else:
            query = query.where(OutboxMessage.provider_ref == provider_ref)
        if not db.is_sqlite:
            query = query.with_for_update()
        row = session.scalars(query.order_by(OutboxMessage.id).limit(1)).first()
        if row is None:
            return None
        if delivered is None:
            if row.status == MessageStatus.SENDING:
                # The gateway has it (Kannel's "submitted to the SMSC" comes within milliseconds):
                # if the worker that sent it dies before writing its result down, the message
                # is not claimed and sent again when the lease runs out.
                row.status = str(MessageStatus.SENT)
                row.sent_at = row.sent_at or now
                row.locked_until = None
                emit(session, "notify.sent", purpose=row.purpose, message_ids=[row.id])
            return row.status
        if row.status == MessageStatus.DELIVERED:
            return row.status
        if delivered:
            row.status = str(MessageStatus.DELIVERED)
            row.delivered_at = now
            row.sent_at = row.sent_at or now
            row.failed_at = None
            row.last_error = None
            emit(session, "notify.delivered", message_id=row.id, user_id=row.user_id,
                 channel=row.channel, purpose=row.purpose)
            return row.status
        if row.status in (MessageStatus.SENDING, MessageStatus.SENT):
            row.status = str(MessageStatus.FAILED)
            row.failed_at = now
            row.last_error = f"delivery report: {reason or 'not delivered'}"[:2000]
            emit(session, "notify.failed", message_id=row.id, user_id=row.user_id,
                 channel=row.channel, purpose=row.purpose, error=row.last_error)
        return row.status
