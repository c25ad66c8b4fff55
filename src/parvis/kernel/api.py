"""JSON API conventions: pagination and RFC 9457 problem+json bodies."""

from __future__ import annotations

from typing import Any

from fastapi import Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, field_validator
from pydantic_core import PydanticCustomError

from parvis.kernel.errors import ParvisError
from parvis.kernel.i18n import Translator

PROBLEM_JSON = "application/problem+json"


def reject_null(*fields: str) -> Any:
    """For partial updates: a field may be left out, but not set to null."""

    def check(_cls: Any, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("null_not_allowed", "This field cannot be empty.")
        return value

    return field_validator(*fields, mode="before")(classmethod(check))


class PageParams(BaseModel):
    limit: int = 50
    offset: int = 0


def page_params(
    limit: int = Query(50, ge=1, le=500, description="Items per page (at most 500)."),
    offset: int = Query(0, ge=0, description="Items to skip."),
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


def page(items: list[Any], total: int, params: PageParams) -> dict[str, Any]:
    following = params.offset + params.limit
    return {
        "items": items,
        "total": total,
        "limit": params.limit,
        "offset": params.offset,
        "next_offset": following if following < total else None,
    }


def problem_body(err: ParvisError, tr: Translator, instance: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": err.type_uri,
        "title": tr.gettext(err.title),
        "status": err.status,
        "instance": instance,
    }
    if err.detail:
        body["detail"] = tr.gettext(err.detail, **err.params)
    if err.errors:
        body["errors"] = err.errors
    return body


def problem_response(err: ParvisError, tr: Translator, instance: str) -> JSONResponse:
    return JSONResponse(problem_body(err, tr, instance), status_code=err.status,
                        media_type=PROBLEM_JSON, headers=err.headers)
