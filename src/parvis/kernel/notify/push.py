"""Web push adapter (RFC 8030 + VAPID RFC 8292 + aes128gcm RFC 8291) through pywebpush.

The recipient of a push message is a subscription endpoint. A push service that answers
404 or 410 says the subscription is gone: we delete it and the message fails for good.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import requests
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush
from sqlalchemy import delete, select

from parvis.kernel.db import Database
from parvis.kernel.notify.adapters import (
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
)
from parvis.kernel.notify.models import PushSubscription
from parvis.kernel.notify.vapid import load_vapid
from parvis.settings import Settings

DEFAULT_TTL_SECONDS = 24 * 3600
TIMEOUT_SECONDS = 15.0


def payload_of(message: OutgoingMessage) -> str:
    """The JSON the service worker receives in its ``push`` event."""
    return json.dumps(
        {"id": message.id, "title": message.subject, "body": message.body,
         "data": message.data},
        ensure_ascii=False,
    )


class WebPushAdapter:
    name = "webpush"

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._vapid: Vapid02 | None = None
        self._lock = threading.Lock()

    def vapid(self) -> Vapid02:
        with self._lock:
            if self._vapid is None:
                self._vapid = load_vapid(self.db, self.settings)
            return self._vapid

    def _subscription(self, endpoint: str) -> dict[str, Any] | None:
        with self.db.read() as session:
            row = session.execute(
                select(PushSubscription.endpoint, PushSubscription.p256dh, PushSubscription.auth)
                .where(PushSubscription.endpoint == endpoint)
            ).first()
        if row is None:
            return None
        return {"endpoint": row.endpoint, "keys": {"p256dh": row.p256dh, "auth": row.auth}}

    def forget(self, endpoint: str) -> None:
        with self.db.transaction() as session:
            session.execute(delete(PushSubscription).where(PushSubscription.endpoint == endpoint))

    def send(self, message: OutgoingMessage) -> SendResult:
        subscription = self._subscription(message.recipient)
        if subscription is None:
            raise PermanentError("push subscription no longer exists")
        ttl = int(message.data.get("ttl", DEFAULT_TTL_SECONDS))
        try:
            response = webpush(
                subscription,
                data=payload_of(message),
                vapid_private_key=self.vapid(),
                vapid_claims={"sub": self.settings.vapid_subject},
                content_encoding="aes128gcm",
                ttl=ttl,
                headers={"Urgency": "high"},
                timeout=TIMEOUT_SECONDS,
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status in (404, 410):
                self.forget(message.recipient)
                raise PermanentError(f"push subscription gone (HTTP {status})") from exc
            if status is None or status in (408, 425, 429) or status >= 500:
                raise TransientError(f"push service: {exc}") from exc
            raise PermanentError(f"push service refused (HTTP {status})") from exc
        except (requests.RequestException, OSError) as exc:
            raise TransientError(f"push service unreachable: {exc!r}") from exc
        except ValueError as exc:  # malformed keys stored for the subscription
            raise PermanentError(f"bad push subscription: {exc}") from exc
        location = response.headers.get("Location") if hasattr(response, "headers") else None
        return SendResult(provider_ref=location or f"push-{message.id}")
