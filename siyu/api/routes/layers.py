"""Management API for layered operations (RFM, lifecycle) and customer value (Pareto, LTV).

Secret key as Bearer. Runs read the event store and write model tags; reads answer from
what the last run stored.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from siyu.analytics import layers_service as layers
from siyu.analytics import ltv
from siyu.analytics import value_service as value
from siyu.analytics.engine import Dialect
from siyu.analytics.pareto import DEFAULT_TOPS
from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep
from siyu.api.zones import in_zone
from siyu.core.clock import ensure_utc, utcnow
from siyu.core.errors import InvalidInputError
from siyu.segments.lifecycle import LifecycleSettings, Transition
from siyu.segments.rfm import RfmSegment, RfmSettings

router = APIRouter(prefix="/api", tags=["layers"])
DialectQuery = Annotated[
    Dialect, Query(alias="engine", description="Engine to read events with: duckdb or clickhouse.")
]


class LtvFitRequest(BaseModel):
    """Which orders to fit on."""

    until: date = Field(description="Last local day of orders to fit on (YYYY-MM-DD).")
    time_unit: ltv.TimeUnit = Field(default="week", description="day or week.")


@router.get(
    "/layers/rfm",
    summary="RFM segments and scored buyers (last run)",
    dependencies=[Require("segments:read")],
)
async def rfm_report(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    segment: Annotated[RfmSegment | None, Query(description="Only this segment.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> layers.RfmReport:
    """Buyers per segment and a page of scores, highest spend first."""
    report = await run_in_threadpool(
        layers.rfm_report,
        runtime=runtime,
        workspace_id=workspace.id,
        segment=segment.value if segment else None,
        limit=limit,
        offset=offset,
    )
    return in_zone(report, workspace.timezone)


@router.post(
    "/layers/rfm/run",
    summary="Score RFM now and write the RFM tags",
    dependencies=[Require("segments:write")],
)
async def rfm_run(
    runtime: RuntimeDep, workspace: AdminWorkspaceDep, dialect: DialectQuery = Dialect.DUCKDB
) -> layers.RfmRun:
    """Recompute every buyer's scores and segment."""
    run = await run_in_threadpool(
        layers.run_rfm, runtime=runtime, workspace_id=workspace.id, now=utcnow(), dialect=dialect
    )
    return in_zone(run, workspace.timezone)


@router.get("/layers/rfm/settings", summary="RFM settings", dependencies=[Require("segments:read")])
async def rfm_settings(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> RfmSettings:
    """Quantile or fixed cut points, and the high/low bar."""
    return await run_in_threadpool(
        layers.get_rfm_settings, runtime=runtime, workspace_id=workspace.id
    )


@router.put(
    "/layers/rfm/settings", summary="Change RFM settings", dependencies=[Require("segments:write")]
)
async def put_rfm_settings(
    body: RfmSettings, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> RfmSettings:
    """Saved for the next run."""
    return await run_in_threadpool(
        layers.put_rfm_settings,
        runtime=runtime,
        workspace_id=workspace.id,
        settings=body,
        now=utcnow(),
    )


@router.get(
    "/layers/lifecycle",
    summary="Lifecycle stages, activity and recent moves",
    dependencies=[Require("segments:read")],
)
async def lifecycle_report(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    since: Annotated[
        datetime | None, Query(description="Moves at or after this time (default 30 days).")
    ] = None,
) -> layers.LifecycleReport:
    """Persons per stage and activity status, and transitions since ``since``."""
    start = ensure_utc(since) if since else utcnow() - timedelta(days=30)
    report = await run_in_threadpool(
        layers.lifecycle_report, runtime=runtime, workspace_id=workspace.id, since=start
    )
    return in_zone(report, workspace.timezone)


@router.post(
    "/layers/lifecycle/run",
    summary="Place every person now; write lifecycle tags",
    dependencies=[Require("segments:write")],
)
async def lifecycle_run(
    runtime: RuntimeDep, workspace: AdminWorkspaceDep, dialect: DialectQuery = Dialect.DUCKDB
) -> layers.LifecycleRun:
    """Recompute stages and activity, recording transitions."""
    run = await run_in_threadpool(
        layers.run_lifecycle,
        runtime=runtime,
        workspace_id=workspace.id,
        now=utcnow(),
        dialect=dialect,
    )
    return in_zone(run, workspace.timezone)


@router.get(
    "/layers/lifecycle/settings",
    summary="Lifecycle thresholds",
    dependencies=[Require("segments:read")],
)
async def lifecycle_settings(
    runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> LifecycleSettings:
    """Active, churned and engaged thresholds."""
    return await run_in_threadpool(
        layers.get_lifecycle_settings, runtime=runtime, workspace_id=workspace.id
    )


@router.put(
    "/layers/lifecycle/settings",
    summary="Change lifecycle thresholds",
    dependencies=[Require("segments:write")],
)
async def put_lifecycle_settings(
    body: LifecycleSettings, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> LifecycleSettings:
    """Saved for the next run."""
    return await run_in_threadpool(
        layers.put_lifecycle_settings,
        runtime=runtime,
        workspace_id=workspace.id,
        settings=body,
        now=utcnow(),
    )


@router.get(
    "/persons/{person_id}/lifecycle",
    summary="A person's lifecycle transitions",
    dependencies=[Require("persons:read")],
)
async def person_lifecycle(
    person_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Transition]:
    """Newest first, including persons it absorbed."""
    found = await run_in_threadpool(
        layers.person_transitions,
        runtime=runtime,
        workspace_id=workspace.id,
        person_id=person_id,
        limit=limit,
    )
    return [in_zone(t, workspace.timezone) for t in found]


@router.get(
    "/analytics/pareto",
    summary="Revenue from the top buyers; KOC candidates",
    dependencies=[Require("analytics:read")],
)
async def pareto(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    tops: Annotated[
        list[float] | None, Query(description="Shares of buyers, e.g. 0.01, 0.02, 0.2.")
    ] = None,
    koc_limit: Annotated[int, Query(ge=0, le=1000)] = 20,
    dialect: DialectQuery = Dialect.DUCKDB,
) -> layers.ParetoReport:
    """Share of revenue from the top 1%, 2%, 20% of buyers; people whose referrals sell."""
    shares = tuple(tops) if tops else DEFAULT_TOPS
    if any(not 0 < t <= 1 for t in shares):
        raise InvalidInputError("tops must be in (0, 1]", field="tops")
    report = await run_in_threadpool(
        layers.pareto_report,
        runtime=runtime,
        workspace_id=workspace.id,
        now=utcnow(),
        tops=shares,
        koc_limit=koc_limit,
        dialect=dialect,
    )
    return in_zone(report, workspace.timezone)


@router.get(
    "/analytics/ltv",
    summary="Historical LTV: revenue and margin per customer by cohort",
    dependencies=[Require("analytics:read")],
)
async def historical_ltv(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    until: Annotated[
        date | None, Query(description="Last local day counted (default today).")
    ] = None,
    dialect: DialectQuery = Dialect.DUCKDB,
) -> ltv.HistoricalLtv:
    """Cohorts by first-order month in the workspace's zone."""
    day = until or value.local_today(runtime=runtime, workspace_id=workspace.id, now=utcnow())
    return await run_in_threadpool(
        value.historical_ltv, runtime=runtime, workspace_id=workspace.id, until=day, dialect=dialect
    )


@router.post(
    "/analytics/ltv/fit",
    summary="Fit BG/NBD + Gamma-Gamma for this workspace",
    dependencies=[Require("analytics:write")],
)
async def ltv_fit(
    body: LtvFitRequest,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    dialect: DialectQuery = Dialect.DUCKDB,
) -> ltv.LtvModel:
    """Fits on orders up to ``until`` (one purchase per day) and stores the model."""
    model = await run_in_threadpool(
        value.fit_ltv,
        runtime=runtime,
        workspace_id=workspace.id,
        until=body.until,
        time_unit=body.time_unit,
        now=utcnow(),
        dialect=dialect,
    )
    return in_zone(model, workspace.timezone)


@router.get(
    "/analytics/ltv/predictions",
    summary="Predicted value per buyer (stored model)",
    dependencies=[Require("analytics:read")],
)
async def ltv_predictions(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    horizon_days: Annotated[int, Query(ge=1, le=3650)] = 365,
    as_of: Annotated[
        date | None, Query(description="Orders up to this day (default today).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    dialect: DialectQuery = Dialect.DUCKDB,
) -> value.LtvPredictions:
    """P(alive), expected orders, expected order value and CLV; most valuable first."""
    day = as_of or value.local_today(runtime=runtime, workspace_id=workspace.id, now=utcnow())
    found = await run_in_threadpool(
        value.predict_ltv,
        runtime=runtime,
        workspace_id=workspace.id,
        as_of=day,
        horizon_days=horizon_days,
        limit=limit,
        dialect=dialect,
    )
    return in_zone(found, workspace.timezone)


@router.get(
    "/analytics/ltv/settings",
    summary="Value settings (margin rate)",
    dependencies=[Require("analytics:read")],
)
async def ltv_settings(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> ltv.LtvSettings:
    """The default gross margin rate."""
    return await run_in_threadpool(
        value.get_ltv_settings, runtime=runtime, workspace_id=workspace.id
    )


@router.put(
    "/analytics/ltv/settings",
    summary="Change value settings",
    dependencies=[Require("analytics:write")],
)
async def put_ltv_settings(
    body: ltv.LtvSettings, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> ltv.LtvSettings:
    """Saved for the next report."""
    return await run_in_threadpool(
        value.put_ltv_settings,
        runtime=runtime,
        workspace_id=workspace.id,
        settings=body,
        now=utcnow(),
    )
