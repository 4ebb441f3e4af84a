"""Hostile-input guards for every route: a body size limit (413), NUL characters refused
(400), and numbers too large to store answered 400 instead of a 500 from the driver.

``/v1`` keeps its own, smaller limit (``max_batch_bytes``, counted after gunzip) in the
collection routes; every other body is refused past ``max_api_body_bytes``, whether it
declares its length or streams it chunked.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import DataError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from siyu.api.errors import error_body, json_response

INT64_MAX = 2**63 - 1
_OUT_OF_RANGE = f"a number is out of range (integers are at most {INT64_MAX:,}, dates year 9999)"
# PostgreSQL's SQLSTATE for "numeric value out of range" (integer, bigint, numeric columns).
_NUMERIC_OUT_OF_RANGE = "22003"


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413 (``/v1`` has its own limit)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        if declared is None and scope["method"] in ("POST", "PUT", "PATCH"):
            # A chunked body never said its length: read it here, up to the limit, and hand
            # the app what was read (the app would have held it in memory all the same).
            messages = await self._read_within_limit(receive)
            if messages is None:
                await self._refuse(scope, receive, send)
                return
            receive = _replay(messages, receive)
        await self.app(scope, receive, send)

    async def _read_within_limit(self, receive: Receive) -> list[Message] | None:
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            received += len(message.get("body", b""))
            if received > self.limit:
                return None
            if message["type"] != "http.request" or not message.get("more_body"):
                return messages

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is over the {self.limit:,}-byte limit"
        body = error_body("PayloadTooLargeError", message, "body", limit=self.limit)
        await json_response(body, status_code=413)(scope, receive, send)


class NoNul:
    """Refuse a JSON body with a NUL character (U+0000) in any string with 400 naming where
    (``/v1`` excepted: events keep what was sent).

    PostgreSQL's text and jsonb cannot hold NUL while SQLite can; refusing it at the door
    answers the same on both stores, before anything is written. Only a body whose bytes
    hold the escape ``\\u0000`` is parsed a second time, so the cost is a byte search.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("POST", "PUT", "PATCH")
            or scope["path"].startswith("/v1/")
            or b"json" not in dict(scope["headers"]).get(b"content-type", b"")
        ):
            await self.app(scope, receive, send)
            return
        messages = await _read_all(receive)
        body = b"".join(m.get("body", b"") for m in messages)
        where = _nul_path(body) if b"\\u0000" in body else None
        if where is not None:
            message = "text may not contain NUL (U+0000) characters"
            answer = json_response(error_body("InvalidInputError", message, where), 400)
            await answer(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)


async def _read_all(receive: Receive) -> list[Message]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            return messages


def _nul_path(body: bytes) -> str | None:
    """The dotted path of the first string (or key) holding NUL; None when there is none or
    the body is not JSON (the route's own validation answers that)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return path or "body"
        if isinstance(value, dict):
            for key, item in value.items():
                at = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    return at
                pending.append((at, item))
        elif isinstance(value, list):
            pending.extend((f"{path}.{i}" if path else str(i), v) for i, v in enumerate(value))
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _out_of_range() -> Response:
    return json_response(error_body("InvalidInputError", _OUT_OF_RANGE, "body"), 400)


async def _overflow(_: Request, exc: Exception) -> Response:
    # Python raises OverflowError for an int too large for SQLite's INTEGER and for a date
    # pushed past year 9999 by a client's number of days: the input's fault, nothing kept.
    return _out_of_range()


async def _data_error(_: Request, exc: Exception) -> Response:
    if getattr(getattr(exc, "orig", None), "sqlstate", None) == _NUMERIC_OUT_OF_RANGE:
        return _out_of_range()
    if "cannot contain NUL" in str(getattr(exc, "orig", "")):  # a query parameter, say
        message = "text may not contain NUL (U+0000) characters"
        return json_response(error_body("InvalidInputError", message, "query"), 400)
    raise exc


def install(app: FastAPI, *, max_body_bytes: int) -> None:
    """Add the body limit and the out-of-range handlers to ``app``."""
    app.add_middleware(NoNul)
    app.add_middleware(BodyLimit, limit=max_body_bytes)  # added last: runs first
    handlers: list[tuple[type[Exception], Any]] = [
        (OverflowError, _overflow),
        (DataError, _data_error),
    ]
    for error, handler in handlers:
        app.add_exception_handler(error, handler)
