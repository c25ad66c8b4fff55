"""Public CAP 1.2 edge: each sent public alert at ``/cap/alerts/{identifier}.xml`` and the Atom
feed of the active ones at ``/cap/alerts.atom``, with times in the city's time zone."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from parvis.kernel.db import utcnow
from parvis.kernel.errors import NotFound
from parvis.modules.alerts import queries, targeting
from parvis.modules.alerts.models import State
from parvis.modules.alerts.standards import atom, cap

router = APIRouter(tags=["alerts", "cap"])


@router.get("/cap/alerts.atom", summary="Atom feed of the city's active public alerts")
def feed(request: Request) -> Response:
    settings = request.app.state.settings
    base = settings.base_url.rstrip("/")
    with request.app.state.db.read() as session:
        rows = queries.active(session)
        texts = queries.infos(session, [r.id for r in rows])
        cmap = targeting.city_map(session)
        entries = [atom.entry_for(queries.to_cap(session, r, texts[r.id], cmap, settings),
                                  f"{base}/cap/alerts/{r.identifier}.xml", settings.default_language)
                   for r in rows]
    updated = max((r.sent for r in rows if r.sent), default=utcnow())
    body = atom.atom_feed(settings.city_name, f"{base}/cap/alerts.atom", updated, entries,
                          tz=settings.timezone)
    return Response(body, media_type=atom.MEDIA_TYPE, headers={"Cache-Control": "public, max-age=60"})


@router.get("/cap/alerts/{identifier}.xml", summary="One alert as a CAP 1.2 document")
def cap_document(request: Request, identifier: str) -> Response:
    settings = request.app.state.settings
    with request.app.state.db.read() as session:
        row = queries.by_identifier(session, identifier)
        if row is None or row.state == State.DRAFT or row.scope != "Public":
            raise NotFound()
        message = queries.to_cap(session, row, queries.infos(session, [row.id])[row.id],
                                 targeting.city_map(session), settings)
    return Response(cap.to_xml(message, tz=settings.timezone), media_type=cap.MEDIA_TYPE,
                    headers={"Cache-Control": "public, max-age=60"})
