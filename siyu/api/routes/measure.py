"""Measurement boards API: GMV decomposition, attribution, ROI, AARRR/RARRA, channel spend.

Periods are whole local days in the workspace's zone: ``from`` and ``to`` (YYYY-MM-DD, both
included; default the 7 complete days before today). ``engine`` picks DuckDB (default) or
ClickHouse. Secret key as ``Authorization: Bearer``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from siyu.analytics import measure_service as measure
from siyu.analytics.attribution import AttributionModel
from siyu.analytics.attribution_report import AttributionQuery, AttributionResult, TouchKey
from siyu.analytics.boards import Board, BoardKind, BoardQuery
from siyu.analytics.engine import Dialect
from siyu.analytics.gmv import GmvDecomposition, GmvQuery
from siyu.analytics.periods import Period, period_of
from siyu.analytics.roi import RoiQuery, RoiResult
from siyu.analytics.spend import SpendEntry
from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep
from siyu.core.clock import utcnow
from siyu.workspaces.models import Workspace

router = APIRouter(prefix="/api", tags=["measure"])

FromQuery = Annotated[
    date | None, Query(alias="from", description="First day (local), default 7 days ago.")
]
ToQuery = Annotated[date | None, Query(alias="to", description="Last day (local), included.")]
EngineQuery = Annotated[Dialect, Query(description="duckdb or clickhouse.")]
ModelQuery = Annotated[AttributionModel, Query(description="Attribution model.")]
LookbackQuery = Annotated[int, Query(ge=1, le=365, description="Touch lookback in days.")]
HalfLifeQuery = Annotated[float, Query(gt=0, le=365, description="Time-decay half-life, days.")]
ByQuery = Annotated[TouchKey, Query(description="Credit channels or channel / campaign.")]


def _period(workspace: Workspace, first: date | None, last: date | None) -> Period:
    return period_of(first, last, timezone=workspace.timezone, now=utcnow())


def _comparison(period: Period, first: date | None, last: date | None) -> Period | None:
    """The comparison period asked for (one end given: the same length as ``period``)."""
    length = timedelta(days=period.days - 1)
    if first is not None:
        last = last or first + length
    elif last is not None:
        first = last - length
    else:
        return None
    return Period(first_day=first, last_day=last, timezone=period.timezone)


@router.get(
    "/analytics/gmv",
    summary="GMV decomposition, period over period",
    dependencies=[Require("analytics:read")],
)
async def gmv(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    first_day: FromQuery = None,
    last_day: ToQuery = None,
    compare_from: Annotated[date | None, Query(description="Comparison period start.")] = None,
    compare_to: Annotated[date | None, Query(description="Comparison period end.")] = None,
    engine: EngineQuery = Dialect.DUCKDB,
) -> GmvDecomposition:
    """GMV = traffic × conversion × orders per buyer × AOV; which factor moved it."""
    period = _period(workspace, first_day, last_day)
    compare = _comparison(period, compare_from, compare_to)
    query = GmvQuery(period=period, compare_to=compare)
    return await run_in_threadpool(
        measure.gmv, runtime=runtime, workspace_id=workspace.id, query=query, dialect=engine
    )


@router.get(
    "/analytics/attribution",
    summary="Orders credited to channels",
    dependencies=[Require("analytics:read")],
)
async def attribution(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    first_day: FromQuery = None,
    last_day: ToQuery = None,
    model: ModelQuery = AttributionModel.LAST_TOUCH,
    lookback_days: LookbackQuery = 30,
    half_life_days: HalfLifeQuery = 7.0,
    by: ByQuery = TouchKey.CHANNEL,
    engine: EngineQuery = Dialect.DUCKDB,
) -> AttributionResult:
    """First/last touch, linear, time decay, position based (40/20/40) or Markov."""
    query = AttributionQuery(
        period=_period(workspace, first_day, last_day),
        model=model,
        lookback_days=lookback_days,
        half_life_days=half_life_days,
        by=by,
    )
    return await run_in_threadpool(
        measure.attribution, runtime=runtime, workspace_id=workspace.id, query=query, dialect=engine
    )


@router.get(
    "/analytics/roi",
    summary="CAC, ROI, ROAS and payback per channel",
    dependencies=[Require("analytics:read")],
)
async def roi(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    first_day: FromQuery = None,
    last_day: ToQuery = None,
    model: ModelQuery = AttributionModel.LAST_TOUCH,
    lookback_days: LookbackQuery = 30,
    half_life_days: HalfLifeQuery = 7.0,
    by: ByQuery = TouchKey.CHANNEL,
    payback_horizon_days: Annotated[int, Query(ge=1, le=1095)] = 180,
    engine: EngineQuery = Dialect.DUCKDB,
) -> RoiResult:
    """Stored spend against new buyers and GMV attributed under ``model``."""
    query = RoiQuery(
        period=_period(workspace, first_day, last_day),
        model=model,
        lookback_days=lookback_days,
        half_life_days=half_life_days,
        by=by,
        payback_horizon_days=payback_horizon_days,
    )
    return await run_in_threadpool(
        measure.roi, runtime=runtime, workspace_id=workspace.id, query=query, dialect=engine
    )


async def _board(
    kind: BoardKind,
    runtime: RuntimeDep,
    workspace: Workspace,
    first_day: date | None,
    last_day: date | None,
    activation_events: list[str] | None,
    engine: Dialect,
) -> Board:
    query = BoardQuery(period=_period(workspace, first_day, last_day), kind=kind)
    if activation_events:
        query = query.model_copy(update={"activation_events": activation_events})
    return await run_in_threadpool(
        measure.board, runtime=runtime, workspace_id=workspace.id, query=query, dialect=engine
    )


ActivationQuery = Annotated[
    list[str] | None,
    Query(description="Key actions for activation (repeatable); default Product Added, orders."),
]


@router.get(
    "/analytics/boards/aarrr", summary="AARRR board", dependencies=[Require("analytics:read")]
)
async def aarrr(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    first_day: FromQuery = None,
    last_day: ToQuery = None,
    activation_event: ActivationQuery = None,
    engine: EngineQuery = Dialect.DUCKDB,
) -> Board:
    """Acquisition, Activation, Retention, Revenue, Referral — each with its definition."""
    return await _board(
        BoardKind.AARRR, runtime, workspace, first_day, last_day, activation_event, engine
    )


@router.get(
    "/analytics/boards/rarra", summary="RARRA board", dependencies=[Require("analytics:read")]
)
async def rarra(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    first_day: FromQuery = None,
    last_day: ToQuery = None,
    activation_event: ActivationQuery = None,
    engine: EngineQuery = Dialect.DUCKDB,
) -> Board:
    """The same numbers retention first: Retention, Activation, Referral, Revenue, Acquisition."""
    return await _board(
        BoardKind.RARRA, runtime, workspace, first_day, last_day, activation_event, engine
    )


# -- spend -------------------------------------------------------------------------------


class SpendCreate(BaseModel):
    """Spend rows to store; each replaces the stored row of its (day, channel, campaign)."""

    entries: list[SpendEntry] = Field(min_length=1, max_length=10_000)


class SpendPage(BaseModel):
    """Stored spend rows."""

    entries: list[SpendEntry]
    spend_fen: int


@router.post(
    "/spend",
    summary="Store channel spend (upsert by day, channel, campaign)",
    dependencies=[Require("analytics:write")],
)
async def record_spend(
    body: SpendCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> measure.SpendWritten:
    """Re-sending the same rows changes nothing; rows of one key in a request are added."""

    def write() -> measure.SpendWritten:
        with runtime.sessions() as session, session.begin():
            return measure.record_spend(
                session=session, workspace_id=workspace.id, entries=body.entries, now=utcnow()
            )

    return await run_in_threadpool(write)


@router.get("/spend", summary="Stored channel spend", dependencies=[Require("analytics:read")])
async def list_spend(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    first_day: Annotated[date | None, Query(alias="from")] = None,
    last_day: Annotated[date | None, Query(alias="to")] = None,
) -> SpendPage:
    """Rows by day, channel and campaign, optionally within [from, to]."""

    def read() -> list[SpendEntry]:
        with runtime.sessions() as session:
            return measure.list_spend(
                session=session, workspace_id=workspace.id, first_day=first_day, last_day=last_day
            )

    entries = await run_in_threadpool(read)
    return SpendPage(entries=entries, spend_fen=sum(e.spend_fen for e in entries))
