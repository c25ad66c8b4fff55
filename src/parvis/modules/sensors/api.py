"""The NGSI-LD API (ETSI GS CIM 009) at ``/ngsi-ld/v1/``: entities, attributes, batch operations.

Each route parses its own body (so that a malformed one gives the spec's error, never a 500),
checks the client's API key, calls an action or a query, and answers in the media type the
client accepts with the context it used. Errors are the spec's problem details.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import anyio.to_thread
import httpx
import orjson
from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from parvis.kernel.errors import NotAuthenticated
from parvis.kernel.group_commit import GroupCommit
from parvis.modules.sensors import actions, queries
from parvis.modules.sensors.models import Entity
from parvis.modules.sensors.ngsi_access import Access, access_of, require_write
from parvis.modules.sensors.ngsi_route import NgsiRoute
from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards import geojson, ngsi_null, units
from parvis.modules.sensors.standards import negotiation as neg
from parvis.modules.sensors.standards import ngsi_ld as ngsi
from parvis.modules.sensors.standards import query as ngsiq
from parvis.modules.sensors.standards.type_selection import type_selection
from parvis.settings import Settings

log = logging.getLogger(__name__)
MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000
DEFAULT_LIMIT = 20
# GET /entities needs at least one of these (ETSI GS CIM 009, 5.7.2): no unbounded listing.
PREFIX = "/ngsi-ld/"  # every NGSI-LD path: its errors and body limits are the spec's
ENTITY_FILTERS = ("type", "id", "idPattern", "attrs", "q", "georel", "geometry", "local",
                  "coordinates")


router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"], route_class=NgsiRoute)


# ------------------------------------------------------------------------------ contexts

_fetched: dict[str, Any] = {}
_fetch_lock = threading.Lock()


def loader_for(settings: Settings) -> ldctx.Loader:
    """Fetches a user context only when the city allows its URL; once per process."""
    allowed = set(settings.ngsi_context_allowlist)

    def load(url: str) -> Any:
        if url not in allowed:
            return ldctx.refuse(url)
        with _fetch_lock:
            if url in _fetched:
                return _fetched[url]
        try:
            response = httpx.get(url, timeout=5.0, follow_redirects=False,
                                 headers={"Accept": neg.LD_JSON})
            response.raise_for_status()
            if len(response.content) > 1_000_000:
                raise ValueError("too large")
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ldctx.ContextError("unavailable",
                                     f"The context {url} could not be fetched: {exc}.") from None
        with _fetch_lock:
            _fetched[url] = document
        return document

    return load


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def read_context(request: Request) -> ldctx.Context:
    """The context of a request without a body: its Link header, else the core context."""
    url = neg.link_context(request.headers.get("link"))
    if url is None:
        return ldctx.core()
    if url in ldctx.SHIPPED:
        return ldctx.shipped(url)
    return ldctx.build(url, loader_for(settings_of(request)))


async def read_body(request: Request) -> tuple[Any, str]:
    """The JSON body and its kind (``json``/``ld``), within the size limit."""
    raw, kind = await read_raw(request)
    return ngsi.loads(raw), kind


async def read_raw(request: Request) -> tuple[bytes, str]:
    """The body's bytes (not empty, within the size limit) and its kind (``json``/``ld``)."""
    kind = neg.request_kind(request.headers.get("content-type"))
    limit = settings_of(request).ngsi_max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and (
            len(declared) > 15 or int(declared) > limit):
        raise ngsi.NgsiError("BadRequestData", f"The body is larger than {limit} bytes.", status=413)
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > limit:
            raise ngsi.NgsiError("BadRequestData", f"The body is larger than {limit} bytes.", status=413)
    if not raw:
        raise ngsi.NgsiError("InvalidRequest", "The request needs a JSON body.")
    return bytes(raw), kind


def body_context(request: Request, kind: str, body: Any) -> ldctx.Context:
    """The context a payload is written in: the Link header (JSON) or its @context (JSON-LD)."""
    if kind == "ld":
        if neg.link_context(request.headers.get("link")):
            raise ngsi.bad("application/ld+json carries its @context in the body: no Link header.")
        if not isinstance(body, dict):  # not the shape of any payload: a malformed request
            raise ngsi.NgsiError("InvalidRequest", "An application/ld+json body must be a JSON object "
                                 "(with its @context).")
        if "@context" not in body:
            raise ngsi.bad("An application/ld+json body must carry an @context.")
        source = body["@context"]
        if isinstance(source, str) and source in ldctx.SHIPPED:
            return ldctx.shipped(source)
        return ldctx.build(source, loader_for(settings_of(request)))
    if isinstance(body, dict) and "@context" in body:
        raise ngsi.bad("An application/json body cannot carry an @context: send it in a Link header "
                       "or use application/ld+json.")
    return read_context(request)


# ------------------------------------------------------------------------------ answers

def answer(request: Request, payload: Any, ctx: ldctx.Context, *, status: int = 200,
           headers: dict[str, str] | None = None, geo: geojson.GeoAsk | None = None) -> Response:
    """The payload in the media type asked for; entities (``geo`` given) also as GeoJSON."""
    kind = neg.accepted(request.headers.get("accept"), geo=geo is not None)
    out_headers = dict(headers or {})
    if kind == neg.GEO_JSON and geo is not None:
        payload = geo.document(payload)
        out_headers["Link"] = ", ".join(filter(None, (ngsi.link_header(ctx), out_headers.get("Link"))))
    elif kind == neg.LD_JSON:
        context = ngsi.context_value(ctx)
        if isinstance(payload, list):
            payload = [{**item, "@context": context} for item in payload]
        else:
            payload = {**payload, "@context": context}
    else:  # the context's link first, then any the caller gives (pages)
        out_headers["Link"] = ", ".join(filter(None, (ngsi.link_header(ctx), out_headers.get("Link"))))
    return Response(orjson.dumps(payload), status_code=status, media_type=kind, headers=out_headers)


def options_of(request: Request) -> set[str]:
    options = {o.strip() for o in request.query_params.get("options", "").split(",") if o.strip()}
    if "simplified" in options:  # the spec's other name of keyValues
        options.add("keyValues")
    fmt = request.query_params.get("format")
    if fmt in ("keyValues", "simplified"):
        options.add("keyValues")
    elif fmt == "concise":
        options.add("concise")
    elif fmt not in (None, "", "normalized"):
        raise ngsi.NgsiError("InvalidRequest",  # as a malformed request (the ETSI suite's 018_16)
                             f"format must be normalized, concise, keyValues or simplified, not {fmt!r}.")
    return options


def attrs_param(request: Request, ctx: ldctx.Context,
                params: Mapping[str, str] | None = None) -> set[str] | None:
    params = request.query_params if params is None else params
    raw = params.get("attrs")
    if not raw:
        return None
    terms = [term.strip() for term in raw.split(",") if term.strip()]
    iris = {term: ctx.expand(term) for term in terms}
    members = [term for term, iri in iris.items() if term in ngsi.NOT_ATTRIBUTES or iri.startswith("@")
               or iri in _member_iris()]
    if members:  # CIM 009 5.7.2.4: attrs names attributes (a query on system ones alone is too wide)
        raise ngsi.bad(f"attrs names attributes, and {', '.join(members)} "
                       f"{'is' if len(members) == 1 else 'are'} not: entity members and system "
                       "attributes (createdAt, modifiedAt: options=sysAttrs) are not asked for by attrs.")
    return set(iris.values())


@cache
def _member_iris() -> frozenset[str]:
    """The IRIs of the names ``attrs`` cannot ask for, as the core context expands them
    (``ngsi-ld:createdAt`` is ``createdAt``)."""
    return frozenset(ldctx.core().expand(name) for name in ngsi.NOT_ATTRIBUTES)


@dataclass(frozen=True)
class Shape:
    """How a request asks its entities shown: the representation (``options``/``format``), the
    language of LanguageProperties (``lang``), the members kept (``pick``/``omit``)."""
    options: frozenset[str]
    lang: str | None
    shown: ngsi.Projection | None

    @staticmethod
    def of(request: Request) -> Shape:
        params = request.query_params
        return Shape(frozenset(options_of(request)), params.get("lang") or None,
                     ngsi.Projection.of(params.get("pick"), params.get("omit")))


def render(row: Entity, ctx: ldctx.Context, shape: Shape, only: set[str] | None) -> dict[str, Any]:
    attrs = ngsi.in_language(row.attrs, shape.lang) if shape.lang else row.attrs
    out = ngsi.render_entity(row.id, row.type, attrs, ctx, key_values="keyValues" in shape.options,
                             only=only, sysattrs="sysAttrs" in shape.options, created=row.created_at,
                             modified=row.modified_at)
    if "concise" in shape.options and "keyValues" not in shape.options:
        out = ngsi.concise_entity(out)
    return shape.shown.apply(out) if shape.shown is not None else out


def _entity_id(value: str) -> str:
    if not value:  # ".../entities/": the entity's own address without its id
        raise ngsi.bad("The entity's id goes in the path: /ngsi-ld/v1/entities/{id}.")
    return ngsi.check_uri(value)


def _partial(not_updated: list[str], ctx: ldctx.Context, updated: list[str], reason: str) -> Response:
    if not not_updated:
        return Response(status_code=204)
    body = {"updated": [ctx.compact(i) for i in updated],
            "notUpdated": [{"attributeName": ctx.compact(i), "reason": reason} for i in not_updated]}
    return Response(orjson.dumps(body), status_code=207, media_type=neg.JSON)


# ------------------------------------------------------------------------------- entities

@router.post("/entities", summary="NGSI-LD: create an entity", status_code=201)
async def create_entity(request: Request) -> Response:
    require_write(request)
    body, kind = await read_body(request)
    ctx = body_context(request, kind, body)
    entity = ngsi.parse_entity(body, ctx)
    nulls = [ctx.compact(iri) for iri, attr in entity.attrs.items() if ngsi_null.holds_null(attr)]
    if nulls:  # Null deletes an attribute or a member: a new entity has none to delete
        raise ngsi.bad(f"A new entity cannot have NGSI-LD's Null ({', '.join(nulls)}), in an attribute, "
                       "a sub-attribute or a value.")
    await run_in_thread(request, actions.create_entity, request.app.state.db, entity)
    location = f"/ngsi-ld/v1/entities/{quote(entity.id, safe=':')}"  # an http id's "/" as %2F
    return Response(status_code=201, headers={"Location": location})


@router.get("/entities", summary="NGSI-LD: query entities")
def query_entities(request: Request) -> Response:
    ctx = read_context(request)
    return query_answer(request, ctx, entity_query(request, ctx, access_of(request)))


def query_answer(request: Request, ctx: ldctx.Context, query: queries.EntityQuery) -> Response:
    """The entities a query selects, in the representation the request asks for."""
    shape = Shape.of(request)
    geo, only = geojson.ask(request.headers.get("accept"), request.query_params.get("geometryProperty"),
                            ctx, query.attrs)
    with request.app.state.db.read() as session:
        # one more than the page tells whether a next page exists
        rows, total = queries.entities(session, replace(query, limit=query.limit + 1))
        more = 0 < query.limit < len(rows)  # limit=0 (a count alone) has no pages to link
        payload = [render(row, ctx, shape, only) for row in rows[:query.limit]]
    headers = page_links(request, query, more)
    if total is not None:
        headers["NGSILD-Results-Count"] = str(total)
    return answer(request, payload, ctx, headers=headers, geo=geo)


def page_links(request: Request, query: queries.EntityQuery, more: bool) -> dict[str, str]:
    """``Link`` to the next and previous pages (CIM 009 5.5.9): this request with ``offset``
    moved by ``limit`` (a POSTed query: post the same body there)."""
    steps = [("next", query.offset + query.limit)] if more else []
    if query.offset > 0 and query.limit > 0:
        steps.append(("prev", max(0, query.offset - query.limit)))
    paged = ("offset", "limit")
    links = [f'<{page_url(request, paged, [("limit", str(query.limit)), ("offset", str(at))])}>; rel="{rel}"'
             for rel, at in steps]
    return {"Link": ", ".join(links)} if links else {}


def page_url(request: Request, replacing: tuple[str, ...], paging: list[tuple[str, str]]) -> str:
    """A page link: this request's address without its ``replacing`` parameters, with ``paging``
    after the others (kept in their order); the path as sent (an id's %, non-ASCII encoded)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in replacing]
    path = quote(request.url.path, safe="/:@!$&'()*+,;=~")
    return f"{path}?{urlencode([*kept, *paging])}"


def entity_query(request: Request, ctx: ldctx.Context, access: Access,
                 params: Mapping[str, str] | None = None) -> queries.EntityQuery:
    """The entity query the parameters of ``GET /entities`` (and of the temporal query) ask for,
    or ``params`` (a ``POST /entityOperations/query``'s, in the same names)."""
    params = request.query_params if params is None else params
    if params.get("scopeQ"):
        raise ngsi.NgsiError("OperationNotSupported", "scopeQ is not supported: entities have no scope here.")
    if not any(params.get(name) for name in ENTITY_FILTERS):
        raise ngsi.bad("A query needs at least one of type, id, idPattern, attrs, q or a "
                       "geo-query.")
    query = queries.EntityQuery(limit=whole(params.get("limit"), DEFAULT_LIMIT, "limit", MAX_LIMIT),
                                offset=whole(params.get("offset"), 0, "offset", MAX_OFFSET),
                                count=params.get("count") == "true"  # or Orion-LD's first spelling
                                or "count" in {o.strip() for o in params.get("options", "").split(",")})
    if query.limit == 0 and not query.count:
        raise ngsi.bad("limit=0 is only allowed with count=true.")
    if _every_type(params.get("type")):  # "*": every type (CIM 009 v1.9, 6.4.3.2), only local ones
        if params.get("local") == "false":
            raise ngsi.bad("type=* asks for the entities of every type held here: local cannot be false.")
    elif params.get("type"):  # a type selection (CIM 009 4.17): "A,B", "(A|B)", "(A|B);A"
        query.types = type_selection(params["type"], ctx)[1]
    if params.get("id"):
        query.ids = [ngsi.check_uri(i.strip()) for i in params["id"].split(",") if i.strip()]
    if params.get("idPattern"):
        query.id_pattern = ngsiq.id_pattern(params["idPattern"])
    if params.get("q"):
        query.q = ngsiq.parse_q(params["q"], ctx)
        if query.q.only_system_attributes and not any(params.get(n) for n in ENTITY_FILTERS if n != "q"):
            raise ngsi.bad("q names only system attributes (createdAt, modifiedAt, deletedAt), which do not "
                           "select entities: add a type, an id, idPattern, attrs, a q on an attribute or a "
                           "geo-query (CIM 009 5.7.2.4).")
    query.geo = ngsiq.parse_geo(params.get("georel"), params.get("geometry"), params.get("coordinates"),
                                params.get("geoproperty"), ctx)
    query.attrs = attrs_param(request, ctx, params)
    if not access.can_read:
        query.readable_types = access.public_types
        if query.types is not None and not access.public_types.intersection(query.types):
            raise NotAuthenticated("These entity types are not public: send an API key with read access.")
    return query


def _every_type(value: str | None) -> bool:
    """``type=*``: the entities of every type."""
    return value is not None and value.strip() == "*"


def whole(value: str | None, default: int, name: str, most: int) -> int:
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()):  # isdigit alone takes '²' and other digits
        raise ngsi.NgsiError("BadRequestData", f"{name} must be a whole number, at least 0.")
    if len(value) > len(str(most)) or int(value) > most:
        raise ngsi.NgsiError("BadRequestData", f"{name} is at most {most}.")
    return int(value)


@router.get("/entities/{entity_id:path}", summary="NGSI-LD: retrieve an entity")
def retrieve_entity(request: Request, entity_id: str) -> Response:
    access = access_of(request)
    ctx = read_context(request)
    entity_id = _entity_id(entity_id)
    shape = Shape.of(request)
    asked = attrs_param(request, ctx)
    geo, only = geojson.ask(request.headers.get("accept"), request.query_params.get("geometryProperty"),
                            ctx, asked)
    with request.app.state.db.read() as session:
        row = readable_entity(session, access, entity_id)
        _check_type(request, ctx, row, entity_id)
        if asked and asked.isdisjoint(row.attrs):  # CIM 009 5.7.1.4: nothing of what was asked
            raise ngsi.NgsiError("ResourceNotFound", f"The entity {entity_id} has none of the "
                                 f"attributes {request.query_params['attrs']}.")
        payload = render(row, ctx, shape, only)
    return answer(request, payload, ctx, geo=geo)


def readable_entity(session: Session, access: Access, entity_id: str) -> Entity:
    """The entity, if this client may read it; without a key a private entity is as good as
    absent (ResourceNotFound, no 401 telling that it exists)."""
    row = queries.entity(session, entity_id)
    missing = ngsi.NgsiError("ResourceNotFound", f"No entity has the id {entity_id}.")
    if row is None or (not access.has_key and row.type not in access.public_types):
        raise missing
    access.check_read(row.type)
    return row


@router.put("/entities/{entity_id:path}/attrs/{attr_id:path}", summary="NGSI-LD: replace an attribute",
            status_code=204)
async def replace_attribute(request: Request, entity_id: str, attr_id: str) -> Response:
    """The attribute, whole (its ``createdAt`` kept); 404 when the entity or the attribute is not
    there. Declared before the entity's own PUT, which would otherwise take this path."""
    require_write(request)
    entity_id = _entity_id(entity_id)
    body, kind = await read_body(request)
    ctx = body_context(request, kind, body)
    await _only_of_type(request, entity_id, ctx)
    iri = ctx.expand(attr_id)
    attrs = ngsi.parse_attributes({attr_id: {k: v for k, v in body.items() if k != "@context"}}
                                  if isinstance(body, dict) else body, ctx)
    ngsi_null.refuse_null_within(attrs, ctx)
    skipped = await _attribute_writes(request)(actions.AttributeWrite(
        entity_id, {iri: attrs[iri]}, overwrite=True, existing_only=True))
    if skipped:
        raise ngsi.NgsiError("ResourceNotFound", f"The entity {entity_id} has no attribute {attr_id}.")
    return Response(status_code=204)


@router.put("/entities/{entity_id:path}", summary="NGSI-LD: replace an entity", status_code=204)
async def replace_entity(request: Request, entity_id: str) -> Response:
    require_write(request)
    entity_id = _entity_id(entity_id)
    body, kind = await read_body(request)
    ctx = body_context(request, kind, body)
    await _only_of_type(request, entity_id, ctx)
    if isinstance(body, dict):
        body = {**_of_entity(body, entity_id), "id": entity_id}
    entity = ngsi.parse_entity(body, ctx)
    ngsi_null.refuse_null_within(entity.attrs, ctx)
    await run_in_thread(request, actions.replace_entity, request.app.state.db, entity)
    return Response(status_code=204)


async def run_in_thread(request: Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Runs a (blocking) action in the thread pool."""
    return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))


# ----------------------------------------------------------------------------- attributes

def _attribute_writes(request: Request) -> GroupCommit[actions.AttributeWrite, list[str]]:
    """The web process's group commit of attribute writes (one per application)."""
    state = request.app.state
    group = getattr(state, "ngsi_attribute_writes", None)
    if group is None:
        db = state.db
        # one transaction at a time, PostgreSQL included: the writes arriving meanwhile make the next
        # group bigger, and a group's fixed cost (~5 statements) is shared by more of them
        group = state.ngsi_attribute_writes = GroupCommit(lambda writes: actions.write_attributes(db, writes))
    return group


async def _write_attributes(request: Request, entity_id: str, why_skipped: str, *, overwrite: bool,
                            existing_only: bool) -> Response:
    """Append or update attributes: 204, or 207 naming those not written and why. Requests
    arriving together share a transaction (``kernel.group_commit``)."""
    require_write(request)
    entity_id = _entity_id(entity_id)
    body, kind = await read_body(request)
    ctx = body_context(request, kind, body)
    await _only_of_type(request, entity_id, ctx)
    attrs = ngsi.parse_attributes(body, ctx)
    ngsi_null.refuse_null_within(attrs, ctx)
    skipped = await _attribute_writes(request)(actions.AttributeWrite(
        entity_id, attrs, overwrite=overwrite, existing_only=existing_only))
    updated = [i for i in attrs if i not in skipped]
    return _partial(skipped, ctx, updated, why_skipped)


@router.post("/entities/{entity_id:path}/attrs", summary="NGSI-LD: append attributes", status_code=204)
async def append_attributes(request: Request, entity_id: str) -> Response:
    return await _write_attributes(request, entity_id,
                                   "The attribute exists and options=noOverwrite was given.",
                                   overwrite="noOverwrite" not in options_of(request), existing_only=False)


@router.patch("/entities/{entity_id:path}/attrs", summary="NGSI-LD: update attributes", status_code=204)
async def update_attributes(request: Request, entity_id: str) -> Response:
    return await _write_attributes(request, entity_id, "The entity has no such attribute.",
                                   overwrite=True, existing_only=True)


@router.patch("/entities/{entity_id:path}/attrs/{attr_id:path}", summary="NGSI-LD: partial attribute update",
              status_code=204)
async def patch_attribute(request: Request, entity_id: str, attr_id: str) -> Response:
    require_write(request)
    entity_id = _entity_id(entity_id)
    body, kind = await read_body(request)
    ctx = body_context(request, kind, body)
    await _only_of_type(request, entity_id, ctx)
    if isinstance(body, dict):  # the payload's @context, not the attribute's
        body = {k: v for k, v in body.items() if k != "@context"}
    partial = ngsi.parse_attribute(attr_id, body, ctx, partial=True)
    attr_iri = ctx.expand(attr_id)
    ngsi_null.refuse_null_within({attr_iri: partial}, ctx)
    ngsi.check_location_patch(attr_iri, partial)
    units.check(attr_iri, partial)
    await _attribute_writes(request)(actions.AttributeWrite(entity_id, {attr_iri: partial}, partial=True))
    return Response(status_code=204)


@router.delete("/entities/{entity_id:path}/attrs/{attr_id:path}", summary="NGSI-LD: delete an attribute",
               status_code=204)
async def delete_attribute(request: Request, entity_id: str, attr_id: str) -> Response:
    require_write(request)
    entity_id = _entity_id(entity_id)
    ctx = read_context(request)
    await _only_of_type(request, entity_id, ctx)
    await run_in_thread(request, actions.delete_attribute, request.app.state.db, entity_id,
                        ctx.expand(attr_id))
    return Response(status_code=204)


# Declared after the attribute routes: an id may hold "/" (an http URI, sent as %2F), so the
# entity's own path would otherwise also match ".../attrs/<name>".
@router.delete("/entities/{entity_id:path}", summary="NGSI-LD: delete an entity", status_code=204)
async def delete_entity(request: Request, entity_id: str) -> Response:
    require_write(request)
    entity_id = _entity_id(entity_id)
    await _only_of_type(request, entity_id, read_context(request))
    await run_in_thread(request, actions.delete_entity, request.app.state.db, entity_id)
    return Response(status_code=204)


def _of_entity(body: dict[str, Any], entity_id: str) -> dict[str, Any]:
    """A body for the entity the path names: its id (or ``@id``), if any, is that one."""
    body = ngsi.keyword_aliases(body)
    if body.get("id") not in (None, entity_id):
        raise ngsi.bad(f"The body's id {body.get('id')!r} is not the entity's ({entity_id}).")
    return body


async def _only_of_type(request: Request, entity_id: str, ctx: ldctx.Context) -> None:
    """A write to an entity given with a ``type`` parameter (CIM 009 v1.8) touches only an entity
    of that type: another is as good as absent (404), before anything is written. ``ctx``: the
    request's (an ld+json body's own @context names the type too)."""
    if request.query_params.get("type"):
        def check() -> None:
            with request.app.state.db.read() as session:
                _check_type(request, ctx, queries.entity(session, entity_id), entity_id)
        await run_in_thread(request, check)


def _check_type(request: Request, ctx: ldctx.Context, row: Entity | None, entity_id: str) -> None:
    """With a ``type`` parameter, an entity of another type is as good as absent (404)."""
    wanted = request.query_params.get("type")
    if (row is not None and wanted and not _every_type(wanted)
            and row.type not in type_selection(wanted, ctx)[1]):
        raise ngsi.NgsiError("ResourceNotFound", f"No entity of type {wanted} has the id {entity_id}.")


@router.patch("/entities/{entity_id:path}", summary="NGSI-LD: merge an entity", status_code=204)
async def merge_entity(request: Request, entity_id: str) -> Response:
    """The attributes given merged into the entity: new ones added, existing ones keeping the
    members not given, those given NGSI-LD's Null deleted. Declared after the attributes' PATCH."""
    require_write(request)
    entity_id = _entity_id(entity_id)
    body, kind = await read_body(request)
    ctx = body_context(request, kind, body)
    await _only_of_type(request, entity_id, ctx)
    if isinstance(body, dict):
        body = _of_entity(body, entity_id)
    attrs = ngsi.parse_attributes(body, ctx)
    ngsi_null.refuse_null_within(attrs, ctx, merge=True)
    await _attribute_writes(request)(actions.AttributeWrite(entity_id, attrs, merge=True))
    return Response(status_code=204)


__all__ = ["router"]
