"""HTTP edge of the notify kernel: SMS gateway callbacks and browser push subscriptions.

Kannel calls the SMS routes with query parameters (smsbox ``get-url`` for inbound messages,
``dlr-url`` for delivery reports); a webhook gateway may POST JSON instead. Kannel sends the
text of a UCS-2 message as raw UTF-16BE bytes (``coding=2``), so the query string is read
byte for byte here rather than through FastAPI's UTF-8 parsing.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from parvis.kernel.auth import Principal, require
from parvis.kernel.db import Database
from parvis.kernel.errors import Forbidden, MalformedBody, ValidationFailed
from parvis.kernel.notify.actions import delete_subscription, receive_sms, save_subscription
from parvis.kernel.notify.outbox import mark_delivery
from parvis.kernel.notify.schemas import PushSubscriptionIn, PushUnsubscribeIn
from parvis.kernel.notify.vapid import vapid_public_key
from parvis.settings import Settings

router = APIRouter(tags=["notify"])

MAX_TEXT = 10_000
MAX_NUMBER = 40
# Kannel DLR types: 1 delivered, 2 failed, 4 buffered, 8 smsc submit, 16 smsc reject.
KANNEL_DLR: dict[int, bool | None] = {1: True, 2: False, 4: None, 8: None, 16: False}
WORD_DLR: dict[str, bool | None] = {
    "delivered": True, "delivrd": True,
    "failed": False, "undelivered": False, "undeliv": False, "rejected": False,
    "rejectd": False, "expired": False,
    "sent": None, "submitted": None, "accepted": None, "buffered": None, "queued": None,
    "enroute": None,
}


def _db(request: Request) -> Database:
    return request.app.state.db


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _raw_query(request: Request) -> dict[str, str]:
    """Query parameters with each byte kept as one latin-1 character (decoded later)."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return dict(parse_qsl(query, keep_blank_values=True, encoding="latin-1"))


def _utf8(value: str | None) -> str:
    return (value or "").encode("latin-1").decode("utf-8", errors="replace")


def _decode_text(raw: str, coding: str, charset: str) -> str:
    data = raw.encode("latin-1")
    if coding.strip() == "2" or charset.upper().replace("-", "") in ("UCS2", "UTF16BE"):
        return data.decode("utf-16-be", errors="replace")
    if charset:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


async def _json_body(request: Request) -> dict[str, Any] | None:
    """The JSON object of a POST, or None when the request carries no JSON."""
    if request.method != "POST":
        return None
    if "json" not in request.headers.get("content-type", ""):
        return None
    try:
        payload = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody() from exc
    if not isinstance(payload, dict):
        raise MalformedBody("A JSON object is expected.")
    return payload


def _check_token(request: Request, query: dict[str, str]) -> None:
    expected = _settings(request).sms_inbound_token.encode()
    given = query.get("token", "").encode("latin-1")
    auth = request.headers.get("authorization", "")
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip().encode("latin-1", errors="replace")
    if not expected or not secrets.compare_digest(given, expected):
        raise Forbidden("Missing or wrong gateway token.")


def _field(payload: dict[str, Any], *names: str) -> str:
    for name in names:
        value = payload.get(name)
        if value is not None:
            if not isinstance(value, str | int):
                raise ValidationFailed(errors=[{"field": name, "message": "must be a string"}])
            return str(value)
    return ""


def _empty() -> Response:
    # Kannel turns a non-empty answer into a reply SMS: answer nothing.
    return Response(status_code=200, content=b"", media_type="text/plain")


@router.get("/api/v1/notify/sms/inbound", operation_id="sms_inbound_get")
@router.post("/api/v1/notify/sms/inbound", operation_id="sms_inbound_post")
async def sms_inbound(request: Request) -> Response:
    query = _raw_query(request)
    _check_token(request, query)
    payload = await _json_body(request)
    if payload is not None:
        sender = _field(payload, "from", "sender")
        receiver = _field(payload, "to", "receiver")
        text = _field(payload, "text", "message")
        ref = _field(payload, "id", "reference", "message_id")
        has_text = any(k in payload for k in ("text", "message"))
    else:
        sender, receiver, ref = (_utf8(query.get(k)) for k in ("from", "to", "id"))
        ref = ref or _utf8(query.get("ts"))
        has_text = "text" in query
        text = _decode_text(query.get("text", ""), query.get("coding", ""),
                            _utf8(query.get("charset")))
    errors = []
    if not sender.strip():
        errors.append({"field": "from", "message": "required"})
    if len(sender) > MAX_NUMBER or len(receiver) > MAX_NUMBER:
        errors.append({"field": "from", "message": f"at most {MAX_NUMBER} characters"})
    if not has_text:
        errors.append({"field": "text", "message": "required"})
    if len(text) > MAX_TEXT or len(ref) > 200:
        errors.append({"field": "text", "message": "too long"})
    if errors:
        raise ValidationFailed(errors=errors)

    def store() -> None:
        with _db(request).transaction() as session:
            receive_sms(session, sender=sender.strip(), receiver=receiver.strip(), text=text,
                        gateway_ref=ref.strip() or None)

    await run_in_threadpool(store)
    return _empty()


def _dlr_outcome(status: str) -> bool | None:
    status = status.strip().lower()
    if status.isdigit():
        code = int(status)
        if code in KANNEL_DLR:
            return KANNEL_DLR[code]
    elif status in WORD_DLR:
        return WORD_DLR[status]
    raise ValidationFailed(errors=[{"field": "status", "message": "unknown delivery status"}])


@router.get("/api/v1/notify/sms/dlr", operation_id="sms_dlr_get")
@router.post("/api/v1/notify/sms/dlr", operation_id="sms_dlr_post")
async def sms_delivery_report(request: Request) -> Response:
    query = _raw_query(request)
    _check_token(request, query)
    payload = await _json_body(request)
    if payload is not None:
        ref = _field(payload, "reference", "ref", "id") or _utf8(query.get("ref"))
        status = _field(payload, "status") or _utf8(query.get("status"))
        reason = _field(payload, "reason", "error")
    else:
        ref, status, reason = (_utf8(query.get(k)) for k in ("ref", "status", "reason"))
    ref = ref.strip()
    if not ref or len(ref) > 200:
        raise ValidationFailed(errors=[{"field": "ref", "message": "required"}])
    delivered = _dlr_outcome(status)
    # Our SMS adapters put our message id in the reference.
    message_id = int(ref) if ref.isdigit() and len(ref) < 18 else None
    await run_in_threadpool(mark_delivery, _db(request), ref, delivered, reason[:500],
                            message_id=message_id)
    return _empty()


@router.get("/api/v1/notify/push/key")
async def push_key(request: Request) -> dict[str, str]:
    key = await run_in_threadpool(vapid_public_key, _db(request), _settings(request))
    return {"publicKey": key}


async def _parse(request: Request, model: type[Any]) -> Any:
    try:
        payload = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody() from exc
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
                  for err in exc.errors()]
        raise ValidationFailed(errors=errors) from exc


@router.post("/api/v1/notify/push/subscriptions", status_code=201)
async def push_subscribe(
    request: Request, principal: Principal = Depends(require("account.self"))
) -> dict[str, Any]:
    body: PushSubscriptionIn = await _parse(request, PushSubscriptionIn)

    def save() -> int:
        with _db(request).transaction() as session:
            row = save_subscription(session, user_id=principal.user_id, endpoint=body.endpoint,
                                    p256dh=body.keys.p256dh, auth=body.keys.auth)
            return row.id

    sub_id = await run_in_threadpool(save)
    return {"id": sub_id, "endpoint": body.endpoint}


@router.delete("/api/v1/notify/push/subscriptions", status_code=204)
async def push_unsubscribe(
    request: Request, principal: Principal = Depends(require("account.self"))
) -> Response:
    endpoint = request.query_params.get("endpoint")
    if endpoint is None:
        endpoint = (await _parse(request, PushUnsubscribeIn)).endpoint

    def remove() -> None:
        with _db(request).transaction() as session:
            delete_subscription(session, user_id=principal.user_id, endpoint=endpoint)

    await run_in_threadpool(remove)
    return Response(status_code=204)
