"""NGSI-LD batch entity operations (``/entityOperations/{create,upsert,update,merge,delete}``): the
body's entities parsed and checked one by one, written in one transaction (``actions.run_batch``),
answered 201/204, or 207 with each failed item's problem in the items' order."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from dataclasses import dataclass, replace
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from parvis.modules.sensors import actions, api, ngsi_access, queries
from parvis.modules.sensors.ngsi_route import NgsiRoute, failure
from parvis.modules.sensors.standards import negotiation as neg
from parvis.modules.sensors.standards import ngsi_ld as ngsi
from parvis.modules.sensors.standards import ngsi_null
from parvis.modules.sensors.standards import query as ngsiq
from parvis.modules.sensors.standards.context import Context
from parvis.modules.sensors.standards.type_selection import type_selection

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"], route_class=NgsiRoute)


@router.post("/entityOperations/query", summary="NGSI-LD: query entities, the query in the body")
async def query_by_post(request: Request) -> Response:
    """A ``Query`` (``entities``, each a ``type`` with an ``id``, ids or an ``idPattern``, ``attrs``,
    ``q``, ``geoQ``) asked in the body rather than the URL, for queries too long for a URL; ``limit``,
    ``offset``, ``count`` and ``options`` stay in the URL. Answered as ``GET /entities``."""
    access = ngsi_access.access_of(request)
    body, kind = await api.read_body(request)
    ctx = api.body_context(request, kind, body)
    params = {**request.query_params, **query_params(body)}
    if isinstance(body, dict) and ("temporalQ" in body or "aggrParams" in body):
        raise ngsi.bad("temporalQ and aggrParams belong to /temporal/entityOperations/query.")
    query = with_selectors(api.entity_query(request, ctx, access, params), body, ctx)
    return await api.run_in_thread(request, api.query_answer, request, ctx, query)  # off the event loop


def with_selectors(query: queries.EntityQuery, body: dict[str, Any], ctx: Context) -> queries.EntityQuery:
    """The query, its ``entities`` selectors as alternatives when they are not one conjunction:
    ``[{"type": "A", "id": X}, {"type": "B"}]`` is X, and every B. (``query_params`` gave the
    union of their types and ids, which the access check reads; a single selector, or selectors
    of types alone, are exactly that union.)"""
    selectors = entity_selectors(body)
    if len(selectors) < 2 or not any(s.ids or s.pattern is not None for s in selectors):
        return query
    chosen = [queries.Selector(None if s.every_type else
                               frozenset(type_selection(s.type, ctx, "entities")[1]),
                               frozenset(s.ids) if s.ids else None,
                               ngsiq.id_pattern(s.pattern) if s.pattern is not None else None)
              for s in selectors]
    return replace(query, types=None, ids=None, id_pattern=None, selectors=tuple(chosen))


@dataclass(frozen=True)
class EntitySelector:
    """An entity selector of a ``Query`` (CIM 009 5.2.33) as sent: its type (a type name or a
    type selection, still to be expanded), its ids, and its id pattern, which is None beside ids
    (an id takes precedence over an idPattern, which is then ignored, not ANDed with it)."""
    type: str
    ids: tuple[str, ...] = ()
    pattern: str | None = None

    @property
    def every_type(self) -> bool:
        """``"type": "*"``: entities of every type (CIM 009 v1.9), as ``type=*`` in a URL."""
        return self.type.strip() == "*"


def entity_selectors(body: dict[str, Any]) -> list[EntitySelector]:
    """A ``Query``'s ``entities``, checked (CIM 009 5.2.33): each an object whose ``type`` is
    mandatory, whose ``id`` is a URI or a non-empty array of URIs and whose ``idPattern`` is a
    text; otherwise BadRequestData."""
    selectors = body.get("entities") or []
    if not isinstance(selectors, list) or not all(isinstance(e, dict) for e in selectors):
        raise ngsi.bad("entities must be an array of objects (type, id, idPattern).")
    out = []
    for e in selectors:
        kind = e.get("type")
        if not isinstance(kind, str) or not kind.strip():
            raise ngsi.bad("entities: each entity selector needs a type, a type name or a type selection "
                           "(CIM 009 5.2.33), beside its id or idPattern if any.")
        ids = e.get("id")
        if ids is not None:
            if isinstance(ids, str):
                ids = [ids]
            if not isinstance(ids, list) or not ids:
                raise ngsi.bad("entities: a selector's id is a URI or a non-empty array of URIs.")
            ids = [ngsi.check_uri(i, "entities: an id") for i in ids]
        pattern = e.get("idPattern")
        if pattern is not None and not isinstance(pattern, str):
            raise ngsi.bad("entities: a selector's idPattern is a regular expression, as text.")
        out.append(EntitySelector(kind, tuple(ids or ()), None if ids else pattern))
    return out


def query_params(body: Any) -> dict[str, str]:
    """A ``Query`` body in the names of ``GET /entities``' parameters (the temporal API's
    ``POST /temporal/entityOperations/query`` adds its ``temporalQ``)."""
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise ngsi.bad('A query must be a JSON object with "type": "Query".')
    out: dict[str, str] = {}
    selectors = entity_selectors(body)
    if selectors:
        # one selector of every type makes the union every type
        out["type"] = "*" if any(s.every_type for s in selectors) else ",".join(s.type for s in selectors)
    ids = [i for s in selectors for i in s.ids]
    if ids:
        out["id"] = ",".join(dict.fromkeys(ids))
    # several patterns: alternatives, ``with_selectors``
    patterns = {s.pattern for s in selectors if s.pattern is not None}
    if patterns:
        out["idPattern"] = sorted(patterns)[0]
    attrs = body.get("attrs")
    if attrs is not None:
        if not isinstance(attrs, list) or not attrs or not all(isinstance(a, str) for a in attrs):
            raise ngsi.bad("attrs must be a non-empty array of attribute names.")
        out["attrs"] = ",".join(attrs)
    if body.get("q") is not None:
        if not isinstance(body["q"], str):
            raise ngsi.bad("q must be a string.")
        out["q"] = body["q"]
    geo = body.get("geoQ")
    if geo is not None:
        if not isinstance(geo, dict):
            raise ngsi.bad("geoQ must be an object (geometry, coordinates, georel).")
        coordinates = geo.get("coordinates")
        out.update({"georel": str(geo.get("georel", "")), "geometry": str(geo.get("geometry", "")),
                    "coordinates": coordinates if isinstance(coordinates, str) else
                    orjson.dumps(coordinates).decode()})
        if geo.get("geoproperty"):
            out["geoproperty"] = str(geo["geoproperty"])
    return out


def _batch_items(request: Request, raw: bytes) -> list[Any]:
    body = ngsi.loads(raw)
    if not isinstance(body, list) or not body:
        raise ngsi.bad("A batch operation takes a non-empty JSON array.")
    if any(item is None for item in body):  # not an entity that fails alone: a malformed request
        raise ngsi.bad("A batch operation's array cannot hold null.")
    limit = api.settings_of(request).ngsi_batch_max_entities
    if len(body) > limit:
        raise ngsi.bad(f"A batch operation takes at most {limit} entities.")
    return body


def _batch_answer(success: list[str], errors: list[dict[str, Any]], *, created: bool) -> Response:
    if not errors:
        if created and success:
            return Response(orjson.dumps(success), status_code=201, media_type=neg.JSON)
        return Response(status_code=204)
    return Response(orjson.dumps({"success": success, "errors": errors}), status_code=207,
                    media_type=neg.JSON)


def _error_of(item: Any, exc: Exception) -> dict[str, Any]:
    entity_id = item.get("id", item.get("@id")) if isinstance(item, dict) else item
    response = failure(exc)
    return {"entityId": entity_id if isinstance(entity_id, str) else None,
            "error": orjson.loads(response.body)}


@router.post("/entityOperations/{operation}", summary="NGSI-LD: batch create, upsert, update, merge, delete")
async def batch(request: Request, operation: str) -> Response:
    if operation not in ("create", "upsert", "update", "merge", "delete"):
        raise ngsi.NgsiError("ResourceNotFound", f"Unknown batch operation {operation!r}.")
    ngsi_access.require_write(request)
    raw, kind = await api.read_raw(request)  # before the turn: a slow upload holds up no one else
    async with _turn(request):
        return await _batch(request, operation, raw, kind)


_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _turn(request: Request) -> contextlib.AbstractAsyncContextManager[Any]:
    """On SQLite, a web process parses and writes its batches one at a time (their bodies are read
    before, so that a slow upload holds up no one). The database has one writer, so a second batch
    of the same process could only wait for it, and meanwhile its parsing would take the
    interpreter from the thread holding the writer lock: the lock is held longer, for every
    process. Parsing the next batch while another process writes is what overlaps (measured with
    `bench/ngsi.py`: ~5 % more entity updates a second). PostgreSQL's writers run side by side.
    The lock is per event loop: one per web process in production."""
    if not request.app.state.db.is_sqlite:
        return contextlib.nullcontext()
    loop = asyncio.get_running_loop()
    lock = _TURNS.get(loop)
    if lock is None:
        lock = _TURNS[loop] = asyncio.Lock()
    return lock


async def _batch(request: Request, operation: str, raw: bytes, kind: str) -> Response:
    if kind == "ld" and neg.link_context(request.headers.get("link")):  # the request, not each item
        raise ngsi.bad("application/ld+json carries its @context in the body: no Link header.")
    items = _batch_items(request, raw)
    options = api.options_of(request)
    errors: list[tuple[int, dict[str, Any]]] = []
    parsed: list[tuple[int, ngsi.EntityIn | str]] = []
    # the Link header's context, shared by the items that carry none
    shared = api.read_context(request) if kind != "ld" and operation != "delete" else None
    for n, item in enumerate(items):
        try:
            if operation == "delete":
                parsed.append((n, ngsi.check_uri(item)))
            else:
                own = shared is None or (isinstance(item, dict) and "@context" in item)
                ctx = api.body_context(request, kind, item) if own else shared
                entity = ngsi.parse_entity(item, ctx)
                ngsi_null.refuse_null_within(entity.attrs, ctx, merge=operation == "merge")
                parsed.append((n, entity))
        except Exception as exc:
            errors.append((n, _error_of(item, exc)))
    outcome = await api.run_in_thread(request, actions.run_batch, request.app.state.db, operation, parsed,
                                      replace="update" not in options, overwrite="noOverwrite" not in options)
    errors += [(n, _error_of(items[n], exc)) for n, exc in outcome.errors]
    problems = [problem for _n, problem in sorted(errors, key=lambda e: e[0])]
    if operation == "upsert" and not problems:
        return _batch_answer(outcome.created, problems, created=bool(outcome.created))
    if operation == "create":
        return _batch_answer(outcome.created, problems, created=True)
    return _batch_answer(outcome.success, problems, created=False)
