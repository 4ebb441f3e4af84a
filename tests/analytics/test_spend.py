"""Channel spend: reading exports, storing them re-run safe (SQLite and PostgreSQL), and
CAC / ROI / ROAS / payback on a hand-computed week on DuckDB and chdb."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.analytics import measure_service as measure
from siyu.analytics.attribution import DIRECT, AttributionModel
from siyu.analytics.engine import Dialect
from siyu.analytics.roi import RoiQuery, new_buyers_sql, run_roi
from siyu.analytics.spend import SpendEntry, cac, payback_days, read_spend, roas, roi
from siyu.collect.mappings.exports import open_table
from siyu.core.errors import InvalidInputError
from tests.analytics.conftest import Engines
from tests.analytics.events import WORKSPACE
from tests.analytics.snapshots import assert_snapshot
from tests.analytics.test_attribution_report import ROWS, WEEK

NOW = datetime(2026, 3, 20, tzinfo=UTC)

CSV = """日期,渠道,活动,花费
2026-03-09,抖音,dy_live,"¥1,000.50"
2026-03-09,抖音,dy_live,200
2026/3/10,wecom,,300
2026-03-10,store,,abc
,store,,10
2026-03-11,xiaohongshu,,-5
"""


def test_read_spend_maps_chinese_headers_sums_keys_and_rejects_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_bytes(CSV.encode("gb18030"))
    rows, rejected = read_spend(open_table(path))
    assert rows.rows_read == 6 and rows.merged == 1
    assert sorted((e.day, e.channel, e.campaign, e.spend_fen) for e in rows.entries) == [
        (date(2026, 3, 9), "douyin", "dy_live", 120_050),
        (date(2026, 3, 10), "wecom", "", 30_000),
    ]
    assert [(r.line, r.reason.split(":")[0]) for r in rejected] == [
        (5, "'abc' is not an amount"),
        (6, "日期"),
        (7, "negative spend -5"),
    ]


def test_spend_in_fen_and_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "fen.csv"
    path.write_text("date,channel,spend_fen\n2026-03-09,douyin,12345\n2026-03-09,taobao,1.5\n")
    rows, rejected = read_spend(open_table(path))
    assert [e.spend_fen for e in rows.entries] == [12_345]
    assert len(rejected) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("date,cost\n2026-03-09,1\n")
    with pytest.raises(InvalidInputError, match="channel"):
        read_spend(open_table(bad))


def test_import_is_rerun_safe_and_replaces_by_key(
    db: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(CSV)
    for _ in range(2):
        with db() as session, session.begin():
            summary = measure.import_spend(session=session, workspace_id="ws1", path=path, now=NOW)
        assert (summary.stored, summary.rejected, summary.spend_fen) == (2, 3, 150_050)
        assert summary.reject_file and Path(summary.reject_file).exists()
    with db() as session:
        stored = measure.list_spend(session=session, workspace_id="ws1")
    assert [(e.channel, e.spend_fen) for e in stored] == [("douyin", 120_050), ("wecom", 30_000)]
    corrected = tmp_path / "corrected.csv"
    corrected.write_text("date,channel,campaign,spend\n2026-03-09,douyin,dy_live,99\n")
    with db() as session, session.begin():
        measure.import_spend(session=session, workspace_id="ws1", path=corrected, now=NOW)
    with db() as session:
        stored = measure.list_spend(
            session=session,
            workspace_id="ws1",
            first_day=date(2026, 3, 9),
            last_day=date(2026, 3, 9),
        )
        other = measure.list_spend(session=session, workspace_id="ws2")
    assert [(e.channel, e.spend_fen) for e in stored] == [("douyin", 9_900)]
    assert other == []


def test_return_formulas() -> None:
    assert roi(2_000, 6_000) == 2.0 and roas(2_000, 6_000) == 3.0 and cac(2_000, 4) == 500
    assert roi(0, 100) is None and roas(0, 100) is None and cac(100, 0) is None
    days = [(date(2026, 3, 10), 300), (date(2026, 3, 12), 800), (date(2026, 3, 8), 5_000)]
    assert payback_days(1_000, date(2026, 3, 9), days) == 4
    assert payback_days(2_000, date(2026, 3, 9), days) is None
    assert payback_days(0, date(2026, 3, 9), []) == 0


SPEND = [
    SpendEntry(day=date(2026, 3, 9), channel="douyin", spend_fen=3_000),
    SpendEntry(day=date(2026, 3, 10), channel="wecom", spend_fen=2_000),
    SpendEntry(day=date(2026, 3, 11), channel="store", campaign="table_qr", spend_fen=5_000),
    SpendEntry(day=date(2026, 3, 1), channel="xiaohongshu", spend_fen=1_000),  # before the week
]


def test_sql_snapshots() -> None:
    for dialect in Dialect:
        assert_snapshot(f"roi_new_buyers.{dialect}", new_buyers_sql(RoiQuery(period=WEEK), dialect))


def test_roi_by_hand_on_both_engines(engines: Engines) -> None:
    # Last touch: store ¥100 (p1), wecom ¥60 (p2), direct ¥50 (p3, p5). New buyers by first
    # touch: douyin (p1), wecom (p2), xiaohongshu (p5, touched 40 days before), direct (p3).
    query = RoiQuery(period=WEEK, model=AttributionModel.LAST_TOUCH)
    results = [run_roi(e, workspace_id=WORKSPACE, query=query, spend=SPEND) for e in engines(ROWS)]
    assert results[0] == results[1]
    result = results[0]
    got = {
        c.channel: (
            c.spend_fen,
            c.attributed_revenue_fen,
            c.new_buyers,
            c.cac_fen,
            c.roi,
            c.payback_days,
        )
        for c in result.channels
    }
    assert got == {
        "store": (5_000, 10_000, 0, None, 1.0, 2),
        "douyin": (3_000, 0, 1, 3_000, -1.0, None),
        "wecom": (2_000, 6_000, 1, 2_000, 2.0, 2),
        DIRECT: (0, 5_000, 1, None, None, 0),
        "xiaohongshu": (0, 0, 1, None, None, 0),
    }
    assert [c.channel for c in result.channels][:3] == ["store", "douyin", "wecom"]
    assert (result.spend_fen, result.paid_revenue_fen, result.attributed_revenue_fen) == (
        10_000,
        16_000,
        21_000,
    )
    assert result.roi == pytest.approx(0.6) and result.cac_fen == 5_000 and result.new_buyers == 4


def test_roi_depends_on_the_model(engines: Engines) -> None:
    duck, _ = engines(ROWS)
    query = RoiQuery(period=WEEK, model=AttributionModel.FIRST_TOUCH)
    result = run_roi(duck, workspace_id=WORKSPACE, query=query, spend=SPEND)
    douyin = next(c for c in result.channels if c.channel == "douyin")
    assert (douyin.attributed_revenue_fen, douyin.roas, douyin.payback_days) == (
        10_000,
        10_000 / 3_000,
        2,
    )
