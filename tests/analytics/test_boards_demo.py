"""Plausibility on the demo brand (300 customers): every board runs on both engines, the
numbers agree with each other and with the raw events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from siyu.analytics import measure_service as measure
from siyu.analytics.attribution import DIRECT, AttributionModel
from siyu.analytics.attribution_report import AttributionQuery
from siyu.analytics.boards import BoardQuery
from siyu.analytics.gmv import GmvQuery
from siyu.analytics.periods import Period
from siyu.analytics.roi import RoiQuery
from siyu.analytics.spend import SpendEntry
from siyu.core.config import Settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.demo import build
from siyu.demo.brand import CHANNELS

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
MONTH = Period(first_day=date(2026, 10, 28), last_day=date(2026, 11, 27))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, str]]:
    rt = open_runtime(Settings(data_dir=Path(tmp_path_factory.mktemp("demo"))))
    keys, _ = build.prepare_workspace(rt, users=300, seed=7, rebuild=False, now=NOW)
    build.build_demo(rt, workspace_id=keys.workspace_id, users=300, seed=7, now=NOW)
    yield rt, keys.workspace_id
    rt.close()


def _orders(rt: Runtime, workspace_id: str, period: Period) -> tuple[int, int]:
    sql = (
        "SELECT count(*) AS n, coalesce(sum(revenue_fen), 0) AS fen FROM events "
        f"WHERE event = 'Order Completed' AND timestamp >= '{period.start.isoformat()}' "
        f"AND timestamp < '{period.end.isoformat()}'"
    )
    row = rt.events.query(workspace_id, sql).to_pylist()[0]
    return int(row["n"]), int(row["fen"])


def test_gmv_matches_the_raw_orders(demo: tuple[Runtime, str]) -> None:
    rt, ws = demo
    results = [
        measure.gmv(runtime=rt, workspace_id=ws, query=GmvQuery(period=MONTH), dialect=d)
        for d in ("duckdb", "clickhouse")
    ]
    assert results[0] == results[1]
    gmv = results[0]
    orders, fen = _orders(rt, ws, MONTH)
    assert (gmv.current.orders, gmv.current.gmv_fen) == (orders, fen) and orders > 20
    assert 0 < gmv.current.conversion <= 1 and gmv.current.orders_per_buyer >= 1
    assert 1_200 <= gmv.current.aov_fen <= 38_00 * 6  # a cup to a full basket
    assert sum(f.contribution_fen for f in gmv.factors) == gmv.change_fen
    assert sum(s.after.gmv_fen for s in gmv.buyer_types) == fen
    assert sum(s.after.gmv_fen for s in gmv.referral) == fen


@pytest.mark.parametrize("model", list(AttributionModel))
def test_attribution_credits_every_order_once(
    demo: tuple[Runtime, str], model: AttributionModel
) -> None:
    rt, ws = demo
    query = AttributionQuery(period=MONTH, model=model, lookback_days=365)
    results = [
        measure.attribution(runtime=rt, workspace_id=ws, query=query, dialect=d)
        for d in ("duckdb", "clickhouse")
    ]
    assert results[0] == results[1]
    result = results[0]
    orders, fen = _orders(rt, ws, MONTH)
    assert (result.orders, result.revenue_fen) == (orders, fen)
    assert sum(c.revenue_fen for c in result.channels) == fen
    assert sum(c.conversions for c in result.channels) == pytest.approx(orders)
    assert {c.channel for c in result.channels} <= {c[0] for c in CHANNELS} | {DIRECT}
    assert result.direct_orders < orders  # the demo's customers all arrived through a channel


def test_roi_and_boards(demo: tuple[Runtime, str]) -> None:
    rt, ws = demo
    with rt.sessions() as session, session.begin():
        measure.record_spend(
            session=session,
            workspace_id=ws,
            entries=[
                SpendEntry(day=date(2026, 11, 1), channel="douyin", spend_fen=50_000),
                SpendEntry(day=date(2026, 11, 1), channel="xiaohongshu", spend_fen=30_000),
            ],
            now=NOW,
        )
    roi = measure.roi(runtime=rt, workspace_id=ws, query=RoiQuery(period=MONTH))
    assert roi.spend_fen == 80_000
    douyin = next(c for c in roi.channels if c.channel == "douyin")
    assert douyin.roi is not None and douyin.roi >= -1
    assert roi.new_buyers == sum(c.new_buyers for c in roi.channels)
    boards = [
        measure.board(runtime=rt, workspace_id=ws, query=BoardQuery(period=MONTH), dialect=d)
        for d in ("duckdb", "clickhouse")
    ]
    assert boards[0] == boards[1]
    n = {m.name: m.value for s in boards[0].stages for m in s.metrics}
    assert n["activated"] <= n["new"] <= n["active"]
    assert n["returning"] == n["active"] - n["new"]
    assert n["retained"] <= n["returning"]
    assert n["repeat_buyers"] <= n["buyers"] <= n["active"]
    assert (n["orders"], n["gmv_fen"]) == _orders(rt, ws, MONTH)
    assert n["referred_buyers"] <= n["buyers"]
    acquisition = next(s for s in boards[0].stages if s.stage.value == "acquisition")
    assert sum(b.value for b in acquisition.breakdown) == n["new"]
