"""The NGSI-LD temporal API (ETSI GS CIM 009 v1.6+, temporal evolution of entities) at
``/ngsi-ld/v1/temporal/entities``: retrieve one entity's history, or query entities (the entity
query of ``/entities``) with theirs, the query in the URL or (``POST
/temporal/entityOperations/query``) in the body.

Parameters: ``timerel``/``timeAt``/``endTimeAt``, ``timeproperty`` (only ``observedAt``),
``attrs``, ``firstN``/``lastN`` with ``offsetN`` (pages of instances, ``Link`` to the neighbouring
pages), ``options``/``format`` (normalized, ``temporalValues``,
``aggregatedValues`` with ``aggrMethods`` and ``aggrPeriodDuration``). Reads are in
``temporal.py``; access is that of entity reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from parvis.modules.sensors import api, ngsi_access, queries, temporal
from parvis.modules.sensors.batch_api import query_params, with_selectors
from parvis.modules.sensors.models import Entity
from parvis.modules.sensors.ngsi_route import NgsiRoute
from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards import negotiation as neg
from parvis.modules.sensors.standards import ngsi_ld as ngsi

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"], route_class=NgsiRoute)

NORMALIZED, TEMPORAL_VALUES, AGGREGATED = "normalized", "temporalValues", "aggregatedValues"
_FORMATS = {"normalized": NORMALIZED, "temporalValues": TEMPORAL_VALUES, "simplified": TEMPORAL_VALUES,
            "keyValues": TEMPORAL_VALUES, "aggregatedValues": AGGREGATED}


@dataclass(frozen=True)
class TemporalAsk:
    """What a temporal request asks for, beyond which entities."""

    window: temporal.Window
    representation: str
    last_n: int | None = None
    methods: tuple[str, ...] = ()
    period: timedelta | None = None
    page: temporal.Page = field(default_factory=temporal.Page)


def _bad(exc: temporal.TemporalError) -> ngsi.NgsiError:
    return ngsi.bad(str(exc))


def _representation(params: Mapping[str, str]) -> str:
    options = {o.strip() for o in params.get("options", "").split(",") if o.strip()}
    chosen = {_FORMATS[o] for o in options if o in _FORMATS and o != "normalized"}
    fmt = params.get("format")
    if fmt:  # CIM 009: format takes precedence over options
        if fmt not in _FORMATS:
            raise ngsi.NgsiError("InvalidRequest", f"format must be normalized, temporalValues or "
                                 f"aggregatedValues, not {fmt[:40]!r}.")
        return _FORMATS[fmt]
    if len(chosen) > 1:
        raise ngsi.bad("temporalValues and aggregatedValues cannot be asked together.")
    return chosen.pop() if chosen else NORMALIZED


def parse_ask(params: Mapping[str, str]) -> TemporalAsk:
    timeproperty = params.get("timeproperty")
    if timeproperty not in (None, "", "observedAt"):
        raise ngsi.bad(f"timeproperty {timeproperty[:40]!r} is not supported: only observedAt.")
    try:
        win = temporal.window(params.get("timerel"), params.get("timeAt"), params.get("endTimeAt"))
        representation = _representation(params)
        last_n, page = _page(params)
        if representation != AGGREGATED:
            return TemporalAsk(win, representation, last_n, page=page)
        if params.get("firstN") or params.get("offsetN"):
            raise ngsi.bad("firstN and offsetN page the instances; aggregatedValues aggregates them "
                           "all (lastN may select the last N).")
        methods = temporal.aggr_methods(params.get("aggrMethods"))
        period = temporal.duration(params.get("aggrPeriodDuration"))
    except temporal.TemporalError as exc:
        raise _bad(exc) from None
    return TemporalAsk(win, representation, last_n, tuple(methods), period)


def _page(params: Mapping[str, str]) -> tuple[int | None, temporal.Page]:
    """``lastN``, and the page of instances asked for (``firstN`` or ``lastN``, ``offsetN``)."""
    first_n, last_n = params.get("firstN"), params.get("lastN")
    if first_n and last_n:
        raise ngsi.bad("firstN and lastN cannot be asked together: firstN pages from the first "
                       "instance, lastN from the last.")
    name = "lastN" if last_n else "firstN"
    size = api.whole(last_n or first_n, temporal.MAX_INSTANCES, name, temporal.MAX_INSTANCES)
    if size == 0:
        raise ngsi.bad(f"{name} must be at least 1.")
    offset = api.whole(params.get("offsetN"), 0, "offsetN", temporal.MAX_OFFSET_N)
    return (size if last_n else None), temporal.Page(size, offset, descending=bool(last_n))


def page_links(request: Request, ask: TemporalAsk, more: bool) -> dict[str, str]:
    """The ``Link`` header to the neighbouring pages of instances (TS 104-176 6.4.7.3): rel
    ``intervalafter`` for the page of later instances, ``intervalbefore`` for earlier ones. Going
    by ``lastN`` the next page (higher ``offsetN``) holds the earlier instances."""
    page = ask.page
    if ask.representation == AGGREGATED:
        return {}
    following = (page.offset + page.size, page.size) if more else None
    previous = (max(0, page.offset - page.size), min(page.size, page.offset)) if page.offset > 0 else None
    later, earlier = (previous, following) if page.descending else (following, previous)
    size_name = "lastN" if page.descending else "firstN"
    paged = ("firstN", "lastN", "offsetN")
    steps = [(rel, step) for rel, step in (("intervalafter", later), ("intervalbefore", earlier)) if step]
    links = [f'<{api.page_url(request, paged, [(size_name, str(size)), ("offsetN", str(offset))])}>; '
             f'rel="{rel}"; type="application/ld+json"' for rel, (offset, size) in steps]
    return {"Link": ", ".join(links)} if links else {}


def _attribute_names(row: Entity, only: set[str] | None) -> list[str]:
    return sorted(iri for iri in row.attrs if only is None or iri in only)


def _kind(row: Entity, iri: str) -> str:
    current = row.attrs.get(iri)
    return current.get("type", "Property") if isinstance(current, dict) else "Property"


# the simplified representation's list of each attribute type's values
_SIMPLIFIED_KEY = {"Relationship": "objects", "LanguageProperty": "languageMaps"}


def _simplified(kind: str, value: Any) -> Any:
    """An instance's value in the simplified temporal representation (CIM 009 4.5.9): a
    LanguageProperty's languageMap as the object ``{"languageMap": {...}}`` (a bare map in the pair
    would not read as a map of languages: the core context makes the languageMap member one), any
    other attribute's value or object as it is."""
    return {"languageMap": value} if kind == "LanguageProperty" else value


def temporal_entity(session: Any, row: Entity, ctx: ldctx.Context, ask: TemporalAsk,
                    only: set[str] | None) -> tuple[dict[str, Any], bool]:
    """One entity with the temporal evolution of its attributes, in the representation asked, and
    whether some attribute has instances beyond the page asked for."""
    out: dict[str, Any] = {"id": row.id, "type": ctx.compact(row.type)}
    names = _attribute_names(row, only)
    aggregated = ask.representation == AGGREGATED
    if aggregated and temporal.sql_aggregable(ask.methods, ask.window, ask.period, ask.last_n):
        for iri, values in temporal.aggregate_in_sql(session, row.id, names, ask.window, ask.methods,
                                                     ask.period).items():
            out[ctx.compact(iri)] = {"type": _kind(row, iri), **values}
        return out, False
    more = False
    if aggregated:
        try:
            found = temporal.instances(session, row.id, names, ask.window, last_n=ask.last_n,
                                       limit=temporal.MAX_AGGREGATED,
                                       with_values=temporal.needs_values(ask.methods))
        except temporal.TemporalError as exc:
            raise _bad(exc) from None
    else:
        found, more = temporal.instance_page(session, row.id, names, ask.window, ask.page)
    for iri in names:
        items = found.get(iri)
        if not items:
            continue
        current = row.attrs.get(iri) or {}
        kind = _kind(row, iri)
        name = ctx.compact(iri)
        if aggregated:
            out[name] = {"type": kind, **temporal.aggregate(items, ask.methods, ask.window, ask.period)}
        elif ask.representation == TEMPORAL_VALUES:  # a relationship's are its "objects"...
            key = _SIMPLIFIED_KEY.get(kind, "values")
            out[name] = {"type": kind,
                         key: [[_simplified(kind, i.value), ngsi.ngsi_time(i.at)] for i in items]}
        else:
            unit = current.get("unitCode") if isinstance(current, dict) else None
            extra = {"unitCode": unit} if unit else {}
            member = ngsi.VALUE_MEMBER.get(kind, "value")
            out[name] = [{"type": kind, member: i.value, "observedAt": ngsi.ngsi_time(i.at), **extra}
                         for i in items]
    return out, more


@router.get("/temporal/entities/{entity_id:path}", summary="NGSI-LD: retrieve the temporal evolution "
            "of an entity")
def retrieve_temporal(request: Request, entity_id: str) -> Response:
    access = ngsi_access.access_of(request)
    neg.accepted(request.headers.get("accept"))
    ctx = api.read_context(request)
    entity_id = ngsi.check_uri(entity_id)
    ask = parse_ask(request.query_params)
    only = api.attrs_param(request, ctx)
    with request.app.state.db.read() as session:
        row = api.readable_entity(session, access, entity_id)
        payload, more = temporal_entity(session, row, ctx, ask, only)
    if only and only.isdisjoint(row.attrs) and payload.keys() <= {"id", "type"}:
        # as the entity's retrieval: it has none of the attributes asked, nor any history of them
        raise ngsi.NgsiError("ResourceNotFound", f"The entity {entity_id} has none of the "
                             f"attributes {request.query_params['attrs']}.")
    return api.answer(request, payload, ctx, headers=page_links(request, ask, more))


@router.get("/temporal/entities", summary="NGSI-LD: query the temporal evolution of entities")
def query_temporal(request: Request) -> Response:
    access = ngsi_access.access_of(request)
    neg.accepted(request.headers.get("accept"))
    ctx = api.read_context(request)
    query = api.entity_query(request, ctx, access)
    return _temporal_answer(request, ctx, query, parse_ask(request.query_params))


@router.post("/temporal/entityOperations/query", summary="NGSI-LD: query the temporal evolution of "
             "entities, the query in the body")
async def query_temporal_by_post(request: Request) -> Response:
    """A ``Query`` in the body (``entities``, ``attrs``, ``q``, ``geoQ`` as for
    ``POST /entityOperations/query``, and ``temporalQ``: ``timerel``, ``timeAt``, ``endTimeAt``,
    ``timeproperty``, ``firstN``, ``lastN``, ``offsetN``); ``limit``, ``offset``, ``count``,
    ``options``, ``format``, ``aggrMethods`` and ``aggrPeriodDuration`` stay in the URL, and
    ``firstN``/``lastN``/``offsetN`` there win over the body's (the page links are to this
    endpoint with them: post the same body to a link). Answered as ``GET /temporal/entities``."""
    access = ngsi_access.access_of(request)
    neg.accepted(request.headers.get("accept"))
    body, kind = await api.read_body(request)
    ctx = api.body_context(request, kind, body)
    paging = {k: v for k, v in request.query_params.items() if k in ("firstN", "lastN", "offsetN")}
    temporal_q, aggregation = _temporal_q(body), _aggr_params(body)
    params = {**aggregation, **request.query_params, **query_params(body), **temporal_q, **paging}
    if "options" in temporal_q | aggregation and request.query_params.get("options"):
        # the body's aggregation and the URL's options: both
        params["options"] = f"{request.query_params['options']},aggregatedValues"
    query, ask = with_selectors(api.entity_query(request, ctx, access, params), body, ctx), parse_ask(params)
    return await api.run_in_thread(request, _temporal_answer, request, ctx, query, ask)


def _aggr_params(body: dict[str, Any]) -> dict[str, str]:
    """A ``Query``'s ``aggrParams`` (``aggrMethods``, ``aggrPeriodDuration``) as the URL's
    parameters, which win where both are given; they ask for the aggregated representation
    (beside the URL's ``options``, if any)."""
    found = body.get("aggrParams") if isinstance(body, dict) else None
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise ngsi.bad("aggrParams must be an object whose aggrMethods is an array of method names "
                       f"({', '.join(temporal.AGGR_METHODS)}).")
    return _aggregation(found, "aggrParams")


def _aggregation(found: dict[str, Any], where: str) -> dict[str, str]:
    """``aggrMethods`` (an array of names, or CIM 009 5.2.21's comma-separated text) and
    ``aggrPeriodDuration`` of an ``aggrParams`` or a ``temporalQ``, as the URL's parameters."""
    methods = found.get("aggrMethods")
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",")]
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) and m for m in methods):
        raise ngsi.bad(f"{where}.aggrMethods must be an array of method names (or one text of them "
                       f"separated by commas): {', '.join(temporal.AGGR_METHODS)}.")
    out = {"aggrMethods": ",".join(methods), "options": "aggregatedValues"}
    period = found.get("aggrPeriodDuration")
    if period is not None:
        if not isinstance(period, str):
            raise ngsi.bad(f"{where}.aggrPeriodDuration must be an ISO 8601 duration (such as PT1H).")
        out["aggrPeriodDuration"] = period
    return out


def _temporal_q(body: dict[str, Any]) -> dict[str, str]:
    """A ``Query``'s ``temporalQ`` in the names of the temporal query's parameters; its
    ``aggrMethods`` (CIM 009 5.2.21) ask for the aggregated representation, as ``aggrParams``."""
    found = body.get("temporalQ")
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise ngsi.bad("temporalQ must be an object (timerel, timeAt, endTimeAt, timeproperty, firstN, "
                       "lastN, offsetN, aggrMethods, aggrPeriodDuration).")
    out = {}
    for name in ("timerel", "timeAt", "endTimeAt", "timeproperty", "firstN", "lastN", "offsetN"):
        value = found.get(name)
        if value is None:
            continue
        if name.endswith("N") and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            kind = "whole number" if name.endswith("N") else "string"
            raise ngsi.bad(f"temporalQ.{name} must be a {kind}.")
        out[name] = value
    if found.get("aggrMethods") is not None:
        out.update(_aggregation(found, "temporalQ"))
    elif found.get("aggrPeriodDuration") is not None:
        raise ngsi.bad("temporalQ.aggrPeriodDuration goes with aggrMethods.")
    return out


def _temporal_answer(request: Request, ctx: ldctx.Context, query: queries.EntityQuery,
                     ask: TemporalAsk) -> Response:
    if ask.window.timerel:  # the entities with an instance in the window, not every one of the type
        query = replace(query, observed=(ask.window.lower(), ask.window.upper()))
    with request.app.state.db.read() as session:
        rows, total = queries.entities(session, query)
        answers = [temporal_entity(session, row, ctx, ask, query.attrs) for row in rows]
    headers = page_links(request, ask, any(more for _, more in answers))
    if total is not None:
        headers["NGSILD-Results-Count"] = str(total)
    return api.answer(request, [payload for payload, _ in answers], ctx, headers=headers)


__all__ = ["router"]
