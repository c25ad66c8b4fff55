"""The NGSI-LD API keys: issued (only the key's digest is kept) and revoked, each in the audit log.
Who may do what with a key: ``ngsi_access.py``."""

from __future__ import annotations

from sqlalchemy import select

from parvis.kernel import audit
from parvis.kernel.auth import Principal, new_token, token_digest
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import NotFound
from parvis.modules.sensors import key_cache
from parvis.modules.sensors.models import ApiKey


def issue_api_key(db: Database, name: str, key: str | None = None, *, read: bool = True,
                  write: bool = False, actor: Principal | None = None) -> str:
    """A new NGSI-LD API key; only its digest is kept, so show it once. Issuing a key that
    exists (the demo's, at each run) changes nothing."""
    key = key or new_token(24)
    digest = token_digest(key)
    with db.transaction() as session:
        if session.scalar(select(ApiKey.id).where(ApiKey.digest == digest)) is None:
            session.add(ApiKey(name=name, digest=digest, can_read=read, can_write=write))
            audit.record(session, actor, "sensors.api_key.issue", object_type="api_key",
                         changes={"name": name, "read": read, "write": write})
    return key


def revoke_api_key(db: Database, key_id: int, actor: Principal | None = None) -> None:
    with db.transaction() as session:
        row = session.get(ApiKey, key_id)
        if row is None:
            raise NotFound()
        row.revoked_at = utcnow()
        audit.record(session, actor, "sensors.api_key.revoke", object_type="api_key", object_id=key_id)
    key_cache.forget()
