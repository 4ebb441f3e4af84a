"""Management API for journeys: create (JSON or YAML), versions, status, dry run, stats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select

from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep, in_transaction
from siyu.api.zones import in_zone
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.journeys import service as journeys
from siyu.journeys import stats
from siyu.journeys.definition import load_definition
from siyu.journeys.models import JourneyDefinition
from siyu.journeys.tables import journey_versions
from siyu.pipeline import journey_checks
from siyu.pipeline.journeys import JourneyDryRun, dry_run_journey

router = APIRouter(prefix="/api/journeys", tags=["journeys"])


class JourneyVersion(BaseModel):
    """One published version of a journey."""

    version: int
    published_at: datetime
    definition: dict[str, Any]


class JourneyDetail(journeys.Journey):
    """A journey with every version."""

    versions: list[JourneyVersion]


class DryRunRequest(BaseModel):
    """The date range to simulate."""

    start: datetime = Field(description="Aware start (ISO 8601 with offset).")
    end: datetime = Field(description="Aware end, after start, at most 366 days later.")


async def _definition(request: Request) -> JourneyDefinition:
    """The body as a definition: JSON, or YAML when the content type says so."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    if not raw.strip():
        raise InvalidInputError("the body is a journey definition (JSON or YAML)", field="body")
    kind = request.headers.get("content-type", "")
    fmt = "yaml" if "yaml" in kind else "json" if "json" in kind else "auto"
    return load_definition(raw, fmt=fmt)


@router.post(
    "",
    status_code=201,
    summary="Create a journey (draft, version 1)",
    dependencies=[Require("journeys:write")],
)
async def create_journey(
    request: Request, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> journeys.Journey:
    """The body is the definition, as JSON or YAML (``Content-Type: application/yaml``)."""
    definition = await _definition(request)
    created = await in_transaction(
        runtime, journey_checks.create_journey, workspace_id=workspace.id,
        definition=definition, now=utcnow(),
    )  # fmt: skip
    return in_zone(created, workspace.timezone)


@router.get("", summary="Journeys", dependencies=[Require("journeys:read")])
async def list_journeys(
    runtime: RuntimeDep, workspace: AdminWorkspaceDep, status: journeys.JourneyStatus | None = None
) -> list[journeys.Journey]:
    """By name; optionally of one status."""
    found = await in_transaction(
        runtime, journeys.list_journeys, workspace_id=workspace.id, status=status
    )
    return in_zone(found, workspace.timezone)


def _detail(*, session: Any, workspace_id: str, journey_id: str) -> JourneyDetail:
    journey = journeys.get_journey(
        session=session, workspace_id=workspace_id, journey_id=journey_id
    )
    v = journey_versions.c
    rows = session.execute(
        select(v.version, v.published_at, v.definition)
        .where(v.journey_id == journey.id)
        .order_by(v.version)
    ).all()
    versions = [JourneyVersion(version=r.version, published_at=r.published_at,
                               definition=dict(r.definition)) for r in rows]  # fmt: skip
    return JourneyDetail(**journey.model_dump(), versions=versions)


@router.get(
    "/{journey_id}",
    summary="One journey with its versions",
    dependencies=[Require("journeys:read")],
)
async def get_journey(
    journey_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> JourneyDetail:
    """404 when absent."""
    found = await in_transaction(runtime, _detail, workspace_id=workspace.id, journey_id=journey_id)
    return in_zone(found, workspace.timezone)


@router.post(
    "/{journey_id}/versions",
    status_code=201,
    summary="Publish a new version",
    dependencies=[Require("journeys:write")],
)
async def publish_version(
    journey_id: str, request: Request, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> journeys.Journey:
    """New entries follow it; people already in keep the version they entered with."""
    definition = await _definition(request)
    done = await in_transaction(
        runtime, journey_checks.publish_version, workspace_id=workspace.id, journey_id=journey_id,
        definition=definition, now=utcnow(),
    )  # fmt: skip
    return in_zone(done, workspace.timezone)


async def _set(
    runtime: Any, workspace: Any, journey_id: str, status: journeys.JourneyStatus
) -> journeys.Journey:
    done = await in_transaction(runtime, journey_checks.set_status, workspace_id=workspace.id,
                                journey_id=journey_id, status=status, now=utcnow())  # fmt: skip
    return in_zone(done, workspace.timezone)


@router.post(
    "/{journey_id}/activate",
    summary="Activate (take entries, step people)",
    dependencies=[Require("journeys:write")],
)
async def activate(
    journey_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> journeys.Journey:
    """409 for an archived journey."""
    return await _set(runtime, workspace, journey_id, journeys.JourneyStatus.ACTIVE)


@router.post(
    "/{journey_id}/pause",
    summary="Pause (no entries; nobody steps)",
    dependencies=[Require("journeys:write")],
)
async def pause(
    journey_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> journeys.Journey:
    """Due people wait and go on at resume."""
    return await _set(runtime, workspace, journey_id, journeys.JourneyStatus.PAUSED)


@router.post(
    "/{journey_id}/resume",
    summary="Resume a paused journey",
    dependencies=[Require("journeys:write")],
)
async def resume(
    journey_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> journeys.Journey:
    """Same as activate."""
    return await _set(runtime, workspace, journey_id, journeys.JourneyStatus.ACTIVE)


@router.post(
    "/{journey_id}/archive", summary="Archive (for good)", dependencies=[Require("journeys:write")]
)
async def archive(
    journey_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> journeys.Journey:
    """An archived journey cannot come back."""
    return await _set(runtime, workspace, journey_id, journeys.JourneyStatus.ARCHIVED)


@router.post(
    "/{journey_id}/dry-run",
    summary="Simulate a date range (writes nothing)",
    dependencies=[Require("journeys:read")],
)
async def dry_run(
    journey_id: str, body: DryRunRequest, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> JourneyDryRun:
    """Entries per day, messages per channel per local day, sends the caps would hold."""
    for name, value in (("start", body.start), ("end", body.end)):
        if value.tzinfo is None:
            raise InvalidInputError(f"{name} needs a time zone offset", field=name)
    found = await run_in_threadpool(
        dry_run_journey, runtime=runtime, workspace_id=workspace.id, journey_id=journey_id,
        since=body.start, until=body.end, now=utcnow(),
    )  # fmt: skip
    return in_zone(found, workspace.timezone)


@router.get(
    "/{journey_id}/stats",
    summary="Per node and per variant",
    dependencies=[Require("journeys:read")],
)
async def journey_stats(
    journey_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> stats.JourneyStats:
    """Entered, waiting, passed, sent, failed, converted per node; variants with Wilson
    intervals, lift and a two-proportion p-value against the control (holdout)."""
    await in_transaction(
        runtime, journeys.get_journey, workspace_id=workspace.id, journey_id=journey_id
    )
    return await in_transaction(
        runtime, stats.journey_stats, workspace_id=workspace.id, journey_id=journey_id
    )
