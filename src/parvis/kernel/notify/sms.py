"""SMS adapters: Kannel's ``sendsms`` interface and a generic JSON webhook gateway.

Both ask the gateway to report delivery back to ``/api/v1/notify/sms/dlr`` with our message
id as the reference, so a report can be matched even before the send is recorded.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import httpx

from parvis.kernel.notify.adapters import (
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
)
from parvis.settings import Settings

DLR_PATH = "/api/v1/notify/sms/dlr"
# Kannel dlr-mask: 1 delivered, 2 failed, 4 buffered, 8 smsc submit, 16 smsc reject.
KANNEL_DLR_MASK = 31
TIMEOUT = httpx.Timeout(15.0, connect=5.0)

# GSM 03.38 default alphabet and its extension table (the extension costs two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    """True when ``text`` fits the GSM-7 alphabet (else it must go as UCS-2)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def dlr_url(settings: Settings, message_id: int, *, status_placeholder: str | None) -> str:
    params = {"token": settings.sms_inbound_token, "ref": str(message_id)}
    url = settings.base_url.rstrip("/") + DLR_PATH + "?" + urlencode(params, quote_via=quote)
    if status_placeholder:
        url += "&status=" + status_placeholder
    return url


def _classify_http(status: int, body: str) -> None:
    """Raise the right error for a non-success HTTP answer of a gateway."""
    detail = f"HTTP {status}: {body.strip()[:300]}"
    if status in (408, 425, 429) or status >= 500:
        raise TransientError(detail)
    raise PermanentError(detail)


class KannelAdapter:
    """Sends through Kannel smsbox's ``/cgi-bin/sendsms`` (HTTP GET)."""

    name = "kannel"

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.Client(timeout=TIMEOUT)

    def params(self, message: OutgoingMessage) -> dict[str, str]:
        s = self.settings
        params = {
            "username": s.kannel_username,
            "password": s.kannel_password,
            "from": s.sms_sender,
            "to": message.recipient,
            "text": message.body,
            "charset": "UTF-8",
            "dlr-mask": str(KANNEL_DLR_MASK),
            # Kannel replaces %d with the report type and %A with the SMSC's answer.
            "dlr-url": dlr_url(s, message.id, status_placeholder="%d&reason=%A"),
        }
        if not is_gsm7(message.body):
            params["coding"] = "2"  # UCS-2: Vietnamese, Khmer, Arabic...
        return params

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            response = self.client.get(self.settings.kannel_sendsms_url,
                                       params=self.params(message))
        except httpx.HTTPError as exc:  # connection refused, timeout, reset
            raise TransientError(f"Kannel unreachable: {exc!r}") from exc
        body = response.text
        if response.status_code in (200, 202):
            # "0: Accepted for delivery" or "3: Queued for later delivery"
            return SendResult(provider_ref=str(message.id))
        _classify_http(response.status_code, body)
        raise AssertionError("unreachable")  # pragma: no cover


class WebhookSmsAdapter:
    """POSTs JSON to an SMS gateway: {"to", "from", "text", "reference", "status_url"}."""

    name = "webhook"

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        if not settings.sms_webhook_url:
            raise ValueError("notify_sms_backend=webhook needs sms_webhook_url")
        self.settings = settings
        self.client = client or httpx.Client(timeout=TIMEOUT)

    def send(self, message: OutgoingMessage) -> SendResult:
        s = self.settings
        payload = {
            "to": message.recipient,
            "from": s.sms_sender,
            "text": message.body,
            "reference": str(message.id),
            "status_url": dlr_url(s, message.id, status_placeholder=None),
        }
        headers = {"Authorization": f"Bearer {s.sms_webhook_token}"} if s.sms_webhook_token else {}
        try:
            response = self.client.post(s.sms_webhook_url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientError(f"SMS gateway unreachable: {exc!r}") from exc
        if 200 <= response.status_code < 300:
            return SendResult(provider_ref=str(message.id))
        _classify_http(response.status_code, response.text)
        raise AssertionError("unreachable")  # pragma: no cover
