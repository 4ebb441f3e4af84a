"""The content page's data: items side by side (reach, views, clicks, shares, new contacts,
orders, GMV), per channel, the top sharers, and a chart of the same numbers."""

from __future__ import annotations

from typing import Any

from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, column, count, percent, yuan
from siyu.content.models import Content
from siyu.content.performance import ContentReport, Metrics

METRICS = ("reach", "views", "clicks", "shares", "new_contacts", "orders", "gmv")
TOP_ITEMS = 10


def _numbers(m: Metrics) -> dict[str, Any]:
    return {
        "reach": count(m.reach),
        "views": count(m.views),
        "clicks": count(m.clicks),
        "shares": count(m.shares),
        "new_contacts": count(m.new_contacts),
        "orders": count(m.orders),
        "gmv": yuan(m.gmv_fen),
        "conversion": percent(m.orders / m.clicks if m.clicks else None),
    }


def _columns(first: tuple[str, ...], lang: str) -> list[dict[str, Any]]:
    names = (*first, *METRICS, "conversion")
    return [
        column(n, translate(lang, f"content.col.{n}"), align="left" if n in first else "right")
        for n in names
    ]


def totals(report: ContentReport) -> Metrics:
    """The period's sums over every item."""
    total = Metrics()
    for item in report.items:
        total.add(item)
    return total


def item_rows(report: ContentReport, library: list[Content], lang: str) -> list[dict[str, Any]]:
    """One row per item: its kind, status and numbers."""
    status = {c.id: c.status.value for c in library}
    return [
        {
            "key": item.content_id,
            "title": item.title,
            "kind": translate(lang, f"content.kind.{item.kind}"),
            "status": translate(lang, f"content.status.{status.get(item.content_id, 'draft')}"),
            **_numbers(item),
        }
        for item in report.items
    ]


def item_columns(lang: str) -> list[dict[str, Any]]:
    """The item table's columns."""
    return _columns(("title", "kind", "status"), lang)


def channel_rows(report: ContentReport, lang: str) -> list[dict[str, Any]]:
    """One row per item and channel."""
    return [
        {
            "key": f"{item.content_id}:{part.channel}",
            "title": item.title,
            "channel": channel_label(part.channel, lang),
            **_numbers(part),
        }
        for item in report.items
        for part in item.channels
    ]


def channel_label(channel: str, lang: str) -> str:
    """A channel's name; a custom one (a link's own channel name) shows as it is."""
    key = f"content.channel.{channel}"
    text = translate(lang, key)
    return channel if text == key else text


def channel_columns(lang: str) -> list[dict[str, Any]]:
    """The channel table's columns."""
    return _columns(("title", "channel"), lang)


def sharer_rows(report: ContentReport, titles: dict[str, str]) -> list[dict[str, Any]]:
    """The sharers whose links brought clicks or orders, best first."""
    return [
        {
            "key": f"{s.sharer_id}:{s.content_id}",
            "sharer": s.sharer_id,
            "title": titles.get(s.content_id, s.content_id),
            **_numbers(s),
        }
        for s in report.sharers
        if s.clicks or s.orders or s.shares
    ]


def sharer_columns(lang: str) -> list[dict[str, Any]]:
    """The sharer table's columns."""
    return _columns(("sharer", "title"), lang)


def comparison_view(report: ContentReport, lang: str) -> ChartView:
    """The top items side by side: clicks and orders as bars, GMV (yuan) as a line."""
    top = [i for i in report.items if i.clicks or i.views or i.orders][:TOP_ITEMS]
    labels = [i.title for i in top]
    options = base_options(lang) | {
        "legend": {"top": 0},
        "xAxis": {"type": "category", "data": labels, "axisLabel": {"interval": 0, "rotate": 20}},
        "yAxis": [
            {"type": "value", "name": translate(lang, "content.axis.count")},
            {"type": "value", "name": translate(lang, "unit.yuan")},
        ],
        "series": [
            {
                "name": translate(lang, "content.col.views"),
                "type": "bar",
                "data": [i.views for i in top],
            },
            {
                "name": translate(lang, "content.col.clicks"),
                "type": "bar",
                "data": [i.clicks for i in top],
            },
            {
                "name": translate(lang, "content.col.orders"),
                "type": "bar",
                "data": [i.orders for i in top],
            },
            {
                "name": translate(lang, "content.col.gmv"),
                "type": "line",
                "yAxisIndex": 1,
                "data": [round(i.gmv_fen / 100, 2) for i in top],
            },
        ],
    }
    rows = [{"key": i.content_id, "title": i.title, **_numbers(i)} for i in top]
    return ChartView(
        title=translate(lang, "content.compare"),
        options=options,
        columns=_columns(("title",), lang),
        rows=rows,
        empty_hint=translate(lang, "content.compare_empty"),
    )
