"""Management API for persons and identity (secret key as Bearer)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from siyu import pipeline
from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep
from siyu.api.zones import in_zone
from siyu.core.clock import ensure_utc, utcnow
from siyu.identity.models import ConflictsPage, IdentityRule, IdentityRules, SplitResult

router = APIRouter(prefix="/api", tags=["persons"])


class EventsPage(BaseModel):
    """A page of a person's events, newest first."""

    person_id: str
    events: list[dict[str, Any]]
    next_before: datetime | None = Field(description="Pass as ?before= for the next page.")


class SplitRequest(BaseModel):
    """Which merge to undo."""

    absorbed_person_id: str = Field(description="The person this one absorbed by mistake.")


@router.get(
    "/persons", summary="Find a person by an identifier", dependencies=[Require("persons:read")]
)
async def find_person(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    identifier_type: Annotated[str, Query(description="e.g. phone, unionid, member_id")],
    identifier: Annotated[str, Query(min_length=1, description="The value, in clear.")],
) -> pipeline.PersonView:
    """The person holding ``identifier`` of ``identifier_type``."""
    person = await run_in_threadpool(
        pipeline.find_person,
        runtime=runtime,
        workspace_id=workspace.id,
        identifier_type=identifier_type,
        identifier=identifier,
    )
    return in_zone(person, workspace.timezone)


@router.get(
    "/persons/{person_id}",
    summary="One person's profile and identifiers",
    dependencies=[Require("persons:read")],
)
async def get_person(
    person_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> pipeline.PersonView:
    """An absorbed person id answers with the surviving person."""
    person = await run_in_threadpool(
        pipeline.get_person, runtime=runtime, workspace_id=workspace.id, person_id=person_id
    )
    return in_zone(person, workspace.timezone)


@router.get(
    "/persons/{person_id}/events",
    summary="One person's events, newest first",
    dependencies=[Require("persons:read")],
)
async def person_events(
    person_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[datetime | None, Query(description="Only events before this time.")] = None,
) -> EventsPage:
    """Events of the person and of every person it absorbed."""
    events = await run_in_threadpool(
        pipeline.person_events,
        runtime=runtime,
        workspace_id=workspace.id,
        person_id=person_id,
        limit=limit,
        before=ensure_utc(before) if before else None,
    )
    next_before = events[-1]["timestamp"] if len(events) == limit else None
    page = EventsPage(person_id=person_id, events=events, next_before=next_before)
    return in_zone(page, workspace.timezone)


@router.post(
    "/persons/{person_id}/split",
    summary="Undo a wrong merge",
    dependencies=[Require("persons:write")],
)
async def split_person(
    person_id: str, body: SplitRequest, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> SplitResult:
    """Give ``absorbed_person_id`` back its identifiers and events; block re-merging."""
    return await run_in_threadpool(
        pipeline.split_person,
        runtime=runtime,
        workspace_id=workspace.id,
        person_id=person_id,
        absorbed_person_id=body.absorbed_person_id,
        now=utcnow(),
    )


@router.get(
    "/identity/conflicts",
    summary="Merges refused by the merge rules",
    dependencies=[Require("persons:read")],
)
async def conflicts(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ConflictsPage:
    """Newest first: both sides, the identifier type whose limit held, the message."""
    page = await run_in_threadpool(
        pipeline.list_conflicts,
        runtime=runtime,
        workspace_id=workspace.id,
        limit=limit,
        offset=offset,
    )
    return in_zone(page, workspace.timezone)


class RulesUpdate(BaseModel):
    """Rules to change; types not listed keep theirs."""

    rules: list[IdentityRule] = Field(min_length=1)


@router.get(
    "/identity/rules", summary="The workspace's merge rules", dependencies=[Require("persons:read")]
)
async def get_rules(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> IdentityRules:
    """Per identifier type: priority (1 = strongest) and the most one person may hold."""
    return await run_in_threadpool(
        pipeline.identity_rules, runtime=runtime, workspace_id=workspace.id
    )


@router.put(
    "/identity/rules", summary="Change merge rules", dependencies=[Require("persons:write")]
)
async def put_rules(
    body: RulesUpdate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> IdentityRules:
    """Later batches use the new rules; `siyu identity rebuild` applies them to the past."""
    return await run_in_threadpool(
        pipeline.change_identity_rules,
        runtime=runtime,
        workspace_id=workspace.id,
        rules=body.rules,
        now=utcnow(),
    )
