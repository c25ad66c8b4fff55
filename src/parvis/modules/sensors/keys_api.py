"""The city's administrators manage the NGSI-LD API keys: list, issue (the key is shown once),
revoke. A key's digest is stored, never the key (``api_keys.issue_api_key``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from parvis.kernel.auth import Principal, require, token_digest
from parvis.modules.sensors import api_keys, queries
from parvis.modules.sensors.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyPublic

router = APIRouter(prefix="/api/v1/sensors/keys", tags=["sensors"])


@router.get("", summary="NGSI-LD API keys (admin)")
def list_keys(request: Request,
              _principal: Annotated[Principal, Depends(require("city.manage"))]) -> list[ApiKeyPublic]:
    with request.app.state.db.read() as session:
        return [ApiKeyPublic.model_validate(k) for k in queries.api_keys(session)]


@router.post("", status_code=201, summary="Issue an NGSI-LD API key, shown once (admin)")
def issue_key(request: Request, body: ApiKeyCreate,
              principal: Annotated[Principal, Depends(require("city.manage"))]) -> ApiKeyIssued:
    db = request.app.state.db
    key = api_keys.issue_api_key(db, body.name, read=body.read, write=body.write, actor=principal)
    with db.read() as session:
        row = queries.api_key_by_digest(session, token_digest(key))
        return ApiKeyIssued.model_validate({**ApiKeyPublic.model_validate(row).model_dump(), "key": key})


@router.post("/{key_id}/revoke", status_code=204, summary="Revoke an NGSI-LD API key (admin)")
def revoke_key(request: Request, key_id: int,
               principal: Annotated[Principal, Depends(require("city.manage"))]) -> Response:
    api_keys.revoke_api_key(request.app.state.db, key_id, actor=principal)
    return Response(status_code=204)
