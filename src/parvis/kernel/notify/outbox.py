"""The outbox: messages are written with the change that causes them, and sent afterwards.

``enqueue`` adds a message inside the caller's transaction, so a message exists if and only
if the change that wanted it committed. ``dispatch_due`` (a worker tick) claims due messages
under a lease, sends them outside any transaction, then records what happened. Several
workers may run at once: on PostgreSQL claims use ``FOR UPDATE SKIP LOCKED`` and a
per-channel advisory lock that makes the per-minute rate limit hold across workers; on
SQLite claims run inside the ``BEGIN IMMEDIATE`` write transaction, which serialises them.
Delivery is at least once: a worker that dies mid-send leaves a lease that runs out, and
another worker sends the message again.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parvis.kernel.db import Database, utcnow
from parvis.kernel.events import emit
from parvis.kernel.notify.adapters import (
    Adapter,
    OutgoingMessage,
    PermanentError,
    SendResult,
)
from parvis.kernel.notify.models import Channel, MessageStatus, OutboxMessage
from parvis.settings import Settings

log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(seconds=60)
MAX_BACKOFF = timedelta(days=1)
DEFAULT_BATCH = 100


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


def _by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))


def backoff_delay(settings: Settings, attempts: int) -> timedelta:
    delay = timedelta(seconds=settings.notify_backoff_seconds * 2 ** max(0, attempts - 1))
    return min(delay, MAX_BACKOFF)


def rate_limit(settings: Settings, channel: Channel) -> int:
    return int(getattr(settings, f"rate_limit_{channel.value}_per_minute"))


def _snapshot(row: OutboxMessage) -> OutgoingMessage:
    return OutgoingMessage(
        id=row.id,
        channel=Channel(row.channel),
        recipient=row.recipient,
        body=row.body,
        subject=row.subject,
        data=dict(row.data or {}),
        attempt=row.attempts,
        purpose=row.purpose,
    )


def _due(now: datetime) -> Any:
    return or_(
        and_(OutboxMessage.status == MessageStatus.QUEUED, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.locked_until < now),
    )


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
    attempt counter goes up; the attempt number is the fencing token of this claim.
    """
    now = now or utcnow()
    lease = timedelta(seconds=settings.job_lease_seconds)
    with db.transaction() as session:
        if not db.is_sqlite:
            # Serialises claims of one channel across workers, so two workers never both
            # spend the same remaining budget. Released at commit.
            lock_id = zlib.crc32(f"parvis.notify.rate.{channel.value}".encode()) & 0x7FFFFFFF
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})
        used = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.channel == channel.value,
                or_(
                    OutboxMessage.sent_at >= now - RATE_WINDOW,
                    and_(
                        OutboxMessage.status == MessageStatus.SENDING,
                        OutboxMessage.locked_until >= now,
                    ),
                ),
            )
        ) or 0
        room = min(batch, rate_limit(settings, channel) - used)
        if room <= 0:
            return []
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.channel == channel.value, _due(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(room)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        for row in rows:
            row.status = str(MessageStatus.SENDING)
            row.locked_until = now + lease
            row.attempts += 1
        session.flush()
        return [_snapshot(row) for row in rows]


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
    """Write down what happened to one claimed message; returns its new status.

    A result from a claim that is no longer current (its lease ran out and another worker
    took the message) is ignored and ``None`` is returned. A delivery report that arrived
    before this result (fast gateways do that) is kept: ``delivered`` is never undone.
    """
    now = now or utcnow()
    with db.transaction() as session:
        query = select(OutboxMessage).where(OutboxMessage.id == message.id)
        if not db.is_sqlite:
            query = query.with_for_update()
        row = session.scalar(query)
        if row is None or row.attempts != message.attempt:
            return None
        if row.status not in (MessageStatus.SENDING, MessageStatus.DELIVERED,
                              MessageStatus.FAILED):
            return None
        row.locked_until = None
        if error is None:
            row.provider = provider
            row.provider_ref = (result.provider_ref if result else None) or row.provider_ref
            row.sent_at = row.sent_at or now
            if row.status == MessageStatus.SENDING:
                row.status = str(MessageStatus.SENT)
                row.last_error = None
            return row.status
        if row.status != MessageStatus.SENDING:  # a delivery report settled it meanwhile
            return row.status
        row.provider = provider
        row.last_error = f"{type(error).__name__}: {error}"[:2000]
        if isinstance(error, PermanentError) or row.attempts >= settings.notify_max_attempts:
            row.status = str(MessageStatus.FAILED)
            row.failed_at = now
            emit(session, "notify.failed", message_id=row.id, user_id=row.user_id,
                 channel=row.channel, purpose=row.purpose, error=row.last_error)
        else:
            row.status = str(MessageStatus.QUEUED)
            row.next_attempt_at = now + backoff_delay(settings, row.attempts)
        return row.status


def dispatch_due(
    db: Database,
    adapters: Mapping[Channel, Adapter],
    settings: Settings,
    *,
    now: datetime | None = None,
    batch: int = DEFAULT_BATCH,
) -> int:
    """One worker pass: claim, send and record due messages of every channel.

    Returns how many messages were attempted (sent, retried or failed). ``now`` lets tests
    move the clock; without it the real time is used.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    done = 0
    for channel, adapter in adapters.items():
        for message in claim(db, Channel(channel), settings, now=clock(), batch=batch):
            try:
                result = adapter.send(message)
            except Exception as exc:
                if not isinstance(exc, PermanentError):
                    log.warning("notify %s #%s attempt %s failed: %s", channel, message.id,
                                message.attempt, exc)
                record_result(db, message, settings, provider=adapter.name, error=exc,
                              now=clock())
            else:
                record_result(db, message, settings, provider=adapter.name, result=result,
                              now=clock())
            done += 1
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
        if row.status == MessageStatus.DELIVERED or delivered is None:
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
