"""The VAPID key pair that identifies this Parvis to browsers' push services.

The private key comes from the ``vapid_private_key`` setting (PEM, or base64url raw/DER as
``vapid --gen`` prints it); when the setting is empty, a key pair is generated once and kept
in ``kernel_settings``, so every web process and worker signs with the same key.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from parvis.kernel.db import Database
from parvis.kernel.notify.models import KernelSetting
from parvis.settings import Settings

SETTING_KEY = "notify.vapid_private_key"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _from_text(raw: str) -> Vapid02:
    raw = raw.strip()
    if raw.startswith("-----BEGIN"):
        return Vapid02.from_pem(raw.encode())
    return Vapid02.from_string(raw)


def _stored_pem(db: Database) -> str:
    with db.read() as session:
        value = session.scalar(select(KernelSetting.value).where(KernelSetting.key == SETTING_KEY))
    if value:
        return value
    fresh = Vapid02()
    fresh.generate_keys()
    pem = fresh.private_pem().decode("ascii")
    try:
        with db.transaction() as session:
            # Another process may have generated one meanwhile: first one wins.
            current = session.get(KernelSetting, SETTING_KEY)
            if current is not None:
                return current.value
            session.add(KernelSetting(key=SETTING_KEY, value=pem))
    except IntegrityError:
        with db.read() as session:
            return session.get_one(KernelSetting, SETTING_KEY).value
    return pem


def load_vapid(db: Database, settings: Settings) -> Vapid02:
    """The VAPID signer: from the setting, else from (or generated into) the database."""
    if settings.vapid_private_key:
        return _from_text(settings.vapid_private_key)
    return _from_text(_stored_pem(db))


def public_key_of(vapid: Vapid02) -> str:
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(raw)


def vapid_public_key(db: Database, settings: Settings) -> str:
    """Base64url application server key, as ``pushManager.subscribe`` wants it."""
    return public_key_of(load_vapid(db, settings))
