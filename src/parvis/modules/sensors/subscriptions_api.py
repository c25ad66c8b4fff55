"""NGSI-LD subscriptions (ETSI GS CIM 009 v1.6+, 5.8) at ``/ngsi-ld/v1/subscriptions``.

Access: a subscription belongs to the API key that created it. Creating one needs a key with
both scopes (read, since its notifications carry entities' data, whatever their type; write,
since it makes the server call out); reading, listing, changing and deleting it need that same
key, still with the write scope: another key gets 404, as if it did not exist (subscriptions
hold callback URLs and the receivers' headers, which may be credentials).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Request, Response

from parvis.kernel.auth import token_digest
from parvis.kernel.db import utcnow
from parvis.kernel.errors import Forbidden
from parvis.kernel.outbound import OutboundPolicy
from parvis.modules.sensors import api, ngsi_access, subscription_actions, subscription_queries
from parvis.modules.sensors.ngsi_route import NgsiRoute
from parvis.modules.sensors.standards import negotiation as neg
from parvis.modules.sensors.standards import ngsi_ld as ngsi
from parvis.modules.sensors.standards import subscription_ld as subld

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"], route_class=NgsiRoute)
# a subscription read while its notification is out waits this long for the outcome: a receiver
# that reads the status once notified (ETSI 046_12) sees its own delivery, not the one before
IN_FLIGHT_WAIT_SECONDS = 1.0
IN_FLIGHT_POLL_SECONDS = 0.02


def _owner(request: Request) -> str:
    """The digest of the client's key, once it is known to have the write scope."""
    ngsi_access.require_write(request)
    key = ngsi_access.key_of(request)
    assert key is not None
    return token_digest(key)


def _refuse_internal(request: Request, sub: subld.SubscriptionIn) -> None:
    """An endpoint given as an internal address literal is refused now (a host name is checked
    each time a notification is sent, since its addresses can change)."""
    uri = sub.notification.get("endpoint")
    if uri:
        policy = OutboundPolicy.from_entries(request.app.state.settings.sensors_notify_allowed_networks)
        refusal = policy.literal_refusal(uri)
        if refusal:
            raise ngsi.bad(f"notification.endpoint.uri: {refusal}")


def _missing(sub_id: str) -> ngsi.NgsiError:
    return ngsi.NgsiError("ResourceNotFound", f"No subscription has the id {sub_id}.")


@router.post("/subscriptions", summary="NGSI-LD: create a subscription", status_code=201)
async def create_subscription(request: Request) -> Response:
    owner = _owner(request)
    if not ngsi_access.access_of(request).can_read:
        raise Forbidden("Subscribing needs an API key that may read as well as write.")
    body, kind = await api.read_body(request)
    ctx = api.body_context(request, kind, body)
    sub = subld.parse_subscription(body, ctx)
    _refuse_internal(request, sub)
    sub_id = await api.run_in_thread(request, subscription_actions.create_subscription, request.app.state.db,
                                     sub, ctx.inline, owner,
                                     limit=request.app.state.settings.ngsi_max_subscriptions_per_key)
    location = f"/ngsi-ld/v1/subscriptions/{quote(sub_id, safe=':')}"
    return Response(status_code=201, headers={"Location": location})


@router.get("/subscriptions", summary="NGSI-LD: list the subscriptions of this API key")
def list_subscriptions(request: Request) -> Response:
    owner = _owner(request)
    neg.accepted(request.headers.get("accept"))
    ctx = api.read_context(request)
    params = request.query_params
    limit = api.whole(params.get("limit"), api.DEFAULT_LIMIT, "limit", api.MAX_LIMIT)
    offset = api.whole(params.get("offset"), 0, "offset", api.MAX_OFFSET)
    count = params.get("count") == "true"
    if limit == 0 and not count:
        raise ngsi.bad("limit=0 is only allowed with count=true.")
    sysattrs = "sysAttrs" in params.get("options", "").split(",")
    now = utcnow()
    with request.app.state.db.read() as session:
        rows, total = subscription_queries.subscriptions(session, owner, limit=limit, offset=offset,
                                                          count=count)
        payload = [subld.render_subscription(row, ctx, now, sysattrs=sysattrs) for row in rows]
    headers = {"NGSILD-Results-Count": str(total)} if total is not None else None
    return api.answer(request, payload, ctx, headers=headers)


@router.get("/subscriptions/{sub_id:path}", summary="NGSI-LD: retrieve a subscription")
async def retrieve_subscription(request: Request, sub_id: str) -> Response:
    owner = _owner(request)
    neg.accepted(request.headers.get("accept"))
    ctx = api.read_context(request)
    sub_id = ngsi.check_uri(sub_id, "The subscription id")
    sysattrs = "sysAttrs" in request.query_params.get("options", "").split(",")

    def read() -> dict[str, Any] | None:  # the payload, or None while a notification is out
        with request.app.state.db.read() as session:
            row = subscription_queries.subscription(session, sub_id, owner)
            if row is None:
                raise _missing(sub_id)
            now = utcnow()
            if row.lease_until is not None and row.lease_until > now and time.monotonic() < deadline:
                return None
            return subld.render_subscription(row, ctx, now, sysattrs=sysattrs)

    deadline = time.monotonic() + IN_FLIGHT_WAIT_SECONDS
    while (payload := await api.run_in_thread(request, read)) is None:
        await anyio.sleep(IN_FLIGHT_POLL_SECONDS)  # waits on the loop: no thread of the pool held
    return api.answer(request, payload, ctx)


@router.patch("/subscriptions/{sub_id:path}", summary="NGSI-LD: update a subscription", status_code=204)
async def update_subscription(request: Request, sub_id: str) -> Response:
    owner = _owner(request)
    sub_id = ngsi.check_uri(sub_id, "The subscription id")
    body, kind = await api.read_body(request)
    ctx = api.body_context(request, kind, body)
    patch = subld.parse_subscription(body, ctx, partial=True)
    if "id" in patch.given and patch.id != sub_id:
        raise ngsi.bad("The id in the body differs from the id in the URL.")
    if not patch.given:
        raise ngsi.bad("The body changes nothing: give at least one member of the subscription.")
    _refuse_internal(request, patch)
    new_context = kind == "ld" or neg.link_context(request.headers.get("link")) is not None
    await api.run_in_thread(request, subscription_actions.update_subscription, request.app.state.db, sub_id,
                            patch, owner, context=ctx.inline, new_context=new_context)
    return Response(status_code=204)


@router.delete("/subscriptions/{sub_id:path}", summary="NGSI-LD: delete a subscription", status_code=204)
async def delete_subscription(request: Request, sub_id: str) -> Response:
    owner = _owner(request)
    sub_id = ngsi.check_uri(sub_id, "The subscription id")
    await api.run_in_thread(request, subscription_actions.delete_subscription, request.app.state.db, sub_id,
                            owner)
    return Response(status_code=204)
