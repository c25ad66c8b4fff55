"""Shapes at the edge of the notify API: what browsers and SMS gateways send us."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def b64url_bytes(value: str) -> bytes:
    value = value.strip()
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")

    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)

    @field_validator("p256dh")
    @classmethod
    def _p256dh(cls, value: str) -> str:
        raw = b64url_bytes(value)
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("p256dh must be an uncompressed P-256 public key")
        return value.strip()

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: str) -> str:
        if len(b64url_bytes(value)) != 16:
            raise ValueError("auth must be a 16-byte secret")
        return value.strip()


class PushSubscriptionIn(BaseModel):
    """The JSON of a browser's ``PushSubscription`` (``subscription.toJSON()``)."""

    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(min_length=10, max_length=2000)
    keys: PushKeys

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        parts = urlsplit(value)
        if not parts.hostname:
            raise ValueError("endpoint must be an absolute URL")
        if parts.scheme == "https" or (
            parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        ):
            return value
        raise ValueError("endpoint must use https")


class PushUnsubscribeIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(min_length=1, max_length=2000)
