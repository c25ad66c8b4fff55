"""JSON routes of the alerts module under ``/api/v1/alerts``: the city composes, previews,
approves, updates and cancels alerts; a signed-in person manages the places they are warned about."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from parvis.kernel.api import PageParams, page, page_params
from parvis.kernel.auth import Principal, require
from parvis.kernel.errors import N_, MalformedBody, NotFound, ParvisError, ValidationFailed
from parvis.kernel.web import client_ip
from parvis.modules.alerts import actions, queries, reach
from parvis.modules.alerts.imports import actions as import_actions
from parvis.modules.alerts.imports import queries as import_queries
from parvis.modules.alerts.schemas import AlertCreate, CancelIn, DismissIn, RepublishIn, SubscriptionCreate
from parvis.modules.alerts.standards import cap
from parvis.modules.alerts.standards.xmlsafe import XmlTooLarge, check_size
from parvis.settings import LANGUAGES

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


def _view(request: Request, alert_id: int) -> dict[str, Any]:
    with request.app.state.db.read() as session:
        row = queries.alert(session, alert_id)
        if row is None:
            raise NotFound()
        out = queries.view(row, queries.infos(session, [row.id])[row.id], languages=LANGUAGES)
        out["deliveries"] = queries.delivery_counts(session, row.id)
        return out


# ------------------------------------------------------------------------------- subscriptions

@router.get("/subscriptions", summary="The places I am warned about")
def my_subscriptions(request: Request, principal: Annotated[Principal, Depends(require("account.self"))]
                     ) -> list[dict[str, Any]]:
    with request.app.state.db.read() as session:
        return [queries.subscription_view(s)
                for s in queries.subscriptions_of(session, principal.user_id)]  # type: ignore[arg-type]


@router.post("/subscriptions", status_code=201, summary="Be warned about a place (a point or a district)")
def subscribe(request: Request, body: SubscriptionCreate,
              principal: Annotated[Principal, Depends(require("account.self"))]) -> dict[str, Any]:
    row = actions.subscribe(request.app.state.db, principal, body, ip=client_ip(request))
    return queries.subscription_view(row)


@router.delete("/subscriptions/{subscription_id}", status_code=204, summary="Stop being warned about a place")
def unsubscribe(request: Request, subscription_id: int,
                principal: Annotated[Principal, Depends(require("account.self"))]) -> Response:
    actions.unsubscribe(request.app.state.db, principal, subscription_id, ip=client_ip(request))
    return Response(status_code=204)


# ------------------------------------------------------------------------------- imports

XML_TYPES = ("application/cap+xml", "application/common-alerting-protocol+xml", "application/xml", "text/xml")
MULTIPART_SLACK = 64 * 1024  # a multipart body's boundaries and headers around the document


class UnsupportedMediaType(ParvisError):
    status = 415
    type_slug = "unsupported-media-type"
    title = N_("Send the CAP document as application/cap+xml, or as a file of a multipart/form-data upload.")


class MissingFile(ValidationFailed):
    type_slug = "alert-import-no-file"
    title = N_("Attach the CAP document as a file.")


async def _read_body(request: Request, limit: int, max_bytes: int) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes (before reading it when the
    request says its length)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise XmlTooLarge(N_("The document is %(size)s bytes; at most %(limit)s bytes are accepted."),
                          params={"size": int(length), "limit": max_bytes})
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise XmlTooLarge(N_("The document is more than %(limit)s bytes."), params={"limit": max_bytes})
        chunks.append(chunk)
    return b"".join(chunks)


async def _uploaded_document(request: Request, max_bytes: int) -> bytes:
    """The CAP document of an upload: the raw body (application/cap+xml) or the file of a
    multipart form; nothing beyond ``max_bytes`` (plus the form's own bytes) is read."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        body = await _read_body(request, max_bytes + MULTIPART_SLACK, max_bytes)

        async def once() -> AsyncIterator[bytes]:
            yield body

        try:
            form = await MultiPartParser(request.headers, once(), max_files=1, max_fields=10).parse()
        except MultiPartException as exc:
            raise MalformedBody(errors=[{"field": "file", "message": exc.message}]) from exc
        try:
            files = [value for _name, value in form.multi_items() if isinstance(value, UploadFile)]
            if not files:
                raise MissingFile(errors=[{"field": "file", "code": "missing"}])
            data = await files[0].read()
        finally:
            await form.close()
        check_size(data, max_bytes)
        return data
    if content_type in XML_TYPES:
        return await _read_body(request, max_bytes, max_bytes)
    raise UnsupportedMediaType()


_UPLOAD_BODY = {"required": True, "content": {
    "application/cap+xml": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}


@router.get("/imports", summary="Alerts imported from external authorities, newest first (staff)")
def list_imports(request: Request, params: Annotated[PageParams, Depends(page_params)],
                 principal: Annotated[Principal, Depends(require("alerts.compose"))],
                 state: Literal["to_review", "republished", "dismissed", "superseded"] | None = None,
                 flagged: bool | None = None) -> dict[str, Any]:
    with request.app.state.db.read() as session:
        rows, total = import_queries.search(session, state=state, flagged=flagged, limit=params.limit,
                                            offset=params.offset)
        return page([import_queries.view(r) for r in rows], total, params)


@router.post("/imports", status_code=201, openapi_extra={"requestBody": _UPLOAD_BODY},
             summary="Import an external authority's CAP 1.2 alert for review (staff)",
             description="The body is the CAP document (`application/cap+xml`) or a multipart form with "
             "the document as `file`. 201: a new import; 200: this sender's alert with this identifier "
             "was already imported.")
async def import_alert(request: Request, response: Response,
                       principal: Annotated[Principal, Depends(require("alerts.compose"))]) -> dict[str, Any]:
    settings = request.app.state.settings
    data = await _uploaded_document(request, settings.alerts_import_max_bytes)
    row, created = await run_in_threadpool(
        lambda: import_actions.import_document(request.app.state.db, settings, data, actor=principal,
                                               source="upload", ip=client_ip(request)))
    if not created:
        response.status_code = 200
    return import_queries.view(row)


@router.get("/imports/feeds", summary="The feeds polled for alerts and how their last poll went (staff)")
def import_feeds(request: Request, principal: Annotated[Principal, Depends(require("alerts.compose"))]
                 ) -> list[dict[str, Any]]:
    with request.app.state.db.read() as session:
        return import_queries.feeds(session, list(request.app.state.settings.alerts_import_feeds))


def _import(session: Any, import_id: int) -> Any:
    row = import_queries.get(session, import_id)
    if row is None:
        raise NotFound()
    return row


@router.get("/imports/{import_id}", summary="One imported alert, with the draft the city would send (staff)")
def get_import(request: Request, import_id: int,
               principal: Annotated[Principal, Depends(require("alerts.compose"))]) -> dict[str, Any]:
    with request.app.state.db.read() as session:
        return import_queries.view(_import(session, import_id))


@router.get("/imports/{import_id}/document", summary="The CAP document as received (staff)",
            response_class=Response, responses={200: {"content": {cap.MEDIA_TYPE: {}}}})
def import_document(request: Request, import_id: int,
                    principal: Annotated[Principal, Depends(require("alerts.compose"))]) -> Response:
    with request.app.state.db.read() as session:
        row = _import(session, import_id)
        return Response(row.document, media_type=cap.MEDIA_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="import-{row.id}.xml"'})


@router.post("/imports/{import_id}/republish", status_code=201,
             summary="Relay an imported alert to the city's people: a draft of the city's alert (staff)",
             description="An Alert becomes a draft of the city's own alert with the source's area, approved "
             "as usual; an Update of an alert the city relayed becomes a draft Update of it; a Cancel of one "
             "cancels it at once (supervisors). Returns the city's message.")
def republish(request: Request, import_id: int,
              principal: Annotated[Principal, Depends(require("alerts.compose"))],
              body: RepublishIn | None = None) -> dict[str, Any]:
    row = import_actions.republish(request.app.state.db, request.app.state.settings, principal, import_id,
                                   body or RepublishIn(), client_ip(request))
    return _view(request, row.id)


@router.post("/imports/{import_id}/dismiss",
             summary="Set an imported alert aside without relaying it (staff)")
def dismiss(request: Request, import_id: int,
            principal: Annotated[Principal, Depends(require("alerts.compose"))],
            body: DismissIn | None = None) -> dict[str, Any]:
    row = import_actions.dismiss(request.app.state.db, principal, import_id, body.note if body else "",
                                 client_ip(request))
    return import_queries.view(row)


# ------------------------------------------------------------------------------- the city's alerts

@router.post("", status_code=201, summary="Compose a draft alert (staff)")
def compose(request: Request, body: AlertCreate,
            principal: Annotated[Principal, Depends(require("alerts.compose"))]) -> dict[str, Any]:
    row = actions.compose(request.app.state.db, request.app.state.settings, principal, body,
                          client_ip(request))
    return _view(request, row.id)


@router.get("", summary="Alerts, newest first (staff)")
def list_alerts(request: Request, params: Annotated[PageParams, Depends(page_params)],
                principal: Annotated[Principal, Depends(require("alerts.compose"))],
                state: Literal["draft", "approved", "cancelled"] | None = None) -> dict[str, Any]:
    with request.app.state.db.read() as session:
        rows, total = queries.search(session, state=state, limit=params.limit, offset=params.offset)
        texts = queries.infos(session, [r.id for r in rows])
        return page([queries.view(r, texts[r.id], languages=LANGUAGES) for r in rows], total, params)


@router.get("/{alert_id}", summary="One alert, with its deliveries per channel and state (staff)")
def get_alert(request: Request, alert_id: int,
              principal: Annotated[Principal, Depends(require("alerts.compose"))]) -> dict[str, Any]:
    return _view(request, alert_id)


@router.put("/{alert_id}", summary="Edit a draft alert (staff)")
def edit(request: Request, alert_id: int, body: AlertCreate,
         principal: Annotated[Principal, Depends(require("alerts.compose"))]) -> dict[str, Any]:
    actions.edit_draft(request.app.state.db, principal, alert_id, body, client_ip(request))
    return _view(request, alert_id)


@router.get("/{alert_id}/preview", summary="People and subscriptions per channel the alert would reach")
def preview(request: Request, alert_id: int,
            principal: Annotated[Principal, Depends(require("alerts.compose"))]) -> dict[str, Any]:
    with request.app.state.db.read() as session:
        row = queries.alert(session, alert_id)
        if row is None:
            raise NotFound()
        return reach.count(session, row)


@router.post("/{alert_id}/approve", summary="Approve and send a draft (supervisor; not its author)")
def approve(request: Request, alert_id: int,
            principal: Annotated[Principal, Depends(require("alerts.approve"))]) -> dict[str, Any]:
    actions.approve(request.app.state.db, request.app.state.settings, principal, alert_id,
                    client_ip(request))
    return _view(request, alert_id)


@router.post("/{alert_id}/update", status_code=201, summary="Draft an Update of a sent alert (staff)")
def update(request: Request, alert_id: int, body: AlertCreate,
           principal: Annotated[Principal, Depends(require("alerts.compose"))]) -> dict[str, Any]:
    row = actions.update_alert(request.app.state.db, request.app.state.settings, principal, alert_id,
                               body, client_ip(request))
    return _view(request, row.id)


@router.post("/{alert_id}/cancel", summary="Cancel a sent alert at once (supervisor)")
def cancel(request: Request, alert_id: int,
           principal: Annotated[Principal, Depends(require("alerts.approve"))],
           body: CancelIn | None = None) -> dict[str, Any]:
    row = actions.cancel(request.app.state.db, request.app.state.settings, principal, alert_id,
                         body.note if body else "", client_ip(request))
    return _view(request, row.id)
