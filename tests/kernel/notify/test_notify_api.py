"""HTTP routes of the notify kernel, in process: SMS callbacks and push subscriptions."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from notify_helpers import SMS_TOKEN, build_app, make_settings, message
from sqlalchemy import select

from parvis.kernel.db import Database
from parvis.kernel.events import Event
from parvis.kernel.notify import Channel, FakeAdapter, MessageStatus, dispatch_due, enqueue
from parvis.kernel.notify.models import InboundSms, PushSubscription

INBOUND = "/api/v1/notify/sms/inbound"
DLR = "/api/v1/notify/sms/dlr"
SUBS = "/api/v1/notify/push/subscriptions"


@pytest.fixture
def client(db: Database) -> TestClient:
    return TestClient(build_app(db, make_settings()), raise_server_exceptions=True)


def _inbound(db: Database) -> list[tuple[str, str, str, str | None]]:
    with db.read() as session:
        return [(r.sender, r.receiver, r.text, r.gateway_ref)
                for r in session.scalars(select(InboundSms).order_by(InboundSms.id))]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _browser_keys() -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return {"p256dh": _b64(public), "auth": _b64(secrets.token_bytes(16))}


def test_kannel_style_inbound_ucs2_is_stored_once(
    client: TestClient, db: Database, events: list[Event]
) -> None:
    text = "Đèn đường hỏng ở phố Huế – ភ្លើងផ្លូវខូច"
    raw = quote(text.encode("utf-16-be"))
    url = (f"{INBOUND}?token={SMS_TOKEN}&from=%2B84901234567&to=1022&text={raw}"
           f"&id=6f1c0a4e-uuid&coding=2&charset=UTF-16BE")
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == b""  # Kannel sends no reply SMS
    assert client.get(url).status_code == 200  # the gateway retries: no duplicate
    assert _inbound(db) == [("+84901234567", "1022", text, "6f1c0a4e-uuid")]
    received = [e for e in events if e.name == "sms.received"]
    assert len(received) == 1
    assert received[0].payload["sender"] == "+84901234567"
    assert received[0].payload["text"] == text
    assert received[0].payload["id"] > 0


def test_inbound_utf8_query_and_json_webhook(client: TestClient, db: Database) -> None:
    response = client.get(INBOUND, params={"token": SMS_TOKEN, "from": "0912", "to": "1022",
                                           "text": "Xin chào"})
    assert response.status_code == 200
    response = client.post(f"{INBOUND}?token={SMS_TOKEN}",
                           json={"from": "0987", "to": "1022", "text": "ស្វាគមន៍", "id": "gw-1"})
    assert response.status_code == 200
    response = client.post(INBOUND, headers={"Authorization": f"Bearer {SMS_TOKEN}"},
                           json={"from": "0987", "to": "1022", "text": "dup", "id": "gw-1"})
    assert response.status_code == 200
    assert _inbound(db) == [("0912", "1022", "Xin chào", None),
                            ("0987", "1022", "ស្វាគមន៍", "gw-1")]


@pytest.mark.parametrize("token", [None, "wrong"])
def test_inbound_and_dlr_need_the_token(client: TestClient, db: Database,
                                        token: str | None) -> None:
    params = {"from": "0912", "text": "hi"} | ({"token": token} if token else {})
    assert client.get(INBOUND, params=params).status_code == 403
    assert client.get(DLR, params={"ref": "1", "status": "1"} | (
        {"token": token} if token else {})).status_code == 403
    assert _inbound(db) == []


def test_bad_inbound_input_is_a_problem_not_a_500(client: TestClient) -> None:
    missing = client.get(INBOUND, params={"token": SMS_TOKEN, "text": "no sender"})
    assert missing.status_code == 422
    assert missing.json()["type"].endswith("validation-error")
    too_long = client.get(INBOUND, params={"token": SMS_TOKEN, "from": "9" * 41, "text": "x"})
    assert too_long.status_code == 422
    broken = client.post(f"{INBOUND}?token={SMS_TOKEN}", content=b"{not json",
                         headers={"content-type": "application/json"})
    assert broken.status_code == 400
    wrong_type = client.post(f"{INBOUND}?token={SMS_TOKEN}", json={"from": ["x"], "text": "y"})
    assert wrong_type.status_code == 422


def test_dlr_reports_move_status_and_never_downgrade(client: TestClient, db: Database) -> None:
    with db.transaction() as session:
        ids = [enqueue(session, channel=Channel.SMS, to="0912", body=f"m{i}").id
               for i in range(2)]
    dispatch_due(db, {Channel.SMS: FakeAdapter(Channel.SMS)}, make_settings())
    first, second = ids

    def report(ref: int, status: str) -> int:
        return client.get(DLR, params={"token": SMS_TOKEN, "ref": str(ref),
                                       "status": status}).status_code

    assert report(first, "8") == 200  # smsc submit: no change
    assert message(db, first).status == MessageStatus.SENT
    assert report(first, "1") == 200
    assert report(first, "1") == 200  # repeated
    assert report(first, "4") == 200  # late "buffered"
    assert report(first, "16") == 200  # late reject
    assert message(db, first).status == MessageStatus.DELIVERED
    response = client.post(f"{DLR}?token={SMS_TOKEN}",
                           json={"reference": str(second), "status": "failed",
                                 "reason": "absent subscriber"})
    assert response.status_code == 200
    row = message(db, second)
    assert row.status == MessageStatus.FAILED
    assert "absent subscriber" in (row.last_error or "")
    assert report(999999, "1") == 200  # unknown reference: nothing to do, no error
    assert report(first, "99") == 422
    assert client.get(DLR, params={"token": SMS_TOKEN, "status": "1"}).status_code == 422


def test_push_key_is_stable_and_usable(client: TestClient) -> None:
    first = client.get("/api/v1/notify/push/key").json()["publicKey"]
    second = client.get("/api/v1/notify/push/key").json()["publicKey"]
    assert first == second
    raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
    assert len(raw) == 65 and raw[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def test_push_subscribe_and_unsubscribe(client: TestClient, db: Database) -> None:
    body = {"endpoint": "https://push.example.org/send/abc", "keys": _browser_keys()}
    assert client.post(SUBS, json=body).status_code == 401
    created = client.post(SUBS, json=body, headers={"X-Test-User": "7"})
    assert created.status_code == 201
    again = client.post(SUBS, json=body, headers={"X-Test-User": "7"})
    assert again.json()["id"] == created.json()["id"]

    def owners() -> list[int | None]:
        with db.read() as session:
            return list(session.scalars(select(PushSubscription.user_id)))

    assert owners() == [7]
    # Somebody else cannot remove it.
    other = client.request("DELETE", SUBS, json={"endpoint": body["endpoint"]},
                           headers={"X-Test-User": "8"})
    assert other.status_code == 204
    assert owners() == [7]
    mine = client.request("DELETE", SUBS, params={"endpoint": body["endpoint"]},
                          headers={"X-Test-User": "7"})
    assert mine.status_code == 204
    assert owners() == []


@pytest.mark.parametrize("body", [
    {"endpoint": "https://push.example.org/x", "keys": {"p256dh": "short", "auth": "x"}},
    {"endpoint": "http://push.example.org/x", "keys": "valid-below"},
    {"endpoint": "not a url at all", "keys": "valid-below"},
    {"keys": "valid-below"},
    [1, 2],
])
def test_bad_push_subscription_is_a_validation_problem(client: TestClient, body: object) -> None:
    if isinstance(body, dict) and body.get("keys") == "valid-below":
        body = body | {"keys": _browser_keys()}
    response = client.post(SUBS, json=body, headers={"X-Test-User": "7"})
    assert response.status_code == 422
    assert response.json()["errors"]
    broken = client.post(SUBS, content=b"{", headers={"X-Test-User": "7",
                                                      "content-type": "application/json"})
    assert broken.status_code == 400
