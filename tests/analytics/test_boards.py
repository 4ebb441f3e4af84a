"""AARRR and RARRA boards: a hand-counted week on DuckDB and chdb."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from siyu.analytics.attribution import DIRECT
from siyu.analytics.boards import BoardKind, BoardQuery, Stage, run_board, to_sql
from siyu.analytics.engine import Dialect
from siyu.analytics.periods import Period
from tests.analytics.conftest import Engines
from tests.analytics.events import T0, WORKSPACE, Row
from tests.analytics.snapshots import assert_snapshot

WEEK = Period(first_day=date(2026, 3, 9), last_day=date(2026, 3, 15))


def at(day: int, hour: int = 2) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


ROWS = [
    Row("p6", "Order Completed", at(-3), revenue_fen=5_000),  # the week before last
    Row("p1", "Landing", at(0), channel="douyin", type="page"),  # last week
    Row("p1", "Order Completed", at(1), revenue_fen=1_000),
    Row("p2", "Landing", at(1), channel="store", type="page"),
    Row("p1", "Product Viewed", at(8)),  # this week
    Row("p1", "Referral Sent", at(9)),
    Row("p3", "Landing", at(7), channel="wecom", type="page"),
    Row("p3", "Product Added", at(7, 3)),
    Row("p3", "Order Completed", at(8), revenue_fen=2_000),
    Row("p4", "Product Viewed", at(9)),
    Row("p5", "Referral Accepted", at(9)),
    Row("p5", "Order Completed", at(10), revenue_fen=3_000),
    Row("p6", "Order Completed", at(11), revenue_fen=4_000),
]


def _numbers(board: object) -> dict[str, tuple[float, float | None]]:
    return {m.name: (m.value, m.previous) for s in board.stages for m in s.metrics}  # type: ignore[attr-defined]


def test_sql_snapshots() -> None:
    for dialect in Dialect:
        assert_snapshot(f"boards.{dialect}", to_sql(BoardQuery(period=WEEK), WEEK, dialect))


def test_hand_counted_week_on_both_engines(engines: Engines) -> None:
    boards = [
        run_board(e, workspace_id=WORKSPACE, query=BoardQuery(period=WEEK)) for e in engines(ROWS)
    ]
    assert boards[0] == boards[1]
    n = _numbers(boards[0])
    assert n["active"] == (5, 2)
    assert n["new"] == (3, 2)
    assert n["activated"] == (2, 1)
    assert n["activation_rate"][0] == pytest.approx(2 / 3)
    assert n["returning"] == (2, 0)
    assert n["retained"] == (1, 0)
    assert n["retention_rate"] == (0.5, 0.0)
    assert n["buyers"] == (3, 1)
    assert n["orders"] == (3, 1)
    assert n["gmv_fen"] == (9_000, 1_000)
    assert n["aov_fen"] == (3_000, 1_000)
    assert n["repeat_buyers"] == (1, 0)
    assert n["referrers"] == (1, 0)
    assert n["referred"] == (1, 0)
    assert n["referred_buyers"] == (1, 0)
    assert n["referred_gmv_fen"] == (3_000, 0)
    assert n["referral_gmv_share"][0] == pytest.approx(1 / 3)
    acquisition = next(s for s in boards[0].stages if s.stage is Stage.ACQUISITION)
    assert [(b.label, b.value) for b in acquisition.breakdown] == [(DIRECT, 2), ("wecom", 1)]


def test_rarra_is_the_same_numbers_retention_first(engines: Engines) -> None:
    duck, _ = engines(ROWS)
    aarrr = run_board(duck, workspace_id=WORKSPACE, query=BoardQuery(period=WEEK))
    rarra = run_board(
        duck, workspace_id=WORKSPACE, query=BoardQuery(period=WEEK, kind=BoardKind.RARRA)
    )
    assert [s.stage.value for s in aarrr.stages] == [
        "acquisition",
        "activation",
        "retention",
        "revenue",
        "referral",
    ]
    assert [s.stage.value for s in rarra.stages] == [
        "retention",
        "activation",
        "referral",
        "revenue",
        "acquisition",
    ]
    assert _numbers(aarrr) == _numbers(rarra)


def test_merged_persons_count_once(engines: Engines) -> None:
    for engine in engines(ROWS):
        board = run_board(
            engine, workspace_id=WORKSPACE, query=BoardQuery(period=WEEK), person_map=[("p4", "p1")]
        )
        n = _numbers(board)
        assert n["active"][0] == 4 and n["new"][0] == 2 and n["returning"][0] == 2


def test_empty_store(engines: Engines) -> None:
    for engine in engines([]):
        n = _numbers(run_board(engine, workspace_id=WORKSPACE, query=BoardQuery(period=WEEK)))
        assert all(value == 0 for value, _ in n.values())
