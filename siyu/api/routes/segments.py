"""Management API for segments: preview, save, refresh, members, changes, export (secret key)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from siyu import pipeline
from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep, in_transaction
from siyu.api.zones import in_zone
from siyu.collect.models import IdType
from siyu.core.clock import utcnow
from siyu.segments import service as segments
from siyu.segments.models import (
    Condition,
    MemberChangesPage,
    MembersPage,
    Preview,
    RefreshResult,
    Segment,
    SegmentCreate,
    SegmentUpdate,
)

router = APIRouter(prefix="/api/segments", tags=["segments"])


class PreviewRequest(BaseModel):
    """A definition to size before saving."""

    definition: Condition


@router.post(
    "/preview",
    summary="Size a definition now, before saving",
    dependencies=[Require("segments:read")],
)
async def preview(
    body: PreviewRequest, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Preview:
    """Count and a sample of member person ids."""
    return await run_in_threadpool(
        pipeline.preview_segment,
        runtime=runtime,
        workspace_id=workspace.id,
        definition=body.definition,
        now=utcnow(),
    )


@router.post(
    "", status_code=201, summary="Save a segment", dependencies=[Require("segments:write")]
)
async def create(body: SegmentCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Segment:
    """Members are computed at the first refresh (POST …/refresh, or on schedule)."""
    created = await in_transaction(
        runtime, segments.create_segment, workspace_id=workspace.id, segment=body, now=utcnow()
    )
    return in_zone(created, workspace.timezone)


@router.get("", summary="Saved segments", dependencies=[Require("segments:read")])
async def list_all(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Segment]:
    """Oldest first."""
    found = await in_transaction(runtime, segments.list_segments, workspace_id=workspace.id)
    return in_zone(found, workspace.timezone)


@router.get("/{segment_id}", summary="One segment", dependencies=[Require("segments:read")])
async def get(segment_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Segment:
    """By id or name."""
    found = await in_transaction(
        runtime, segments.get_segment, workspace_id=workspace.id, segment_id=segment_id
    )
    return in_zone(found, workspace.timezone)


@router.patch("/{segment_id}", summary="Change a segment", dependencies=[Require("segments:write")])
async def update(
    segment_id: str, body: SegmentUpdate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Segment:
    """A new definition applies at the next refresh."""
    changed = await in_transaction(
        runtime,
        segments.update_segment,
        workspace_id=workspace.id,
        segment_id=segment_id,
        changes=body,
        now=utcnow(),
    )
    return in_zone(changed, workspace.timezone)


@router.delete(
    "/{segment_id}",
    status_code=204,
    summary="Delete a segment",
    dependencies=[Require("segments:write")],
)
async def delete(segment_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Response:
    """409 while another segment contains it."""
    await in_transaction(
        runtime, segments.delete_segment, workspace_id=workspace.id, segment_id=segment_id
    )
    return Response(status_code=204)


@router.post(
    "/{segment_id}/refresh",
    summary="Recompute members now",
    dependencies=[Require("segments:write")],
)
async def refresh(
    segment_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> RefreshResult:
    """Who entered and who left is logged (GET …/changes)."""
    result = await run_in_threadpool(
        pipeline.refresh_segment,
        runtime=runtime,
        workspace_id=workspace.id,
        segment_id=segment_id,
        now=utcnow(),
    )
    return in_zone(result, workspace.timezone)


@router.get(
    "/{segment_id}/members",
    summary="Members, in person id order",
    dependencies=[Require("segments:read")],
)
async def members(
    segment_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    after: Annotated[str | None, Query(description="Last person id of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> MembersPage:
    """As of the last refresh."""
    return await in_transaction(
        runtime,
        segments.members_page,
        workspace_id=workspace.id,
        segment_id=segment_id,
        after=after,
        limit=limit,
    )


@router.get(
    "/{segment_id}/changes",
    summary="Who entered and left, in order",
    dependencies=[Require("segments:read")],
)
async def changes(
    segment_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    after: Annotated[int, Query(ge=0, description="Last change id already read.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> MemberChangesPage:
    """Journeys read this to trigger on entering or leaving."""
    page = await in_transaction(
        runtime,
        segments.changes_page,
        workspace_id=workspace.id,
        segment_id=segment_id,
        after=after,
        limit=limit,
    )
    return in_zone(page, workspace.timezone)


@router.get(
    "/{segment_id}/export", summary="Members as CSV", dependencies=[Require("segments:read")]
)
async def export(
    segment_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    id_types: Annotated[
        list[IdType], Query(description="Identifier columns to add (repeat the parameter).")
    ] = [],  # noqa: B006 - FastAPI copies query defaults
    clear: Annotated[
        bool, Query(description="Non-PII identifiers in clear; phone and email stay masked.")
    ] = False,
) -> StreamingResponse:
    """person_id plus the chosen identifier columns."""

    def rows() -> list[list[str]]:
        with runtime.sessions() as session:
            return list(
                segments.export_rows(
                    session=session,
                    workspace_id=workspace.id,
                    segment_id=segment_id,
                    id_types=id_types,
                    clear=clear,
                )
            )

    found = await run_in_threadpool(rows)

    def body() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in found:
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    headers = {"Content-Disposition": f'attachment; filename="{segment_id}.csv"'}
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)
