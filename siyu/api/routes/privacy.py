"""Management API for data-subject requests and the audit log (PIPL)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from siyu.accounts.models import Principal
from siyu.api.deps import IdempotencyKeyDep, Require, RuntimeDep
from siyu.core.clock import utcnow
from siyu.pipeline import privacy
from siyu.privacy import service as privacy_service
from siyu.privacy.models import (
    AuditAction,
    AuditPage,
    ErasureReceipt,
    PersonExport,
    RetentionPolicy,
    RetentionUpdate,
)

router = APIRouter(prefix="/api", tags=["privacy"])


def actor_of(principal: Principal) -> str:
    """Who, as the audit log records it: the user, or the API key."""
    if principal.user_id:
        return f"user:{principal.user_id}"
    return f"key:{principal.key_id or principal.kind}"


@router.post("/persons/{person_id}/export", summary="Export all data of a person (JSON)")
async def export_person(
    person_id: str,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Require("persons:export")],
) -> PersonExport:
    """Everything siyu holds about the person and every person it absorbed: identifiers in
    clear, rows of every domain, raw events. The export is written to the audit log first."""
    return await run_in_threadpool(
        privacy.export_person,
        runtime=runtime,
        workspace_id=principal.workspace.id,
        person_id=person_id,
        actor=actor_of(principal),
        now=utcnow(),
    )


class UnmaskedIdentifier(BaseModel):
    """One identifier of a person in clear."""

    type: str
    value: str = Field(description="In clear: phone and email decrypted.")
    person_id: str
    introduced_by: str
    first_seen: datetime


@router.get(
    "/persons/{person_id}/identifiers/unmasked",
    summary="A person's identifiers in clear (audited)",
)
async def unmasked_identifiers(
    person_id: str,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Require("persons:pii")],
) -> list[UnmaskedIdentifier]:
    """Phone, email and every other identifier unmasked; the view is written to the audit log
    before it is answered."""
    found = await run_in_threadpool(
        privacy.reveal_identifiers,
        runtime=runtime,
        workspace_id=principal.workspace.id,
        person_id=person_id,
        actor=actor_of(principal),
        now=utcnow(),
    )
    return [UnmaskedIdentifier(**row) for row in found]


@router.post("/persons/{person_id}/erase", summary="Erase a person everywhere")
async def erase_person(
    person_id: str,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Require("persons:erase")],
    idempotency_key: IdempotencyKeyDep = None,
) -> ErasureReceipt:
    """Delete or anonymise the person in the operational store, the event store and the inbox;
    answers the signed receipt. A retry (same key, or the same person again) answers the
    stored receipt with ``replayed: true``."""
    return await run_in_threadpool(
        privacy.erase_person,
        runtime=runtime,
        workspace_id=principal.workspace.id,
        person_id=person_id,
        actor=actor_of(principal),
        now=utcnow(),
        idempotency_key=idempotency_key,
    )


_RANGE = (
    "A date (YYYY-MM-DD, the workspace's zone) or an ISO time with its offset; a date of "
    "``until`` includes that day, a time is excluded."
)


@router.get("/audit", summary="The audit log of unmasked views, exports, erasures, members")
async def list_audit(
    runtime: RuntimeDep,
    principal: Annotated[Principal, Require("audit:read")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, description="Page before this id.")] = None,
    person_id: Annotated[str | None, Query(max_length=80)] = None,
    action: Annotated[AuditAction | None, Query(description="Only this action.")] = None,
    since: Annotated[str | None, Query(max_length=40, description=f"From. {_RANGE}")] = None,
    until: Annotated[str | None, Query(max_length=40, description=f"Until. {_RANGE}")] = None,
) -> AuditPage:
    """Newest first; ``person_id`` filters one person (or an erasure's subject digest or
    ``user:<id>``). Filters combine; page on with ``before_id=next_before_id`` and the same
    filters."""
    zone = principal.workspace.timezone
    return await run_in_threadpool(
        privacy.list_audit,
        runtime=runtime,
        workspace_id=principal.workspace.id,
        limit=limit,
        before_id=before_id,
        person_id=person_id,
        action=action,
        since=privacy_service.audit_instant(since, "since", zone),
        until=privacy_service.audit_instant(until, "until", zone),
    )


@router.get("/privacy/retention", summary="The workspace's retention periods")
async def get_retention(
    runtime: RuntimeDep, principal: Annotated[Principal, Require("audit:read")]
) -> RetentionPolicy:
    """Days each kind of personal information is kept (null: forever); the defaults when the
    workspace never set them."""
    return await run_in_threadpool(
        privacy.get_retention, runtime=runtime, workspace_id=principal.workspace.id
    )


@router.put("/privacy/retention", summary="Change retention periods")
async def put_retention(
    change: RetentionUpdate,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Require("persons:erase")],
) -> RetentionPolicy:
    """Only the fields given change; null keeps that kind forever. The daily
    ``event_retention`` job (03:00 in the workspace's zone) applies the policy."""
    return await run_in_threadpool(
        privacy.set_retention,
        runtime=runtime,
        workspace_id=principal.workspace.id,
        change=change,
        now=utcnow(),
    )
