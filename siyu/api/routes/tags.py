"""Management API for tags: groups, tags, who holds them, history and notes (secret key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from siyu import pipeline
from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep, in_transaction
from siyu.api.zones import in_zone
from siyu.core.clock import utcnow
from siyu.profiles import notes, tags
from siyu.profiles.tag_models import (
    Note,
    NoteCreate,
    PersonTag,
    Tag,
    TagChanges,
    TagCreate,
    TagGroup,
    TagGroupCreate,
    TagGroupUpdate,
    TagHistoryEntry,
    TagImportReport,
    TagUpdate,
)

router = APIRouter(prefix="/api", tags=["tags"])


class PersonTagRequest(BaseModel):
    """A manual tag to give a person."""

    tag: str = Field(description="Tag id, group/name, or a name only one group uses.")
    actor: str | None = Field(default=None, max_length=200, description="Who tags (operator).")
    reason: str | None = Field(default=None, max_length=2000)


@router.get("/tags/groups", summary="Tag groups", dependencies=[Require("tags:read")])
async def list_groups(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[TagGroup]:
    """Oldest first."""
    found = await in_transaction(runtime, tags.list_groups, workspace_id=workspace.id)
    return in_zone(found, workspace.timezone)


@router.post(
    "/tags/groups",
    status_code=201,
    summary="Create a tag group",
    dependencies=[Require("tags:write")],
)
async def create_group(
    body: TagGroupCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> TagGroup:
    """Manual, rule or model group; exclusive groups give a person one tag at most."""
    created = await in_transaction(
        runtime, tags.create_group, workspace_id=workspace.id, group=body, now=utcnow()
    )
    return in_zone(created, workspace.timezone)


@router.patch(
    "/tags/groups/{group}",
    summary="Rename or describe a group",
    dependencies=[Require("tags:write")],
)
async def update_group(
    group: str, body: TagGroupUpdate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> TagGroup:
    """``group`` is an id or a name."""
    changed = await in_transaction(
        runtime, tags.update_group, workspace_id=workspace.id, group=group, changes=body
    )
    return in_zone(changed, workspace.timezone)


@router.delete(
    "/tags/groups/{group}",
    status_code=204,
    summary="Delete an empty group",
    dependencies=[Require("tags:write")],
)
async def delete_group(group: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Response:
    """409 while the group has tags."""
    await in_transaction(runtime, tags.delete_group, workspace_id=workspace.id, group=group)
    return Response(status_code=204)


@router.get("/tags", summary="Tags", dependencies=[Require("tags:read")])
async def list_tags(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    group: Annotated[str | None, Query(description="Only this group (id or name).")] = None,
    counts: Annotated[bool, Query(description="Count holders of each tag.")] = False,
) -> list[Tag]:
    """By group, then position."""
    found = await in_transaction(
        runtime, tags.list_tags, workspace_id=workspace.id, group=group, with_counts=counts
    )
    return in_zone(found, workspace.timezone)


@router.post("/tags", status_code=201, summary="Create a tag", dependencies=[Require("tags:write")])
async def create_tag(body: TagCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Tag:
    """Rule tags carry a segment definition (checked now, computed at the next refresh)."""
    now = utcnow()
    if body.rule is not None:
        rule = await run_in_threadpool(
            pipeline.check_rule, runtime=runtime, workspace_id=workspace.id, rule=body.rule, now=now
        )
        body = body.model_copy(update={"rule": rule})
    created = await in_transaction(
        runtime, tags.create_tag, workspace_id=workspace.id, tag=body, now=now
    )
    return in_zone(created, workspace.timezone)


@router.post(
    "/tags/refresh", summary="Recompute every rule tag now", dependencies=[Require("tags:write")]
)
async def refresh_rule_tags(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> TagChanges:
    """Runs each rule tag's definition and records gains and losses."""
    return await run_in_threadpool(
        pipeline.refresh_rule_tags, runtime=runtime, workspace_id=workspace.id, now=utcnow()
    )


# ``{tag:path}``: a tag may be named ``group/name`` in the path. The route with a suffix
# comes before the bare one, which would otherwise take ``group/name/persons`` as the tag.
@router.get(
    "/tags/{tag:path}/persons", summary="Persons holding a tag", dependencies=[Require("tags:read")]
)
async def tag_persons(tag: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[str]:
    """Surviving person ids, sorted."""
    return await in_transaction(runtime, tags.persons_with_tag, workspace_id=workspace.id, tag=tag)


@router.get("/tags/{tag:path}", summary="One tag", dependencies=[Require("tags:read")])
async def get_tag(tag: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Tag:
    """By id or group/name."""
    found = await in_transaction(runtime, tags.get_tag, workspace_id=workspace.id, tag=tag)
    return in_zone(found, workspace.timezone)


@router.patch(
    "/tags/{tag:path}",
    summary="Rename, describe or redefine a tag",
    dependencies=[Require("tags:write")],
)
async def update_tag(
    tag: str, body: TagUpdate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Tag:
    """A new rule applies at the next refresh."""
    if body.rule is not None:
        rule = await run_in_threadpool(
            pipeline.check_rule,
            runtime=runtime,
            workspace_id=workspace.id,
            rule=body.rule,
            now=utcnow(),
        )
        body = body.model_copy(update={"rule": rule})
    changed = await in_transaction(
        runtime, tags.update_tag, workspace_id=workspace.id, tag=tag, changes=body
    )
    return in_zone(changed, workspace.timezone)


@router.delete(
    "/tags/{tag:path}",
    summary="Delete a tag (holders lose it)",
    dependencies=[Require("tags:write")],
)
async def delete_tag(tag: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> TagChanges:
    """Each holder's loss is recorded in the history."""
    return await in_transaction(
        runtime, tags.delete_tag, workspace_id=workspace.id, tag=tag, now=utcnow()
    )


@router.post(
    "/tags/{tag:path}/import",
    summary="Tag the persons a CSV of identifiers names",
    dependencies=[Require("tags:write")],
)
async def import_csv(
    tag: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    body: Annotated[str, Body(media_type="text/csv", description="Header type,value.")],
    actor: Annotated[str | None, Query(max_length=200)] = None,
) -> TagImportReport:
    """Rows naming no known person are listed with the reason; the rest are tagged."""
    return await run_in_threadpool(
        pipeline.tag_from_csv,
        runtime=runtime,
        workspace_id=workspace.id,
        tag=tag,
        text=body,
        now=utcnow(),
        actor=actor,
    )


@router.get(
    "/persons/{person_id}/tags", summary="Tags a person holds", dependencies=[Require("tags:read")]
)
async def person_tags(
    person_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[PersonTag]:
    """Over the person and everyone it absorbed."""
    found = await in_transaction(
        runtime, tags.tags_of, workspace_id=workspace.id, person_id=person_id
    )
    return in_zone(found, workspace.timezone)


@router.post(
    "/persons/{person_id}/tags",
    summary="Give a person a manual tag",
    dependencies=[Require("tags:write")],
)
async def tag_person(
    person_id: str, body: PersonTagRequest, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> TagChanges:
    """In an exclusive group the person loses the group's other tag."""
    return await in_transaction(
        runtime,
        tags.apply_tag,
        workspace_id=workspace.id,
        tag=body.tag,
        person_ids=[person_id],
        now=utcnow(),
        actor=body.actor,
        reason=body.reason,
    )


@router.delete(
    "/persons/{person_id}/tags/{tag:path}",
    summary="Take a manual tag from a person",
    dependencies=[Require("tags:write")],
)
async def untag_person(
    person_id: str,
    tag: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    actor: Annotated[str | None, Query(max_length=200)] = None,
) -> TagChanges:
    """Recorded in the history with ``actor``."""
    return await in_transaction(
        runtime,
        tags.remove_tag,
        workspace_id=workspace.id,
        tag=tag,
        person_id=person_id,
        now=utcnow(),
        actor=actor,
    )


@router.get(
    "/persons/{person_id}/tags/history",
    summary="When a person gained or lost tags",
    dependencies=[Require("tags:read")],
)
async def tag_history(
    person_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TagHistoryEntry]:
    """Newest first, with the source (manual by whom, rule, model) and reason."""
    found = await in_transaction(
        runtime, tags.history, workspace_id=workspace.id, person_id=person_id, limit=limit
    )
    return in_zone(found, workspace.timezone)


@router.get(
    "/persons/{person_id}/notes", summary="Notes on a person", dependencies=[Require("tags:read")]
)
async def person_notes(
    person_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[Note]:
    """Newest first."""
    found = await in_transaction(
        runtime, notes.notes_of, workspace_id=workspace.id, person_id=person_id
    )
    return in_zone(found, workspace.timezone)


@router.post(
    "/persons/{person_id}/notes",
    status_code=201,
    summary="Add a note (画像补白)",
    dependencies=[Require("tags:write")],
)
async def add_note(
    person_id: str,
    body: NoteCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    author: Annotated[str | None, Query(max_length=200)] = None,
) -> Note:
    """Attached to the person's survivor."""
    created = await in_transaction(
        runtime,
        notes.add_note,
        workspace_id=workspace.id,
        person_id=person_id,
        text=body.text,
        now=utcnow(),
        author=author,
    )
    return in_zone(created, workspace.timezone)


@router.delete(
    "/persons/{person_id}/notes/{note_id}",
    status_code=204,
    summary="Delete a note",
    dependencies=[Require("tags:write")],
)
async def delete_note(
    person_id: str, note_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Response:
    """404 if no such note."""
    await in_transaction(runtime, notes.delete_note, workspace_id=workspace.id, note_id=note_id)
    return Response(status_code=204)
