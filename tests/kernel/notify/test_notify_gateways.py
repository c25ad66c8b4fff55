"""SMTP and the JSON webhook SMS gateway, against real servers on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from notify_helpers import free_port, make_settings, message

from parvis.kernel.db import Database
from parvis.kernel.notify import Channel, MessageStatus, build_adapters, dispatch_due, enqueue

pytestmark = pytest.mark.integration


class Mailbox:
    """aiosmtpd handler: keeps every accepted message, refuses recipients called nobody@."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


def _email(db: Database, to: str, subject: str, body: str) -> int:
    with db.transaction() as session:
        return enqueue(session, channel=Channel.EMAIL, to=to, subject=subject, body=body).id


def test_smtp_delivers_utf8_mail(db: Database, smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    mailbox.envelopes.clear()
    settings = make_settings(notify_email_backend="smtp", smtp_port=port,
                             email_from="mairie@song-xanh.example")
    subject = "Signalement n°42 résolu – Đã xử lý"
    body = "Bonjour,\nVotre signalement est résolu.\nCảm ơn bạn! សូមអរគុណ"
    msg_id = _email(db, "dan@example.org", subject, body)
    assert dispatch_due(db, build_adapters(settings), settings) == 1

    [envelope] = mailbox.envelopes
    assert envelope.rcpt_tos == ["dan@example.org"]
    assert envelope.mail_from == "mairie@song-xanh.example"
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    assert mail["Subject"] == subject
    assert mail["To"] == "dan@example.org"
    assert mail.get_content_charset() == "utf-8"
    assert mail.get_content().replace("\r\n", "\n").rstrip("\n") == body  # CRLF on the wire
    row = message(db, msg_id)
    assert row.status == MessageStatus.SENT
    assert row.provider == "smtp"
    assert row.provider_ref == mail["Message-ID"].strip()


def test_smtp_refused_recipient_fails_and_down_server_retries(
    db: Database, smtp_server: tuple[Mailbox, int]
) -> None:
    _mailbox, port = smtp_server
    refused = _email(db, "nobody@example.org", "x", "y")
    settings = make_settings(notify_email_backend="smtp", smtp_port=port)
    dispatch_due(db, build_adapters(settings), settings)
    row = message(db, refused)
    assert row.status == MessageStatus.FAILED
    assert "550" in (row.last_error or "")

    down = _email(db, "dan@example.org", "x", "y")
    closed = make_settings(notify_email_backend="smtp", smtp_port=free_port())
    dispatch_due(db, build_adapters(closed), closed)
    row = message(db, down)
    assert (row.status, row.attempts) == (MessageStatus.QUEUED, 1)


class GatewayHandler(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, str], dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, dict(self.headers), body))
        status = {"/ok": 200, "/bad": 400, "/down": 503}[self.path]
        payload = b'{"status": "queued"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def sms_gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), GatewayHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("path", "status"), [
    ("/ok", MessageStatus.SENT), ("/bad", MessageStatus.FAILED), ("/down", MessageStatus.QUEUED),
])
def test_webhook_sms_gateway(db: Database, sms_gateway: str, path: str,
                             status: MessageStatus) -> None:
    GatewayHandler.received.clear()
    settings = make_settings(notify_sms_backend="webhook", sms_webhook_url=sms_gateway + path,
                             sms_webhook_token="gw-token", sms_sender="1022",
                             base_url="https://parvis.example")
    with db.transaction() as session:
        msg_id = enqueue(session, channel=Channel.SMS, to="+84901234567",
                         body="Nước sẽ bị cắt ngày mai").id
    dispatch_due(db, build_adapters(settings), settings)
    [(got_path, headers, body)] = GatewayHandler.received
    assert got_path == path
    assert headers["Authorization"] == "Bearer gw-token"
    assert body["to"] == "+84901234567" and body["from"] == "1022"
    assert body["text"] == "Nước sẽ bị cắt ngày mai"
    assert body["reference"] == str(msg_id)
    assert body["status_url"].startswith("https://parvis.example/api/v1/notify/sms/dlr?token=")
    assert message(db, msg_id).status == status
