"""The Segment/RudderStack HTTP collection API: /v1/batch, /v1/track, /v1/identify, …

Existing SDKs of that ecosystem work unchanged: the write key is the HTTP Basic user
(or ``writeKey`` in the body), gzip bodies are accepted, ``messageId`` dedupes.

Limits: a request body (after gunzip) of at most ``SIYU_MAX_BATCH_BYTES`` (512 KiB), a
single event of at most ``SIYU_MAX_EVENT_BYTES`` (32 KiB) — Segment's own limits.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from siyu import pipeline
from siyu.api.deps import RuntimeDep, _cached_workspace, write_key_workspace
from siyu.api.errors import error_body, json_response
from siyu.collect.models import IngestResult, MessageType
from siyu.collect.normalize import FieldError, parse_time
from siyu.core.clock import utcnow
from siyu.core.errors import AuthError, InvalidInputError, PayloadTooLargeError
from siyu.core.runtime import Runtime
from siyu.workspaces.models import Workspace

router = APIRouter(prefix="/v1", tags=["collect"])


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped, refused with 413 past ``limit`` bytes either way."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"body larger than {limit} bytes", field="body", limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"body larger than {limit} bytes", field="body", limit=limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise InvalidInputError("body is not valid gzip", field="body") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise PayloadTooLargeError(
                f"body larger than {limit} bytes uncompressed", field="body", limit=limit
            )
    return body


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; a clear 400 otherwise."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"body is not valid JSON: {exc}", field="body") from None
    if not isinstance(payload, dict):
        raise InvalidInputError("body must be a JSON object", field="body")
    return payload


def _workspace(request: Request, runtime: Runtime, payload: dict[str, Any]) -> Workspace:
    try:
        return write_key_workspace(request, runtime)
    except AuthError:
        key = payload.get("writeKey")
        if not isinstance(key, str) or not key:
            raise
        return _cached_workspace(request, runtime, key)


def _respond(result: IngestResult) -> Response:
    rejected = [r.model_dump() for r in result.rejected]
    if result.rejected and not result.accepted and not result.duplicates:
        first = result.rejected[0]
        body = error_body("InvalidInputError", first.reason, first.field, rejected=rejected)
        return json_response(body, status_code=400)
    return json_response(
        {
            "success": True,
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": rejected,
        }
    )


async def _ingest(
    request: Request,
    runtime: Runtime,
    messages_of: str | None,
    forced_type: MessageType | None,
) -> Response:
    received_at = utcnow()
    payload = parse_json(await read_body(request, runtime.settings.max_batch_bytes))
    workspace = _workspace(request, runtime, payload)
    messages: list[Any] = [payload]
    prefix = "body"
    if messages_of is not None:
        listed = payload.get(messages_of)
        if not isinstance(listed, list):
            raise InvalidInputError("must be a list of messages", field=messages_of)
        messages, prefix = listed, messages_of + "[{index}]"
    batch_context = payload.get("context") if messages_of else None
    if isinstance(batch_context, dict):
        for message in messages:
            if isinstance(message, dict):
                message.setdefault("context", batch_context)
    try:
        sent_at = parse_time(payload.get("sentAt"), "sentAt") if messages_of else None
    except FieldError as exc:
        raise InvalidInputError(exc.reason, field=exc.field) from None
    result = await run_in_threadpool(
        pipeline.ingest,
        runtime=runtime,
        workspace_id=workspace.id,
        messages=messages,
        received_at=received_at,
        batch_sent_at=sent_at,
        forced_type=forced_type,
        prefix=prefix,
        committer=request.app.state.committer,
    )
    return _respond(result)


@router.post("/batch", summary="Send many messages of any type")
async def batch(request: Request, runtime: RuntimeDep) -> Response:
    """Segment ``/v1/batch``: ``{"batch": [message, …], "sentAt": …}``."""
    return await _ingest(request, runtime, "batch", None)


def _single(kind: MessageType) -> Any:
    async def endpoint(request: Request, runtime: RuntimeDep) -> Response:
        return await _ingest(request, runtime, None, kind)

    endpoint.__doc__ = f"Segment ``/v1/{kind.value}``: one {kind.value} message."
    endpoint.__name__ = kind.value
    return endpoint


for _kind in MessageType:
    router.add_api_route(
        f"/{_kind.value}", _single(_kind), methods=["POST"], summary=f"Send one {_kind.value}"
    )
