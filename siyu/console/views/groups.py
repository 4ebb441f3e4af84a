"""Customer-group builders: health rows and the per-group chart, dormant rows."""

from __future__ import annotations

from typing import Any

from siyu.community.models import DormantGroup, GroupHealth
from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, column, count, yuan


def health_columns(lang: str) -> list[dict[str, Any]]:
    """Columns of the group health table."""
    names = ("name", "owner", "members", "joins", "leaves", "speakers", "messages", "orders", "gmv")
    return [
        column(
            n,
            translate(lang, f"groups.col.{n}"),
            align="left" if n in ("name", "owner") else "right",
        )
        for n in names
    ]


def health_rows(groups: list[GroupHealth]) -> list[dict[str, Any]]:
    """One row per group (names shown as text, never as HTML)."""
    return [
        {
            "key": g.key,
            "name": g.name or g.key,
            "owner": g.owner_userid or "—",
            "members": count(g.members),
            "joins": count(g.joins),
            "leaves": count(g.leaves),
            "speakers": count(g.active_speakers),
            "messages": count(g.messages),
            "orders": count(g.orders),
            "gmv": yuan(g.gmv_fen),
        }
        for g in sorted(groups, key=lambda g: (-g.messages, g.key))
    ]


def health_chart(groups: list[GroupHealth], lang: str) -> ChartView:
    """Messages and active speakers per group (bars), busiest first."""
    ordered = sorted(groups, key=lambda g: (-g.messages, g.key))
    names = [g.name or g.key for g in ordered]
    options = {
        **base_options(lang),
        "legend": {
            "data": [translate(lang, "groups.col.messages"), translate(lang, "groups.col.speakers")]
        },
        "xAxis": {"type": "category", "data": names, "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": translate(lang, "groups.col.messages"),
                "type": "bar",
                "data": [g.messages for g in ordered],
            },
            {
                "name": translate(lang, "groups.col.speakers"),
                "type": "bar",
                "data": [g.active_speakers for g in ordered],
            },
        ],
    }
    return ChartView(
        title=translate(lang, "groups.chart"),
        options=options,
        columns=health_columns(lang),
        rows=health_rows(groups),
        empty_hint=translate(lang, "groups.empty_hint"),
    )


def dormant_rows(found: list[DormantGroup], lang: str) -> list[dict[str, Any]]:
    """One row per dormant group, with why."""
    return [
        {
            "key": d.chat_id,
            "name": d.name or d.chat_id,
            "owner": d.owner_userid or "—",
            "why": ("、" if lang == "zh" else ", ").join(
                translate(lang, f"groups.why.{r}") for r in d.reasons
            ),
        }
        for d in found
    ]


def dormant_columns(lang: str) -> list[dict[str, Any]]:
    """Columns of the dormant-group table."""
    return [column(n, translate(lang, f"groups.col.{n}")) for n in ("name", "owner", "why")]
