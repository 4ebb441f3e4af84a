"""Analytics API: funnels, fission, retention cohorts and repurchase (secret key as Bearer).

``engine`` picks DuckDB (default) or ClickHouse. Times in bodies are ISO 8601 (UTC when
no offset); ``from``/``to`` query days are local to the workspace's zone, both included.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from siyu.analytics import service as analytics
from siyu.analytics.engine import Dialect
from siyu.analytics.models import (
    ORDER_EVENT,
    FissionQuery,
    FissionResult,
    FunnelQuery,
    FunnelResult,
    RepurchaseQuery,
    RepurchaseResult,
    RetentionQuery,
    RetentionResult,
)
from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError

router = APIRouter(prefix="/api/analytics", tags=["analytics"])

EngineQuery = Annotated[Dialect, Query(description="duckdb or clickhouse.")]


@router.post("/funnel", summary="A conversion funnel", dependencies=[Require("analytics:read")])
async def funnel(
    query: FunnelQuery,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    engine: EngineQuery = Dialect.DUCKDB,
) -> FunnelResult:
    """Per-step persons, conversion from step 1 and from the step before, median step times,
    and one series per breakdown value."""
    return await run_in_threadpool(
        analytics.run_funnel,
        runtime=runtime,
        workspace_id=workspace.id,
        query=query,
        dialect=engine,
    )


@router.post(
    "/fission",
    summary="A fission (referral) funnel across referrer and invitee",
    dependencies=[Require("analytics:read")],
)
async def fission(
    query: FissionQuery,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    engine: EngineQuery = Dialect.DUCKDB,
) -> FissionResult:
    """Referrers who shared, their invitees who clicked, registered and ordered within the
    window; conversion, K-factor, a breakdown by the referrer's first-touch channel and the
    top referrers."""
    return await run_in_threadpool(
        analytics.run_fission,
        runtime=runtime,
        workspace_id=workspace.id,
        query=query,
        dialect=engine,
    )


@router.post("/retention", summary="Retention cohorts", dependencies=[Require("analytics:read")])
async def retention(
    query: RetentionQuery,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    engine: EngineQuery = Dialect.DUCKDB,
) -> RetentionResult:
    """Cohorts by first visit or first order and who came back in each later period."""
    return await run_in_threadpool(
        analytics.run_retention,
        runtime=runtime,
        workspace_id=workspace.id,
        query=query,
        now=utcnow(),
        dialect=engine,
    )


def _local_range(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    if last < first:
        raise InvalidInputError("'to' must not be before 'from'", field="to")
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    return start, end


@router.get(
    "/repurchase",
    summary="Repurchase rate and purchase intervals",
    dependencies=[Require("analytics:read")],
)
async def repurchase(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    first: Annotated[date, Query(alias="from", description="First day (local).")],
    last: Annotated[date, Query(alias="to", description="Last day (local), included.")],
    within_days: Annotated[
        int, Query(ge=1, le=3650, description="Bought again within N days.")
    ] = 30,
    order_event: Annotated[str, Query(min_length=1, max_length=200)] = ORDER_EVENT,
    engine: EngineQuery = Dialect.DUCKDB,
) -> RepurchaseResult:
    """Share of buyers with two or more orders (and within N days), interval quartiles."""
    start, end = _local_range(first, last, workspace.timezone)
    query = RepurchaseQuery(start=start, end=end, within_days=within_days, order_event=order_event)
    return await run_in_threadpool(
        analytics.run_repurchase,
        runtime=runtime,
        workspace_id=workspace.id,
        query=query,
        dialect=engine,
    )
