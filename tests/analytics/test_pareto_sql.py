"""SQL snapshots of the layer and value queries (orders by local day, KOC, lifecycle facts)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.analytics.engine import Dialect
from siyu.analytics.lifecycle_facts import facts_sql
from siyu.analytics.order_history import order_days_sql
from siyu.analytics.pareto import koc_sql
from tests.analytics.snapshots import assert_snapshot

END = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
WINDOW = datetime(2026, 10, 29, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_layer_sql_snapshots(dialect: Dialect) -> None:
    assert_snapshot(
        f"ltv_order_days.{dialect.value}",
        order_days_sql(end=END, timezone="Asia/Shanghai", dialect=dialect),
    )
    assert_snapshot(f"pareto_koc.{dialect.value}", koc_sql(end=END, dialect=dialect, limit=20))
    assert_snapshot(
        f"lifecycle_facts.{dialect.value}",
        facts_sql(end=END, window_start=WINDOW, dialect=dialect),
    )
