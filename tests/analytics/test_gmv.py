"""GMV decomposition over the event store: a hand-computed week on DuckDB and chdb."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from siyu.analytics.engine import Dialect
from siyu.analytics.gmv import GmvQuery, run_gmv, to_sql
from siyu.analytics.periods import Period
from tests.analytics.conftest import Engines
from tests.analytics.events import T0, WORKSPACE, Row
from tests.analytics.snapshots import assert_snapshot

# T0 is Monday 2026-03-02 08:00 in Shanghai: the previous week is 03-02 … 03-08.
THIS_WEEK = Period(first_day=date(2026, 3, 9), last_day=date(2026, 3, 15))
QUERY = GmvQuery(period=THIS_WEEK)


def at(day: int, hour: int = 2) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


ROWS = [
    # Previous week: 4 visitors, 2 new buyers, 2 orders, ¥30.
    Row("p1", "Landing", at(0), channel="douyin", type="page"),
    Row("p1", "Order Completed", at(1), revenue_fen=1000),
    Row("p2", "Landing", at(1), channel="store", type="page"),
    Row("p3", "Product Viewed", at(2)),
    Row("p4", "Order Completed", at(3), revenue_fen=2000),
    # This week: 5 visitors; p1 buys twice (repeat), p5 was referred and buys once (new).
    Row("p1", "Order Completed", at(7), revenue_fen=1500),
    Row("p1", "Order Completed", at(9), revenue_fen=1500),
    Row("p5", "Referral Accepted", at(8)),
    Row("p5", "Order Completed", at(8, 5), revenue_fen=4000),
    Row("p6", "Landing", at(10), channel="wecom", type="page"),
    Row("p7", "Landing", at(11), channel="wecom", type="page"),
    Row("p2", "Product Viewed", at(12)),
    # After the period: ignored.
    Row("p8", "Order Completed", at(14, 20), revenue_fen=9900),
]


def test_sql_snapshots() -> None:
    for dialect in Dialect:
        assert_snapshot(f"gmv.{dialect}", to_sql(QUERY, dialect))


def test_hand_computed_week_on_both_engines(engines: Engines) -> None:
    results = [run_gmv(e, workspace_id=WORKSPACE, query=QUERY) for e in engines(ROWS)]
    assert results[0] == results[1]
    gmv = results[0]
    assert (gmv.previous.visitors, gmv.previous.buyers, gmv.previous.orders) == (4, 2, 2)
    assert gmv.previous.gmv_fen == 3000
    assert (gmv.current.visitors, gmv.current.buyers, gmv.current.orders) == (5, 2, 3)
    assert gmv.current.gmv_fen == 7000
    assert gmv.current.conversion == pytest.approx(0.4)
    assert gmv.current.orders_per_buyer == pytest.approx(1.5)
    assert gmv.current.aov_fen == pytest.approx(7000 / 3)
    assert gmv.change_fen == 4000
    assert gmv.method == "lmdi"
    assert sum(f.contribution_fen for f in gmv.factors) == 4000
    contribution = {f.factor: f.contribution_fen for f in gmv.factors}
    assert contribution["conversion"] < 0 < contribution["traffic"]  # 50 % → 40 %
    assert gmv.driver == "aov"  # ¥15 → ¥23.33 per order moved GMV most
    new, repeat = gmv.buyer_types
    assert (new.segment, new.after.gmv_fen, new.before.gmv_fen) == ("new", 4000, 3000)
    assert (repeat.segment, repeat.after.gmv_fen, repeat.before.gmv_fen) == ("repeat", 3000, 0)
    assert new.share_after == pytest.approx(4 / 7)
    referred, organic = gmv.referral
    assert (referred.after.buyers, referred.after.gmv_fen, organic.after.gmv_fen) == (1, 4000, 3000)
    for part in (*gmv.buyer_types, *gmv.referral):
        assert sum(f.contribution_fen for f in part.factors) == part.change_fen


def test_merged_persons_count_once(engines: Engines) -> None:
    for engine in engines(ROWS):
        gmv = run_gmv(engine, workspace_id=WORKSPACE, query=QUERY, person_map=[("p7", "p6")])
        assert gmv.current.visitors == 4
        # p4 merged into p1: p1's orders this week are repeat either way; p4's old order
        # now belongs to p1, so last week has one buyer with two orders.
        merged = run_gmv(engine, workspace_id=WORKSPACE, query=QUERY, person_map=[("p4", "p1")])
        assert (merged.previous.buyers, merged.previous.orders) == (1, 2)


def test_an_empty_store_decomposes_to_zero(engines: Engines) -> None:
    for engine in engines([]):
        gmv = run_gmv(engine, workspace_id=WORKSPACE, query=QUERY)
        assert gmv.change_fen == 0 and gmv.driver is None and gmv.change_pct is None
        assert gmv.method == "shapley"
