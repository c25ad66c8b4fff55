"""Public CAP 1.2 edge: each sent public alert at ``/cap/alerts/{identifier}.xml`` and the Atom
feed of the active ones at ``/cap/alerts.atom``, with times in the city's time zone.

When the city configures a signing key and its certificate (``alerts_signing_key``,
``alerts_signing_certificate``), each document is served with an enveloped XML signature at the
same URL, as CAP consumers (aggregators, cell broadcast gateways) expect: the CAP XSD allows the
signature as the alert's last element, so the document stays valid. A city's alert that relays
an external authority's message names that message in its ``references``.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from parvis.kernel.db import utcnow
from parvis.kernel.errors import N_, NotFound, ParvisError
from parvis.modules.alerts import queries, targeting
from parvis.modules.alerts.imports import queries as import_queries
from parvis.modules.alerts.models import State
from parvis.modules.alerts.standards import atom, cap, signature
from parvis.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["alerts", "cap"])


class SigningUnavailable(ParvisError):
    status = 503
    type_slug = "cap-signing-unavailable"
    title = N_("The city's CAP documents cannot be signed right now.")


def _pem(value: str) -> bytes:
    """PEM text as configured, or read from the file the setting names."""
    text = value.strip()
    return text.encode("ascii") if text.startswith("-----BEGIN") else Path(text).expanduser().read_bytes()


@functools.lru_cache(maxsize=4)
def _signing_material(key: str, certificate: str) -> tuple[bytes, bytes]:
    return _pem(key), _pem(certificate)


def signing_material(settings: Settings) -> tuple[bytes, bytes] | None:
    """The city's signing key and certificate (read once per process), or None when not configured."""
    if not settings.alerts_signing_key.strip():
        return None
    try:
        return _signing_material(settings.alerts_signing_key, settings.alerts_signing_certificate)
    except (OSError, UnicodeError) as exc:
        log.error("the CAP signing key or certificate cannot be read: %s", exc)
        raise SigningUnavailable() from exc


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
        source = import_queries.relay_source(session, row.id)
    if source is not None and source not in message.references:
        message.references.append(source)
    document = cap.to_xml(message, tz=settings.timezone)
    material = signing_material(settings)
    if material is not None:
        try:
            document = signature.sign(document, *material)
        except (ValueError, TypeError) as exc:  # a key that is no key, a certificate that is not its own
            log.error("signing the CAP document %s failed: %s", identifier, exc)
            raise SigningUnavailable() from exc
    return Response(document, media_type=cap.MEDIA_TYPE, headers={"Cache-Control": "public, max-age=60"})
