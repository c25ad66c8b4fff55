"""JSON routes of the alerts module under ``/api/v1/alerts``: the city composes, previews,
approves, updates and cancels alerts; a signed-in person manages the places they are warned about."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from parvis.kernel.api import PageParams, page, page_params
from parvis.kernel.auth import Principal, require
from parvis.kernel.errors import NotFound
from parvis.kernel.web import client_ip
from parvis.modules.alerts import actions, queries, targeting
from parvis.modules.alerts.schemas import AlertCreate, CancelIn, SubscriptionCreate
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
        return targeting.preview(session, row)


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
