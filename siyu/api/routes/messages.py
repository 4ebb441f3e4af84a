"""Management API for outbox messages: list a person's or a journey's, send one ad hoc."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from siyu.api.deps import (
    AdminWorkspaceDep,
    Require,
    RequiredIdempotencyKeyDep,
    RuntimeDep,
    in_transaction,
    retried,
)
from siyu.api.zones import in_zone
from siyu.channels.models import Channel, EnqueueResult, MessageRequest, MessageStatus, Purpose
from siyu.channels.outbox_models import Message
from siyu.channels.tables import channel_messages
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.pipeline import journey_offers

router = APIRouter(prefix="/api/messages", tags=["messages"])
_m = channel_messages.c


class MessageSend(BaseModel):
    """One message to one person, outside any journey."""

    person_id: str = Field(min_length=1, max_length=40)
    channel: Channel
    template: str = Field(min_length=1, max_length=200)
    params: dict[str, str] = Field(default_factory=dict)
    purpose: Purpose = Field(
        default=Purpose.TRANSACTIONAL, description="transactional bypasses marketing caps."
    )
    priority: int = Field(default=0, ge=-1000, le=1000)


def _list(
    *,
    session: Any,
    workspace_id: str,
    person_id: str | None,
    journey_id: str | None,
    status: MessageStatus | None,
    channel: Channel | None,
    limit: int,
) -> list[Message]:
    where = [_m.workspace_id == workspace_id]
    if person_id:
        where.append(_m.person_id == person_id)
    if journey_id:
        where.append(_m.source.startswith(f"journey:{journey_id}:", autoescape=True))
    if status:
        where.append(_m.status == status.value)
    if channel:
        where.append(_m.channel == channel.value)
    cols = [getattr(_m, f) for f in Message.model_fields]
    rows = session.execute(
        select(*cols).where(*where).order_by(_m.created_at.desc(), _m.id.desc()).limit(limit)
    ).all()
    return [Message.model_validate(dict(r._mapping)) for r in rows]


@router.get(
    "",
    summary="Messages (of a person, a journey, a status)",
    dependencies=[Require("messages:read")],
)
async def list_messages(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    person_id: str | None = None,
    journey_id: str | None = None,
    status: MessageStatus | None = None,
    channel: Channel | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[Message]:
    """Newest first; a held message carries its reason (``no_consent``, ``daily_cap``…)."""
    found = await in_transaction(
        runtime, _list, workspace_id=workspace.id, person_id=person_id, journey_id=journey_id,
        status=status, channel=channel, limit=limit,
    )  # fmt: skip
    return in_zone(found, workspace.timezone)


@router.post(
    "",
    status_code=201,
    summary="Send one message (ad hoc)",
    dependencies=[Require("messages:write")],
)
async def send_message(
    body: MessageSend, key: RequiredIdempotencyKeyDep, runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
) -> EnqueueResult:  # fmt: skip
    """Queued (or held, with the reason) in the outbox; a retry with the same key answers the
    first result with ``duplicate: true``."""
    if not key.strip():
        raise InvalidInputError("Idempotency-Key must not be blank", field="Idempotency-Key")
    request = MessageRequest(
        person_id=body.person_id, channel=body.channel, template=body.template,
        params=body.params, purpose=body.purpose, priority=body.priority, source="api",
        idempotency_key=f"api:{key}",
    )  # fmt: skip
    return await retried(
        runtime, journey_offers.enqueue, workspace_id=workspace.id, request=request, now=utcnow()
    )
