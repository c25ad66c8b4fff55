"""What an NGSI-LD API key may do, remembered for a few seconds per web process.

Looking the key up costs a database round trip on every request (an eighth of a single-entity
update's time). A revocation made in this process takes effect at once (the action forgets the
cache); one made elsewhere (another web process, the CLI) within ``PARVIS_NGSI_KEY_CACHE_SECONDS``
(default 2 s, 0: no cache). Unknown keys are not remembered, so a key issued anywhere works at once.
"""

from __future__ import annotations

import threading
import time

from parvis.kernel.auth import token_digest
from parvis.kernel.db import Database
from parvis.modules.sensors import queries

_lock = threading.Lock()
_known: dict[str, tuple[float, bool, bool]] = {}  # digest -> (valid until, can read, can write)
MAX_KEYS = 10_000


def scopes(db: Database, key: str, ttl: float) -> tuple[bool, bool] | None:
    """(can read, can write) of a valid key, None for an unknown or revoked one."""
    digest = token_digest(key)
    now = time.monotonic()
    if ttl > 0:
        with _lock:
            hit = _known.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
    with db.lookup() as session:
        row = queries.api_key(session, key)
        found = None if row is None else (row.can_read, row.can_write)
    if found is not None and ttl > 0:
        with _lock:
            if len(_known) >= MAX_KEYS:
                _known.clear()
            _known[digest] = (now + ttl, *found)
    return found


def forget() -> None:
    """Called when a key is revoked or changed in this process."""
    with _lock:
        _known.clear()
