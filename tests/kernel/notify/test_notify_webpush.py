"""Web push against a local push service that checks VAPID and decrypts like a browser."""

from __future__ import annotations

import base64
import json
import secrets
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from notify_helpers import make_settings, message
from py_vapid import Vapid02
from sqlalchemy import select

from parvis.kernel.db import Database
from parvis.kernel.notify import (
    Channel,
    MessageStatus,
    build_adapters,
    dispatch_due,
    enqueue,
    enqueue_push,
    vapid_public_key,
)
from parvis.kernel.notify.actions import save_subscription
from parvis.kernel.notify.models import PushSubscription

pytestmark = pytest.mark.integration


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService(BaseHTTPRequestHandler):
    """Accepts pushes on /push/..., answers 410 Gone on /gone/..."""

    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(410 if self.path.startswith("/gone/") else 201)
        self.send_header("Location", f"http://127.0.0.1/messages/{len(self.received)}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def push_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PushService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Browser:
    """A browser's side of a subscription: its P-256 key pair and 16-byte auth secret."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = secrets.token_bytes(16)
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        self.p256dh = b64(public)

    def decrypt(self, body: bytes) -> bytes:
        # aes128gcm header: salt(16) | record size(4) | key id length(1) | key id (sender's key)
        id_len = struct.unpack("!B", body[20:21])[0]
        sender_key = body[21:21 + id_len]
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_key)  # a real key
        # http_ece takes the sender's key (``dh``) from that header itself when dh is None;
        # passing it again makes the library try to read the key id as text.
        return http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                version="aes128gcm")


def _subscribe(db: Database, user_id: int, endpoint: str, browser: Browser) -> None:
    with db.transaction() as session:
        save_subscription(session, user_id=user_id, endpoint=endpoint, p256dh=browser.p256dh,
                          auth=b64(browser.auth))


def test_push_is_signed_and_decrypts_in_the_browser(db: Database, push_service: str) -> None:
    PushService.received.clear()
    settings = make_settings(notify_push_backend="webpush", vapid_subject="mailto:ops@city.example")
    browser = Browser()
    endpoint = f"{push_service}/push/sub-1"
    _subscribe(db, 7, endpoint, browser)
    with db.transaction() as session:
        [msg] = enqueue_push(session, user_id=7, title="Cảnh báo ngập lụt",
                             body="ប្រកាសអាសន្ន: ទឹកជំនន់", key="alert-9",
                             data={"url": "/alerts/9"})
        msg_id = msg.id
    with db.transaction() as session:  # same key again: nothing new
        assert [m.id for m in enqueue_push(session, user_id=7, title="t", body="b",
                                           key="alert-9")] == [msg_id]

    assert dispatch_due(db, build_adapters(settings, db), settings) == 1
    [(path, headers, body)] = PushService.received
    assert path == "/push/sub-1"
    assert headers["ttl"] == "86400"
    assert headers["urgency"] == "high"
    assert headers["content-encoding"] == "aes128gcm"
    # VAPID: signed by our key, for this push service's origin, with our contact.
    auth = headers["authorization"]
    assert auth.startswith("vapid t=")
    assert Vapid02.verify(auth)
    params = dict(part.split("=", 1) for part in auth.split(" ", 1)[1].split(","))
    assert params["k"] == vapid_public_key(db, settings)
    claims = json.loads(unb64(params["t"].split(".")[1]))
    assert claims["aud"] == push_service
    assert claims["sub"] == "mailto:ops@city.example"

    payload = json.loads(browser.decrypt(body))
    assert payload == {"id": msg_id, "title": "Cảnh báo ngập lụt",
                       "body": "ប្រកាសអាសន្ន: ទឹកជំនន់", "data": {"url": "/alerts/9"}}
    row = message(db, msg_id)
    assert (row.status, row.provider) == (MessageStatus.SENT, "webpush")
    assert row.provider_ref == "http://127.0.0.1/messages/1"


def test_gone_subscription_is_deleted_and_message_fails(db: Database, push_service: str) -> None:
    PushService.received.clear()
    settings = make_settings(notify_push_backend="webpush")
    endpoint = f"{push_service}/gone/sub-2"
    _subscribe(db, 8, endpoint, Browser())
    with db.transaction() as session:
        msg_id = enqueue(session, channel=Channel.PUSH, to=endpoint, body="hi", user_id=8).id
    dispatch_due(db, build_adapters(settings, db), settings)
    assert len(PushService.received) == 1
    row = message(db, msg_id)
    assert (row.status, row.attempts) == (MessageStatus.FAILED, 1)
    assert "410" in (row.last_error or "")
    with db.read() as session:
        assert session.scalars(select(PushSubscription)).all() == []
    # A later message to the same endpoint fails without calling the push service.
    with db.transaction() as session:
        later = enqueue(session, channel=Channel.PUSH, to=endpoint, body="again").id
    dispatch_due(db, build_adapters(settings, db), settings)
    assert len(PushService.received) == 1
    assert message(db, later).status == MessageStatus.FAILED


def test_vapid_key_from_settings(db: Database) -> None:
    vapid = Vapid02()
    vapid.generate_keys()
    settings = make_settings(vapid_private_key=vapid.private_pem().decode())
    expected = b64(vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
    assert vapid_public_key(db, settings) == expected
    # Generated key: created once, then the same for every caller.
    generated = vapid_public_key(db, make_settings())
    assert generated != expected
    assert vapid_public_key(db, make_settings()) == generated
