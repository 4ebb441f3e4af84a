"""Committed SQL of representative funnel, retention and repurchase queries, per dialect.

Regenerate after an intended compiler change: ``SIYU_UPDATE_SNAPSHOTS=1 pytest
tests/analytics/test_sql_snapshots.py`` and review the diff.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from siyu.analytics import funnels, retention
from siyu.analytics.engine import Dialect
from siyu.analytics.models import (
    Breakdown,
    BreakdownKind,
    CohortBy,
    FunnelOrder,
    FunnelQuery,
    FunnelStep,
    Period,
    PropertyFilter,
    RepurchaseQuery,
    RetentionQuery,
)
from tests.analytics.events import T0
from tests.analytics.snapshots import assert_snapshot

END = T0 + timedelta(days=30)

FUNNELS = {
    "funnel_conversion": funnels.preset_query("conversion", start=T0, end=END),
    "funnel_strict_big_orders_by_city": FunnelQuery(
        steps=[
            FunnelStep(event="Product Viewed"),
            FunnelStep(
                event="Order Completed",
                filters=[PropertyFilter(property="revenue_fen", op="gte", value=10_000)],
            ),
        ],
        window=timedelta(days=3),
        order=FunnelOrder.STRICT,
        start=T0,
        end=END,
        breakdown=Breakdown(kind=BreakdownKind.PROPERTY, property="city"),
    ),
    "funnel_repeat_event_first_touch": FunnelQuery(
        steps=[FunnelStep(event="Product Viewed"), FunnelStep(event="Product Viewed")],
        start=T0,
        end=END,
        breakdown=Breakdown(kind=BreakdownKind.FIRST_TOUCH_CHANNEL),
    ),
}
RETENTION = {
    "retention_weekly_visits": RetentionQuery(period=Period.WEEK, periods=4, start=T0, end=END),
    "retention_monthly_orders": RetentionQuery(
        cohort_by=CohortBy.FIRST_ORDER,
        period=Period.MONTH,
        periods=3,
        returning_event="Order Completed",
        start=T0,
        end=END,
    ),
}


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize("name", sorted(FUNNELS))
def test_funnel_sql(name: str, dialect: Dialect) -> None:
    assert_snapshot(f"{name}.{dialect.value}", funnels.funnel_sql(FUNNELS[name], dialect))


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize("name", sorted(RETENTION))
def test_retention_sql(name: str, dialect: Dialect) -> None:
    assert_snapshot(f"{name}.{dialect.value}", retention.retention_sql(RETENTION[name], dialect))


@pytest.mark.parametrize("dialect", list(Dialect))
def test_repurchase_sql(dialect: Dialect) -> None:
    query = RepurchaseQuery(start=T0, end=END, within_days=30)
    assert_snapshot(f"repurchase.{dialect.value}", retention.repurchase_sql(query, dialect))
