"""Journey builders: a dry run's sends per channel and day."""

from __future__ import annotations

from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, column
from siyu.journeys.dryrun import DryRun


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
