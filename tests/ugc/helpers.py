"""Shared set-up for UGC tests: persons by user id, a post body."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from siyu import pipeline
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.ugc.models import PostCreate


def people(runtime: Runtime, ws: str, names: list[str]) -> list[str]:
    """A person per user id (identified now), their ids in order."""
    now = utcnow()
    hello = [{"type": "identify", "messageId": f"i-{n}", "userId": n} for n in names]
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=now, messages=hello)
    return [
        pipeline.find_person(
            runtime=runtime, workspace_id=ws, identifier_type="user_id", identifier=n
        ).person_id
        for n in names
    ]


def post(
    external_id: str | None = "x1", *, posted_at: datetime | None = None, **fields: Any
) -> PostCreate:
    """A xiaohongshu note by user ``author`` unless told otherwise."""
    body: dict[str, Any] = {
        "platform": "xiaohongshu",
        "external_id": external_id,
        "text": "山茶花精华用了两周，真的好用",
        "posted_at": posted_at or utcnow(),
        "author": {"user_id": "author"},
        **fields,
    }
    return PostCreate.model_validate(body)
