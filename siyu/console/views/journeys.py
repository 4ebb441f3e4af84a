"""Journey builders: a dry run's sends per channel and day; A/B results per split variant."""

from __future__ import annotations

from typing import Any

import yaml

from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, column, percent
from siyu.journeys.dryrun import DryRun
from siyu.journeys.models import JourneyDefinition
from siyu.journeys.stats import JourneyStats, VariantStats


def dry_run_view(run: DryRun, lang: str) -> ChartView:
    """Messages a dry run would send, stacked by channel per local day."""
    days = sorted({item.day for item in run.messages})
    channels = sorted({item.channel for item in run.messages})
    counts = {(item.day, item.channel): item.messages for item in run.messages}
    options = base_options(lang) | {
        "legend": {},
        "xAxis": {"type": "category", "data": [day.strftime("%m-%d") for day in days]},
        "yAxis": {"type": "value", "name": translate(lang, "journeys.messages")},
        "series": [
            {
                "name": channel,
                "type": "bar",
                "stack": "messages",
                "data": [counts.get((day, channel), 0) for day in days],
            }
            for channel in channels
        ],
    }
    rows = [
        {
            "key": f"{item.day}:{item.channel}",
            "day": item.day.isoformat(),
            "channel": item.channel,
            "messages": item.messages,
        }
        for item in sorted(run.messages, key=lambda item: (item.day, item.channel))
    ]
    return ChartView(
        title=translate(lang, "journeys.dry_run_chart"),
        options=options,
        columns=[
            column("day", translate(lang, "col.day")),
            column("channel", translate(lang, "col.channel")),
            column("messages", translate(lang, "journeys.messages"), align="right"),
        ],
        rows=rows,
        empty_hint=translate(lang, "journeys.no_messages"),
    )


SIGNIFICANCE = 0.05


def _significance(row: VariantStats, lang: str) -> str:
    if row.control:
        return translate(lang, "ab.control")
    if row.p_value is None:
        return "—"
    key = "ab.significant" if row.p_value < SIGNIFICANCE else "ab.not_significant"
    return translate(lang, key)


def variant_rows(stats: JourneyStats, lang: str) -> list[dict[str, Any]]:
    """One row per split variant: conversion, its Wilson interval, lift and p-value."""
    return [
        {
            "key": row.variant,
            "variant": row.variant,
            "entered": row.entered,
            "converted": row.converted,
            "rate": percent(row.rate),
            "interval": f"{percent(row.low)} – {percent(row.high)}",
            "lift": f"{row.lift * 100:+.1f}%" if row.lift is not None else "—",
            "p_value": f"{row.p_value:.3f}" if row.p_value is not None else "—",
            "verdict": _significance(row, lang),
        }
        for row in stats.variants
    ]


def variants_view(stats: JourneyStats, lang: str) -> ChartView:
    """Conversion per variant as a point inside its 95% Wilson interval (a floating bar)."""
    names = [row.variant for row in stats.variants]

    def pct(value: float) -> float:
        return round(value * 100, 2)

    options = base_options(lang) | {
        "xAxis": {"type": "category", "data": names},
        "yAxis": {"type": "value", "name": translate(lang, "ab.rate_axis")},
        "series": [
            {
                "name": "low",
                "type": "bar",
                "stack": "interval",
                "itemStyle": {"color": "transparent"},
                "tooltip": {"show": False},
                "data": [pct(row.low) for row in stats.variants],
            },
            {
                "name": translate(lang, "ab.interval"),
                "type": "bar",
                "stack": "interval",
                "barWidth": 28,
                "itemStyle": {"color": "#99f6e4"},
                "data": [pct(row.high - row.low) for row in stats.variants],
            },
            {
                "name": translate(lang, "ab.rate"),
                "type": "scatter",
                "symbolSize": 14,
                "itemStyle": {"color": "#0f766e"},
                "label": {"show": True, "position": "right", "formatter": "{c}%"},
                "data": [pct(row.rate) for row in stats.variants],
            },
        ],
    }
    options["legend"] = {"data": [translate(lang, "ab.rate"), translate(lang, "ab.interval")]}
    return ChartView(
        title=translate(lang, "ab.title"),
        options=options,
        columns=[
            column("variant", translate(lang, "ab.variant")),
            column("entered", translate(lang, "flow.count.entered"), align="right"),
            column("converted", translate(lang, "flow.count.converted"), align="right"),
            column("rate", translate(lang, "ab.rate"), align="right"),
            column("interval", translate(lang, "ab.interval"), align="right"),
            column("lift", translate(lang, "ab.lift"), align="right"),
            column("p_value", "p", align="right"),
            column("verdict", translate(lang, "ab.verdict")),
        ],
        rows=variant_rows(stats, lang),
        note=translate(lang, "ab.note"),
        empty_hint=translate(lang, "ab.empty"),
    )


def definition_yaml(definition: JourneyDefinition) -> str:
    """The definition as YAML for the editor (unset fields left out, keys in model order)."""
    data = definition.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
