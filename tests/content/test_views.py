"""The content page's views: items, channels and sharers side by side, in both languages."""

from __future__ import annotations

from datetime import datetime

from siyu.console.i18n import MESSAGES
from siyu.console.views import content as views
from siyu.content.performance import (
    ChannelPerformance,
    ContentReport,
    ItemPerformance,
    SharerPerformance,
)

T = datetime.fromisoformat("2026-11-01T00:00:00+00:00")
REPORT = ContentReport(
    start=T,
    end=T,
    window_days=7,
    items=[
        ItemPerformance(
            content_id="c1",
            title="精华",
            kind="article",
            clicks=10,
            views=20,
            orders=2,
            gmv_fen=39_800,
            channels=[
                ChannelPerformance(channel="sms", clicks=4, orders=2, gmv_fen=39_800),
                ChannelPerformance(channel="moments", clicks=6),
            ],
        ),
        ItemPerformance(content_id="c2", title="没人看", kind="text"),
    ],
    sharers=[
        SharerPerformance(sharer_id="p1", content_id="c1", clicks=6, orders=2, gmv_fen=39_800)
    ],
)


def test_rows_and_chart_in_both_languages() -> None:
    for lang in ("zh", "en"):
        chart = views.comparison_view(REPORT, lang)
        assert [r["key"] for r in chart.rows] == ["c1"]  # idle items stay out of the chart
        assert chart.options["series"][3]["data"] == [398.0]
        rows = views.item_rows(REPORT, [], lang)
        assert rows[0]["gmv"] == "¥398.00" and rows[0]["conversion"] == "20.0%"
        channels = views.channel_rows(REPORT, lang)
        assert channels[1]["channel"] == "moments"  # a custom channel keeps its own name
        assert channels[0]["channel"] == MESSAGES[lang]["content.channel.sms"]
        for columns in (
            views.item_columns(lang),
            views.channel_columns(lang),
            views.sharer_columns(lang),
        ):
            assert all(not c["label"].startswith("content.") for c in columns)
    assert views.sharer_rows(REPORT, {"c1": "精华"})[0]["title"] == "精华"
    assert views.totals(REPORT).gmv_fen == 39_800
