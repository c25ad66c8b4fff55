"""Who may do what on the NGSI-LD API: the client's API key (``X-Api-Key`` or a bearer token),
its read and write scopes, and the entity types the city makes public (read without a key)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from fastapi import Request

from parvis.kernel.errors import Forbidden, NotAuthenticated
from parvis.modules.sensors import key_cache
from parvis.modules.sensors.standards import context as ldctx


@dataclass(frozen=True)
class Access:
    """What the client behind a request may do: its key's scopes, and the public types."""

    has_key: bool
    can_read: bool
    can_write: bool
    public_types: frozenset[str]

    def check_read(self, type_iri: str) -> None:
        if self.can_read or type_iri in self.public_types:
            return
        if not self.has_key:
            raise NotAuthenticated("This entity is not public: send an API key with read access "
                                   "(X-Api-Key header or Authorization: Bearer).")
        raise Forbidden("This API key may not read this entity.")


def key_of(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


@cache
def public_types(names: tuple[str, ...]) -> frozenset[str]:
    """The full IRIs of the public types: names read with the Smart Data Models context."""
    sdm = ldctx.shipped(ldctx.SDM_CONTEXT_URL)
    return frozenset(sdm.expand(name) for name in names)


def access_of(request: Request) -> Access:
    cached = getattr(request.state, "ngsi_access", None)
    if cached is not None:
        return cached
    settings = request.app.state.settings
    key = key_of(request)
    can_read = can_write = False
    if key is not None:
        found = key_cache.scopes(request.app.state.db, key, settings.ngsi_key_cache_seconds)
        if found is None:
            raise NotAuthenticated("This API key is not valid or was revoked.")
        can_read, can_write = found
    access = Access(has_key=key is not None, can_read=can_read, can_write=can_write,
                    public_types=public_types(tuple(settings.ngsi_public_types)))
    request.state.ngsi_access = access
    return access


def require_write(request: Request) -> Access:
    access = access_of(request)
    if not access.can_write:
        if not access.has_key:
            raise NotAuthenticated("Writing needs an API key with write access (X-Api-Key header "
                                   "or Authorization: Bearer).")
        raise Forbidden("This API key may read but not write.")
    return access
