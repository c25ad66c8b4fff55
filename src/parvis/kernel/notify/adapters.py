"""The port between the outbox and the outside world: one adapter per channel.

An adapter sends one message and answers a ``SendResult`` (the provider's reference), or
raises ``TransientError`` (try again later) or ``PermanentError`` (never try again). The
real adapters live in ``sms.py``, ``mail.py`` and ``push.py``; ``FakeAdapter`` records what
it was asked to send, for the demo city and for tests.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from parvis.kernel.notify.models import Channel

if TYPE_CHECKING:
    from parvis.kernel.db import Database
    from parvis.settings import Settings


class DeliveryError(Exception):
    """A channel could not take the message."""


class TransientError(DeliveryError):
    """Worth another try later: gateway down, timeout, 5xx, queue full."""


class PermanentError(DeliveryError):
    """Never worth another try: bad number, rejected address, dead push subscription."""


@dataclass(frozen=True)
class OutgoingMessage:
    """What an adapter sees of an outbox row: a plain snapshot, detached from any session."""

    id: int
    channel: Channel
    recipient: str
    body: str
    subject: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    purpose: str = ""


@dataclass(frozen=True)
class SendResult:
    provider_ref: str | None = None


@runtime_checkable
class Adapter(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...


class FakeAdapter:
    """Records every message instead of sending it; can be told to fail first.

    ``failures`` is a list of exceptions raised, in order, by the next calls to ``send``
    (one per call) before sends succeed again.
    """

    name = "fake"

    def __init__(self, channel: Channel, failures: list[Exception] | None = None) -> None:
        self.channel = channel
        self.sent: list[OutgoingMessage] = []
        self.failures: list[Exception] = list(failures or [])
        self.calls = 0
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            self.calls += 1
            if self.failures:
                raise self.failures.pop(0)
            self.sent.append(message)
            return SendResult(provider_ref=f"fake-{self.channel}-{next(self._counter)}")

    def bodies(self) -> list[str]:
        with self._lock:
            return [m.body for m in self.sent]


def build_adapters(settings: Settings, db: Database | None = None) -> dict[Channel, Adapter]:
    """One adapter per channel, chosen by ``notify_*_backend``.

    ``db`` is needed by the real web push adapter (VAPID key kept in the database, dead
    subscriptions deleted); asking for it without ``db`` is a ``ValueError``.
    """
    adapters: dict[Channel, Adapter] = {}

    if settings.notify_sms_backend == "kannel":
        from parvis.kernel.notify.sms import KannelAdapter

        adapters[Channel.SMS] = KannelAdapter(settings)
    elif settings.notify_sms_backend == "webhook":
        from parvis.kernel.notify.sms import WebhookSmsAdapter

        adapters[Channel.SMS] = WebhookSmsAdapter(settings)
    else:
        adapters[Channel.SMS] = FakeAdapter(Channel.SMS)

    if settings.notify_email_backend == "smtp":
        from parvis.kernel.notify.mail import SmtpAdapter

        adapters[Channel.EMAIL] = SmtpAdapter(settings)
    else:
        adapters[Channel.EMAIL] = FakeAdapter(Channel.EMAIL)

    if settings.notify_push_backend == "webpush":
        if db is None:
            raise ValueError("the webpush backend needs the database (VAPID key, subscriptions)")
        from parvis.kernel.notify.push import WebPushAdapter

        adapters[Channel.PUSH] = WebPushAdapter(db, settings)
    else:
        adapters[Channel.PUSH] = FakeAdapter(Channel.PUSH)
    return adapters
