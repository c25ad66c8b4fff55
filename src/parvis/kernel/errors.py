"""Errors that know their meaning: an HTTP status, a stable problem ``type`` and a
translatable title and detail. One edge handler (``parvis.kernel.web``) renders them as
RFC 9457 problem+json for the API and as a translated page for people.
"""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://parvis.city/problems/"


def N_(message: str) -> str:
    """Marks a string for translation without translating it now."""
    return message


class ParvisError(Exception):
    status: int = 400
    type_slug: str = "bad-request"
    title: str = N_("The request is not valid.")

    def __init__(
        self,
        detail: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.params = params or {}
        self.errors = errors or []
        self.headers = headers or {}

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.type_slug


class ValidationFailed(ParvisError):
    status = 422
    type_slug = "validation-error"
    title = N_("Some fields are not valid.")


class MalformedBody(ParvisError):
    status = 400
    type_slug = "malformed-body"
    title = N_("The request body could not be read.")


class BodyTooLarge(ParvisError):
    status = 413
    type_slug = "body-too-large"
    title = N_("The request body is too large.")


class NotAuthenticated(ParvisError):
    status = 401
    type_slug = "not-authenticated"
    title = N_("You need to sign in.")


class Forbidden(ParvisError):
    status = 403
    type_slug = "forbidden"
    title = N_("You are not allowed to do this.")


class CsrfFailed(ParvisError):
    status = 403
    type_slug = "csrf-failed"
    title = N_("This form has expired. Please reload the page and try again.")


class NotFound(ParvisError):
    status = 404
    type_slug = "not-found"
    title = N_("This page or resource does not exist.")


class Conflict(ParvisError):
    status = 409
    type_slug = "conflict"
    title = N_("This conflicts with existing data.")


class TooManyRequests(ParvisError):
    status = 429
    type_slug = "too-many-requests"
    title = N_("Too many attempts. Please wait a moment and try again.")


class InvalidCredentials(ParvisError):
    status = 401
    type_slug = "invalid-credentials"
    title = N_("Wrong identifier or password.")


class InvalidGeometry(ParvisError):
    status = 422
    type_slug = "invalid-geometry"
    title = N_("The geometry is not valid.")


class InvalidPhone(ParvisError):
    status = 422
    type_slug = "invalid-phone"
    title = N_("This phone number is not valid.")


class InternalError(ParvisError):
    status = 500
    type_slug = "internal-error"
    title = N_("Something went wrong on our side. Your last change was not lost if it was confirmed.")


class DatabaseUnavailable(ParvisError):
    """The connection to the database broke during the request (a restart, a failover): nothing
    of this request was written; the pool reconnects for the next one."""

    status = 503
    type_slug = "database-unavailable"
    title = N_("The service was briefly unavailable and nothing was saved. Please try again.")
