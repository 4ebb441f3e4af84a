"""Retention and repurchase: hand-checked cohorts (zone boundaries), engines agree."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from siyu.analytics import retention
from siyu.analytics.engine import Engine
from siyu.analytics.models import (
    CohortBy,
    Period,
    RepurchaseQuery,
    RepurchaseResult,
    RetentionQuery,
    RetentionResult,
)
from tests.analytics.conftest import Engines
from tests.analytics.events import T0, WORKSPACE, Row, random_rows

D = timedelta(days=1)
TODAY = date(2026, 6, 1)


def _retention(engine: Engine, query: RetentionQuery, **kw: object) -> RetentionResult:
    table = engine.run(
        workspace_id=WORKSPACE,
        sql=retention.retention_sql(query, engine.dialect),
        **kw,  # type: ignore[arg-type]
    )
    return retention.read_retention(table, query, today=TODAY)


def _repurchase(engine: Engine, query: RepurchaseQuery) -> RepurchaseResult:
    table = engine.run(workspace_id=WORKSPACE, sql=retention.repurchase_sql(query, engine.dialect))
    return retention.read_repurchase(table, query)


def _both_retention(
    engines: Engines, rows: list[Row], query: RetentionQuery, **kw: object
) -> RetentionResult:
    duck, ch = engines(rows)
    a, b = _retention(duck, query, **kw), _retention(ch, query, **kw)
    assert a == b
    return a


def test_day_cohorts_follow_the_shanghai_calendar(engines: Engines) -> None:
    # 15:59 UTC is 23:59 in Shanghai (day 1); 16:00 UTC is 00:00 the next day (day 2).
    late = datetime(2026, 3, 2, 15, 59, tzinfo=UTC)
    rows = [
        Row("a", "Landing", late),
        Row("a", "Menu", late + timedelta(minutes=2)),  # next local day: period 1
        Row("b", "Landing", late + timedelta(minutes=1)),  # day 2 cohort
        Row("b", "Menu", late + timedelta(days=2, minutes=1)),  # period 2
    ]
    query = RetentionQuery(period=Period.DAY, periods=3, start=T0, end=T0 + 10 * D)
    result = _both_retention(engines, rows, query)
    assert [(c.start, c.persons, c.returned) for c in result.cohorts] == [
        (date(2026, 3, 2), 1, [1, 1, 0, 0]),
        (date(2026, 3, 3), 1, [1, 0, 1, 0]),
    ]
    utc = _both_retention(engines, rows, query.model_copy(update={"timezone": "UTC"}))
    assert [(c.start, c.persons, c.returned) for c in utc.cohorts] == [
        (date(2026, 3, 2), 2, [2, 0, 1, 0]),
    ]


def test_week_and_month_cohorts_first_order_and_merged_persons(engines: Engines) -> None:
    rows = [
        Row("a", "Landing", T0),  # Monday 2 March
        Row("a", "Order Completed", T0 + 2 * D, revenue_fen=1500),
        Row("a2", "Order Completed", T0 + 8 * D, revenue_fen=1500),  # same person, week 1
        Row("b", "Order Completed", T0 + 6 * D, revenue_fen=1500),
        Row("b", "Landing", T0 + 40 * D),
    ]
    weekly = RetentionQuery(
        cohort_by=CohortBy.FIRST_ORDER,
        period=Period.WEEK,
        periods=6,
        returning_event="Order Completed",
        start=T0,
        end=T0 + 30 * D,
    )
    merged = _both_retention(engines, rows, weekly, person_map=[("a2", "a")])
    assert [(c.start, c.persons, c.returned[:3]) for c in merged.cohorts] == [
        (date(2026, 3, 2), 2, [2, 1, 0])
    ]
    apart = _both_retention(engines, rows, weekly)
    assert apart.cohorts[0].persons == 2 and apart.cohorts[1].persons == 1
    monthly = RetentionQuery(period=Period.MONTH, periods=2, start=T0, end=T0 + 30 * D)
    result = _both_retention(engines, rows, monthly, person_map=[("a2", "a")])
    assert [(c.start, c.returned) for c in result.cohorts] == [(date(2026, 3, 1), [2, 1, 0])]


def test_engines_agree_on_random_data(engines: Engines) -> None:
    rows = random_rows(persons=200, events=5_000, seed=9)
    duck, ch = engines(rows)
    for period in Period:
        for cohort_by in CohortBy:
            query = RetentionQuery(
                cohort_by=cohort_by, period=period, periods=5, start=T0, end=T0 + 40 * D
            )
            assert _retention(duck, query) == _retention(ch, query)
    buy = RepurchaseQuery(start=T0, end=T0 + 60 * D, within_days=7)
    a, b = _repurchase(duck, buy), _repurchase(ch, buy)
    assert a == b
    assert a.buyers > 0 and 0 < a.repurchase_rate <= 1 and a.interval_days_median is not None
    assert sum(x.intervals for x in a.distribution) == a.intervals == a.orders - a.buyers


def test_more_periods_than_one_clickhouse_retention_call_takes(engines: Engines) -> None:
    # ClickHouse's retention() takes 32 conditions; 40 daily periods need two calls.
    rows = [Row("a", "Landing", T0), *(Row("a", "Menu", T0 + k * D) for k in (1, 31, 32, 40))]
    query = RetentionQuery(period=Period.DAY, periods=40, start=T0, end=T0 + D)
    result = _both_retention(engines, rows, query)
    back = [k for k, n in enumerate(result.cohorts[0].returned) if n and k]
    assert back == [1, 31, 32, 40]


def test_repurchase_by_hand(engines: Engines) -> None:
    order = "Order Completed"
    rows = [
        Row("a", order, T0),
        Row("a", order, T0 + 2 * D),
        Row("a", order, T0 + 12 * D),
        Row("b", order, T0),
        Row("b", order, T0 + 40 * D),
        Row("c", order, T0 + D),
    ]
    duck, ch = engines(rows)
    query = RepurchaseQuery(start=T0, end=T0 + 60 * D, within_days=30)
    a = _repurchase(duck, query)
    assert a == _repurchase(ch, query)
    assert (a.buyers, a.repeat_buyers, a.repeat_within, a.orders, a.intervals) == (3, 2, 1, 6, 3)
    assert a.repurchase_rate == pytest.approx(2 / 3)
    assert (a.interval_days_p25, a.interval_days_median, a.interval_days_p75) == (6.0, 10.0, 25.0)
    assert [b.intervals for b in a.distribution] == [0, 1, 0, 1, 0, 1, 0, 0]


def test_bad_retention_queries_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        RetentionQuery(start=T0, end=T0 + D, timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="end"):
        RepurchaseQuery(start=T0, end=T0)
