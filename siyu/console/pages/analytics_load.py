"""The blocking reads behind the analytics page: the same service calls the API routes make."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from siyu.analytics import layers_service as layers
from siyu.analytics import measure_service as measure
from siyu.analytics import service as analytics
from siyu.analytics import value_service as value
from siyu.analytics.attribution import AttributionModel
from siyu.analytics.attribution_report import AttributionQuery, AttributionResult
from siyu.analytics.gmv import GmvDecomposition, GmvQuery
from siyu.analytics.ltv import HistoricalLtv
from siyu.analytics.models import (
    FUNNEL_PRESETS,
    FunnelQuery,
    FunnelResult,
    FunnelStep,
    Period,
    RetentionQuery,
    RetentionResult,
)
from siyu.analytics.pareto import Pareto
from siyu.analytics.periods import Period as Days
from siyu.analytics.periods import period_of
from siyu.analytics.roi import RoiQuery, RoiResult
from siyu.console.state import WorkspaceRef
from siyu.console.views.ranges import chosen_range as chosen_range
from siyu.core.runtime import Runtime
from siyu.segments.rfm import RfmScore

RANGE_DAYS = 30
RETENTION_WEEKS = 8
MAX_WEEKS = 60
RFM_PAGE = 5_000
RFM_CAP = 100_000


def _last_days(workspace: WorkspaceRef, now: datetime, days: int) -> tuple[datetime, datetime]:
    week = period_of(None, None, timezone=workspace.timezone, now=now)
    return week.end - timedelta(days=days), week.end


def funnel(
    *, runtime: Runtime, workspace: WorkspaceRef, now: datetime, span: Days | None = None
) -> FunnelResult:
    """View → add to cart → order, within 7 days, for first steps in the range (by default the
    last 30 days)."""
    start, end = (span.start, span.end) if span else _last_days(workspace, now, RANGE_DAYS)
    query = FunnelQuery(
        steps=[FunnelStep(event=name) for name in FUNNEL_PRESETS["conversion"]],
        start=start,
        end=end,
    )
    return analytics.run_funnel(runtime=runtime, workspace_id=workspace.id, query=query)


def retention(
    *, runtime: Runtime, workspace: WorkspaceRef, now: datetime, span: Days | None = None
) -> RetentionResult:
    """Weekly cohorts by first visit in the range (by default the last eight weeks), followed
    for as many weeks as the range has (at most 60)."""
    start, end = (span.start, span.end) if span else _last_days(workspace, now, RETENTION_WEEKS * 7)
    weeks = min(MAX_WEEKS, -(-span.days // 7)) if span else RETENTION_WEEKS
    query = RetentionQuery(
        period=Period.WEEK,
        periods=weeks,
        start=start,
        end=end,
        timezone=workspace.timezone,
    )
    return analytics.run_retention(runtime=runtime, workspace_id=workspace.id, query=query, now=now)


class RfmGrid(BaseModel):
    """Stored RFM scores (all, up to a cap) and buyers per segment."""

    computed: bool
    segments: dict[str, int]
    scores: list[RfmScore]


def rfm(*, runtime: Runtime, workspace: WorkspaceRef, now: datetime) -> RfmGrid:
    """The stored RFM result, every score read page by page."""
    report = layers.rfm_report(runtime=runtime, workspace_id=workspace.id, limit=RFM_PAGE)
    scores = list(report.items)
    while len(scores) % RFM_PAGE == 0 and scores and len(scores) < RFM_CAP:
        page = layers.rfm_report(
            runtime=runtime, workspace_id=workspace.id, limit=RFM_PAGE, offset=len(scores)
        )
        if not page.items:
            break
        scores += page.items
    return RfmGrid(computed=report.computed_at is not None, segments=report.segments, scores=scores)


def run_rfm(*, runtime: Runtime, workspace: WorkspaceRef, now: datetime) -> RfmGrid:
    """Score every buyer now (writes the RFM tags), then read the grid."""
    layers.run_rfm(runtime=runtime, workspace_id=workspace.id, now=now)
    return rfm(runtime=runtime, workspace=workspace, now=now)


def ltv(
    *, runtime: Runtime, workspace: WorkspaceRef, now: datetime, span: Days | None = None
) -> HistoricalLtv:
    """Revenue per customer by first-order month, orders up to the range's last day (by
    default yesterday)."""
    if span is not None:
        until = span.last_day
    else:
        until = value.local_today(runtime=runtime, workspace_id=workspace.id, now=now)
        until -= timedelta(days=1)
    return value.historical_ltv(runtime=runtime, workspace_id=workspace.id, until=until)


def gmv(
    *, runtime: Runtime, workspace: WorkspaceRef, now: datetime, span: Days | None = None
) -> GmvDecomposition:
    """The range against the same number of days before (by default the last 7 complete days
    against the 7 before)."""
    period = span or period_of(None, None, timezone=workspace.timezone, now=now)
    return measure.gmv(runtime=runtime, workspace_id=workspace.id, query=GmvQuery(period=period))


def _month(workspace: WorkspaceRef, now: datetime) -> Days:
    week = period_of(None, None, timezone=workspace.timezone, now=now)
    return week.model_copy(update={"first_day": week.last_day - timedelta(days=RANGE_DAYS - 1)})


def attribution(
    *, runtime: Runtime, workspace: WorkspaceRef, now: datetime, span: Days | None = None
) -> list[AttributionResult]:
    """The range's orders (by default the last 30 days') credited under every model."""
    period = span or _month(workspace, now)
    return [
        measure.attribution(
            runtime=runtime,
            workspace_id=workspace.id,
            query=AttributionQuery(period=period, model=model),
        )
        for model in AttributionModel
    ]


def roi(
    *, runtime: Runtime, workspace: WorkspaceRef, now: datetime, span: Days | None = None
) -> RoiResult:
    """Spend against attributed GMV per channel over the range (by default the last 30 days;
    last touch)."""
    query = RoiQuery(period=span or _month(workspace, now))
    return measure.roi(runtime=runtime, workspace_id=workspace.id, query=query)


def pareto(
    *, runtime: Runtime, workspace: WorkspaceRef, now: datetime, span: Days | None = None
) -> Pareto:
    """Revenue concentration over every buyer so far, or up to the range's last day."""
    as_of = span.end if span is not None else now
    return layers.pareto_report(runtime=runtime, workspace_id=workspace.id, now=as_of).pareto
