"""Analytics builders: funnel, retention heat map, RFM grid, LTV by cohort."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from siyu.analytics.ltv import HistoricalLtv
from siyu.analytics.models import FunnelResult, Period, RetentionResult
from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, column, count, percent, yuan
from siyu.segments.rfm import RfmScore, RfmSegment


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def funnel_view(result: FunnelResult, lang: str) -> ChartView:
    """Persons per step as bars, each labelled with its conversion from step 1."""
    steps = result.total.steps
    labels = [step.name for step in steps]
    options = base_options(lang) | {
        "xAxis": {"type": "category", "data": labels, "axisLabel": {"interval": 0}},
        "yAxis": {"type": "value", "name": translate(lang, "unit.persons")},
        "series": [
            {
                "name": translate(lang, "analytics.persons"),
                "type": "bar",
                "barWidth": "45%",
                "data": [
                    {
                        "value": step.persons,
                        "label": {
                            "show": True,
                            "position": "top",
                            "formatter": f"{step.persons} · {percent(step.conversion_from_first)}",
                        },
                    }
                    for step in steps
                ],
            }
        ],
    }
    rows = [
        {
            "key": step.step,
            "step": step.step,
            "name": step.name,
            "persons": step.persons,
            "from_first": percent(step.conversion_from_first),
            "from_previous": percent(step.conversion_from_previous),
            "median": _duration(step.median_seconds_from_previous),
        }
        for step in steps
    ]
    has_data = bool(steps) and steps[0].persons > 0
    return ChartView(
        title=translate(lang, "analytics.funnel"),
        options=options,
        columns=[
            column("step", "#"),
            column("name", translate(lang, "col.step")),
            column("persons", translate(lang, "col.persons"), align="right"),
            column("from_first", translate(lang, "col.from_first"), align="right"),
            column("from_previous", translate(lang, "col.from_previous"), align="right"),
            column("median", translate(lang, "col.median_time"), align="right"),
        ],
        rows=rows if has_data else [],
        empty_hint=translate(lang, "analytics.funnel_empty"),
    )


def _periods_between(first: date, last: date, period: Period) -> int:
    if period is Period.MONTH:
        return (last.year - first.year) * 12 + last.month - first.month
    return (last - first).days // (7 if period is Period.WEEK else 1)


def observed(result: RetentionResult) -> list[int]:
    """Per cohort, how many periods it has been seen for: the youngest cohort's period is
    still running, so later periods of younger cohorts are unknown, not 0%."""
    if not result.cohorts:
        return []
    latest = max(cohort.start for cohort in result.cohorts)
    cap = result.query.periods + 1
    return [
        min(cap, _periods_between(c.start, latest, result.query.period) + 1) for c in result.cohorts
    ]


def retention_view(result: RetentionResult, lang: str) -> ChartView:
    """Cohorts (rows) × periods after (columns), coloured by the share that came back; a
    period a cohort has not reached yet stays blank."""
    periods = result.query.periods + 1
    cohorts = [cohort.start.isoformat() for cohort in result.cohorts]
    seen = observed(result)
    cells = [
        [k, i, round(rate * 100, 1)]
        for i, cohort in enumerate(result.cohorts)
        for k, rate in enumerate(cohort.rates[: seen[i]])
    ]
    options = base_options(lang) | {
        "tooltip": {"position": "top"},
        "xAxis": {"type": "category", "data": [str(k) for k in range(periods)], "splitArea": {}},
        "yAxis": {"type": "category", "data": cohorts, "inverse": True},
        "visualMap": {
            "min": 0,
            "max": 100,
            "calculable": True,
            "orient": "horizontal",
            "left": "center",
            "bottom": 0,
            "itemHeight": 120,
            "inRange": {"color": ["#f0fdfa", "#0f766e"]},
        },
        "grid": {"left": 90, "right": 20, "top": 20, "bottom": 80},
        "series": [
            {
                "type": "heatmap",
                "data": cells,
                "label": {"show": True, "formatter": "{@[2]}%"},
            }
        ],
    }
    rows: list[dict[str, Any]] = []
    for cohort, reached in zip(result.cohorts, seen, strict=True):
        row: dict[str, Any] = {"key": cohort.start.isoformat(), "cohort": cohort.start.isoformat()}
        row["persons"] = cohort.persons
        for k, rate in enumerate(cohort.rates[:reached]):
            row[f"p{k}"] = percent(rate)
        rows.append(row)
    columns = [
        column("cohort", translate(lang, "col.cohort")),
        column("persons", translate(lang, "col.persons"), align="right"),
    ] + [column(f"p{k}", str(k), align="right") for k in range(periods)]
    return ChartView(
        title=translate(lang, "analytics.retention"),
        options=options,
        columns=columns,
        rows=rows,
        note=translate(lang, "analytics.retention_note"),
    )


def rfm_segment_label(segment: str, lang: str) -> str:
    """An RFM segment's name in ``lang`` (the stored names are Chinese)."""
    try:
        return translate(lang, f"rfm.{RfmSegment(segment).name.lower()}")
    except ValueError:
        return segment


def rfm_view(scores: list[RfmScore], segments: dict[str, int], lang: str) -> ChartView:
    """Buyers on the recency × frequency score grid, and buyers per segment as the table."""
    grid = Counter((score.r, score.f) for score in scores)
    cells = [[f - 1, r - 1, grid.get((r, f), 0)] for r in range(1, 6) for f in range(1, 6)]
    options = base_options(lang) | {
        "tooltip": {"position": "top"},
        "xAxis": {
            "type": "category",
            "name": translate(lang, "analytics.f_score"),
            "data": ["1", "2", "3", "4", "5"],
        },
        "yAxis": {
            "type": "category",
            "name": translate(lang, "analytics.r_score"),
            "data": ["1", "2", "3", "4", "5"],
        },
        "visualMap": {
            "min": 0,
            "max": max(grid.values(), default=1),
            "orient": "horizontal",
            "left": "center",
            "bottom": 0,
            "inRange": {"color": ["#fffbeb", "#b45309"]},
        },
        "grid": {"left": 60, "right": 20, "top": 30, "bottom": 70},
        "series": [{"type": "heatmap", "data": cells, "label": {"show": True}}],
    }
    total = sum(segments.values())
    rows = [
        {
            "key": name,
            "segment": rfm_segment_label(name, lang),
            "buyers": buyers,
            "share": percent(buyers / total if total else 0),
        }
        for name, buyers in sorted(segments.items(), key=lambda item: -item[1])
    ]
    return ChartView(
        title=translate(lang, "analytics.rfm"),
        options=options,
        columns=[
            column("segment", translate(lang, "col.segment")),
            column("buyers", translate(lang, "col.buyers"), align="right"),
            column("share", translate(lang, "col.share"), align="right"),
        ],
        rows=rows,
        empty_hint=translate(lang, "analytics.rfm_empty"),
    )


def ltv_view(ltv: HistoricalLtv, lang: str) -> ChartView:
    """Revenue per customer by first-order month: bars, margin per customer as a line."""
    cohorts = ltv.cohorts
    options = base_options(lang) | {
        "legend": {
            "data": [
                translate(lang, "analytics.revenue_pc"),
                translate(lang, "analytics.margin_pc"),
            ]
        },
        "xAxis": {"type": "category", "data": [c.cohort for c in cohorts]},
        "yAxis": {"type": "value", "name": translate(lang, "unit.yuan")},
        "series": [
            {
                "name": translate(lang, "analytics.revenue_pc"),
                "type": "bar",
                "data": [round(c.revenue_per_customer_fen / 100, 2) for c in cohorts],
            },
            {
                "name": translate(lang, "analytics.margin_pc"),
                "type": "line",
                "data": [round(c.margin_per_customer_fen / 100, 2) for c in cohorts],
            },
        ],
    }
    rows = [
        {
            "key": c.cohort,
            "cohort": c.cohort,
            "customers": count(c.customers),
            "orders": count(c.orders),
            "revenue_pc": yuan(c.revenue_per_customer_fen),
            "margin_pc": yuan(c.margin_per_customer_fen),
        }
        for c in cohorts
    ]
    return ChartView(
        title=translate(lang, "analytics.ltv"),
        options=options,
        columns=[
            column("cohort", translate(lang, "col.cohort")),
            column("customers", translate(lang, "col.buyers"), align="right"),
            column("orders", translate(lang, "kpi.orders"), align="right"),
            column("revenue_pc", translate(lang, "analytics.revenue_pc"), align="right"),
            column("margin_pc", translate(lang, "analytics.margin_pc"), align="right"),
        ],
        rows=rows,
        note=translate(
            lang,
            "analytics.ltv_note",
            value=yuan(ltv.revenue_per_customer_fen),
            customers=count(ltv.customers),
        ),
    )
