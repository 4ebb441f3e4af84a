"""Measurement builders: GMV decomposition, attribution by model, channel ROI, Pareto curve."""

from __future__ import annotations

from typing import Any

from siyu.analytics.attribution_report import AttributionResult
from siyu.analytics.gmv import GmvDecomposition
from siyu.analytics.pareto import Pareto
from siyu.analytics.roi import RoiResult
from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, column, count, percent, yuan


def gmv_view(result: GmvDecomposition, lang: str) -> ChartView:
    """A waterfall from the previous period's GMV through each factor's part to this one's."""
    before = result.previous.gmv_fen / 100
    names = [translate(lang, "gmv.previous")]
    bases, ups, downs = [0.0], [before], [0.0]
    level = before
    for factor in result.factors:
        part = factor.contribution_fen / 100
        names.append(translate(lang, f"gmv.{factor.factor}"))
        bases.append(min(level, level + part))
        ups.append(part if part >= 0 else 0.0)
        downs.append(-part if part < 0 else 0.0)
        level += part
    names.append(translate(lang, "gmv.current"))
    bases.append(0.0)
    ups.append(result.current.gmv_fen / 100)
    downs.append(0.0)
    stack = "gmv"
    options = base_options(lang) | {
        "xAxis": {"type": "category", "data": names, "axisLabel": {"interval": 0}},
        "yAxis": {"type": "value", "name": translate(lang, "unit.yuan")},
        "series": [
            {
                "type": "bar",
                "stack": stack,
                "itemStyle": {"color": "transparent"},
                "data": [round(b, 2) for b in bases],
                "tooltip": {"show": False},
            },
            {
                "name": translate(lang, "gmv.up"),
                "type": "bar",
                "stack": stack,
                "itemStyle": {"color": "#0f766e"},
                "data": [round(u, 2) for u in ups],
            },
            {
                "name": translate(lang, "gmv.down"),
                "type": "bar",
                "stack": stack,
                "itemStyle": {"color": "#dc2626"},
                "data": [round(d, 2) for d in downs],
            },
        ],
    }
    rows = [
        {
            "key": factor.factor,
            "factor": translate(lang, f"gmv.{factor.factor}"),
            "before": f"{factor.before:,.4g}",
            "after": f"{factor.after:,.4g}",
            "change": "—" if factor.change_pct is None else f"{factor.change_pct:+.1f}%",
            "contribution": yuan(factor.contribution_fen),
        }
        for factor in result.factors
    ]
    return ChartView(
        title=translate(lang, "analytics.gmv"),
        options=options,
        columns=[
            column("factor", translate(lang, "col.factor")),
            column("before", translate(lang, "col.before"), align="right"),
            column("after", translate(lang, "col.after"), align="right"),
            column("change", translate(lang, "col.change"), align="right"),
            column("contribution", translate(lang, "col.contribution"), align="right"),
        ],
        rows=rows if result.previous.gmv_fen or result.current.gmv_fen else [],
        note=translate(
            lang,
            "analytics.gmv_note",
            before=yuan(result.previous.gmv_fen),
            after=yuan(result.current.gmv_fen),
            driver=translate(lang, f"gmv.{result.driver}") if result.driver else "—",
        ),
    )


def attribution_view(results: list[AttributionResult], lang: str) -> ChartView:
    """Attributed GMV per channel under each model, side by side."""
    channels = sorted(
        {credit.channel for result in results for credit in result.channels},
        key=lambda name: (
            -max(
                (c.revenue_fen for r in results for c in r.channels if c.channel == name), default=0
            )
        ),
    )
    series = []
    rows: list[dict[str, Any]] = [{"key": name, "channel": name} for name in channels]
    for result in results:
        model = result.query.model.value
        by_channel = {credit.channel: credit.revenue_fen for credit in result.channels}
        series.append(
            {
                "name": translate(lang, f"model.{model}"),
                "type": "bar",
                "data": [round(by_channel.get(name, 0) / 100, 2) for name in channels],
            }
        )
        for row in rows:
            row[model] = yuan(by_channel.get(row["channel"], 0))
    options = base_options(lang) | {
        "legend": {"type": "scroll"},
        "xAxis": {"type": "category", "data": channels},
        "yAxis": {"type": "value", "name": translate(lang, "unit.yuan")},
        "series": series,
    }
    columns = [column("channel", translate(lang, "col.channel"))] + [
        column(r.query.model.value, translate(lang, f"model.{r.query.model.value}"), align="right")
        for r in results
    ]
    return ChartView(
        title=translate(lang, "analytics.attribution"),
        options=options,
        columns=columns,
        rows=rows,
        empty_hint=translate(lang, "analytics.attribution_empty"),
    )


def roi_view(result: RoiResult, lang: str) -> ChartView:
    """Spend and attributed GMV per channel as bars, ROAS as a line."""
    channels = result.channels
    options = base_options(lang) | {
        "legend": {},
        "xAxis": {"type": "category", "data": [c.channel for c in channels]},
        "yAxis": [
            {"type": "value", "name": translate(lang, "unit.yuan")},
            {"type": "value", "name": "ROAS"},
        ],
        "series": [
            {
                "name": translate(lang, "col.spend"),
                "type": "bar",
                "data": [round(c.spend_fen / 100, 2) for c in channels],
            },
            {
                "name": translate(lang, "col.attributed_gmv"),
                "type": "bar",
                "data": [round(c.attributed_revenue_fen / 100, 2) for c in channels],
            },
            {
                "name": "ROAS",
                "type": "line",
                "yAxisIndex": 1,
                "data": [None if c.roas is None else round(c.roas, 2) for c in channels],
            },
        ],
    }
    rows = [
        {
            "key": c.channel,
            "channel": c.channel,
            "spend": yuan(c.spend_fen),
            "gmv": yuan(c.attributed_revenue_fen),
            "new_buyers": c.new_buyers,
            "cac": yuan(c.cac_fen),
            "roi": percent(c.roi),
            "roas": "—" if c.roas is None else f"{c.roas:.2f}",
        }
        for c in channels
    ]
    return ChartView(
        title=translate(lang, "analytics.roi"),
        options=options,
        columns=[
            column("channel", translate(lang, "col.channel")),
            column("spend", translate(lang, "col.spend"), align="right"),
            column("gmv", translate(lang, "col.attributed_gmv"), align="right"),
            column("new_buyers", translate(lang, "col.new_buyers"), align="right"),
            column("cac", "CAC", align="right"),
            column("roi", "ROI", align="right"),
            column("roas", "ROAS", align="right"),
        ],
        rows=rows if result.spend_fen > 0 else [],
        empty_hint=translate(lang, "analytics.roi_empty"),
    )


def pareto_view(pareto: Pareto, lang: str) -> ChartView:
    """Share of revenue against share of top buyers, with the even line for comparison."""
    points = [[0.0, 0.0]] + [
        [round(share.top * 100, 1), round(share.revenue_share * 100, 1)] for share in pareto.shares
    ]
    if points[-1][0] < 100:
        points.append([100.0, 100.0])
    options = base_options(lang) | {
        "tooltip": {"trigger": "item"},
        "xAxis": {
            "type": "value",
            "name": translate(lang, "analytics.top_buyers"),
            "nameLocation": "middle",
            "nameGap": 28,
            "max": 100,
        },
        "yAxis": {"type": "value", "name": translate(lang, "analytics.revenue_share"), "max": 100},
        "series": [
            {"name": translate(lang, "analytics.pareto"), "type": "line", "data": points},
            {
                "name": translate(lang, "analytics.even"),
                "type": "line",
                "data": [[0, 0], [100, 100]],
                "lineStyle": {"type": "dashed"},
                "symbol": "none",
            },
        ],
    }
    rows = [
        {
            "key": share.top,
            "top": percent(share.top, 0),
            "buyers": count(share.buyers),
            "revenue": yuan(share.revenue_fen),
            "share": percent(share.revenue_share),
        }
        for share in pareto.shares
    ]
    return ChartView(
        title=translate(lang, "analytics.pareto"),
        options=options,
        columns=[
            column("top", translate(lang, "analytics.top_buyers")),
            column("buyers", translate(lang, "col.buyers"), align="right"),
            column("revenue", translate(lang, "col.revenue"), align="right"),
            column("share", translate(lang, "analytics.revenue_share"), align="right"),
        ],
        rows=rows if pareto.buyers else [],
        note=translate(
            lang,
            "analytics.pareto_note",
            n=count(pareto.buyers_for_80_percent),
            buyers=count(pareto.buyers),
        ),
    )
