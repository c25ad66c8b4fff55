"""The operations room: one live map of the city's sensors (traffic, parking, air, waste) and the
open events, for the city's staff.

- ``GET /sensors/operations``: the page. Without JavaScript it is a snapshot: the open events and
  a table of each layer's sensors by state. With JavaScript (``static/operations.js``) the map
  draws the snapshot and follows the stream.
- ``GET /sensors/operations/snapshot.geojson``: every sensor as a GeoJSON feature with its state,
  and the ``cursor`` to follow the changes from.
- ``GET /sensors/operations/stream``: Server-Sent Events. ``features`` (a FeatureCollection of the
  sensors that changed, its ``id`` the cursor), ``events`` (the open events, when they change),
  heartbeat comments, ``reconnect`` before a planned end; the browser reconnects with
  ``Last-Event-ID`` (or ``?since=`` the snapshot's cursor) and loses nothing. Each web process
  polls the database (``sensors/live.py``): no state is shared between processes.

Access: every staff member (``department.view``) sees the whole map (the same sensor data is public
through NGSI-LD for most types); the open events are those of their departments' kinds (congestion
to mobility, air quality to environment...), all of them for admins and staff of all departments.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

import anyio.to_thread
import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.exc import SQLAlchemyError

from parvis.kernel.auth import Principal, require
from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_
from parvis.kernel.i18n import Translator, _
from parvis.kernel.web import render
from parvis.modules.sensors import air, live
from parvis.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

GEOJSON = "application/geo+json"
RETRY_MS = 3_000  # the browser's wait before it reconnects
PERMISSION = "department.view"

LAYER_LABELS = {"traffic": N_("Traffic"), "parking": N_("Parking"), "air": N_("Air quality"),
                "waste": N_("Waste containers")}
LEVEL_LABELS: dict[str, dict[str, str]] = {
    "traffic": {"A": N_("A: free flow"), "B": N_("B: reasonably free flow"), "C": N_("C: stable flow"),
                "D": N_("D: approaching unstable flow"), "E": N_("E: unstable flow"),
                "F": N_("F: jammed")},
    "parking": {"free": N_("Spaces free"), "few": N_("Few spaces left (under 10 percent)"),
                "full": N_("Full")},
    "air": {c.code: c.label for c in air.CATEGORIES},  # VN_AQI
    "waste": {"low": N_("Under half full"), "medium": N_("Half full or more"),
              "high": N_("To collect today")},  # with the threshold of the waste list: see _labels
}
NO_DATA = N_("No data yet")
EVENT_KINDS = {"congestion": N_("Congestion"), "air_quality": N_("Air quality")}
SEVERITIES = {"minor": N_("Minor"), "moderate": N_("Moderate"), "severe": N_("Severe"),
              "extreme": N_("Extreme")}
JS_TEXTS = {
    "live": N_("Live: updated at %(time)s."),
    "connecting": N_("Connecting to the live feed…"),
    "lost": N_("Connection lost: trying again. The map shows the last known state."),
    "show": N_("Show on the map"),
    "no_events": N_("No open event."),
    "speed": N_("Speed %(speed)s km/h"),
    "free": N_("%(free)s free of %(total)s"),
    "pm25": N_("PM2.5 %(value)s µg/m³"),
    "aqi": N_("VN_AQI %(value)s"),
    "fill": N_("%(fill)s %% full"),
    "districts": N_("Districts"),
}


def _labels(settings: Settings) -> dict[str, Any]:
    levels = {layer: {k: _(v) for k, v in names.items()} for layer, names in LEVEL_LABELS.items()}
    collect = _("over %(percent)s %%", percent=round(settings.waste_collect_threshold * 100))
    levels["waste"]["high"] = f"{levels['waste']['high']} ({collect})"  # the waste list's own words
    return {
        "layers": {k: _(v) for k, v in LAYER_LABELS.items()},
        "levels": levels,
        "no_data": _(NO_DATA),
        "texts": {k: _(v) for k, v in JS_TEXTS.items()},
    }


def _event_json(item: live.OpenEvent, tr: Translator) -> dict[str, Any]:
    e = item.event
    return {"id": e.id, "kind": e.kind, "kind_label": tr.gettext(EVENT_KINDS.get(e.kind, e.kind)),
            "severity": e.severity, "severity_label": tr.gettext(SEVERITIES.get(e.severity, e.severity)),
            "summary": e.summary, "department": item.department, "place": item.place,
            "entity_id": e.entity_id, "raised_at": live.stamp(e.raised_at),
            "time": tr.format_datetime(e.raised_at, "short"), "geometry": e.location}


def _sse(event: str | None, data: Any, event_id: str | None = None) -> bytes:
    lines = []
    if event:
        lines.append(f"event: {event}")
    lines.append("data: " + orjson.dumps(data).decode())
    if event_id:
        lines.append(f"id: {event_id}")
    return ("\n".join(lines) + "\n\n").encode()


@router.get("/sensors/operations")
def operations_room(request: Request,
                    principal: Annotated[Principal, Depends(require(PERMISSION))]) -> Response:
    settings: Settings = request.app.state.settings
    with request.app.state.db.read() as session:
        snapshot = live.snapshot(session, settings.waste_collect_threshold)
        items = live.open_events(session, live.department_kinds(session, principal))
    summaries = live.summaries(snapshot["features"])
    labels = _labels(settings)
    return render(request, "sensors/operations.html", {
        "events": items, "summaries": summaries, "cursor": snapshot["cursor"], "now": utcnow(),
        "layer_labels": labels["layers"], "level_labels": labels["levels"], "levels": live.LEVELS,
        "no_data": labels["no_data"], "event_kinds": {k: _(v) for k, v in EVENT_KINDS.items()},
        "severities": {k: _(v) for k, v in SEVERITIES.items()}, "labels": labels})


@router.get("/sensors/operations/snapshot.geojson")
def operations_snapshot(request: Request,
                        _p: Annotated[Principal, Depends(require(PERMISSION))]) -> Response:
    with request.app.state.db.read() as session:
        snapshot = live.snapshot(session, request.app.state.settings.waste_collect_threshold)
    return Response(orjson.dumps(snapshot), media_type=GEOJSON, headers={"Cache-Control": "no-store"})


@router.get("/sensors/operations/stream")
def operations_stream(request: Request, principal: Annotated[Principal, Depends(require(PERMISSION))],
                      since: str = "") -> Response:
    start = live.parse_cursor(request.headers.get("last-event-id")) or live.parse_cursor(since)
    body = _stream(request, principal, start)
    return StreamingResponse(body, media_type="text/event-stream", headers={
        "Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _stream(request: Request, principal: Principal, start: datetime | None) -> AsyncIterator[bytes]:
    """The live stream of one connection: a poll every ``poll`` seconds, in a worker thread (the
    database is synchronous), for at most ``stream_seconds``; stops when the client leaves."""
    settings: Settings = request.app.state.settings
    db = request.app.state.db
    tr: Translator = request.state.translator
    poll = settings.sensors_operations_poll_seconds
    heartbeat = settings.sensors_operations_heartbeat_seconds
    ends = time.monotonic() + settings.sensors_operations_stream_seconds

    def begin() -> tuple[live.Feed, set[str] | None]:
        with db.read() as session:
            overlap = timedelta(seconds=settings.sensors_operations_overlap_seconds)
            return (live.feed_from(session, start, overlap, settings.waste_collect_threshold),
                    live.department_kinds(session, principal))

    feed, kinds = await anyio.to_thread.run_sync(begin)
    shown: set[tuple[int, str]] | None = None  # the open events the client has, with their severity

    again = request.state.principal_again

    def still_allowed() -> bool:
        """Whether the person may still see what this stream shows: signed in, the permission,
        the same departments (asked at every poll, so a sign-out ends the stream at once)."""
        now = again()
        return (now.has(PERMISSION) and now.user_id == principal.user_id
                and now.department_ids == principal.department_ids
                and now.all_departments == principal.all_departments)

    def tick(shown: set[tuple[int, str]] | None
             ) -> tuple[list[dict[str, Any]], list[live.OpenEvent] | None, set[tuple[int, str]]] | None:
        if not still_allowed():
            return None
        with db.read() as session:
            changed = feed.poll(session)
            visible = live.visible_events(session, kinds)
            keys = {(e.id, e.severity) for e in visible}
            return changed, (live.describe(session, visible) if keys != shown else None), keys

    yield f"retry: {RETRY_MS}\n\n".encode()
    last = time.monotonic()
    while time.monotonic() < ends:
        if await request.is_disconnected():
            return
        try:
            polled = await anyio.to_thread.run_sync(tick, shown)
        except SQLAlchemyError as exc:  # the database went away: end here, the browser comes back
            log.warning("operations stream stopped: %s", exc)
            return
        if polled is None:  # signed out, or access changed: the browser reconnects and is asked again
            yield _sse("reconnect", {})
            return
        features, items, keys = polled
        cursor = live.stamp(feed.cursor)
        if features:
            yield _sse("features", {"type": "FeatureCollection", "features": features}, cursor)
            last = time.monotonic()
        if items is not None:
            ids, previous = {i for i, _s in keys}, {i for i, _s in shown or set()}
            yield _sse("events", {"events": [_event_json(i, tr) for i in items],
                                  "opened": sorted(ids - previous), "closed": sorted(previous - ids)}, cursor)
            shown = keys
            last = time.monotonic()
        if time.monotonic() - last >= heartbeat:
            yield b": ping\n\n"
            last = time.monotonic()
        await anyio.sleep(min(poll, max(0.0, ends - time.monotonic())))
    yield _sse("reconnect", {})  # a planned end: the browser comes back with Last-Event-ID
