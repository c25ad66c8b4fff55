"""NGSI-LD collections also answer at their address with a trailing slash.

Clients written against Orion-LD, Scorpio and Stellio send ``POST /ngsi-ld/v1/entities/`` (the
Python ``ngsildclient`` does, for one); those brokers take it as ``/entities``. Without this,
such a path matched the retrieve route ``/entities/{entity_id}`` with an empty id and was
answered 405. Rewritten: the addresses of routes without a ``:path`` parameter (the collections,
and ``/entityOperations/{operation}``), and an entity's attribute collection ``.../attrs/`` (CIM
009 6.6 names it so; the ETSI conformance suite appends and updates there). For ``/entities/``
only for the methods the collection serves: ``PUT /entities/`` is the replacement of an entity
whose id is missing (400, "the id goes in the path", as the suite's 054_02 and 056_02 want),
while ``PATCH``/``DELETE /subscriptions/`` are methods the collection does not take (405, the
suite's 029_01 and 032_01). An entity or subscription id otherwise keeps every character it is
sent with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Pattern = tuple[re.Pattern[str], frozenset[str]]  # a route's path and its methods


def collection_patterns(routes: Iterable[object], prefix: str) -> tuple[Pattern, ...]:
    """The patterns (and methods) of the routes under ``prefix`` that take no ``:path`` parameter."""
    return tuple((route.path_regex, frozenset(route.methods)) for route in routes
                 if isinstance(route, APIRoute) and route.path.startswith(prefix)
                 and ":path}" not in route.path)


class CollectionSlash:
    """ASGI middleware: ``<collection>/`` is served as ``<collection>``."""

    def __init__(self, app: ASGIApp, *, prefix: str, patterns: tuple[Pattern, ...]) -> None:
        self.app = app
        self.prefix = prefix
        self.patterns = patterns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            raw: bytes = scope.get("raw_path") or path.encode()
            entities = path.startswith(self.prefix) and path[len(self.prefix):].startswith("v1/entities/")
            if (path.endswith("/") and path.startswith(self.prefix) and raw.endswith(b"/")
                    and ((raw.endswith(b"/attrs/") and scope["method"] in ("POST", "PATCH")
                          and "/entities/" in path)  # the attributes' collection: append, update
                         or any((scope["method"] in methods or not entities) and pattern.match(path[:-1])
                                for pattern, methods in self.patterns))):
                scope = dict(scope, path=path[:-1], raw_path=raw[:-1])
        await self.app(scope, receive, send)
