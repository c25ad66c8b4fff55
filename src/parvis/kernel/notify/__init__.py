"""Notifications kernel: an outbox of messages to people through SMS, e-mail and web push.

Modules call ``enqueue(session, channel=..., to=..., body=..., key=...)`` inside their own
transaction, or ``enqueue_many(session, [NewMessage(...), ...])`` for thousands at once; the
``parvis worker`` sends due messages in batches (``register`` adds the tick) and emits
``notify.sent`` (one event per batch and purpose, ``message_ids``), ``notify.delivered`` and
``notify.failed`` (one per message). Nothing happens at import time: the app factory calls
``register_privacy()`` and mounts ``router``.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from parvis.kernel.db import Database
from parvis.kernel.jobs import JobRegistry
from parvis.kernel.notify.actions import enqueue_push, receive_sms
from parvis.kernel.notify.adapters import (
    Adapter,
    FakeAdapter,
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
    build_adapters,
)
from parvis.kernel.notify.api import router
from parvis.kernel.notify.models import Channel, MessageStatus
from parvis.kernel.notify.outbox import (
    NewMessage,
    dispatch_due,
    enqueue,
    enqueue_many,
    mark_delivery,
    push_endpoints,
    statuses,
    withdraw,
)
from parvis.kernel.notify.privacy import register_privacy
from parvis.kernel.notify.queries import messages_for_user, recent
from parvis.kernel.notify.vapid import vapid_public_key
from parvis.settings import Settings

__all__ = [
    "Adapter",
    "Channel",
    "FakeAdapter",
    "MessageStatus",
    "NewMessage",
    "OutgoingMessage",
    "PermanentError",
    "SendResult",
    "TransientError",
    "build_adapters",
    "dispatch_due",
    "enqueue",
    "enqueue_many",
    "enqueue_push",
    "mark_delivery",
    "messages_for_user",
    "push_endpoints",
    "receive_sms",
    "recent",
    "register",
    "register_privacy",
    "router",
    "statuses",
    "vapid_public_key",
    "withdraw",
]


class DispatchTick:
    """The worker tick: builds the adapters on first use (web push needs the database) and
    keeps one small thread pool per channel for the sends of a batch."""

    __name__ = "notify.dispatch_due"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._adapters: dict[int, dict[Channel, Adapter]] = {}
        self._lock = threading.Lock()
        self.pools: dict[Channel, ThreadPoolExecutor] = {
            channel: ThreadPoolExecutor(max_workers=max(1, settings.notify_send_threads),
                                        thread_name_prefix=f"parvis-{channel.value}")
            for channel in Channel}

    def adapters(self, db: Database) -> dict[Channel, Adapter]:
        with self._lock:
            if id(db) not in self._adapters:
                self._adapters[id(db)] = build_adapters(self.settings, db)
            return self._adapters[id(db)]

    def __call__(self, db: Database) -> int:
        return dispatch_due(db, self.adapters(db), self.settings, pools=self.pools)


def register(registry: JobRegistry, settings: Settings) -> DispatchTick:
    """Add the outbox dispatch to the worker's ticks; returns the tick (its adapters)."""
    tick = DispatchTick(settings)
    registry.add_tick(tick)
    return tick
