"""Page data builders: service results in, ECharts options and table rows out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from siyu.analytics.attribution import AttributionModel
from siyu.analytics.attribution_report import (
    AttributionQuery,
    AttributionResult,
    ChannelCredit,
)
from siyu.analytics.boards import BoardKind, BoardQuery, board_of
from siyu.analytics.gmv import FactorChange, GmvDecomposition, GmvTotals
from siyu.analytics.models import (
    Cohort,
    FunnelQuery,
    FunnelResult,
    FunnelSeries,
    FunnelStep,
    FunnelStepResult,
    RepurchaseQuery,
    RepurchaseResult,
    RetentionQuery,
    RetentionResult,
)
from siyu.analytics.order_history import OrderDays, day_number
from siyu.analytics.pareto import revenue_shares
from siyu.analytics.periods import Period
from siyu.analytics.roi import ChannelReturn, RoiQuery, RoiResult
from siyu.collect.models import IdType
from siyu.console.views import analytics, journeys, loyalty, measure, overview, people
from siyu.console.views.common import change, percent, yuan
from siyu.identity.models import IdentifierView
from siyu.journeys.dryrun import ChannelDay, DryRun
from siyu.loyalty.tier_models import TierCount, TierDistribution
from siyu.referral.models import LeaderRow, ReferralSummary, TreeNode
from siyu.segments.rfm import RfmScore, RfmSegment

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
WEEK = Period(first_day=date(2026, 11, 21), last_day=date(2026, 11, 27))


def _funnel(persons: list[int]) -> FunnelResult:
    steps = [
        FunnelStepResult(
            step=i + 1,
            name=name,
            persons=n,
            conversion_from_first=n / persons[0] if persons[0] else 0.0,
            conversion_from_previous=n / persons[i - 1] if i and persons[i - 1] else 1.0,
            median_seconds_from_previous=None if i == 0 else 5400.0,
        )
        for i, (name, n) in enumerate(zip(["View", "Cart", "Order"], persons, strict=True))
    ]
    query = FunnelQuery(
        steps=[FunnelStep(event="View"), FunnelStep(event="Cart"), FunnelStep(event="Order")],
        start=NOW - timedelta(days=30),
        end=NOW,
    )
    return FunnelResult(query=query, total=FunnelSeries(steps=steps))


def test_formats() -> None:
    assert yuan(123456) == "¥1,234.56"
    assert yuan(None) == "—"
    assert percent(0.4567) == "45.7%"
    assert change(120, 100) == "+20.0%"
    assert change(80, 100) == "-20.0%"
    assert change(5, 0) is None


def test_funnel_bars_carry_conversion_and_the_table_the_same_numbers() -> None:
    view = analytics.funnel_view(_funnel([200, 80, 50]), "zh")
    bars = view.options["series"][0]["data"]
    assert [bar["value"] for bar in bars] == [200, 80, 50]
    assert bars[2]["label"]["formatter"] == "50 · 25.0%"
    assert [row["persons"] for row in view.rows] == [200, 80, 50]
    assert [row["from_previous"] for row in view.rows] == ["100.0%", "40.0%", "62.5%"]
    assert view.rows[1]["median"] == "1.5 h"
    assert view.title == "转化漏斗：浏览 → 加购 → 下单（7 天内）"
    assert analytics.funnel_view(_funnel([200, 80, 50]), "en").columns[2]["label"] == "Persons"


def test_an_empty_funnel_has_no_rows_so_the_card_shows_what_to_do() -> None:
    view = analytics.funnel_view(_funnel([0, 0, 0]), "en")
    assert view.rows == []
    assert "Product Viewed" in (view.empty_hint or "")


def test_retention_heat_map_cells_are_period_cohort_percent_and_unreached_periods_blank() -> None:
    query = RetentionQuery(periods=2, start=NOW - timedelta(days=21), end=NOW)
    result = RetentionResult(
        query=query,
        cohorts=[
            Cohort(start=date(2026, 11, 2), persons=10, returned=[10, 4, 2], rates=[1, 0.4, 0.2]),
            Cohort(start=date(2026, 11, 9), persons=5, returned=[5, 1, 0], rates=[1, 0.2, 0]),
            Cohort(start=date(2026, 11, 16), persons=4, returned=[4, 0, 0], rates=[1, 0, 0]),
        ],
        average=[1, 0.333, 0.2],
    )
    assert analytics.observed(result) == [3, 2, 1]
    view = analytics.retention_view(result, "en")
    cells = view.options["series"][0]["data"]
    assert [1, 0, 40.0] in cells
    assert [1, 1, 20.0] in cells
    # The youngest cohort has only its own week; week 1 of the middle one is the last seen.
    assert len(cells) == 6
    assert view.options["yAxis"]["data"] == ["2026-11-02", "2026-11-09", "2026-11-16"]
    assert view.rows[0]["p2"] == "20.0%"
    assert "p2" not in view.rows[1]
    assert list(view.rows[2]) == ["key", "cohort", "persons", "p0"]


def _score(person: str, r: int, f: int, segment: RfmSegment) -> RfmScore:
    return RfmScore(
        person_id=person,
        recency_days=3,
        frequency=f,
        monetary_fen=1000 * f,
        r=r,
        f=f,
        m=3,
        segment=segment,
    )


def test_rfm_grid_counts_buyers_per_r_and_f_and_translates_segments() -> None:
    scores = [
        _score("a", 5, 5, RfmSegment.IMPORTANT_VALUE),
        _score("b", 5, 5, RfmSegment.IMPORTANT_VALUE),
        _score("c", 1, 2, RfmSegment.GENERAL_RETAIN),
    ]
    counts = {RfmSegment.IMPORTANT_VALUE.value: 2, RfmSegment.GENERAL_RETAIN.value: 1}
    view = analytics.rfm_view(scores, counts, "en")
    cells = {(x, y): n for x, y, n in view.options["series"][0]["data"]}
    assert cells[(4, 4)] == 2
    assert cells[(1, 0)] == 1
    assert sum(cells.values()) == 3
    assert view.rows[0] == {
        "key": "重要价值客户",
        "segment": "Champions (important value)",
        "buyers": 2,
        "share": "66.7%",
    }
    assert analytics.rfm_segment_label("重要价值客户", "zh") == "重要价值客户"
    assert analytics.rfm_segment_label("custom", "en") == "custom"


def _totals(visitors: int, buyers: int, orders: int, gmv: int) -> GmvTotals:
    return GmvTotals(
        visitors=visitors,
        buyers=buyers,
        orders=orders,
        gmv_fen=gmv,
        conversion=buyers / visitors,
        orders_per_buyer=orders / buyers,
        aov_fen=gmv / orders,
    )


def test_gmv_waterfall_steps_from_the_previous_gmv_to_the_current() -> None:
    factors = [
        FactorChange(
            factor="traffic", before=100, after=120, change_pct=20.0, contribution_fen=30_000
        ),
        FactorChange(
            factor="conversion", before=0.1, after=0.08, change_pct=-20.0, contribution_fen=-10_000
        ),
        FactorChange(factor="frequency", before=1, after=1, change_pct=0.0, contribution_fen=0),
        FactorChange(
            factor="aov", before=1000, after=1100, change_pct=10.0, contribution_fen=5_000
        ),
    ]
    result = GmvDecomposition(
        period=WEEK,
        compare_to=WEEK.previous(),
        current=_totals(120, 10, 10, 125_000),
        previous=_totals(100, 10, 10, 100_000),
        change_fen=25_000,
        change_pct=25.0,
        method="lmdi",
        factors=factors,
        driver="traffic",
        buyer_types=[],
        referral=[],
    )
    view = measure.gmv_view(result, "zh")
    base, up, down = (series["data"] for series in view.options["series"])
    assert view.options["xAxis"]["data"][0] == "上期 GMV"
    assert up[0] == 1000.0 and up[-1] == 1250.0
    # Each step starts where the one before ended: 1000 → +300 → −100 → 0 → +50 = 1250.
    assert (base[1], up[1]) == (1000.0, 300.0)
    assert (base[2], down[2]) == (1200.0, 100.0)
    assert (base[4], up[4]) == (1200.0, 50.0)
    assert [row["contribution"] for row in view.rows] == ["¥300.00", "¥-100.00", "¥0.00", "¥50.00"]
    assert "流量" in (view.note or "")


def _attribution(model: AttributionModel, credit: dict[str, int]) -> AttributionResult:
    return AttributionResult(
        query=AttributionQuery(period=WEEK, model=model),
        orders=3,
        revenue_fen=sum(credit.values()),
        direct_orders=0,
        channels=[
            ChannelCredit(channel=name, conversions=1, revenue_fen=fen, share=0.5)
            for name, fen in credit.items()
        ],
    )


def test_attribution_compares_models_per_channel() -> None:
    results = [
        _attribution(AttributionModel.FIRST_TOUCH, {"wecom": 9000, "douyin": 1000}),
        _attribution(AttributionModel.LAST_TOUCH, {"douyin": 6000, "wecom": 4000}),
    ]
    view = measure.attribution_view(results, "en")
    assert view.options["xAxis"]["data"] == ["wecom", "douyin"]
    assert [s["name"] for s in view.options["series"]] == ["First touch", "Last touch"]
    assert view.options["series"][1]["data"] == [40.0, 60.0]
    assert view.rows[1] == {
        "key": "douyin",
        "channel": "douyin",
        "first_touch": "¥10.00",
        "last_touch": "¥60.00",
    }


def test_roi_without_spend_asks_for_spend() -> None:
    channel = ChannelReturn(
        channel="wecom",
        spend_fen=0,
        attributed_orders=2,
        attributed_revenue_fen=5000,
        new_buyers=1,
        cac_fen=None,
        roi=None,
        roas=None,
        payback_days=None,
    )
    result = RoiResult(
        query=RoiQuery(period=WEEK),
        spend_fen=0,
        attributed_revenue_fen=5000,
        paid_revenue_fen=0,
        new_buyers=1,
        roi=None,
        roas=None,
        cac_fen=None,
        channels=[channel],
    )
    assert measure.roi_view(result, "zh").rows == []
    paid = result.model_copy(
        update={
            "spend_fen": 2500,
            "channels": [channel.model_copy(update={"spend_fen": 2500, "roas": 2.0, "roi": 1.0})],
        }
    )
    view = measure.roi_view(paid, "zh")
    assert view.rows[0]["roas"] == "2.00"
    assert view.rows[0]["roi"] == "100.0%"
    assert view.options["series"][2]["data"] == [2.0]


def test_pareto_curve_runs_from_origin_to_all_buyers() -> None:
    pareto = revenue_shares(np.array([100, 50, 10, 10, 10, 5, 5, 5, 3, 2]), (0.1, 0.2, 0.5))
    view = measure.pareto_view(pareto, "en")
    points = view.options["series"][0]["data"]
    assert points[0] == [0.0, 0.0]
    assert points[1] == [10.0, 50.0]
    assert points[-1] == [100.0, 100.0]
    assert [row["top"] for row in view.rows] == ["10%", "20%", "50%"]


def test_daily_orders_fills_missing_days_and_ignores_days_outside() -> None:
    first = date(2026, 11, 1)
    days = np.array([day_number(first) - 1, day_number(first), day_number(first) + 2], np.int64)
    rows = OrderDays(
        person=np.array(["a", "a", "b"], dtype=object),
        day=days,
        orders=np.array([1, 2, 1], np.int64),
        revenue_fen=np.array([500, 1000, 300], np.int64),
        last_us=np.zeros(3, np.int64),
    )
    daily = overview.daily_orders(rows, first, date(2026, 11, 3))
    assert daily == [
        (date(2026, 11, 1), 2, 1000, 1),
        (date(2026, 11, 2), 0, 0, 0),
        (date(2026, 11, 3), 1, 300, 1),
    ]
    view = overview.trend_view(daily, "en")
    assert view.options["series"][0]["data"] == [10.0, 0.0, 3.0]
    assert view.rows[2]["gmv"] == "¥3.00"
    assert overview.trend_view([(first, 0, 0, 0)], "en").rows == []


def test_kpis_and_both_boards_from_one_board() -> None:
    counts = {"new": 30.0, "active": 100.0, "orders": 12.0, "gmv_fen": 50_000.0, "buyers": 10.0}
    before = {"new": 20.0, "active": 100.0, "orders": 10.0, "gmv_fen": 40_000.0, "buyers": 8.0}
    board = board_of(BoardQuery(period=WEEK), (counts, []), (before, []))
    gmv = GmvDecomposition(
        period=WEEK,
        compare_to=WEEK.previous(),
        current=_totals(100, 10, 12, 50_000),
        previous=_totals(100, 8, 10, 40_000),
        change_fen=10_000,
        change_pct=25.0,
        method="lmdi",
        factors=[],
        driver=None,
        buyer_types=[],
        referral=[],
    )
    repurchase = RepurchaseResult(
        query=RepurchaseQuery(start=NOW - timedelta(days=90), end=NOW),
        buyers=10,
        repeat_buyers=4,
        repurchase_rate=0.4,
        repeat_within=3,
        repurchase_rate_within=0.3,
        orders=12,
        intervals=2,
        interval_days_p25=None,
        interval_days_median=None,
        interval_days_p75=None,
        distribution=[],
    )
    kpis = {k.key: k for k in overview.kpis(gmv, board, repurchase, "zh")}
    assert kpis["gmv"].value == "¥500.00" and kpis["gmv"].change == "+25.0%"
    assert kpis["new"].value == "30" and kpis["new"].change == "+50.0%"
    assert kpis["repurchase"].value == "40.0%"
    assert kpis["active"].label == "活跃用户"
    aarrr = overview.board_cards(board, BoardKind.AARRR, "en")
    rarra = overview.board_cards(board, BoardKind.RARRA, "en")
    assert [c.stage for c in aarrr][:2] == ["acquisition", "activation"]
    assert [c.stage for c in rarra][:3] == ["retention", "activation", "referral"]
    revenue = next(c for c in aarrr if c.stage == "revenue")
    assert next(m for m in revenue.metrics if m.name == "aov_fen").value == "¥41.67"


def test_identifiers_show_pii_only_masked() -> None:
    ids = [
        IdentifierView(
            type=IdType.PHONE,
            key="hmac:9f2c",
            masked="138****5678",
            first_seen=NOW,
            introduced_by="p_1",
        ),
        IdentifierView(type=IdType.MEMBER_ID, key="SC1", first_seen=NOW, introduced_by="p_1"),
    ]
    rows = people.identifier_rows(ids, "Asia/Shanghai")
    assert [row["value"] for row in rows] == ["138****5678", "SC1"]
    assert rows[0]["first_seen"] == "2026-11-28 12:00"
    assert "hmac:9f2c" not in str([row["value"] for row in rows])


def test_event_rows_show_channel_and_revenue() -> None:
    rows = people.event_rows(
        [
            {
                "message_id": "m1",
                "timestamp": NOW,
                "event": "Order Completed",
                "channel": "wecom",
                "campaign": None,
                "revenue_fen": 4400,
            }
        ],
        "UTC",
    )
    assert rows == [
        {
            "key": "m1",
            "time": "2026-11-28 04:00",
            "event": "Order Completed",
            "detail": "channel=wecom",
            "revenue": "¥44.00",
        }
    ]


def test_calls_without_an_event_name_show_their_type() -> None:
    assert people.event_name({"event": None, "type": "identify"}) == "$identify"
    assert people.event_name({"event": "Signed Up", "type": "track"}) == "Signed Up"


def test_referral_tree_puts_the_inviter_chain_above_the_person() -> None:
    ancestors = [TreeNode(person_id="p_grandma", inviter_id=None, depth=2)]
    ancestors.insert(0, TreeNode(person_id="p_mother", inviter_id="p_grandma", depth=1))
    subtree = [
        TreeNode(person_id="p_me", inviter_id=None, depth=0),
        TreeNode(person_id="p_kid1", inviter_id="p_me", depth=1),
        TreeNode(person_id="p_kid2", inviter_id="p_me", depth=1),
    ]
    view = people.referral_tree("p_me", ancestors, subtree, "en")
    root = view.options["series"][0]["data"][0]
    assert root["value"] == "p_grandma"
    me = root["children"][0]["children"][0]
    assert me["value"] == "p_me" and "itemStyle" in me
    assert [kid["value"] for kid in me["children"]] == ["p_kid1", "p_kid2"]
    assert [row["relation"] for row in view.rows] == [
        "Inviter, 1 level(s) up",
        "Inviter, 2 level(s) up",
        "Invitee, level 1",
        "Invitee, level 1",
    ]
    alone = people.referral_tree("p_me", [], subtree[:1], "en")
    assert alone.rows == []


def test_tier_distribution_and_leaderboard() -> None:
    spread = TierDistribution(
        total=10,
        tiers=[
            TierCount(tier="silver", name="银卡", members=7, share=0.7),
            TierCount(tier="gold", name="金卡", members=3, share=0.3),
        ],
        in_grace=1,
        paid_active=0,
    )
    view = loyalty.tiers_view(spread, "zh")
    assert view.options["series"][0]["data"] == [
        {"name": "银卡", "value": 7},
        {"name": "金卡", "value": 3},
    ]
    assert view.rows[1]["share"] == "30.0%"
    assert loyalty.tiers_view(spread.model_copy(update={"total": 0}), "zh").rows == []
    summary = ReferralSummary(
        inviters=2,
        invitees=5,
        ordered=2,
        k_factor=2.5,
        k_factor_ordered=1.0,
        refusals=0,
        leaderboard=[
            LeaderRow(person_id="p_01abcdefghijkl", invitees=4, ordered=2, gmv_fen=9900),
            LeaderRow(person_id="p_02", invitees=1, ordered=0, gmv_fen=0),
        ],
    )
    board = loyalty.leaderboard_view(summary, "en")
    assert board.options["yAxis"]["data"] == ["…efghijkl", "p_02"]
    assert board.options["series"][1]["data"] == [2, 0]
    assert board.rows[0]["gmv"] == "¥99.00"
    assert "K-factor 2.50" in (board.note or "")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_view_title_is_in_the_language(lang: str) -> None:
    zh = analytics.funnel_view(_funnel([1, 1, 1]), "zh").title
    view = analytics.funnel_view(_funnel([1, 1, 1]), lang)
    assert (view.title == zh) is (lang == "zh")


def test_dry_run_stacks_messages_per_channel_and_day() -> None:
    run = DryRun(
        since=NOW - timedelta(days=7),
        until=NOW,
        entries=5,
        entries_by_day={date(2026, 11, 27): 5},
        messages=[
            ChannelDay(day=date(2026, 11, 27), channel="wecom", messages=3),
            ChannelDay(day=date(2026, 11, 26), channel="sms", messages=2),
            ChannelDay(day=date(2026, 11, 27), channel="sms", messages=1),
        ],
        messages_total=6,
        staff_tasks=0,
    )
    view = journeys.dry_run_view(run, "en")
    assert view.options["xAxis"]["data"] == ["11-26", "11-27"]
    series = {s["name"]: s["data"] for s in view.options["series"]}
    assert series == {"sms": [2, 1], "wecom": [0, 3]}
    assert [row["messages"] for row in view.rows] == [2, 1, 3]
    empty = run.model_copy(update={"messages": [], "messages_total": 0})
    assert journeys.dry_run_view(empty, "zh").rows == []
