"""Map the error tree (siyu.core.errors) to HTTP statuses and one JSON error shape, once.

Every error body is ``{"error": {"type", "message", "field"}}``; ``field`` names the
offending input where there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from siyu.collect.normalize import FieldError
from siyu.core.db import is_unique_violation, store_error_of
from siyu.core.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    LockedOutError,
    NotFoundError,
    PayloadTooLargeError,
    SiyuError,
    StoreError,
)

log = logging.getLogger("siyu.api")
STORE_RETRY_AFTER = "5"  # seconds a client is asked to wait after a 503

STATUS: list[tuple[type[SiyuError], int]] = [
    (PayloadTooLargeError, 413),
    (InvalidInputError, 400),
    (ForbiddenError, 403),
    (LockedOutError, 429),
    (AuthError, 401),
    (NotFoundError, 404),
    (ConflictError, 409),
    (StoreError, 503),
]


def status_of(error: SiyuError) -> int:
    """The HTTP status for an error class (500 for anything unmapped)."""
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def _headers(exc: SiyuError) -> dict[str, str] | None:
    if isinstance(exc, StoreError):
        return {"Retry-After": STORE_RETRY_AFTER}
    if isinstance(exc, LockedOutError):
        return {"Retry-After": str(exc.details.get("retry_after", 60))}
    if isinstance(exc, ForbiddenError) or not isinstance(exc, AuthError):
        return None
    return {"WWW-Authenticate": "Basic"}


def error_body(kind: str, message: str, field: str | None, **extra: Any) -> dict[str, Any]:
    """The one JSON error shape."""
    return {"error": {"type": kind, "message": message, "field": field, **extra}}


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response rendered with orjson (datetimes as ISO 8601)."""
    return Response(
        orjson.dumps(body), status_code=status_code, headers=headers, media_type="application/json"
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(SiyuError)
    async def _siyu(_: Request, exc: SiyuError) -> Response:
        headers = _headers(exc)
        body = error_body(type(exc).__name__, exc.message, exc.field, **exc.details)
        return json_response(body, status_code=status_of(exc), headers=headers)

    async def _store(request: Request, exc: Exception) -> Response:
        # A database or disk fault is a 503 the client may retry, never a 500 traceback;
        # anything else (a constraint violation, a bug) is raised on as before.
        error = store_error_of(exc)
        if error is None:
            raise exc
        log.warning("store fault on %s %s: %s", request.method, request.url.path, exc)
        return await _siyu(request, error)

    for fault in (DBAPIError, PoolTimeoutError, OSError):
        app.add_exception_handler(fault, _store)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        # A uniqueness rule a route did not check first, or two writers racing to the same
        # row: a 409 the client can act on, not a 500. Logged with the traceback, because
        # the route should check first and name the field; other violations are bugs.
        if not is_unique_violation(exc):
            raise exc
        log.error("unique violation on %s %s", request.method, request.url.path, exc_info=exc)
        conflict = ConflictError(
            "the request conflicts with stored data (a duplicate, or a concurrent change); "
            "nothing was kept"
        )
        return await _siyu(request, conflict)

    @app.exception_handler(FieldError)
    async def _field(_: Request, exc: FieldError) -> Response:
        body = error_body("InvalidInputError", exc.reason, exc.field)
        return json_response(body, status_code=400)

    def _field_of(loc: Sequence[Any]) -> str:
        # A rule over the whole body (a model validator: "give person_id or member_id") has
        # no field of its own: it is named "body" rather than left empty.
        named = ".".join(str(p) for p in loc if p not in ("body", "query", "path"))
        return named or (str(loc[0]) if loc else "body")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        # Keep only what is plain JSON: pydantic's ``ctx`` may hold exception objects.
        errors = [
            {
                "field": _field_of(e["loc"]),
                "reason": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        first = errors[0]
        body = error_body("InvalidInputError", first["reason"], first["field"], errors=errors)
        return json_response(body, status_code=422)
