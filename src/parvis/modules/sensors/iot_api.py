"""The IoT-agent side of the hub over HTTP, in the FIWARE IoT Agent JSON conventions:

- ``POST /iot/json?k=<apikey>&i=<device_id>``: a device that cannot do MQTT posts its JSON measures
  (the same store as MQTT; no NGSI key needed, the apikey and device id are the device's);
- ``/iot/devices``: provisioning (which entity a device feeds, how its object ids map to
  attributes), with an NGSI-LD API key that may write;
- ``GET /iot/ingestion``: what ingestion stored, repeated, set aside or dropped in the last 24 h,
  and the dead letters per device (an NGSI-LD key that may read).

Ingestion over HTTP is bounded: at most ``PARVIS_SENSORS_HTTP_CONCURRENCY`` requests store at
once; the next ones are answered 429 with ``Retry-After`` and counted as throttled.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_, NotFound, TooManyRequests, ValidationFailed
from parvis.modules.sensors import actions, counts, ingest, queries
from parvis.modules.sensors.ngsi_access import Access, access_of, require_write

PREFIX = "/iot/"  # every device-facing path: machine-to-machine, like NGSI-LD
router = APIRouter(tags=["iot-agent"])
_gates: dict[int, threading.BoundedSemaphore] = {}


def _gate(request: Request) -> threading.BoundedSemaphore:
    size = request.app.state.settings.sensors_http_concurrency
    app_id = id(request.app)
    if app_id not in _gates:
        _gates[app_id] = threading.BoundedSemaphore(size)
    return _gates[app_id]


@router.post("/iot/json", summary="IoT Agent JSON: a device posts its measures", status_code=200)
async def post_measures(request: Request, k: Annotated[str, Query(pattern=ingest.API_KEY_PATTERN)],
                        i: Annotated[str, Query(pattern=ingest.DEVICE_ID_PATTERN)]) -> Response:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > ingest.MAX_BODY:
            break
    db, settings = request.app.state.db, request.app.state.settings
    gate = _gate(request)
    if not gate.acquire(blocking=False):
        await run_in_threadpool(_count_throttled, db)
        raise TooManyRequests(N_("The hub is busy: send this reading again in a moment."),
                              headers={"Retry-After": "1"})
    try:
        message = ingest.Message(api_key=k, device_id=i, body=body, received_at=utcnow(), channel="http")
        outcome = await run_in_threadpool(partial(ingest.ingest, db, settings, [message], count_as="http"))
    finally:
        gate.release()
    if outcome.dead:
        reason = next(iter(outcome.reasons))
        if reason == "unknown_device":
            raise NotFound(N_("No device is provisioned with this API key and id."))
        raise ValidationFailed(N_("This reading cannot be stored (%(reason)s): it was set aside with the "
                                  "reason."), params={"reason": reason},
                               errors=[{"field": "body", "code": reason}])
    return Response(status_code=200)


def _count_throttled(db: Any) -> None:
    with db.transaction() as session:
        counts.add(session, "http", {"throttled": 1})


class AttributeMap(BaseModel):
    object_id: str = Field(min_length=1, max_length=64)
    name: str = Field(pattern=ingest.NAME_RE.pattern)  # what ingestion accepts
    type: str = Field("Number", max_length=40)


class DeviceIn(BaseModel):
    device_id: str = Field(pattern=ingest.DEVICE_ID_PATTERN)
    apikey: str = Field(pattern=ingest.API_KEY_PATTERN)
    entity_name: str = Field(min_length=1, max_length=256)
    entity_type: str = Field(min_length=1, max_length=256)
    attributes: list[AttributeMap] = Field(default_factory=list, max_length=64)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)


class DevicesIn(BaseModel):
    devices: list[DeviceIn] = Field(min_length=1, max_length=1000)


def _public(row: Any, *, with_key: bool) -> dict[str, Any]:
    """A device as provisioning gave it; its API key (enough to post readings as the device) only
    to clients that may write."""
    out = {"device_id": row.device_id, "entity_name": row.entity_id, "entity_type": row.entity_type,
           "attributes": [{"object_id": o, "name": n} for o, n in row.attributes.items()],
           "lon": row.lon, "lat": row.lat}
    if with_key:
        out["apikey"] = row.api_key
    return out


@router.post("/iot/devices", summary="IoT Agent: provision devices", status_code=201,
             dependencies=[Depends(require_write)])
def provision_devices(request: Request, body: DevicesIn) -> Response:
    """All the devices of a request, or none."""
    if any((d.lon is None) != (d.lat is None) for d in body.devices):
        raise ValidationFailed(N_("Give both lon and lat of a device, or neither."))
    actions.provision_devices(request.app.state.db, [
        actions.DeviceSpec(api_key=d.apikey, device_id=d.device_id, entity_id=d.entity_name,
                           entity_type=d.entity_type, attributes={a.object_id: a.name for a in d.attributes},
                           lon=d.lon, lat=d.lat) for d in body.devices])
    ingest.forget_devices(request.app.state.db)  # this process's readings follow the new provisioning at once
    return Response(status_code=201)


@router.get("/iot/devices", summary="IoT Agent: provisioned devices")
def list_devices(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    access = _require_read(request)
    with request.app.state.db.read() as session:
        rows, total = queries.devices(session, limit=limit, offset=offset)
    return {"count": total, "devices": [_public(r, with_key=access.can_write) for r in rows]}


@router.get("/iot/devices/{device_id}", summary="IoT Agent: one device")
def get_device(request: Request, device_id: str) -> dict[str, Any]:
    access = _require_read(request)
    with request.app.state.db.read() as session:
        row = queries.device(session, device_id)
    if row is None:
        raise NotFound(N_("No device has this id."))
    return _public(row, with_key=access.can_write)


@router.delete("/iot/devices/{device_id}", summary="IoT Agent: remove a device", status_code=204,
               dependencies=[Depends(require_write)])
def delete_device(request: Request, device_id: str) -> Response:
    actions.remove_device(request.app.state.db, device_id)
    ingest.forget_devices(request.app.state.db)
    return Response(status_code=204)


@router.get("/iot/ingestion", summary="What ingestion did in the last 24 hours, and the dead letters")
def ingestion(request: Request) -> dict[str, Any]:
    _require_read(request)
    with request.app.state.db.read() as session:
        totals = counts.totals(session)
        letters = ingest.dead_letters_by_device(session)
    return {"last_24_hours": totals,
            "dead_letters": [{"device_id": d, "reason": r, "count": n} for d, r, n in letters]}


def _require_read(request: Request) -> Access:
    access = access_of(request)
    if not access.can_read:
        access.check_read("")  # raises: no key (401) or a key without read access (403)
    return access
