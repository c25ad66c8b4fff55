"""NGSI-LD discovery (ETSI GS CIM 009 v1.6+, "retrieve available entity types / attributes"):
``/types``, ``/types/{type}``, ``/attributes`` and ``/attributes/{attr}``, over the entities the
client may read (every type with a read key, the public ones without).

The list of types is read with one index look-up per type; counting attributes reads every
entity, so a web process reuses its count for ``PARVIS_NGSI_CENSUS_SECONDS``
(``queries.attribute_census``).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from parvis.modules.sensors import api, ngsi_access, queries
from parvis.modules.sensors.ngsi_route import NgsiRoute
from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards import negotiation as neg
from parvis.modules.sensors.standards import ngsi_ld as ngsi

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"], route_class=NgsiRoute)


def _readable(request: Request) -> tuple[ldctx.Context, set[str] | None]:
    """The context of a request for types or attributes, and the types its client may read
    (None: every type, with a read key; the public ones without)."""
    access = ngsi_access.access_of(request)
    neg.accepted(request.headers.get("accept"))
    return api.read_context(request), None if access.can_read else set(access.public_types)


def _census(request: Request, session: Session, readable: set[str] | None,
            type_iri: str | None = None) -> queries.Census:
    return queries.attribute_census(session, readable, type_iri=type_iri,
                                    max_age=request.app.state.settings.ngsi_census_seconds)


@router.get("/types", summary="NGSI-LD: the entity types available")
def list_entity_types(request: Request) -> Response:
    """An ``EntityTypeList`` of the types this client may read; ``details=true``: an
    ``EntityType`` per type with its attributes."""
    ctx, readable = _readable(request)
    with request.app.state.db.read() as session:
        if request.query_params.get("details") == "true":
            held: dict[str, set[str]] = {t: set() for t in queries.entity_types(session, readable)}
            for type_iri, attr, _kind, _n in _census(request, session, readable):
                held[type_iri].add(attr)
            payload: Any = [{"id": t, "type": "EntityType", "typeName": ctx.compact(t),
                             "attributeNames": sorted(ctx.compact(a) for a in attrs)}
                            for t, attrs in held.items()]
        else:
            payload = {"id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}", "type": "EntityTypeList",
                       "typeList": [ctx.compact(t) for t in queries.entity_types(session, readable)]}
    return api.answer(request, payload, ctx)


@router.get("/types/{type_name:path}", summary="NGSI-LD: one entity type's information")
def entity_type_information(request: Request, type_name: str) -> Response:
    """``EntityTypeInformation``: how many entities of the type, and each attribute they hold
    with its kinds (``Property``, ``Relationship``...)."""
    ctx, readable = _readable(request)
    type_iri = ngsi.expand_type(type_name, ctx)
    missing = ngsi.NgsiError("ResourceNotFound", f"No entity has the type {type_name}.")
    if readable is not None and type_iri not in readable:
        raise missing
    with request.app.state.db.read() as session:
        count = queries.type_count(session, type_iri)
        census = _census(request, session, readable, type_iri)
    if not count:
        raise missing
    kinds: dict[str, set[str]] = {}
    for _t, attr, kind, _n in census:
        kinds.setdefault(attr, set()).add(kind)
    details = [{"id": a, "type": "Attribute", "attributeName": ctx.compact(a), "attributeTypes": sorted(k)}
               for a, k in sorted(kinds.items(), key=lambda item: ctx.compact(item[0]))]
    info = {"id": type_iri, "type": "EntityTypeInformation", "typeName": ctx.compact(type_iri),
            "entityCount": count, "attributeDetails": details}
    return api.answer(request, info, ctx)


@router.get("/attributes", summary="NGSI-LD: the attributes available")
def list_attributes(request: Request) -> Response:
    """An ``AttributeList`` of the attribute names of the entities this client may read;
    ``details=true``: an ``Attribute`` per name with the types whose entities hold it."""
    ctx, readable = _readable(request)
    with request.app.state.db.read() as session:
        holders: dict[str, set[str]] = {}
        for type_iri, attr, _kind, _n in _census(request, session, readable):
            holders.setdefault(attr, set()).add(type_iri)
    names = sorted(holders, key=ctx.compact)
    if request.query_params.get("details") == "true":
        payload: Any = [{"id": a, "type": "Attribute", "attributeName": ctx.compact(a),
                         "typeNames": sorted(ctx.compact(t) for t in holders[a])} for a in names]
    else:
        payload = {"id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}", "type": "AttributeList",
                   "attributeList": [ctx.compact(a) for a in names]}
    return api.answer(request, payload, ctx)


@router.get("/attributes/{attr_name:path}", summary="NGSI-LD: one attribute's information")
def attribute_information(request: Request, attr_name: str) -> Response:
    """``Attribute``: how many entities hold it, its kinds, the types of those entities."""
    ctx, readable = _readable(request)
    attr_iri = ctx.expand(attr_name)
    with request.app.state.db.read() as session:
        found = [row for row in _census(request, session, readable) if row[1] == attr_iri]
    if not found:
        raise ngsi.NgsiError("ResourceNotFound", f"No entity has the attribute {attr_name}.")
    info = {"id": attr_iri, "type": "Attribute", "attributeName": ctx.compact(attr_iri),
            "attributeCount": sum(n for *_rest, n in found),
            "attributeTypes": sorted({kind for _t, _a, kind, _n in found}),
            "typeNames": sorted({ctx.compact(t) for t, *_rest in found})}
    return api.answer(request, info, ctx)
