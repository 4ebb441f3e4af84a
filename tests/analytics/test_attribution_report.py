"""Attribution over the event store: hand-computed paths on DuckDB and chdb."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from siyu.analytics.attribution import DIRECT, AttributionModel
from siyu.analytics.attribution_report import AttributionQuery, TouchKey, run_attribution, to_sql
from siyu.analytics.engine import Dialect
from siyu.analytics.periods import Period
from tests.analytics.conftest import Engines
from tests.analytics.events import T0, WORKSPACE, Row
from tests.analytics.snapshots import assert_snapshot

WEEK = Period(first_day=date(2026, 3, 9), last_day=date(2026, 3, 15))


def at(day: int, hour: int = 2) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


ROWS = [
    Row("p1", "Landing", at(0), channel="douyin", type="page"),
    Row("p1", "Landing", at(5), channel="store", type="page"),
    Row("p1", "Order Completed", at(8), revenue_fen=10_000),
    Row("p1", "Landing", at(10), channel="wecom", type="page"),  # after the order: led nowhere
    Row("p2", "Landing", at(7, 3), channel="wecom", type="page"),
    Row("p2", "Order Completed", at(8), revenue_fen=6_000),
    Row("p3", "Order Completed", at(9), revenue_fen=3_000),  # no touch: direct
    Row("p4", "Landing", at(9), channel="douyin", type="page"),  # touched, never bought
    Row("p5", "Landing", at(-40), channel="xiaohongshu", type="page"),  # beyond the lookback
    Row("p5", "Order Completed", at(10), revenue_fen=2_000),
]


def _run(
    model: AttributionModel, engines: Engines, **extra: object
) -> dict[str, tuple[float, int]]:
    query = AttributionQuery(period=WEEK, model=model, **extra)  # type: ignore[arg-type]
    results = [run_attribution(e, workspace_id=WORKSPACE, query=query)[0] for e in engines(ROWS)]
    assert results[0] == results[1]
    result = results[0]
    assert (result.orders, result.revenue_fen, result.direct_orders) == (4, 21_000, 2)
    assert sum(c.revenue_fen for c in result.channels) == 21_000
    assert sum(c.conversions for c in result.channels) == pytest.approx(4)
    return {c.channel: (c.conversions, c.revenue_fen) for c in result.channels}


def test_sql_snapshots() -> None:
    for dialect in Dialect:
        query = AttributionQuery(period=WEEK)
        assert_snapshot(f"attribution.{dialect}", to_sql(query, dialect))


def test_last_and_first_touch(engines: Engines) -> None:
    assert _run(AttributionModel.LAST_TOUCH, engines) == {
        "store": (1, 10_000),
        "wecom": (1, 6_000),
        DIRECT: (2, 5_000),
    }
    assert _run(AttributionModel.FIRST_TOUCH, engines) == {
        "douyin": (1, 10_000),
        "wecom": (1, 6_000),
        DIRECT: (2, 5_000),
    }


def test_linear_and_position_based_split_the_two_touch_order(engines: Engines) -> None:
    expected = {
        "douyin": (0.5, 5_000),
        "store": (0.5, 5_000),
        "wecom": (1, 6_000),
        DIRECT: (2, 5_000),
    }
    assert _run(AttributionModel.LINEAR, engines) == expected
    assert _run(AttributionModel.POSITION_BASED, engines) == expected


def test_time_decay_favours_the_recent_touch(engines: Engines) -> None:
    # douyin 8 days, store 3 days before the order; half-life 5 days → weights 2^-1.6, 2^-0.6.
    got = _run(AttributionModel.TIME_DECAY, engines, half_life_days=5)
    store = 2**-0.6 / (2**-1.6 + 2**-0.6)
    assert got["store"][0] == pytest.approx(store)
    assert got["store"][1] == round(10_000 * store)


def test_markov_removal_effects_by_hand(engines: Engines) -> None:
    # Paths: (douyin, store)→conv, (wecom)→conv, 2×(direct)→conv, (douyin)→null, (wecom)→null.
    # P(conv) = 2/3; without douyin, store or wecom 1/2 (RE 1/4); without direct 1/3 (RE 1/2).
    query = AttributionQuery(period=WEEK, model=AttributionModel.MARKOV)
    duck, ch = engines(ROWS)
    result, _ = run_attribution(duck, workspace_id=WORKSPACE, query=query)
    assert result == run_attribution(ch, workspace_id=WORKSPACE, query=query)[0]
    effects = {c.channel: c.removal_effect for c in result.channels}
    assert effects == pytest.approx({"douyin": 0.25, "store": 0.25, "wecom": 0.25, DIRECT: 0.5})
    credited = {c.channel: c.revenue_fen for c in result.channels}
    assert credited == {"douyin": 5_000, "store": 5_000, "wecom": 6_000, DIRECT: 5_000}


def test_a_short_lookback_leaves_old_touches_out(engines: Engines) -> None:
    # Lookback 4 days: p1's douyin touch (8 days before) no longer counts.
    got = _run(AttributionModel.FIRST_TOUCH, engines, lookback_days=4)
    assert got["store"] == (1, 10_000) and "douyin" not in got


def test_merged_persons_share_one_path(engines: Engines) -> None:
    # p4 (douyin touch on day 9) merged into p3: p3's day-9 order now has a douyin touch…
    # at 02:00, the same instant as the order, so it counts (touches at or before the order).
    query = AttributionQuery(period=WEEK, model=AttributionModel.LAST_TOUCH)
    for engine in engines(ROWS):
        result, _ = run_attribution(
            engine, workspace_id=WORKSPACE, query=query, person_map=[("p4", "p3")]
        )
        assert result.direct_orders == 1
        assert {c.channel: c.revenue_fen for c in result.channels}["douyin"] == 3_000


def test_campaign_keys(engines: Engines) -> None:
    query = AttributionQuery(period=WEEK, by=TouchKey.CAMPAIGN)
    duck, _ = engines(ROWS)
    result, _ = run_attribution(duck, workspace_id=WORKSPACE, query=query)
    assert {c.channel for c in result.channels} == {"store", "wecom", DIRECT}
